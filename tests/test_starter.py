"""``datadivr init``: the starter project, its names, and what it refuses to overwrite."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from datadivr._starter import StarterError, identifier, plan_starter
from datadivr.cli import app

ROOT = Path(__file__).resolve().parents[1]
STARTER = ROOT / "src" / "datadivr" / "starter" / "schema"


def _json(path: Path) -> Any:
    return json.loads(path.read_text("utf-8"))


def init(*args: str | Path) -> Any:
    return CliRunner().invoke(app, ["init", *map(str, args)])


@pytest.mark.parametrize(
    ("folder", "name"),
    [
        ("my-game", "my_game"),
        ("My Game 2", "my_game_2"),
        ("2d-world", "_2d_world"),
        ("class", "class_"),
        ("---", "project"),
        ("jeu-ünïcode", "jeu_unicode"),
        ("Café 2", "cafe_2"),
        ("игра", "project"),
    ],
)
def test_names_come_from_the_folder(folder: str, name: str) -> None:
    assert identifier(folder) == name


def test_the_runtime_events_are_the_projects_own() -> None:
    """The starter's envelope, welcome, error and ErrorDetail are this repository's, so that
    the runtime's built-in messages fit them."""
    for rel in ("envelope.schema.json", "events/welcome.schema.json"):
        ours = _json(ROOT / "schema" / rel)
        del ours["$id"]
        assert _json(STARTER / rel) == ours
    error, ours = (
        _json(STARTER / "events/error.schema.json"),
        _json(ROOT / "schema/events/error.schema.json"),
    )
    del ours["$id"]
    assert {k: v for k, v in error.items() if k != "examples"} == {
        k: v for k, v in ours.items() if k != "examples"
    }
    definitions = _json(STARTER / "definitions.schema.json")["$defs"]
    assert definitions == {
        "ErrorDetail": _json(ROOT / "schema/definitions.schema.json")["$defs"]["ErrorDetail"]
    }


def test_init_in_an_existing_project_appends_the_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "game"\n', "utf-8")
    result = init("--package", "game_protocol")
    assert result.exit_code == 0, result.output
    assert "cd " not in result.output  # already there
    text = pyproject.read_text("utf-8")
    assert text.startswith('[project]\nname = "game"\n\n[tool.datadivr]\n')
    assert 'out = "game_protocol"' in text
    server = (tmp_path / f"{identifier(tmp_path.name)}_server.py").read_text("utf-8")
    assert "from game_protocol import (" in server

    # Once more: every file clashes, and the table too; nothing is written.
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    again = init("--package", "game_protocol")
    assert again.exit_code == 1
    assert "has a [tool.datadivr] table already" in again.output
    assert "schema/events/greet.schema.json (exists)" in again.output
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before

    # --force writes the files over, and keeps the table.
    (tmp_path / "schema" / "events" / "greet.schema.json").write_text("{}", "utf-8")
    forced = init("--package", "game_protocol", "--force")
    assert forced.exit_code == 0, forced.output
    assert "kept the [tool.datadivr] table" in forced.output
    assert pyproject.read_text("utf-8") == text
    assert (
        _json(tmp_path / "schema" / "events" / "greet.schema.json")["x-datadivr"]["event"]
        == "greet"
    )


def test_init_never_overwrites_a_file(tmp_path: Path) -> None:
    target = tmp_path / "game"
    (target / "schema").mkdir(parents=True)
    (target / "schema" / "envelope.schema.json").write_text("mine", "utf-8")
    result = init(target)
    assert result.exit_code == 1
    assert "envelope.schema.json (exists)" in result.output
    assert "--force" in result.output
    assert (target / "schema" / "envelope.schema.json").read_text("utf-8") == "mine"
    assert not (target / "pyproject.toml").exists()


@pytest.mark.parametrize("package", ["game-protocol", "2game", "import", "datadivr"])
def test_a_bad_package_name_is_refused(tmp_path: Path, package: str) -> None:
    with pytest.raises(StarterError, match=repr(package)):
        plan_starter(tmp_path, package)
    result = init(tmp_path, "--package", package)
    assert result.exit_code == 2
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("role", ["server", "client"])
def test_a_package_named_as_a_starter_module_is_refused(tmp_path: Path, role: str) -> None:
    """``game_server/`` next to ``game_server.py``: the package would shadow the module."""
    target = tmp_path / "game"
    result = init(target, "--package", f"game_{role}")
    assert result.exit_code == 2, result.output
    assert f"the name of the starter's {role} module" in " ".join(result.output.split())
    assert not target.exists()


def test_an_unreadable_pyproject_is_refused(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project\n", "utf-8")
    result = init(tmp_path)
    assert result.exit_code == 2
    assert "not valid TOML" in result.output


def test_a_file_is_not_a_folder(tmp_path: Path) -> None:
    target = tmp_path / "game"
    target.write_text("", "utf-8")
    assert init(target).exit_code == 2  # the command line refuses it
    with pytest.raises(StarterError, match="is not a folder"):
        plan_starter(target)
    assert target.read_text("utf-8") == ""


@pytest.mark.parametrize(
    "tool",
    [
        "tool = 1\n",
        'tool = "x"\n',
        "tool = {ruff = {line-length = 100}}\n",
    ],
)
def test_a_pyproject_the_table_cannot_be_appended_to_is_refused(tmp_path: Path, tool: str) -> None:
    """Appending ``[tool.datadivr]`` after a ``tool`` that is no table of sections would
    leave a pyproject.toml that no tool reads: init says so, shows the table, writes nothing."""
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(tool, "utf-8")
    result = init(tmp_path)
    assert result.exit_code == 2, result.output
    said = " ".join(result.output.split())
    assert "cannot append a [tool.datadivr] table" in said
    assert "add this table to it by hand" in said
    assert 'out = "' in said
    assert pyproject.read_text("utf-8") == tool
    assert [p.name for p in tmp_path.iterdir()] == ["pyproject.toml"]


@pytest.mark.parametrize(
    ("folder", "cd"),
    [("my game", "cd 'my game'"), ("-game", "cd ./-game"), ("it's", "cd 'it'\"'\"'s'")],
)
def test_the_next_steps_cd_into_any_folder_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, folder: str, cd: str
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["init", "--", folder])
    assert result.exit_code == 0, result.output
    assert f"\n  {cd}\n" in result.output


def test_a_kept_table_that_is_not_the_starters_is_said(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With --force, init keeps a [tool.datadivr] table of the project's own: when it names
    other folders than the starter's, the next steps would not work, and init says what they
    need."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text(
        '[tool.datadivr]\nschema = "schemas"\nout = "game_protocol"\n', "utf-8"
    )
    result = init("--package", "game_protocol", "--force")
    assert result.exit_code == 0, result.output
    server = f"{identifier(tmp_path.name)}_server"
    assert (
        f"it differs from the starter's: the next steps and {server}.py need "
        f'schema = "schema", import = ["{server}"]'
    ) in " ".join(result.output.split())

    # A table that is the starter's is kept without a word.
    (tmp_path / "pyproject.toml").write_text(
        f'[tool.datadivr]\nschema = "schema"\nout = "game_protocol"\nimport = ["{server}"]\n',
        "utf-8",
    )
    again = init("--package", "game_protocol", "--force")
    assert again.exit_code == 0, again.output
    assert "kept the [tool.datadivr] table" in again.output
    assert "differs" not in again.output


@pytest.mark.parametrize("force", [[], ["--force"]])
def test_a_file_where_a_folder_goes_is_refused_before_anything_is_written(
    tmp_path: Path, force: list[str]
) -> None:
    (tmp_path / "schema").write_text("mine", "utf-8")
    result = init(tmp_path, *force)
    assert result.exit_code == 2, result.output
    assert "a file where init needs a folder" in " ".join(result.output.split())
    assert [p.name for p in tmp_path.iterdir()] == ["schema"]
    assert (tmp_path / "schema").read_text("utf-8") == "mine"
