"""A generated package is complete for its users: every model is exported, enum definitions keep
their names, payloads named like a stub's options still get a typed stub, and ``py.typed`` lets
another package import it under ``mypy --strict``.

Mostly the ``game`` case: ``say`` and ``wait`` payloads have properties named ``message``,
``to``, ``timeout`` and ``payload``; ``act`` is a union of the ``Shoot`` and ``Build`` objects;
``Team`` (no title), ``Level`` (integers) and ``Building`` (an event file's own ``$defs``) are
enum definitions.
"""

from __future__ import annotations

import ast
import inspect
import json
import os
import subprocess
import sys
import typing
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from pydantic import ValidationError

from datadivr_codegen.generator import generate

from .conftest import CASES, Generated, case_schema
from .test_generated_package import _Recorder

KEYWORD = inspect.Parameter.KEYWORD_ONLY
POSITIONAL = inspect.Parameter.POSITIONAL_OR_KEYWORD


def _models_defined(package: Generated) -> set[str]:
    """Every class and type alias ``models.py`` defines, read from its source."""
    tree = ast.parse((package.path / "models.py").read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    names.discard("__all__")
    return names


@pytest.mark.parametrize("case", CASES)
def test_every_model_is_exported(shared_packages: dict[str, Generated], case: str) -> None:
    package = shared_packages[case]
    defined = _models_defined(package)
    assert set(package.submodule("models").__all__) == defined
    assert defined <= set(package.module.__all__)
    for name in defined:
        assert getattr(package.module, name) is getattr(package.submodule("models"), name)


def test_union_branches_and_option_named_payloads_are_exported(
    shared_packages: dict[str, Generated],
) -> None:
    exported = set(shared_packages["game"].module.__all__)
    assert {"Shoot", "Build", "Position", "SayPayload", "WaitPayload"} <= exported


def test_union_payload_is_named(shared_packages: dict[str, Generated]) -> None:
    """A union has no class: its name is an alias, which the message and the stub use."""
    package = shared_packages["game"].module
    assert typing.get_args(package.ActPayload) == (package.Shoot, package.Build)
    source = (shared_packages["game"].path / "models.py").read_text(encoding="utf-8")
    assert "ActPayload: TypeAlias = Shoot | Build\n" in source
    assert "    payload: ActPayload\n" in source
    act = inspect.signature(package.Client.act).parameters
    assert act["payload"].annotation == "ActPayload"
    message = package.create_message("act", package.Build(kind="wall", at={"x": 0, "y": 1}))
    assert isinstance(message.payload, package.Build)
    assert package.ActMessage.model_validate(
        {"event_name": "act", "payload": {"target": {"x": 1, "y": 2}}}
    ).payload == package.Shoot(target=package.Position(x=1, y=2))


# -- payload properties named like stub options ----------------------------------------------


def test_stub_takes_the_typed_payload_when_a_field_is_named_like_an_option(
    shared_packages: dict[str, Generated],
) -> None:
    client = shared_packages["game"].module.Client
    say = inspect.signature(client.say).parameters
    assert [(n, p.kind) for n, p in say.items()] == [
        ("self", POSITIONAL),
        ("payload", POSITIONAL),
        ("to", KEYWORD),
        ("message", KEYWORD),
    ]
    assert say["payload"].annotation == "SayPayload"
    assert say["payload"].default is inspect.Parameter.empty
    wait = inspect.signature(client.wait)
    assert wait.parameters["payload"].annotation == "WaitPayload"
    assert list(wait.parameters) == ["self", "payload", "to", "message", "timeout"]
    assert wait.return_annotation == "WaitedMessage"


def test_stub_takes_fields_when_none_is_named_like_an_option(
    shared_packages: dict[str, Generated],
) -> None:
    join = inspect.signature(shared_packages["game"].module.Client.join).parameters
    assert list(join) == ["self", "team", "level", "backup", "teams", "to", "message"]
    assert join["team"].annotation == "Team"
    assert join["level"].annotation == "Level"


async def test_option_named_payload_goes_out_whole(
    shared_packages: dict[str, Generated],
) -> None:
    """The payload's own ``to`` and ``message`` stay in the payload; the envelope's are the
    stub's options."""
    package = shared_packages["game"].module
    client = package.Client()
    recorder = _Recorder(client, {})
    await client.say(package.SayPayload(message="hi", to="bob"), to="all", message="text")
    (sent,) = recorder.sent
    frame = json.loads(sent.to_json())
    assert frame == {
        "event_name": "say",
        "payload": {"message": "hi", "to": "bob"},
        "to": "all",
        "message": "text",
    }
    Draft202012Validator(package.PROTOCOL.schema).validate(frame)


# -- enum definitions ----------------------------------------------------------------------------


def test_enum_definitions_are_named_literal_aliases(
    shared_packages: dict[str, Generated],
) -> None:
    package = shared_packages["game"].module
    assert typing.get_args(package.Team) == ("red", "blue")
    assert typing.get_args(package.Building) == ("wall", "tower")
    level, *_ = typing.get_args(package.Level)  # Annotated[Literal[1, 2, 3], ExactLiteral]
    assert typing.get_args(level) == (1, 2, 3)
    assert package.Team.__module__ == "typing"  # an alias, not a class: nothing to serialize


def test_fields_use_the_enum_names(shared_packages: dict[str, Generated]) -> None:
    source = (shared_packages["game"].path / "models.py").read_text(encoding="utf-8")
    for line in (
        "    team: Team\n",
        "    level: Level\n",
        "    backup: Team | None = None\n",
        "    teams: Annotated[list[Team] | None, NotNull] = None\n",
        "    kind: Building\n",
        'Team: TypeAlias = Literal["red", "blue"]\n"""A side of the game."""\n',
    ):
        assert line in source
    assert source.count('Literal["red", "blue"]') == 1


def test_enum_aliases_keep_the_wire_strict(shared_packages: dict[str, Generated]) -> None:
    package = shared_packages["game"].module
    payload = package.JoinPayload.model_validate({"team": "red", "level": 2, "teams": ["blue"]})
    assert payload.team == "red"
    assert payload.model_dump(mode="json", exclude_none=True) == {
        "team": "red",
        "level": 2,
        "teams": ["blue"],
    }
    for bad in ({"team": "green", "level": 1}, {"team": "red", "level": True}):
        with pytest.raises(ValidationError):
            package.JoinPayload.model_validate(bad)


def test_nested_case_names_its_color(shared_packages: dict[str, Generated]) -> None:
    package = shared_packages["nested"].module
    assert typing.get_args(package.Color) == ("red", "green", "blue")
    assert "    color: Color\n" in (shared_packages["nested"].path / "models.py").read_text(
        encoding="utf-8"
    )


# -- py.typed: the package as another package's SDK ----------------------------------------------

APP = '''\
"""A second package that uses the generated one as its SDK."""

from game_sdk import (
    ActMessage,
    ActPayload,
    Client,
    JoinPayload,
    Level,
    Position,
    SayPayload,
    Shoot,
    Team,
    WaitPayload,
    websocket_handler,
)


def team_of(payload: JoinPayload) -> Team:
    return payload.team


@websocket_handler("act")
async def on_act(message: ActMessage) -> None:
    if isinstance(message.payload, Shoot):
        print(message.payload.target.x)


async def play(client: Client) -> Level:
    await client.say(SayPayload(message="hi", to="bob"), to="all")
    await client.join("red", 2, teams=["blue"])
    move: ActPayload = Shoot(target=Position(x=1, y=2))
    await client.act(move)
    reply = await client.wait(WaitPayload(timeout=1.0), timeout=5.0)
    return reply.payload.level
'''


def _mypy(app: Path, site: Path) -> subprocess.CompletedProcess[str]:
    """``mypy --strict`` on ``app`` with ``site`` on the path as installed packages are."""
    env = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "--no-error-summary",
            "--show-error-codes",
            str(app),
        ],
        cwd=app.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_second_package_type_checks_against_the_generated_one(tmp_path: Path) -> None:
    site = tmp_path / "site"
    generate(case_schema("game"), site / "game_sdk")
    assert (site / "game_sdk" / "py.typed").read_text(encoding="utf-8") == ""
    app = tmp_path / "app" / "app.py"
    app.parent.mkdir()
    app.write_text(APP, encoding="utf-8")

    result = _mypy(app, site)
    assert (result.returncode, result.stdout) == (0, ""), result.stderr

    # Without the marker mypy does not read the package: the check above is the marker's.
    (site / "game_sdk" / "py.typed").unlink()
    result = _mypy(app, site)
    assert result.returncode == 1
    assert "[import-untyped]" in result.stdout
