"""The command line, as a user runs it: real processes, real sockets, stdin and stdout."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import websockets

from datadivr.demo import PROTOCOL, Client, MsgMessage
from tests.commands import CLI_ENV, DATADIVR, run_datadivr, serving

TIMEOUT = 10.0


async def read_until(stream: asyncio.StreamReader, needle: str, lines: list[str]) -> str:
    """Read lines until one contains ``needle``; every line read is appended to ``lines``."""
    while True:
        raw = await asyncio.wait_for(stream.readline(), TIMEOUT)
        if not raw:
            raise AssertionError(f"{needle!r} never came; output was:\n" + "".join(lines))
        line = raw.decode()
        lines.append(line)
        if needle in line:
            return line


@pytest.fixture
async def served() -> AsyncIterator[str]:
    """``datadivr serve --port 0`` in its own process; yields its WebSocket URL."""
    async with serving() as server:
        ready = await server.read_until("server ready")
        assert ready["events"] == sorted(PROTOCOL.events)
        assert "sum_event" in ready["server_handlers"]
        yield server.url


async def test_serve_logs_and_serves(served: str) -> None:
    assert served.startswith("ws://127.0.0.1:")
    http = served.replace("ws://", "http://").removesuffix("/ws")
    async with httpx.AsyncClient() as client:
        assert (await client.get(f"{http}/health")).json()["status"] == "ok"
        page = await client.get(f"{http}/")
        assert page.status_code == 200
        assert "datadivr explorer" in page.text
    async with Client(served) as client:
        assert (await client.sum_event([2, 3], timeout=TIMEOUT)).payload == 5


async def test_serve_without_the_explorer() -> None:
    async with serving("--no-explorer") as server:
        assert server.listening["explorer"] == "off"
        http = server.url.replace("ws://", "http://").removesuffix("/ws")
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"{http}/")).status_code == 404
            assert (await client.get(f"{http}/events")).status_code == 200


async def test_serve_takes_limits_from_flags_and_variables() -> None:
    env = {**CLI_ENV, "DATADIVR_MAX_FRAME_SIZE": "4096"}
    async with (
        serving("--max-depth", "2", env=env) as server,
        websockets.connect(server.url, max_size=None) as ws,
    ):
        welcome = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        assert welcome["event_name"] == "welcome"
        # three levels: the envelope, the payload, the numbers
        await ws.send(json.dumps({"event_name": "sum_event", "payload": {"numbers": [1]}}))
        error = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        assert error["payload"]["code"] == "message_too_large", error
        await ws.send("x" * 4097)
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(ws.recv(), TIMEOUT)
        assert ws.close_code == 1009


async def test_interactive_client(served: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        *DATADIVR,
        "client",
        "--url",
        served,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=CLI_ENV,
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    out: list[str] = []

    async def type_line(line: str) -> None:
        assert proc.stdin is not None
        proc.stdin.write(line.encode() + b"\n")
        await proc.stdin.drain()

    try:
        connected = await read_until(proc.stdout, "connected to", out)
        client_id = connected.split(" as ")[1].split()[0]
        await type_line('sum_event {"numbers": [1, 2, 3]}')
        await read_until(proc.stdout, "sum_handler_result from server", out)
        await read_until(proc.stdout, '"payload": 6.0', out)

        await type_line('{"event_name": "sum_event", "payload": {"numbers": ["x"]}}')
        await read_until(proc.stdout, "error from server", out)
        await read_until(proc.stdout, "$.payload.numbers[0]", out)

        await type_line("nope {}")
        await read_until(proc.stdout, "not sent: unknown_event", out)

        await type_line('ping {"sent_at": "2026-01-01T00:00:00Z", "nonce": "n1"}')
        await read_until(proc.stdout, "pong from server", out)

        # another client reaches the interactive one, and it prints what arrives
        async with Client(served) as other:
            await other.msg("hello console", to=client_id)
            await read_until(proc.stdout, f"msg from {other.client_id}", out)
            await read_until(proc.stdout, "hello console", out)
            await type_line(f"@{other.client_id} msg hello back")
            reply = await other.receive(timeout=TIMEOUT)
            assert isinstance(reply, MsgMessage)
            assert (reply.message, reply.from_id) == ("hello back", client_id)

        await type_line("/events")
        await read_until(proc.stdout, "sum_handler_result", out)
        await type_line("/quit")
        assert await asyncio.wait_for(proc.wait(), TIMEOUT) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def test_client_reads_piped_input(served: str) -> None:
    result = run_datadivr(
        "client", "--url", served, "--linger", "2", stdin='sum_event {"numbers": [4, 5]}\n'
    )
    assert result.returncode == 0, result.stderr
    assert '"payload": 9.0' in result.stdout


def test_client_reports_an_unreachable_server() -> None:
    result = run_datadivr("client", "--url", "ws://127.0.0.1:9/ws")
    assert result.returncode == 1
    assert "cannot connect" in result.stdout


def test_events_lists_every_event() -> None:
    result = run_datadivr("events", "--format", "json")
    assert result.returncode == 0, result.stderr
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    by_name = {row["event"]: row for row in rows}
    assert set(by_name) == set(PROTOCOL.events)
    assert by_name["sum_event"]["direction"] == "client_to_server"
    assert by_name["sum_event"]["reply"] == "sum_handler_result"
    table = run_datadivr("events")
    assert table.returncode == 0
    assert "sum_handler_result" in table.stdout
    assert PROTOCOL.fingerprint in table.stdout


def test_serve_refuses_a_busy_port(served: str) -> None:
    port = served.rsplit(":", 1)[1].split("/")[0]
    result = run_datadivr("serve", "--port", port, "--log-format", "json")
    assert result.returncode == 1
    assert "cannot listen" in result.stderr


def test_help_lists_the_commands() -> None:
    result = run_datadivr("--help")
    assert result.returncode == 0
    for command in ("serve", "client", "generate", "events"):
        assert command in result.stdout


def test_serve_help_shows_every_panel() -> None:
    result = run_datadivr("serve", "--help")
    assert result.returncode == 0, result.stderr
    for option in ("--max-frame-size", "--token", "--broker", "--presence-ttl", "--workers"):
        assert option in result.stdout
