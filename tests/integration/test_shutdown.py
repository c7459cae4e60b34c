"""Graceful shutdown of a real server process on SIGTERM and SIGINT."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import websockets

from tests.commands import serving

TIMEOUT = 10.0
SHUTDOWN_TIMEOUT = 5.0


@asynccontextmanager
async def server_process() -> AsyncIterator[tuple[asyncio.subprocess.Process, str]]:
    async with serving("--shutdown-timeout", str(SHUTDOWN_TIMEOUT)) as server:
        yield server.proc, server.url


async def welcomed(url: str) -> websockets.ClientConnection:
    ws = await websockets.connect(url)
    assert json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))["event_name"] == "welcome"
    return ws


async def drain(ws: websockets.ClientConnection) -> list[str]:
    """Every message until the connection closes."""
    received: list[str] = []
    for _ in range(100_000):
        try:
            raw = await asyncio.wait_for(ws.recv(), TIMEOUT)
        except websockets.ConnectionClosed:
            return received
        received.append(json.loads(raw)["message"])
    raise AssertionError("never closed")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_clients_see_1001_and_get_everything_accepted(signum: signal.Signals) -> None:
    async with server_process() as (proc, url):
        sender, left, right = [await welcomed(url) for _ in range(3)]
        count = 800  # fewer than the outbound queue holds: no one is dropped as too slow
        for n in range(count):
            await sender.send(json.dumps({"event_name": "msg", "message": str(n), "payload": None}))
        # the first message is through: the server is mid-stream when the signal comes
        await asyncio.wait_for(left.recv(), TIMEOUT)
        started = time.monotonic()
        proc.send_signal(signum)
        got_left, got_right = await asyncio.gather(drain(left), drain(right))
        await drain(sender)
        status = await asyncio.wait_for(proc.wait(), SHUTDOWN_TIMEOUT + TIMEOUT)
        took = time.monotonic() - started
    assert status == 0
    assert took < SHUTDOWN_TIMEOUT + 3
    for ws in (sender, left, right):
        assert ws.close_code == 1001
        assert ws.close_reason == "server shutting down"
    # what the server accepted, it delivered to every recipient, in order and whole
    got_left = ["0", *got_left]
    assert got_right == got_left
    assert got_left == [str(n) for n in range(len(got_left))]
    assert 1 <= len(got_left) <= count


@pytest.mark.timeout(60)
async def test_new_connections_are_refused_while_shutting_down() -> None:
    async with server_process() as (proc, url):
        ws = await welcomed(url)
        proc.send_signal(signal.SIGTERM)
        await drain(ws)
        assert ws.close_code == 1001
        with pytest.raises((OSError, websockets.InvalidStatus, websockets.InvalidMessage)):
            await websockets.connect(url, open_timeout=2)
        assert await asyncio.wait_for(proc.wait(), TIMEOUT * 2) == 0
