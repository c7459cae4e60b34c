"""``generate`` skips the pipeline when the headers say the output is up to date.

The headers name the schema hash and the generator hash; the skip reads nothing else, so a
hand-edited body under an intact header is left for ``check`` to report and ``force`` to repair.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import datamodel_code_generator
import pytest

from datadivr_codegen import freshness, generator, headers
from datadivr_codegen.__main__ import main
from datadivr_codegen.generator import (
    HEADER_MARK,
    OUTPUT_FILES,
    WriteResult,
    check,
    generate,
    generator_hash,
)
from datadivr_codegen.schema import load_schema_folder, schema_digest

from .conftest import CASES, GENERATED_FILES, HASHED_FILES, case_schema, copy_case, snapshot

ORPHAN = f"# {HEADER_MARK} from JSON Schema files. DO NOT EDIT.\nOLD = 1\n"


class Spy:
    """Counts calls to the expensive steps of the pipeline, and lets them run."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: dict[str, int] = {"datamodel-code-generator": 0, "ruff": 0}
        self._wrap(monkeypatch, datamodel_code_generator, "generate", "datamodel-code-generator")
        self._wrap(monkeypatch, generator, "format_sources", "ruff")

    def _wrap(self, monkeypatch: pytest.MonkeyPatch, owner: Any, attr: str, key: str) -> None:
        real: Callable[..., Any] = getattr(owner, attr)

        def spy(*args: Any, **kwargs: Any) -> Any:
            self.calls[key] += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(owner, attr, spy)

    def reset(self) -> None:
        self.calls = dict.fromkeys(self.calls, 0)


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> Spy:
    return Spy(monkeypatch)


@pytest.fixture
def schema(tmp_path: Path) -> Path:
    """A writable copy of the ``minimal`` case."""
    return copy_case("minimal", tmp_path / "schema")


@pytest.fixture
def out(tmp_path: Path, schema: Path, spy: Spy) -> Path:
    """``schema`` generated once, with the spies already counting."""
    folder = tmp_path / "out"
    first = generate(schema, folder)
    assert not first.skipped
    assert sorted(first.written) == sorted(GENERATED_FILES)
    assert spy.calls == {"datamodel-code-generator": 1, "ruff": 1}
    spy.reset()
    return folder


def _mtimes(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}


def _assert_regenerated(schema: Path, out: Path, result: WriteResult, spy: Spy) -> None:
    assert not result.skipped
    assert spy.calls == {"datamodel-code-generator": 1, "ruff": 1}
    assert check(schema, out) == []


def test_unchanged_schemas_are_skipped_without_running_the_pipeline(
    schema: Path, out: Path, spy: Spy
) -> None:
    before, mtimes = snapshot(out), _mtimes(out)

    result = generate(schema, out)

    assert result == WriteResult(unchanged=OUTPUT_FILES, skipped=True)
    assert spy.calls == {"datamodel-code-generator": 0, "ruff": 0}
    assert snapshot(out) == before
    assert _mtimes(out) == mtimes
    assert result.summary(out) == [
        f"{out} is up to date (same schema-hash and generator-hash): skipped, --force regenerates"
    ]


def test_force_runs_the_pipeline_and_changes_nothing(schema: Path, out: Path, spy: Spy) -> None:
    before = snapshot(out)
    result = generate(schema, out, force=True)
    assert result.written == result.removed == ()
    assert sorted(result.unchanged) == sorted(GENERATED_FILES)
    _assert_regenerated(schema, out, result, spy)
    assert snapshot(out) == before


def test_changed_schema_is_regenerated(schema: Path, out: Path, spy: Spy) -> None:
    event = schema / "events" / "hello.schema.json"
    data = json.loads(event.read_text(encoding="utf-8"))
    data["properties"]["times"]["maximum"] = 10
    event.write_text(json.dumps(data, indent=2), encoding="utf-8")

    result = generate(schema, out)

    _assert_regenerated(schema, out, result, spy)
    # Every file but py.typed names the schema hash, so every one of them changed.
    assert sorted(result.written) == sorted(HASHED_FILES)
    assert "le=10" in (out / "models.py").read_text(encoding="utf-8")


def test_new_schema_file_is_regenerated(schema: Path, out: Path, spy: Spy) -> None:
    """An added file changes the hash even when it defines nothing the models use."""
    (schema / "notes.schema.json").write_text('{"$defs": {}}\n', encoding="utf-8")
    _assert_regenerated(schema, out, generate(schema, out), spy)


def test_hand_edited_file_under_its_header_is_left_to_check_and_force(
    schema: Path, out: Path, spy: Spy
) -> None:
    models = out / "models.py"
    original = models.read_text(encoding="utf-8")
    models.write_text(original.replace("class HelloPayload", "class HiPayload"), encoding="utf-8")

    skipped = generate(schema, out)
    assert skipped.skipped
    assert spy.calls == {"datamodel-code-generator": 0, "ruff": 0}
    assert "class HiPayload" in models.read_text(encoding="utf-8")
    assert check(schema, out) == ["stale: models.py"]

    spy.reset()
    forced = generate(schema, out, force=True)
    assert forced.written == ("models.py",)
    _assert_regenerated(schema, out, forced, spy)
    assert models.read_text(encoding="utf-8") == original


@pytest.mark.parametrize("name", GENERATED_FILES)
def test_missing_file_is_regenerated(schema: Path, out: Path, spy: Spy, name: str) -> None:
    (out / name).unlink()
    result = generate(schema, out)
    assert result.written == (name,)
    _assert_regenerated(schema, out, result, spy)


@pytest.mark.parametrize(
    ("name", "damage"),
    [
        pytest.param("events.py", lambda text: text.split("\n", 4)[4], id="py-header-removed"),
        pytest.param(
            "client.py",
            lambda text: text.replace("schema-hash: sha256:", "schema-hash: sha256:0", 1),
            id="py-other-schema-hash",
        ),
        pytest.param(
            "schema.json",
            lambda text: text.replace('"schema_hash"', '"old_hash"', 1),
            id="json-without-hash",
        ),
        pytest.param("asyncapi.json", lambda text: text[:-10], id="json-truncated"),
        pytest.param(
            "protocol.d.ts",
            lambda text: text.replace("schema-hash: sha256:", "schema-hash: sha256:0", 1),
            id="ts-other-schema-hash",
        ),
        pytest.param("handlers.py", lambda text: "", id="py-empty"),
        pytest.param("py.typed", lambda text: "partial\n", id="py-typed-not-empty"),
    ],
)
def test_file_without_the_right_header_is_regenerated(
    schema: Path, out: Path, spy: Spy, name: str, damage: Callable[[str], str]
) -> None:
    target = out / name
    target.write_text(damage(target.read_text(encoding="utf-8")), encoding="utf-8")
    result = generate(schema, out)
    assert result.written == (name,)
    _assert_regenerated(schema, out, result, spy)


def test_orphaned_generated_module_is_removed(schema: Path, out: Path, spy: Spy) -> None:
    (out / "old.py").write_text(ORPHAN, encoding="utf-8")
    result = generate(schema, out)
    assert result.removed == ("old.py",)
    assert result.written == ()
    _assert_regenerated(schema, out, result, spy)


def test_files_that_are_not_generated_do_not_defeat_the_skip(
    schema: Path, out: Path, spy: Spy
) -> None:
    (out / "custom.py").write_text("VALUE = 1\n", encoding="utf-8")
    (out / "README.md").write_text("# notes\n", encoding="utf-8")
    assert generate(schema, out).skipped
    assert spy.calls == {"datamodel-code-generator": 0, "ruff": 0}


def test_another_generator_regenerates(
    schema: Path, out: Path, spy: Spy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A change to the generator (its modules, templates, or tools) changes every header."""
    monkeypatch.setattr(headers, "generator_hash", lambda: "sha256:" + "0" * 64)

    result = generate(schema, out)

    assert sorted(result.written) == sorted(
        f for f in GENERATED_FILES if f.endswith((".py", ".md", ".ts"))
    )
    _assert_regenerated(schema, out, result, spy)
    assert f"# generator-hash: sha256:{'0' * 64}\n" in (out / "events.py").read_text("utf-8")


def test_generator_hash_covers_sources_templates_and_tools(tmp_path: Path) -> None:
    package = Path(generator.__file__).parent
    root = tmp_path / "datadivr_codegen"
    (root / "templates").mkdir(parents=True)
    sources = sorted([*package.glob("*.py"), *package.glob("templates/*.jinja")])
    assert any(p.suffix == ".jinja" for p in sources)
    copies = []
    for source in sources:
        copy = root / source.relative_to(package)
        copy.write_bytes(source.read_bytes())
        copies.append(copy)
    versions = {"datamodel-code-generator": "0.89.0", "ruff": "0.8.0"}

    def fingerprint(tools: dict[str, str] = versions) -> str:
        return freshness._fingerprint(root, copies, tools)

    original = fingerprint()
    assert fingerprint() == original
    assert freshness._fingerprint(package, sources, versions) == original

    template = root / "templates" / "events.py.jinja"
    text = template.read_bytes()
    # Line endings do not count: a CRLF checkout gives the same headers.
    template.write_bytes(text.replace(b"\n", b"\r\n"))
    assert fingerprint() == original
    template.write_bytes(text + b"{# a comment #}\n")
    assert fingerprint() != original
    template.write_bytes(text)

    assert fingerprint({**versions, "ruff": "0.8.1"}) != original
    assert fingerprint({**versions, "datamodel-code-generator": "0.90.0"}) != original


def test_generated_headers_name_the_generator_hash(out: Path) -> None:
    assert generator_hash().startswith("sha256:")
    line = f"# generator-hash: {generator_hash()}\n"
    for name in GENERATED_FILES:
        if name.endswith(".py"):
            assert line in (out / name).read_text(encoding="utf-8"), name


def test_output_files_are_the_generated_files() -> None:
    assert tuple(sorted(GENERATED_FILES)) == OUTPUT_FILES


@pytest.mark.parametrize("case", CASES)
def test_schema_digest_is_the_loaded_digest(case: str) -> None:
    assert schema_digest(case_schema(case)) == load_schema_folder(case_schema(case)).digest


def test_missing_schema_folder_is_reported_not_skipped(tmp_path: Path, out: Path) -> None:
    from datadivr_codegen.errors import SchemaError

    with pytest.raises(SchemaError, match="not a directory"):
        generate(tmp_path / "nowhere", out)


def test_command_line_skips_checks_and_forces(
    schema: Path, out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--schema", str(schema), "--out", str(out)]

    assert main(args) == 0
    assert capsys.readouterr().out == (
        f"{out} is up to date (same schema-hash and generator-hash): skipped, --force regenerates\n"
    )

    models = out / "models.py"
    models.write_text(models.read_text(encoding="utf-8") + "# edited\n", encoding="utf-8")
    assert main(args) == 0
    assert "is up to date" in capsys.readouterr().out
    assert main([*args, "--check"]) == 1
    captured = capsys.readouterr()
    # The command that regenerates it from here (the repository, whose [tool.datadivr] names
    # other folders).
    assert captured.err == (
        f"stale: models.py\n{out} is stale: run `datadivr generate --schema {schema} --out {out}`\n"
    )

    assert main([*args, "--force"]) == 0
    assert capsys.readouterr().out == (
        f"wrote {out / 'models.py'}\n1 written, {len(GENERATED_FILES) - 1} unchanged, 0 removed\n"
    )
    assert main([*args, "--check"]) == 0
    assert capsys.readouterr().out == f"{out} is up to date with {schema}\n"


def test_command_line_rejects_check_with_force(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--check", "--force"])
    assert exc.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_command_line_reports_schema_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--schema", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")]) == 1
    assert capsys.readouterr().err.startswith("schema error: ")


def _allowed(module: str) -> bool:
    """What the generator may import of datadivr: the schema-evolution subsystem, whose
    fingerprint it records, and the package's ``__init__`` with its one eager import."""
    return module in ("datadivr", "datadivr.exceptions", "datadivr.compat") or (
        module.startswith("datadivr.compat.")
    )


def test_command_line_never_imports_the_runtime(tmp_path: Path) -> None:
    """``python -m datadivr_codegen`` must run while the package it replaces is broken: the
    demo package and the runtime unimportable, it imports only the fingerprint's modules."""
    out = tmp_path / "out"
    program = (
        "import runpy, sys\n"
        "for name in ('datadivr.demo', 'datadivr.runtime', 'datadivr.core'):\n"
        "    sys.modules[name] = None  # import raises ModuleNotFoundError\n"
        "try:\n"
        "    runpy.run_module('datadivr_codegen', run_name='__main__', alter_sys=True)\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "loaded = sorted(m for m in sys.modules if m.partition('.')[0] == 'datadivr'\n"
        "                and sys.modules[m] is not None)\n"
        "print(*loaded)\n"
    )
    for _ in range(2):  # a generation, then a skip
        proc = subprocess.run(
            [sys.executable, "-c", program, "--schema", str(case_schema("minimal")), "--out", out],
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        loaded = proc.stdout.splitlines()[-1].split()
        assert [m for m in loaded if not _allowed(m)] == [], loaded
        assert "datadivr.compat._fingerprint" in loaded or loaded == []
    assert "is up to date" in proc.stdout
