"""The ``[tool.datadivr]`` table: where it is found, what it holds, and how it is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from datadivr_codegen.project import (
    KEYS,
    ConfigError,
    NotConfiguredError,
    ProjectConfig,
    find_pyproject,
    folders,
    load_config,
    protocol_name,
    regenerate_command,
)


def _project(root: Path, table: str, *, before: str = "") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    path = root / "pyproject.toml"
    path.write_text(f'{before}[project]\nname = "game"\n\n[tool.datadivr]\n{table}', "utf-8")
    return path


def test_found_walking_up_with_paths_relative_to_the_file(tmp_path: Path) -> None:
    path = _project(
        tmp_path,
        'schema = "schema"\nout = "src/game_protocol"\nimport = ["game_server"]\n',
    )
    below = tmp_path / "src" / "deeper"
    below.mkdir(parents=True)

    config = load_config(below)

    assert find_pyproject(below) == path
    assert config == ProjectConfig(
        file=path,
        schema=tmp_path / "schema",
        out=tmp_path / "src" / "game_protocol",
        protocol="game_protocol",
        imports=("game_server",),
    )
    assert config.root == tmp_path


def test_protocol_is_derived_from_out_or_set(tmp_path: Path) -> None:
    assert protocol_name(Path("src/game_protocol")) == "game_protocol"
    # A folder inside a package is named under it.
    (tmp_path / "src" / "game").mkdir(parents=True)
    (tmp_path / "src" / "game" / "__init__.py").write_text("", "utf-8")
    assert protocol_name(tmp_path / "src" / "game" / "protocol") == "game.protocol"
    _project(tmp_path, 'out = "src/game/protocol"\n')
    assert load_config(tmp_path).protocol == "game.protocol"
    _project(tmp_path, 'out = "gen/x"\nprotocol = "other_name"\n')
    assert load_config(tmp_path).protocol == "other_name"


def test_nothing_configured(tmp_path: Path) -> None:
    assert load_config(tmp_path) == ProjectConfig()  # no pyproject.toml up to / (in tmp)
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n', "utf-8")
    assert load_config(tmp_path) == ProjectConfig()  # one without the table


@pytest.mark.parametrize(
    ("table", "key", "says"),
    [
        ('schemas = "schema"\n', "schemas", "unknown key (known keys: schema: "),
        ("schema = 3\n", "schema", "must be a folder path (a string), got 3"),
        ('out = ""\n', "out", "must be a folder path"),
        ('protocol = "game-protocol"\n', "protocol", "must be an importable name"),
        ('import = "game_server"\n', "import", "must be a list of module names"),
        ("import = [1]\n", "import", "must be a list of module names"),
        ('out = "src/my-game"\n', "out", "'my-game' (the package name of this folder)"),
    ],
)
def test_bad_settings_name_the_file_and_the_key(
    tmp_path: Path, table: str, key: str, says: str
) -> None:
    path = _project(tmp_path, table)
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    assert (info.value.file, info.value.key) == (path, key)
    assert str(info.value).startswith(f"{path}: [tool.datadivr] {key}: ")
    assert says in str(info.value)


def test_every_key_is_listed_when_one_is_unknown(tmp_path: Path) -> None:
    _project(tmp_path, 'outt = "x"\n')
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    for key in KEYS:
        assert f"{key}: " in str(info.value)


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text("[tool.datadivr\n", "utf-8")
    with pytest.raises(ConfigError, match="not valid TOML") as info:
        load_config(tmp_path)
    assert info.value.file == path
    assert info.value.key is None


def test_options_override_the_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _project(tmp_path, 'schema = "schema"\nout = "src/game_protocol"\n')
    config = load_config()
    # Configured folders are shown relative to the current folder.
    assert folders(None, None, config) == (Path("schema"), Path("src/game_protocol"))
    assert folders(Path("other"), None, config) == (Path("other"), Path("src/game_protocol"))
    assert folders(Path("a"), Path("b"), ProjectConfig()) == (Path("a"), Path("b"))


def test_nothing_to_generate_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(NotConfiguredError) as info:
        folders(None, None, ProjectConfig())
    text = str(info.value)
    assert "no --schema (or [tool.datadivr] schema) and no --out" in text
    assert "datadivr init" in text
    assert "--schema DIR --out DIR" in text
    with pytest.raises(NotConfiguredError, match="no --out") as info:
        folders(Path("schema"), None, ProjectConfig())
    assert "--schema (or" not in str(info.value)


def test_the_regenerate_command(tmp_path: Path) -> None:
    _project(tmp_path, 'schema = "schema"\nout = "src/game_protocol"\n')
    schema, out = tmp_path / "schema", tmp_path / "src" / "game_protocol"
    # The configured folders: no options needed, from anywhere in the project.
    assert regenerate_command(schema, out) == "datadivr generate"
    assert regenerate_command(schema, out, cwd=tmp_path / "src") == "datadivr generate"
    # Others: relative to the project's folder for the headers, to the current folder for a
    # hint (absolute when outside it).
    other = tmp_path / "gen" / "other"
    assert regenerate_command(schema, other) == "datadivr generate --schema schema --out gen/other"
    assert (
        regenerate_command(schema, other, cwd=tmp_path / "gen")
        == f"datadivr generate --schema {schema} --out other"
    )


def test_the_regenerate_command_without_a_project(tmp_path: Path) -> None:
    """With no pyproject.toml, the folder holding both is the project's."""
    project = tmp_path / "game"
    command = regenerate_command(project / "schema", project / "game_protocol")
    assert command == "datadivr generate --schema schema --out game_protocol"
    assert regenerate_command(tmp_path / "x" / "schema", tmp_path / "y" / "out") == (
        "datadivr generate --schema x/schema --out y/out"
    )


def test_import_paths(tmp_path: Path) -> None:
    _project(tmp_path, 'out = "src/game/protocol"\nprotocol = "game.protocol"\n')
    (tmp_path / "src" / "game").mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    paths = load_config(tmp_path).import_paths(cwd=elsewhere)
    assert paths == [elsewhere, tmp_path, tmp_path / "src"]


def test_the_documented_table(tmp_path: Path) -> None:
    """docs/configuration.md's example is a valid table, and its table of keys lists every key."""
    page = (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").read_text("utf-8")
    example = page.split("```toml\n")[1].split("```")[0]
    (tmp_path / "pyproject.toml").write_text(example, "utf-8")
    config = load_config(tmp_path)
    assert config.protocol == "game_protocol"
    assert config.imports == ("game_server",)
    for key in KEYS:
        assert f"\n| `{key}` | " in page
