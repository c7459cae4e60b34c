"""The headers of the generated files, and what they tell without generating anything.

Every generated module, the reference and the TypeScript declarations open with a header naming
the command that regenerates them, the hash of the schema files and the hash of the generator;
the JSON documents carry the schema hash. :func:`skips` reads them to tell whether ``datadivr
generate`` has anything to do. This module imports nothing but the standard library and
:mod:`~datadivr_codegen.freshness` and :mod:`~datadivr_codegen.project`, so that a
``datadivr generate`` with nothing to do answers without importing the generator (seconds).
"""

from __future__ import annotations

import json
from pathlib import Path

from datadivr_codegen.freshness import HEADER_MARK, generator_hash, is_generated, schema_digest
from datadivr_codegen.project import regenerate_command

__all__ = [
    "MD_HEADER",
    "OUTPUT_FILES",
    "PY_HEADER",
    "PY_TYPED",
    "TEMPLATED",
    "TS_HEADER",
    "TYPESCRIPT",
    "header",
    "headers_up_to_date",
    "inside_schema",
    "skipped_summary",
    "skips",
]

#: The header of a generated Python module.
PY_HEADER = (
    "# {mark} from JSON Schema files. DO NOT EDIT.\n"
    "# Regenerate with `{command}`.\n"
    "# schema-hash: {digest}\n"
    "# generator-hash: {generator}\n"
)
#: The header of the protocol's reference (Markdown).
MD_HEADER = (
    "<!--\n{mark} from JSON Schema files. DO NOT EDIT.\n"
    "Regenerate with `{command}`.\n"
    "schema-hash: {digest}\n"
    "generator-hash: {generator}\n"
    "-->\n"
)
#: The header of the TypeScript declarations.
TS_HEADER = (
    "// {mark} from JSON Schema files. DO NOT EDIT.\n"
    "// Regenerate with `{command}`.\n"
    "// schema-hash: {digest}\n"
    "// generator-hash: {generator}\n"
)
#: The TypeScript declarations of the protocol (:mod:`datadivr_codegen.typescript`).
TYPESCRIPT = "protocol.d.ts"
#: The modules rendered from the templates of the same name (``<name>.jinja``).
TEMPLATED = ("events.py", "handlers.py", "client.py", "__init__.py")
#: The PEP 561 marker: mypy reads the package's own annotations where it is imported.
PY_TYPED = "py.typed"
#: Every file a generation writes, whatever the schemas.
OUTPUT_FILES = tuple(
    sorted(
        (
            "models.py",
            *TEMPLATED,
            "schema.json",
            "asyncapi.json",
            "protocol.md",
            TYPESCRIPT,
            PY_TYPED,
        )
    )
)


def header(digest: str, command: str, template: str = PY_HEADER) -> str:
    """The header ``template`` for the schema hash ``digest`` and the command ``command``."""
    return template.format(
        mark=HEADER_MARK, command=command, digest=digest, generator=generator_hash()
    )


def inside_schema(schema_dir: Path, out_dir: Path) -> bool:
    """Whether the package folder is (inside) the schema folder: its JSON documents would be
    read as schemas the next time."""
    schema_root = Path(schema_dir).resolve()
    out = Path(out_dir).resolve()
    return out == schema_root or schema_root in out.parents


def skips(schema_dir: Path, out_dir: Path) -> bool:
    """Whether ``datadivr generate`` (without ``--force``) finds nothing to do: the folders are
    usable and the headers say the package is up to date."""
    schema_dir, out_dir = Path(schema_dir), Path(out_dir)
    if not out_dir.is_dir() or inside_schema(schema_dir, out_dir):
        return False
    return headers_up_to_date(schema_dir, out_dir, regenerate_command(schema_dir, out_dir))


def skipped_summary(out_dir: Path) -> list[str]:
    """What the command line prints when a generation is skipped."""
    return [
        f"{out_dir} is up to date (same schema-hash and generator-hash): "
        "skipped, --force regenerates"
    ]


def headers_up_to_date(schema_dir: Path, out_dir: Path, command: str) -> bool:
    """Whether ``out_dir`` was generated from the files of ``schema_dir`` by this generator, as
    far as the headers tell (the bundled JSON documents carry the schema hash only)."""
    try:
        if not schema_dir.is_dir() or not out_dir.is_dir():
            return False
        digest = schema_digest(schema_dir)
        headers = {
            ".py": header(digest, command),
            ".md": header(digest, command, MD_HEADER),
            ".ts": header(digest, command, TS_HEADER),
        }
        for name in OUTPUT_FILES:
            target = out_dir / name
            if not target.is_file():
                return False
            expected = headers.get(target.suffix)
            if name == PY_TYPED:
                if target.stat().st_size:
                    return False
            elif expected is not None:
                with target.open(encoding="utf-8", errors="replace") as handle:
                    if handle.read(len(expected)) != expected:
                        return False
            elif _json_schema_hash(target) != digest:
                return False
        return not any(
            path.is_file() and path.name not in OUTPUT_FILES and is_generated(path)
            for path in out_dir.iterdir()
        )
    except OSError:
        # Whatever cannot be read here, the full generation reports properly.
        return False


def _json_schema_hash(path: Path) -> object:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return None
    info = document.get("x-datadivr") if isinstance(document, dict) else None
    return info.get("schema_hash") if isinstance(info, dict) else None
