"""The command line's options, parsed as ``datadivr serve`` parses them, without a server."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.core import TyperCommand, TyperGroup, TyperOption
from typer.testing import CliRunner

from datadivr import Limits
from datadivr.cli import app, limits_from_options
from datadivr.core._limits import Flag

LIMITS = [limit.name for limit in fields(Limits)]


def serve_command() -> TyperCommand:
    group = typer.main.get_command(app)
    assert isinstance(group, TyperGroup)
    command = group.commands["serve"]
    assert isinstance(command, TyperCommand)
    return command


def parsed(*args: str) -> dict[str, Any]:
    """The values ``datadivr serve ARGS`` would run with (the environment included)."""
    with serve_command().make_context("serve", list(args)) as context:
        return context.params


@pytest.fixture(autouse=True)
def no_limit_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in LIMITS:
        monkeypatch.delenv(f"DATADIVR_{name.upper()}", raising=False)


@pytest.mark.parametrize("name", LIMITS)
def test_every_limit_has_a_flag_and_a_variable(name: str) -> None:
    (option,) = (param for param in serve_command().params if param.name == name)
    assert isinstance(option, TyperOption)
    flag = Flag.of(next(limit for limit in fields(Limits) if limit.name == name).metadata)
    assert option.opts == ["--" + name.replace("_", "-")]
    assert option.envvar == f"DATADIVR_{name.upper()}"
    assert option.help == flag.help
    default = getattr(Limits(), name)
    assert option.default == (default or 0 if flag.zero_means_none else default)


def test_no_option_sets_the_default_limits() -> None:
    assert limits_from_options(parsed()) == Limits()


@pytest.mark.parametrize("name", LIMITS)
def test_a_limit_set_by_flag_reaches_limits(name: str) -> None:
    limits = limits_from_options(parsed("--" + name.replace("_", "-"), "7"))
    assert getattr(limits, name) == 7
    assert getattr(limits, name) != getattr(Limits(), name)


@pytest.mark.parametrize("name", LIMITS)
def test_a_limit_set_by_variable_reaches_limits(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(f"DATADIVR_{name.upper()}", "7")
    assert getattr(limits_from_options(parsed()), name) == 7


def test_the_flag_wins_over_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATADIVR_MAX_DEPTH", "5")
    assert limits_from_options(parsed("--max-depth", "6")).max_depth == 6


@pytest.mark.parametrize("name", ["ping_interval", "ping_timeout"])
def test_zero_turns_pings_off(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert getattr(limits_from_options(parsed("--" + name.replace("_", "-"), "0")), name) is None
    monkeypatch.setenv(f"DATADIVR_{name.upper()}", "0")
    assert getattr(limits_from_options(parsed()), name) is None


@pytest.mark.parametrize(
    "args", [("--max-depth", "0"), ("--rate", "0"), ("--queue-size", "many"), ("--burst", "1.5")]
)
def test_a_value_out_of_range_is_a_usage_error(args: tuple[str, ...]) -> None:
    with pytest.raises(typer.BadParameter) as refused:
        parsed(*args)
    assert f"Invalid value for '{args[0]}'" in refused.value.format_message()


@pytest.mark.parametrize(
    "args", [("--rate", "inf"), ("--ping-timeout", "inf"), ("--shutdown-timeout", "inf")]
)
def test_a_value_limits_refuse_is_a_value_error(args: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match=args[0].removeprefix("--").replace("-", "_")):
        limits_from_options(parsed(*args))


@pytest.mark.parametrize("name", ["../game_protocol", ".game_protocol", "", "game-protocol", "a/b"])
@pytest.mark.parametrize("command", [["events"], ["schema", "bundle"]])
def test_a_protocol_that_is_no_module_name_is_a_usage_error(
    name: str, command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, [*command, "--protocol", name])
    assert result.exit_code == 2, result.output
    assert "is not a module name" in " ".join(result.output.split())


@pytest.mark.parametrize("name", ["../game_server", ".game_server", "no_such_game_server"])
def test_an_import_that_fails_is_a_usage_error(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        app, ["serve", "--host", "127.0.0.1", "--port", "0", "--import", name]
    )
    assert result.exit_code == 2, result.output
    assert "cannot import" in result.output
    assert name in result.output


@pytest.mark.parametrize("command", ["bundle", "asyncapi", "typescript"])
def test_a_schema_file_that_cannot_be_written_is_an_error(command: str, tmp_path: Path) -> None:
    out = tmp_path / "no-such-folder" / "protocol.json"
    result = CliRunner().invoke(app, ["schema", command, "--out", str(out)])
    assert result.exit_code == 1, result.output
    said = " ".join(result.output.split())
    assert "cannot write" in said
    assert "No such file or directory" in said
    assert not out.parent.exists()


@pytest.mark.parametrize("where", ["no-such-folder/report.json", "."])
def test_a_proxy_report_that_cannot_be_written_is_refused_at_start(
    where: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        app,
        [
            "proxy",
            "--upstream",
            "ws://127.0.0.1:9/ws",
            "--listen",
            "127.0.0.1:0",
            "--report",
            where,
        ],
    )
    assert result.exit_code == 2, result.output
    assert "not a file in an existing folder" in " ".join(result.output.split())


def test_a_handler_of_no_event_in_an_import_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``serve`` imports the handler modules: one that registers a handler for an event the
    protocol does not have is said with the module's name and the events, exit 2."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "typo_server.py").write_text(
        "from datadivr.demo import websocket_handler\n\n\n"
        '@websocket_handler("no_such_event")  # type: ignore[call-overload]\n'
        "async def handle(message: object) -> None: ...\n",
        "utf-8",
    )
    result = CliRunner().invoke(
        app, ["serve", "--host", "127.0.0.1", "--port", "0", "--import", "typo_server"]
    )
    assert result.exit_code == 2, result.output
    assert "typo_server" in result.output
    assert "unknown event 'no_such_event'" in result.output
