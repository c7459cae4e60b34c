"""``datadivr generate`` on the command line, run as ``python -m datadivr``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from datadivr_codegen.generator import generate, plan
from datadivr_codegen.project import regenerate_command
from tests.commands import run_datadivr

from .conftest import GENERATED_FILES, case_schema, copy_case, snapshot


@pytest.fixture
def generated(tmp_path: Path) -> Path:
    """The ``reply`` case, generated through the API (the CLI is slow to start)."""
    out = tmp_path / "out"
    generate(case_schema("reply"), out)
    return out


def test_generate_writes_the_package(tmp_path: Path) -> None:
    out = tmp_path / "pkg"
    result = run_datadivr(
        "generate", "--schema", case_schema("minimal"), "--out", out, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(GENERATED_FILES)
    for name in GENERATED_FILES:
        assert f"wrote {out / name}" in result.stdout
    assert f"{len(GENERATED_FILES)} written, 0 unchanged, 0 removed" in result.stdout
    assert result.stderr == ""
    command = regenerate_command(case_schema("minimal"), out)
    expected = plan(case_schema("minimal"), command=command).files
    assert snapshot(out) == {f.path: f.content.encode() for f in expected}


def test_broken_schema_exits_1_naming_the_file(tmp_path: Path) -> None:
    schema = copy_case("minimal", tmp_path / "schema")
    event = schema / "events" / "hello.schema.json"
    data = json.loads(event.read_text(encoding="utf-8"))
    data["x-datadivr"]["direction"] = "sideways"
    event.write_text(json.dumps(data), encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    (out / "sentinel.txt").write_text("untouched\n", encoding="utf-8")

    result = run_datadivr("generate", "--schema", schema, "--out", out, cwd=tmp_path)

    assert result.returncode == 1
    assert "schema error" in result.stderr
    assert "events/hello.schema.json" in result.stderr
    assert "unknown direction 'sideways'" in result.stderr
    assert "Traceback" not in result.stderr
    assert snapshot(out) == {"sentinel.txt": b"untouched\n"}


def test_invalid_json_is_reported_with_its_position(tmp_path: Path) -> None:
    schema = copy_case("minimal", tmp_path / "schema")
    (schema / "events" / "hello.schema.json").write_text('{"type": }', encoding="utf-8")
    result = run_datadivr("generate", "--schema", schema, "--out", tmp_path / "out", cwd=tmp_path)
    assert result.returncode == 1
    assert "schema error" in result.stderr
    assert "events/hello.schema.json: invalid JSON at line 1, column 10" in result.stderr
    assert not (tmp_path / "out").exists()


def test_check_fails_when_stale(tmp_path: Path, generated: Path) -> None:
    models = generated / "models.py"
    models.write_text(models.read_text(encoding="utf-8") + "# edited\n", encoding="utf-8")
    (generated / "client.py").unlink()
    before = snapshot(generated)

    result = run_datadivr(
        "generate", "--schema", case_schema("reply"), "--out", generated, "--check", cwd=tmp_path
    )

    assert result.returncode == 1
    assert "stale: models.py" in result.stderr
    assert "missing: client.py" in result.stderr
    assert snapshot(generated) == before


def test_check_passes_when_fresh(tmp_path: Path, generated: Path) -> None:
    before = snapshot(generated)
    result = run_datadivr(
        "generate", "--schema", case_schema("reply"), "--out", generated, "--check", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout
    assert "stale" not in result.stderr
    assert snapshot(generated) == before


def test_check_on_a_broken_schema_exits_1(tmp_path: Path, generated: Path) -> None:
    schema = copy_case("reply", tmp_path / "schema")
    (schema / "envelope.schema.json").unlink()
    result = run_datadivr(
        "generate", "--schema", schema, "--out", generated, "--check", cwd=tmp_path
    )
    assert result.returncode == 1
    assert "schema error" in result.stderr
    assert "envelope.schema.json" in result.stderr


def test_the_generator_without_the_codegen_extra_says_how_to_install_it(tmp_path: Path) -> None:
    """``python -m datadivr_codegen`` with the extra's modules hidden: an install hint, exit 2."""
    hide = (
        "import runpy, sys\n"
        "sys.modules['datamodel_code_generator'] = None  # import raises ModuleNotFoundError\n"
        "sys.argv = ['python -m datadivr_codegen', *sys.argv[1:]]\n"
        "runpy.run_module('datadivr_codegen', run_name='__main__', alter_sys=True)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", hide, "--schema", str(case_schema("minimal")), "--out", "pkg"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr == (
        "error: the generator needs the codegen extra (datamodel_code_generator is missing): "
        "pip install 'datadivr[codegen]'\n"
    )
    assert not (tmp_path / "pkg").exists()


@pytest.mark.parametrize("out", [".", "generated"])
def test_a_package_folder_inside_the_schema_folder_is_refused(tmp_path: Path, out: str) -> None:
    """Its schema.json and asyncapi.json would be read as schemas by the next run: refused
    before anything is written."""
    schema = copy_case("minimal", tmp_path / "schema")
    before = snapshot(schema)
    result = run_datadivr("generate", "--schema", "schema", "--out", f"schema/{out}", cwd=tmp_path)
    assert result.returncode == 1, result.stdout
    assert "is inside the schema folder" in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr
    assert snapshot(schema) == before


@pytest.mark.parametrize(
    "command", [[], [sys.executable, "-m", "datadivr_codegen"]], ids=["cli", "module"]
)
def test_a_configured_package_folder_that_cannot_be_written_is_an_error(
    tmp_path: Path, command: list[str]
) -> None:
    """The option's folder is checked by the command line; the table's is not: a file, or a
    folder under a file, is said in a line, exit 1, no traceback."""
    copy_case("minimal", tmp_path / "schema")
    (tmp_path / "afile").write_text("mine", "utf-8")
    for out in ("afile", "afile/pkg"):
        (tmp_path / "pyproject.toml").write_text(
            f'[tool.datadivr]\nschema = "schema"\nout = "{out}"\n', "utf-8"
        )
        if command:
            result = run_datadivr(cwd=tmp_path, command=command)
        else:
            result = run_datadivr("generate", cwd=tmp_path)
        assert result.returncode == 1, result.stdout
        assert "Traceback" not in result.stderr
        assert "afile" in result.stderr
    assert (tmp_path / "afile").read_text("utf-8") == "mine"
