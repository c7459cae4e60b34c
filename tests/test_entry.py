"""The ``datadivr`` script answers a ``generate --check`` (from its stamp) or a ``generate`` (from
the headers) with nothing to do before the command line (typer, pydantic, rich) is imported, as
the command line answers it; everything else, and every doubt, goes to the command line."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from datadivr._entry import answer_at_once
from datadivr_codegen import freshness
from datadivr_codegen.generator import generate
from tests.codegen.conftest import copy_case

#: What the command line imports and a stamped check does not.
COMMAND_LINE = ("typer", "pydantic", "rich", "datamodel_code_generator", "jinja2")


@pytest.fixture
def schema(tmp_path: Path) -> Path:
    return copy_case("minimal", tmp_path / "schema")


@pytest.fixture
def out(tmp_path: Path, schema: Path) -> Path:
    """The generated package, stamped by its generation."""
    folder = tmp_path / "out"
    assert not generate(schema, folder).skipped
    return folder


@pytest.fixture(autouse=True)
def no_folder_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATADIVR_SCHEMA", raising=False)
    monkeypatch.delenv("DATADIVR_OUT", raising=False)


def _run(code: str, argv: list[str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", "TERM": "dumb"}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("check", "says"),
    [(True, "is up to date with"), (False, "is up to date (same schema-hash")],
    ids=["check", "generate"],
)
def test_nothing_to_do_imports_no_library_of_the_command_line(
    schema: Path, out: Path, check: bool, says: str
) -> None:
    code = f"""
        import runpy, sys
        sys.argv = ["datadivr", *sys.argv[1:]]
        try:
            runpy.run_module("datadivr", run_name="__main__", alter_sys=True)
        except SystemExit as exc:
            assert not exc.code, exc.code
        print(*sorted(m for m in {COMMAND_LINE!r} if m in sys.modules), file=sys.stderr)
        """
    argv = ["generate", "--schema", str(schema), "--out", str(out), *(["--check"] if check else [])]
    result = _run(code, argv)
    assert says in result.stdout
    assert result.stderr == "\n"


@pytest.mark.parametrize("check", [True, False], ids=["check", "generate"])
@pytest.mark.parametrize("stamped", [True, False], ids=["stamped", "no stamp"])
def test_the_script_prints_what_the_command_line_prints(
    schema: Path,
    out: Path,
    stamped: bool,
    check: bool,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """Answered at once, or by the command line (whose full check stamps it): the same bytes
    and status."""
    if not stamped:
        monkeypatch.setenv(freshness.CACHE_ENV, str(tmp_path / "empty-cache"))
    argv = ["generate", *(["--check"] if check else []), f"--schema={schema}", "--out", str(out)]
    script = _run("from datadivr._entry import main\nmain()", argv)
    if not stamped:
        monkeypatch.setenv(freshness.CACHE_ENV, str(tmp_path / "another-empty-cache"))
    command_line = _run("from datadivr.cli import main\nmain()", argv)
    assert (script.returncode, script.stdout, script.stderr) == (
        command_line.returncode,
        command_line.stdout,
        command_line.stderr,
    )
    assert script.stdout.startswith(f"{out} is up to date")


def test_the_folders_come_from_the_options_the_variables_and_the_project(
    schema: Path, out: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    expected = [f"{out} is up to date with {schema}"]
    assert answer_at_once(["generate", "--schema", str(schema), "--out", str(out), "--check"])
    assert answer_at_once(["generate", "--check", f"--out={out}", f"--schema={schema}"])
    monkeypatch.setenv("DATADIVR_SCHEMA", str(schema))
    assert answer_at_once(["generate", "--check", "--out", str(out)]) == expected
    monkeypatch.setenv("DATADIVR_OUT", str(out))
    assert answer_at_once(["generate", "--check"]) == expected


def test_the_folders_come_from_the_project(
    schema: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.datadivr]\nschema = "schema"\nout = "out"\n', encoding="utf-8"
    )
    assert not generate(schema, tmp_path / "out").skipped
    monkeypatch.chdir(tmp_path)
    assert answer_at_once(["generate", "--check"]) == ["out is up to date with schema"]


@pytest.mark.parametrize(
    "argv",
    [
        ["generate", "--schema", "{schema}", "--out", "{out}", "--force"],
        ["generate", "--schema", "{schema}", "--out", "{out}", "--check", "--force"],
        ["generate", "--schema", "{schema}", "--out", "{out}", "--check", "--help"],
        ["generate", "--schema", "{schema}", "--schema", "{schema}", "--out", "{out}", "--check"],
        ["generate", "--out", "{out}", "--check", "--schema"],
        ["generate", "--out", "{out}", "--check", "--schema", "--check"],
        ["generate", "--out", "{out}", "--check", "--schema="],
        ["generate", "-s", "{schema}", "--out", "{out}", "--check"],
        ["generate", "--out", "{out}", "--check"],
        ["generate", "--schema", "{schema}/events", "--out", "{out}", "--check"],
        ["generate", "--schema", "{schema}", "--out", "{out}/__init__.py", "--check"],
        ["--help", "generate", "--schema", "{schema}", "--out", "{out}", "--check"],
        ["serve", "--check"],
        [],
    ],
)
def test_any_other_command_line_runs_the_command_line(
    argv: list[str], schema: Path, out: Path
) -> None:
    filled = [arg.format(schema=schema, out=out) for arg in argv]
    assert answer_at_once(filled) is None


def test_a_check_without_a_stamp_runs_the_command_line(
    schema: Path, out: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(freshness.CACHE_ENV, str(tmp_path / "empty-cache"))
    argv = ["generate", "--schema", str(schema), "--out", str(out), "--check"]
    assert answer_at_once(argv) is None


def test_a_broken_project_file_runs_the_command_line(
    schema: Path, out: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The command line reports the error."""
    (tmp_path / "pyproject.toml").write_text("[tool.datadivr\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert answer_at_once(["generate", "--check"]) is None
    assert answer_at_once(["generate", "--schema", "schema", "--out", "out", "--check"]) is None


def test_a_generation_the_headers_do_not_name_runs_the_command_line(
    schema: Path, out: Path
) -> None:
    event = next(path for path in sorted(schema.rglob("*.json")) if "envelope" not in path.name)
    event.write_text(event.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert answer_at_once(["generate", "--schema", str(schema), "--out", str(out)]) is None
    assert answer_at_once(["generate", "--schema", str(schema), "--out", str(schema)]) is None
