"""Graceful shutdown of a real server process on SIGTERM and SIGINT."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
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


async def welcomed(url: str, *, receive_buffer: int | None = None) -> websockets.ClientConnection:
    """A client, greeted. ``receive_buffer``: its socket's ``SO_RCVBUF``, set before it
    connects (which stops Linux from growing it, to 32 MiB on loopback)."""
    sock = None
    if receive_buffer is not None:
        host, port = url.removeprefix("ws://").split("/")[0].rsplit(":", 1)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
    ws = await websockets.connect(url, sock=sock)
    assert json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))["event_name"] == "welcome"
    return ws


def number(raw: str | bytes) -> str:
    """The number a message of the test carries: the text before the first colon."""
    text: str = json.loads(raw)["message"]
    return text.partition(":")[0]


async def next_message(ws: websockets.ClientConnection) -> str:
    return number(await asyncio.wait_for(ws.recv(), TIMEOUT))


async def drain(ws: websockets.ClientConnection) -> list[str]:
    """Every message until the connection closes."""
    received: list[str] = []
    for _ in range(100_000):
        try:
            raw = await asyncio.wait_for(ws.recv(), TIMEOUT)
        except websockets.ConnectionClosed:
            return received
        received.append(number(raw))
    raise AssertionError("never closed")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_clients_see_1001_and_get_everything_accepted(signum: signal.Signals) -> None:
    # 8 KiB each: more than the sockets' buffers hold (the readers' are 32 KiB; the server's
    # grow to 4 MiB at most), so that some wait in the server's queues when the signal comes;
    # fewer than a queue holds (8 MiB), so that no one is too slow.
    acknowledged, more, filler = 600, 200, "x" * 8192

    def msg(n: int) -> str:
        text = f"{n}:{filler}"
        return json.dumps({"event_name": "msg", "message": text, "payload": None, "to": "all"})

    async with server_process() as (proc, url):
        sender = await welcomed(url)
        left, right = [await welcomed(url, receive_buffer=32 * 1024) for _ in range(2)]
        # The sender gets its own broadcasts back: once it has the last of these, the server
        # has accepted every one of them, while left and right have read none yet.
        for n in range(acknowledged):
            await sender.send(msg(n))
        echoed = [await next_message(sender)]
        while echoed[-1] != str(acknowledged - 1):
            echoed.append(await next_message(sender))
        # More on the way when the signal comes: the server is mid-stream.
        for n in range(acknowledged, acknowledged + more):
            await sender.send(msg(n))
        started = time.monotonic()
        proc.send_signal(signum)
        got_left, got_right, got_sender = await asyncio.gather(
            drain(left), drain(right), drain(sender)
        )
        status = await asyncio.wait_for(proc.wait(), SHUTDOWN_TIMEOUT + TIMEOUT)
        took = time.monotonic() - started
    assert status == 0
    assert took < SHUTDOWN_TIMEOUT + 3
    for ws in (sender, left, right):
        assert ws.close_code == 1001
        assert ws.close_reason == "server shutting down"
    # Everything the server accepted reached every recipient, in order, once: at least all
    # that was acknowledged, and the same for the three of them.
    got_sender = echoed + got_sender
    assert got_left[:acknowledged] == [str(n) for n in range(acknowledged)]
    assert got_left == [str(n) for n in range(len(got_left))]
    assert got_right == got_left
    assert got_sender == got_left
    assert acknowledged <= len(got_left) <= acknowledged + more


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
