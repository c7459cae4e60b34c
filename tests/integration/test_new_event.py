"""A user's whole loop: add an event to a copy of the schema, regenerate, then use the new event
from a handler (checked by mypy), the server process, the typed client and the CLI client."""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from mypy import api as mypy_api

from datadivr import MessageValidationError
from tests.commands import serving

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 10.0

COUNTER = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "CounterPayload",
    "description": "Add `step` to the server's counter; it answers with `counter_value`.",
    "x-datadivr": {"event": "counter", "direction": "client_to_server", "reply": "counter_value"},
    "type": "object",
    "properties": {"step": {"type": "integer", "minimum": 1, "maximum": 100}},
    "required": ["step"],
    "additionalProperties": False,
}
COUNTER_VALUE = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "CounterValuePayload",
    "description": "The counter after a `counter` event.",
    "x-datadivr": {"event": "counter_value", "direction": "server_to_client"},
    "type": "object",
    "properties": {"value": {"type": "integer"}},
    "required": ["value"],
    "additionalProperties": False,
}
HANDLERS = """
from datadivr import HandlerType
from myproto import CounterMessage, CounterValueMessage, CounterValuePayload, websocket_handler

total = 0


@websocket_handler("counter", HandlerType.SERVER)
async def count(message: CounterMessage) -> CounterValueMessage:
    global total
    total += message.payload.step
    return CounterValueMessage(payload=CounterValuePayload(value=total))
"""
WRONG_HANDLERS = """
from datadivr import HandlerType
from myproto import CounterValueMessage, MsgMessage, websocket_handler


@websocket_handler("counter", HandlerType.SERVER)
async def count(message: MsgMessage) -> CounterValueMessage:
    raise NotImplementedError
"""


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A schema folder with the new event, and the package generated from it by the CLI."""
    root = tmp_path_factory.mktemp("user")
    schema = root / "schema"
    shutil.copytree(ROOT / "schema", schema)
    (schema / "events" / "counter.schema.json").write_text(json.dumps(COUNTER, indent=2))
    (schema / "events" / "counter_value.schema.json").write_text(
        json.dumps(COUNTER_VALUE, indent=2)
    )
    packages = root / "packages"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "datadivr",
            "generate",
            "--schema",
            str(schema),
            "--out",
            str(packages / "myproto"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    init = packages / "myproto" / "__init__.py"
    assert "CounterMessage" in init.read_text()
    (packages / "myhandlers.py").write_text(textwrap.dedent(HANDLERS))
    (packages / "wronghandlers.py").write_text(textwrap.dedent(WRONG_HANDLERS))
    return packages


def env_for(packages: Path) -> dict[str, str]:
    path = os.pathsep.join([str(packages), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path, "PYTHONUNBUFFERED": "1", "NO_COLOR": "1"}


def test_mypy_accepts_the_handler_and_rejects_a_wrong_one(workspace: Path, tmp_path: Path) -> None:
    common = [
        "--strict",
        "--no-incremental",
        "--cache-dir",
        str(tmp_path / "cache"),
        "--show-error-codes",
    ]
    os.environ["MYPYPATH"] = str(workspace)
    try:
        out, err, status = mypy_api.run([*common, str(workspace / "myhandlers.py")])
        assert status == 0, out + err
        out, err, status = mypy_api.run([*common, str(workspace / "wronghandlers.py")])
    finally:
        del os.environ["MYPYPATH"]
    assert status == 1
    decorator_line = (
        textwrap.dedent(WRONG_HANDLERS)
        .splitlines()
        .index('@websocket_handler("counter", HandlerType.SERVER)')
    )
    assert f"wronghandlers.py:{decorator_line + 1}: error" in out, out
    # mypy names the event's decorator and the handler types it takes
    assert "[call-overload]" in out
    assert '"CounterHandlerDecorator"' in out
    assert "CounterHandler" in out


@pytest.fixture
async def served(workspace: Path) -> AsyncIterator[str]:
    async with serving(
        "--protocol", "myproto", "--import", "myhandlers", env=env_for(workspace)
    ) as server:
        ready = await server.read_until("datadivr server ready")
        assert "counter" in ready["events"]
        assert ready["server_handlers"] == ["counter"]
        yield server.url


async def test_new_event_through_server_client_and_cli(
    workspace: Path, served: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(workspace))
    myproto = importlib.import_module("myproto")
    async with myproto.Client(served) as client:
        first = await client.counter(2, timeout=TIMEOUT)
        assert isinstance(first, myproto.CounterValueMessage)
        assert first.payload.value == 2
        with pytest.raises(MessageValidationError) as info:
            await client.counter(0, timeout=TIMEOUT)  # below the schema's minimum: not sent
        assert info.value.details[0].path == "$.payload.step"

    result = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-m",
            "datadivr",
            "client",
            "--url",
            served,
            "--protocol",
            "myproto",
            "--linger",
            "2",
        ],
        input='counter {"step": 5}\ncounter {"step": "5"}\n',
        capture_output=True,
        text=True,
        env=env_for(workspace),
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "counter_value from server" in result.stdout
    assert '"value": 7' in result.stdout
    assert "not sent: validation_error" in result.stdout
