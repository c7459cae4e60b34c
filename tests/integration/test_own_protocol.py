"""A user's own protocol, from the built wheel to a typed app, outside this repository.

The wheel is installed with the ``codegen`` extra in a fresh virtual environment; ``datadivr
init`` writes a project; the test adds events of its own (a union payload, an optional field,
an enum definition, a request the server sends), generates, serves with ``datadivr serve``,
talks to the server with the generated typed client over a real socket, and runs
``mypy --strict`` over the user's code and over a second package that imports the generated
one as an installed SDK.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from tests.integration.test_wheel import build_wheel

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

PACKAGE = "game_protocol"

#: The events the user adds to what ``datadivr init`` wrote.
SCHEMAS: dict[str, object] = {
    "game.schema.json": {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Game",
        "description": "The game's shared definitions.",
        "$defs": {
            "Team": {
                "description": "The side a player plays on.",
                "enum": ["red", "blue"],
            }
        },
    },
    "events/join.schema.json": {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "JoinPayload",
        "description": "Join a team; the server answers with `joined`.",
        "x-datadivr": {"event": "join", "direction": "client_to_server", "reply": "joined"},
        "type": "object",
        "properties": {
            "team": {"$ref": "../game.schema.json#/$defs/Team"},
            "nickname": {"type": "string", "minLength": 1, "maxLength": 32},
        },
        "required": ["team"],
        "additionalProperties": False,
    },
    "events/joined.schema.json": {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "JoinedPayload",
        "description": "The answer to `join`.",
        "x-datadivr": {"event": "joined", "direction": "server_to_client"},
        "type": "object",
        "properties": {
            "team": {"$ref": "../game.schema.json#/$defs/Team"},
            "name": {"type": "string"},
        },
        "required": ["team", "name"],
        "additionalProperties": False,
    },
    "events/act.schema.json": {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "ActPayload",
        "description": "Shoot at a target or build something; the server answers with `acted`.",
        "x-datadivr": {"event": "act", "direction": "client_to_server", "reply": "acted"},
        "anyOf": [
            {
                "title": "Shoot",
                "type": "object",
                "properties": {
                    "target": {"type": "string", "minLength": 1},
                    "power": {"type": "integer", "minimum": 1, "maximum": 10},
                },
                "required": ["target"],
                "additionalProperties": False,
            },
            {
                "title": "Build",
                "type": "object",
                "properties": {"kind": {"enum": ["wall", "tower"]}},
                "required": ["kind"],
                "additionalProperties": False,
            },
        ],
    },
    "events/acted.schema.json": {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "ActedPayload",
        "description": "What the server made of an `act`.",
        "x-datadivr": {"event": "acted", "direction": "server_to_client"},
        "type": "object",
        "properties": {"summary": {"type": "string"}},
        "required": ["summary"],
        "additionalProperties": False,
    },
    "events/ready_check.schema.json": {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "ReadyCheckPayload",
        "description": "The server asks a player whether it is ready; it answers `ready`.",
        "x-datadivr": {"event": "ready_check", "direction": "server_to_client", "reply": "ready"},
        "type": "object",
        "properties": {"round": {"type": "integer", "minimum": 1}},
        "required": ["round"],
        "additionalProperties": False,
    },
    "events/ready.schema.json": {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "ReadyPayload",
        "description": "A player's answer to `ready_check`.",
        "x-datadivr": {"event": "ready", "direction": "client_reply"},
        "type": "object",
        "properties": {"ready": {"type": "boolean"}},
        "required": ["ready"],
        "additionalProperties": False,
    },
}

#: The user's server: typed handlers, a lifecycle hook, and a request the server sends.
GAME_SERVER = '''
"""The game's own handlers; `datadivr serve` imports this module ([tool.datadivr] import)."""

import asyncio

from datadivr import ClientInfo, HandlerContext, on_connect
from game_protocol import (
    ActedMessage,
    ActedPayload,
    ActMessage,
    Build,
    JoinedMessage,
    JoinedPayload,
    ChatMessage,
    ChatPayload,
    JoinMessage,
    ReadyCheckMessage,
    ReadyCheckPayload,
    Team,
    websocket_handler,
)

teams: dict[str, Team] = {}
asks: set[asyncio.Task[None]] = set()


@websocket_handler("join")
async def join(message: JoinMessage, ctx: HandlerContext) -> JoinedMessage:
    assert ctx.client_id is not None
    teams[ctx.client_id] = message.payload.team
    name = message.payload.nickname or ctx.client_id
    return JoinedMessage(payload=JoinedPayload(team=message.payload.team, name=name))


@websocket_handler("act")
async def act(message: ActMessage) -> ActedMessage:
    payload = message.payload
    if isinstance(payload, Build):
        summary = f"built a {payload.kind}"
    else:
        summary = f"shot {payload.target} with power {payload.power or 1}"
    return ActedMessage(payload=ActedPayload(summary=summary))


async def ask_ready(client_id: str, ctx: HandlerContext) -> None:
    answer = await ctx.request(
        client_id, ReadyCheckMessage(payload=ReadyCheckPayload(round=1)), timeout=10
    )
    text = f"ready: {answer.payload.ready}"
    await ctx.send(ChatMessage(payload=ChatPayload(text=text), to=client_id))


@on_connect
async def greet_player(client: ClientInfo, ctx: HandlerContext) -> None:
    # A hook runs before the client's first message is read: ask from a task of its own.
    task = asyncio.create_task(ask_ready(client.client_id, ctx))
    asks.add(task)
    task.add_done_callback(asks.discard)
'''

#: The user's client: the typed stubs, an answer handler, and a refused frame.
GAME_CLIENT = '''
"""Play one round against the server at sys.argv[1]."""

import asyncio
import json
import sys

from datadivr import MessageValidationError
from game_protocol import (
    ChatMessage,
    Client,
    ErrorMessage,
    ReadyCheckMessage,
    ReadyMessage,
    ReadyPayload,
    Shoot,
)


async def main(url: str) -> None:
    async with Client(url) as client:

        @client.on("ready_check")
        async def ready(message: ReadyCheckMessage) -> ReadyMessage:
            return ReadyMessage(payload=ReadyPayload(ready=message.payload.round == 1))

        told = await client.receive(timeout=10)
        assert isinstance(told, ChatMessage)
        print(told.payload.text)
        joined = await client.join(team="blue", timeout=10)
        print("joined", joined.payload.team, joined.payload.name == client.client_id)
        joined = await client.join(team="red", nickname="ace", timeout=10)
        print("joined", joined.payload.team, joined.payload.name)
        acted = await client.act(Shoot(target="tower", power=3), timeout=10)
        print(acted.payload.summary)
        try:
            await client.join(team="green", timeout=10)  # type: ignore[arg-type]
        except MessageValidationError as exc:
            print("refused here", exc.details[0].path)
        await client.send_raw(
            json.dumps({"event_name": "act", "id": "bad", "payload": {"target": ""}})
        )
        error = await client.receive(timeout=10)
        assert isinstance(error, ErrorMessage)
        print("refused there", error.payload.code, [d.path for d in error.payload.details or []])


asyncio.run(main(sys.argv[1]))
'''

#: A second package that imports the generated one as an installed SDK.
CONSUMER = """
from game_protocol import JoinMessage, JoinPayload, Team


def blue_join(nickname: str | None = None) -> JoinMessage:
    team: Team = "blue"
    if nickname is None:
        return JoinMessage(payload=JoinPayload(team=team))
    return JoinMessage(payload=JoinPayload(team=team, nickname=nickname))


print(blue_join("ace").model_dump_json())
"""


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with ``datadivr[codegen]`` from the wheel, and mypy."""
    uv = os.environ.get("UV") or shutil.which("uv")
    assert uv, "uv is needed to build the wheel (make install provides it)"
    root = tmp_path_factory.mktemp("own")
    wheel = build_wheel(uv, root / "dist")
    venv = root / "venv"
    subprocess.run(
        [uv, "venv", "--python", sys.executable, str(venv)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    subprocess.run(
        [
            uv,
            "pip",
            "install",
            "--python",
            str(venv / "bin" / "python"),
            f"{wheel}[codegen]",
            "mypy",
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return venv


def _run(
    venv: Path, *args: str, cwd: Path, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": f"{venv / 'bin'}:{os.environ.get('PATH', '')}",
        "HOME": os.environ.get("HOME", str(cwd)),
        "NO_COLOR": "1",
        "COLUMNS": "200",
        "PYTHONUNBUFFERED": "1",
    }
    return subprocess.run(
        list(args), cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def test_own_protocol_from_the_wheel(venv: Path, tmp_path: Path) -> None:
    project = tmp_path / "game"
    project.mkdir()
    datadivr = str(venv / "bin" / "datadivr")
    python = str(venv / "bin" / "python")

    init = _run(venv, datadivr, "init", "--package", PACKAGE, cwd=project)
    assert init.returncode == 0, init.stderr
    assert "datadivr generate" in init.stdout
    for name, schema in SCHEMAS.items():
        (project / "schema" / name).write_text(json.dumps(schema, indent=2) + "\n")
    (project / "arena.py").write_text(textwrap.dedent(GAME_SERVER).lstrip())
    (project / "play.py").write_text(textwrap.dedent(GAME_CLIENT).lstrip())
    config = (project / "pyproject.toml").read_text()
    (project / "pyproject.toml").write_text(
        config.replace('import = ["game_server"]', 'import = ["game_server", "arena"]')
    )
    assert 'import = ["game_server", "arena"]' in (project / "pyproject.toml").read_text()

    # generate, with no flags: [tool.datadivr] says where
    generate = _run(venv, datadivr, "generate", cwd=project)
    assert generate.returncode == 0, generate.stderr
    assert (project / PACKAGE / "py.typed").is_file()
    check = _run(venv, datadivr, "generate", "--check", cwd=project)
    assert check.returncode == 0, check.stderr
    events = _run(venv, datadivr, "events", "--format", "json", cwd=project)
    assert events.returncode == 0, events.stderr
    assert {row["event"] for row in json.loads(events.stdout)} >= {
        "join",
        "act",
        "ready_check",
        "ready",
        "greet",
        "chat",
    }

    # mypy --strict over the user's code
    typed = _run(
        venv, python, "-m", "mypy", "--strict", "game_server.py", "game_client.py", "arena.py",
        "play.py", PACKAGE, cwd=project, timeout=300,
    )  # fmt: skip
    assert typed.returncode == 0, typed.stdout + typed.stderr

    # serve it, with no flags but the port, and play a round with the typed client
    server = subprocess.Popen(
        [datadivr, "serve", "--port", "0", "--log-format", "json"],
        cwd=project,
        env={**os.environ, "PATH": f"{venv / 'bin'}:{os.environ.get('PATH', '')}"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = _listening_url(server)
        play = _run(venv, python, "play.py", url, cwd=project, timeout=60)
        assert play.returncode == 0, play.stderr
        assert play.stdout.splitlines() == [
            "ready: True",
            "joined blue True",
            "joined red ace",
            "shot tower with power 3",
            "refused here $.payload.team",
            "refused there validation_error ['$.payload', '$.payload.target']",
        ]
    finally:
        server.terminate()
        server.wait(timeout=30)
        assert server.stderr is not None
        drain = getattr(server, "drain", None)
        if drain is not None:
            drain.join(10)
        server.stderr.close()

    # a second package imports the generated one as an installed, typed SDK
    site = Path(
        _run(venv, python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=tmp_path).stdout.strip()
    )  # fmt: skip
    shutil.copytree(project / PACKAGE, site / PACKAGE)
    consumer = tmp_path / "consumer"
    consumer.mkdir()
    (consumer / "app.py").write_text(textwrap.dedent(CONSUMER).lstrip())
    typed = _run(venv, python, "-m", "mypy", "--strict", "app.py", cwd=consumer, timeout=300)
    assert typed.returncode == 0, typed.stdout + typed.stderr
    ran = _run(venv, python, "app.py", cwd=consumer)
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout) == {
        "event_name": "join",
        "payload": {"team": "blue", "nickname": "ace"},
    }

    # a schema change makes the package stale, and the hint names the command
    (project / "schema" / "events" / "acted.schema.json").write_text(
        json.dumps({**SCHEMAS["events/acted.schema.json"], "description": "Changed."})  # type: ignore[dict-item]
    )
    stale = _run(venv, datadivr, "generate", "--check", cwd=project)
    assert stale.returncode == 1
    assert "datadivr generate" in stale.stderr
    assert "make generate" not in stale.stderr


def _listening_url(server: subprocess.Popen[str]) -> str:
    """The WebSocket URL from ``datadivr serve``'s ``listening`` record."""
    assert server.stderr is not None
    seen = []
    for _ in range(200):  # bounded: the startup log is a handful of lines
        line = server.stderr.readline()
        if not line:
            break
        seen.append(line)
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("event") == "listening":
            # keep reading what it logs, so that it never blocks on a full pipe
            drain = threading.Thread(target=server.stderr.read, daemon=True)
            drain.start()
            server.drain = drain  # type: ignore[attr-defined]
            return str(record["url"])
    raise AssertionError("datadivr serve did not listen:\n" + "".join(seen))
