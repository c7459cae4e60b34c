"""The generator pipeline: schema folder → checked :class:`SchemaSet` → source files → disk.

Every file is rendered, formatted with ruff and parsed with :mod:`ast` before anything is
written, so a failure leaves the output folder as it was. Output is byte-for-byte
deterministic: no timestamps, sorted inputs, a fixed formatter configuration.

Every generated module starts with a header naming the hash of the schema files and the hash
of the generator itself (:func:`generator_hash`). :func:`generate` reads only those headers to
tell that an output folder is up to date (:mod:`datadivr_codegen.headers`), and then skips the
pipeline (datamodel-code-generator and ruff take seconds); :func:`check` compares every byte, and remembers for the next check
which bytes it found up to date (:mod:`datadivr_codegen.freshness`).
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import jinja2

from datadivr_codegen.asyncapi import asyncapi_document
from datadivr_codegen.bundle import protocol_bundle
from datadivr_codegen.errors import SchemaError
from datadivr_codegen.formatting import format_sources
from datadivr_codegen.freshness import (
    HEADER_MARK,
    generator_hash,
    is_generated,
    record_verified,
    verified_up_to_date,
)
from datadivr_codegen.headers import (
    MD_HEADER,
    OUTPUT_FILES,
    PY_TYPED,
    TEMPLATED,
    TS_HEADER,
    TYPESCRIPT,
    header,
    headers_up_to_date,
    inside_schema,
    skipped_summary,
)
from datadivr_codegen.models import model_names_and_imports, models_source
from datadivr_codegen.names import check_model_names
from datadivr_codegen.project import regenerate_command
from datadivr_codegen.reference import protocol_reference
from datadivr_codegen.runtime_api import RUNTIME, RUNTIME_API_VERSION
from datadivr_codegen.schema import SchemaSet, load_schema_folder
from datadivr_codegen.terms import Direction
from datadivr_codegen.typescript import typescript_declarations
from datadivr_codegen.views import StubField, views

__all__ = [
    "DEFAULT_COMMAND",
    "HEADER_MARK",
    "OUTPUT_FILES",
    "TYPESCRIPT",
    "GeneratedFile",
    "Plan",
    "StubField",
    "WriteResult",
    "check",
    "generate",
    "generator_hash",
    "plan",
]

#: What the headers say regenerates the files when :func:`plan` is not told: the command of a
#: project whose ``[tool.datadivr]`` names the folders.
DEFAULT_COMMAND = "datadivr generate"


@dataclass(frozen=True)
class GeneratedFile:
    """A file the generator produces, relative to the output folder."""

    path: str
    content: str


@dataclass(frozen=True)
class Plan:
    """Everything one generation produces, before it is written."""

    schemas: SchemaSet
    files: tuple[GeneratedFile, ...]


@dataclass(frozen=True)
class WriteResult:
    """What :func:`generate` changed on disk."""

    written: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    skipped: bool = False
    """Whether the headers showed the folder up to date, so that nothing was generated (every
    file is then counted ``unchanged`` without being compared)."""

    def summary(self, out_dir: Path) -> list[str]:
        """What a command line prints about this result, one line each."""
        if self.skipped:
            return skipped_summary(out_dir)
        return [
            *(f"wrote {Path(out_dir) / path}" for path in self.written),
            *(f"removed {Path(out_dir) / path}" for path in self.removed),
            f"{len(self.written)} written, {len(self.unchanged)} unchanged, "
            f"{len(self.removed)} removed",
        ]


@dataclass
class _Problems:
    stale: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    orphaned: list[str] = field(default_factory=list)


def plan(schema_dir: Path, *, command: str = DEFAULT_COMMAND) -> Plan:
    """Load ``schema_dir`` and render every output file, in memory.

    Args:
        schema_dir: The schema folder.
        command: The command the headers say regenerates the files
            (:func:`~datadivr_codegen.project.regenerate_command`).

    Raises:
        SchemaError: the folder cannot be used, or the generated code does not parse.
    """
    with _without_cycle_collection():
        return _plan(Path(schema_dir), command)


@contextlib.contextmanager
def _without_cycle_collection() -> Iterator[None]:
    """Python's cycle collector paused: rendering allocates millions of objects (the syntax
    trees of the modules, datamodel-code-generator's models) that live until it ends, and the
    collector walked them over and over (up to a fifth of the time of a large protocol)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _plan(schema_dir: Path, command: str) -> Plan:
    schemas = load_schema_folder(schema_dir)
    py_header = header(schemas.digest, command)
    models = models_source(schemas, py_header)
    event_views = views(schemas, models)
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("datadivr_codegen", "templates"),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["pyrepr"] = repr
    model_names, annotation_imports = model_names_and_imports(models)
    bundle = protocol_bundle(schemas)
    examples = {
        e.name: bundle["$defs"][e.message_class].get("examples", [None])[0] for e in schemas.events
    }
    context = {
        "model_names": model_names,
        "annotation_imports": annotation_imports,
        "header": py_header,
        "events": event_views,
        "schemas": schemas,
        "Direction": Direction,
        "examples": examples,
        "runtime": RUNTIME,
        "runtime_api_version": RUNTIME_API_VERSION,
        "fingerprint": bundle["x-datadivr"]["fingerprint"],
    }
    python = {"models.py": models}
    for name in TEMPLATED:
        python[name] = env.get_template(name + ".jinja").render(context)
    check_model_names(schemas, python)
    formatted = format_sources(python)
    files = [GeneratedFile(name, text) for name, text in sorted(formatted.items())]
    files.append(GeneratedFile("schema.json", _json(bundle)))
    files.append(GeneratedFile("asyncapi.json", _json(asyncapi_document(schemas, bundle))))
    md_header = header(schemas.digest, command, MD_HEADER)
    files.append(GeneratedFile("protocol.md", protocol_reference(schemas, examples, md_header)))
    ts_header = header(schemas.digest, command, TS_HEADER)
    files.append(GeneratedFile(TYPESCRIPT, typescript_declarations(bundle, ts_header)))
    # Empty: the whole package is typed (PEP 561), and the marker has no room for a header.
    files.append(GeneratedFile(PY_TYPED, ""))
    return Plan(schemas, tuple(sorted(files, key=lambda f: f.path)))


def _json(document: object) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def generate(schema_dir: Path, out_dir: Path, *, force: bool = False) -> WriteResult:
    """Generate the protocol package for ``schema_dir`` into ``out_dir``.

    When every output file is there and every generated module's header names the current
    schema hash and generator hash (and no orphaned generated module is left), nothing is
    generated and the result says ``skipped``: the contents are not compared, that is what
    :func:`check` is for. Otherwise, or with ``force``, everything is generated; files whose
    content did not change are not touched, and generated files that no longer belong are
    removed. Nothing is written when any file fails to generate.

    Args:
        schema_dir: The schema folder.
        out_dir: The package folder to write.
        force: Generate even when the headers say the folder is up to date.

    Raises:
        SchemaError: the folder cannot be used, or the generated code does not parse.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise SchemaError(f"the package folder {out_dir} is a file: pick another --out", schema_dir)
    if inside_schema(Path(schema_dir), out_dir):
        # Its schema.json and asyncapi.json would be read as schemas the next time.
        raise SchemaError(
            f"the package folder {out_dir} is inside the schema folder: pick another --out "
            "(or [tool.datadivr] out)",
            schema_dir,
        )
    command = regenerate_command(schema_dir, out_dir)
    if not force and headers_up_to_date(Path(schema_dir), out_dir, command):
        return WriteResult(unchanged=OUTPUT_FILES, skipped=True)
    result = plan(schema_dir, command=command)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[str] = []
    unchanged: list[str] = []
    for f in result.files:
        target = out_dir / f.path
        if target.exists() and target.read_text(encoding="utf-8") == f.content:
            unchanged.append(f.path)
            continue
        _atomic_write(target, f.content)
        written.append(f.path)
    problems = _compare(out_dir, result.files)
    for orphan in problems.orphaned:
        (out_dir / orphan).unlink()
    if not (problems.stale or problems.missing):
        record_verified(out_dir, result.schemas.digest, command, _contents(result.files))
    return WriteResult(tuple(written), tuple(unchanged), tuple(problems.orphaned))


def check(schema_dir: Path, out_dir: Path) -> list[str]:
    """Compare ``out_dir`` with what :func:`generate` would write; return one line per problem.

    Every byte is compared, but not twice: when a check (or a generation) already found the
    folder, exactly as it is now, up to date with the same schema files, generator and
    libraries, the answer is known without rendering anything (:mod:`datadivr_codegen.freshness`).
    """
    command = regenerate_command(schema_dir, out_dir)
    if verified_up_to_date(Path(schema_dir), Path(out_dir), command):
        return []
    result = plan(schema_dir, command=command)
    problems = _compare(Path(out_dir), result.files)
    if not (problems.stale or problems.missing or problems.orphaned):
        record_verified(out_dir, result.schemas.digest, command, _contents(result.files))
    return (
        [f"stale: {p}" for p in problems.stale]
        + [f"missing: {p}" for p in problems.missing]
        + [f"orphaned: {p}" for p in problems.orphaned]
    )


def _contents(files: Sequence[GeneratedFile]) -> dict[str, str]:
    return {f.path: f.content for f in files}


def _compare(out_dir: Path, files: Sequence[GeneratedFile]) -> _Problems:
    problems = _Problems()
    expected = {f.path for f in files}
    for f in files:
        target = out_dir / f.path
        if not target.exists():
            problems.missing.append(f.path)
        elif target.read_text(encoding="utf-8") != f.content:
            problems.stale.append(f.path)
    if out_dir.is_dir():
        for path in sorted(out_dir.iterdir()):
            if path.is_file() and path.name not in expected and is_generated(path):
                problems.orphaned.append(path.name)
    return problems


def _atomic_write(target: Path, content: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(content)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
