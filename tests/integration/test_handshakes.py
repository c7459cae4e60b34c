"""Sockets that never finish their handshake, over real sockets: silent and trickling peers,
oversized headers, pending sockets against the connection limits, and a server out of file
descriptors."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager
from pathlib import Path

import httpx
import pytest
import websockets
from fastapi import FastAPI, WebSocket

from datadivr import Identity, Limits, create_app
from datadivr.demo import Client
from tests.conftest import LiveServer
from tests.integration.hostile import serve_process

TIMEOUT = 10.0
DEADLINE = 0.5  # the handshake timeout of most tests here
ServeApp = Callable[[FastAPI], AbstractContextManager[LiveServer]]

UPGRADE = (
    b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
)
HEALTH = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n"


async def connect(port: int, source: str = "127.0.0.1") -> socket.socket:
    """A bare TCP connection to the server from ``source`` (any 127.x.y.z)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    sock.bind((source, 0))
    try:
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    except BaseException:
        sock.close()
        raise
    return sock


async def answer(sock: socket.socket, timeout: float = TIMEOUT) -> bytes:
    """Everything the server sends until it closes the connection; a server that keeps it
    open longer than ``timeout`` fails the test."""
    loop = asyncio.get_running_loop()

    async def read_all() -> bytes:
        data = b""
        while True:
            try:
                chunk = await loop.sock_recv(sock, 65536)
            except ConnectionResetError:
                return data
            if not chunk:
                return data
            data += chunk

    return await asyncio.wait_for(read_all(), timeout)


async def eventually(check: Callable[[], bool], what: str) -> None:
    for _ in range(200):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(what)


@contextlib.asynccontextmanager
async def sockets(
    port: int, count: int, source: str = "127.0.0.1"
) -> AsyncIterator[list[socket.socket]]:
    """``count`` connections that send nothing, closed at the end."""
    opened: list[socket.socket] = []
    try:
        for _ in range(count):
            opened.append(await connect(port, source))
        yield opened
    finally:
        for sock in opened:
            sock.close()


async def test_silent_sockets_get_408_and_are_closed_at_the_deadline(serve_app: ServeApp) -> None:
    app = create_app(limits=Limits(handshake_timeout=DEADLINE))
    with serve_app(app) as server:
        started = time.monotonic()
        async with sockets(server.port, 20) as silent:
            answers = await asyncio.gather(*(answer(sock) for sock in silent))
        took = time.monotonic() - started
        assert all(a.startswith(b"HTTP/1.1 408 ") for a in answers), answers[0]
        assert DEADLINE <= took < DEADLINE + 5  # slack for a loaded machine
        admission = app.state.server.admission
        await eventually(lambda: admission.total == 0, "the closed sockets are still counted")


@pytest.mark.parametrize("first", ["the first request", "a request after a kept-alive one"])
async def test_a_trickled_request_is_closed_at_the_deadline(
    serve_app: ServeApp, first: str
) -> None:
    app = create_app(limits=Limits(handshake_timeout=DEADLINE))
    with serve_app(app) as server:
        sock = await connect(server.port)
        loop = asyncio.get_running_loop()
        if first != "the first request":
            await loop.sock_sendall(sock, HEALTH + b"\r\n")
            reply = b""
            while b'"status":"ok"' not in reply:
                reply += await asyncio.wait_for(loop.sock_recv(sock, 65536), TIMEOUT)

        async def trickle() -> None:
            with contextlib.suppress(OSError):
                for byte in HEALTH * 20:  # a byte every 50 ms: some 30 s' worth, far past it
                    await loop.sock_sendall(sock, bytes([byte]))
                    await asyncio.sleep(0.05)

        trickling = asyncio.create_task(trickle())
        started = time.monotonic()
        try:
            got = await answer(sock)
        finally:
            trickling.cancel()
            sock.close()
        assert got.startswith(b"HTTP/1.1 408 "), got
        assert time.monotonic() - started < DEADLINE + 5


async def test_an_upgrade_the_app_does_not_complete_is_closed_at_the_deadline(
    serve_app: ServeApp,
) -> None:
    async def slow(websocket: WebSocket) -> Identity | None:
        await asyncio.sleep(3)  # an authentication backend that hangs
        return Identity("late")

    app = create_app(authenticate=slow, limits=Limits(handshake_timeout=DEADLINE))
    with serve_app(app) as server:
        sock = await connect(server.port)
        started = time.monotonic()
        await asyncio.get_running_loop().sock_sendall(sock, UPGRADE + b"\r\n")
        try:
            got = await answer(sock)
        finally:
            sock.close()
        assert got.startswith(b"HTTP/1.1 408 "), got
        assert time.monotonic() - started < DEADLINE + 2  # not the hook's 3 s


@pytest.mark.parametrize("size", [9 * 1024, 20 * 1024, 64 * 1024])
@pytest.mark.parametrize("request_head", [UPGRADE, HEALTH], ids=["upgrade", "http"])
async def test_a_long_header_line_gets_431_and_a_close(
    serve_app: ServeApp, size: int, request_head: bytes
) -> None:
    with serve_app(create_app()) as server:
        async with Client(server.url) as bystander:
            sock = await connect(server.port)
            line = b"X-Long: " + b"a" * size + b"\r\n"
            await asyncio.get_running_loop().sock_sendall(sock, request_head + line + b"\r\n")
            try:
                got = await answer(sock)
            finally:
                sock.close()
            if request_head is HEALTH and size < 16 * 1024:
                assert got.startswith(b"HTTP/1.1 200 "), got  # within max_header_size
            else:
                assert got.startswith(b"HTTP/1.1 431 "), got
            result = await bystander.sum_event([1, 2], timeout=TIMEOUT)
            assert result.payload == 3


async def test_headers_over_the_limit_in_pieces_get_431(serve_app: ServeApp) -> None:
    with serve_app(create_app(limits=Limits(max_header_size=4096))) as server:
        sock = await connect(server.port)
        loop = asyncio.get_running_loop()
        try:
            await loop.sock_sendall(sock, UPGRADE)
            with contextlib.suppress(OSError):
                for _ in range(10):  # 10 KiB, never ending the headers
                    await loop.sock_sendall(sock, b"X-More: " + b"b" * 1014 + b"\r\n")
            got = await answer(sock)
        finally:
            sock.close()
        assert got.startswith(b"HTTP/1.1 431 "), got


async def test_pending_sockets_count_against_the_per_address_limit(serve_app: ServeApp) -> None:
    limits = Limits(max_connections_per_address=10, handshake_timeout=60)
    app = create_app(limits=limits)
    with serve_app(app) as server:
        async with sockets(server.port, 10):
            async with sockets(server.port, 5) as excess:
                answers = await asyncio.gather(*(answer(sock) for sock in excess))
            for got in answers:
                assert got.startswith(b"HTTP/1.1 503 "), got
                assert got.endswith(b"too many connections from this address\n")
            # another address is not affected
            async with websockets.connect(server.url, local_addr=("127.0.0.2", 0)) as ws:
                assert json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))["event_name"] == (
                    "welcome"
                )
        # closed, they free their places
        admission = app.state.server.admission
        await eventually(lambda: admission.total == 0, "the closed sockets are still counted")
        async with Client(server.url) as client:
            assert client.client_id is not None


async def test_a_full_server_lets_the_oldest_pending_socket_go(serve_app: ServeApp) -> None:
    app = create_app(limits=Limits(max_connections=6, handshake_timeout=60))
    with serve_app(app) as server:
        async with Client(server.url) as client, sockets(server.port, 5) as silent:
            # full: a sixth socket takes the place of the oldest one still silent
            async with httpx.AsyncClient() as http:
                response = await http.get(f"{server.http}/health", timeout=TIMEOUT)
            assert response.json()["clients"] == 1
            assert await answer(silent[0]) == b""  # let go
            # more of them only push out the older ones, never the WebSocket connection
            async with sockets(server.port, 20):
                await asyncio.gather(*(answer(sock) for sock in silent[1:]))
                result = await client.sum_event([2, 3], timeout=TIMEOUT)
                assert result.payload == 5
            assert app.state.server.admission.evicted >= 5


# -- out of file descriptors --------------------------------------------------------------

OPEN_FILES = 256
FLOOD = 400  # more idle sockets than the server may open files
SHUTDOWN_TIMEOUT = 2.0


@pytest.mark.timeout(120)
async def test_out_of_file_descriptors_the_server_still_serves_and_stops_in_time(
    tmp_path: Path,
) -> None:
    options = ("--shutdown-timeout", str(SHUTDOWN_TIMEOUT), "--handshake-timeout", "30")
    with serve_process(tmp_path, *options, open_files=OPEN_FILES) as server:
        async with Client(server.url) as client:
            before = len(server.log.read_bytes().splitlines())
            async with sockets(server.port, FLOOD):
                flooded = time.monotonic()
                # what the flood cannot take: /health, and the connection already open
                async with httpx.AsyncClient() as http:
                    for _ in range(5):
                        response = await http.get(f"{server.http}/health", timeout=TIMEOUT)
                        assert response.status_code == 200
                result = await client.sum_event([4, 5], timeout=TIMEOUT)
                assert result.payload == 9
                # a new WebSocket client as well
                async with Client(server.url) as late:
                    assert (await late.sum_event([1, 1], timeout=TIMEOUT)).payload == 2
                assert time.monotonic() - flooded < TIMEOUT
                # a handful of log lines, not one (with its traceback) per failed accept()
                await asyncio.sleep(2)  # the flood goes on; nothing to await but the time
                lines = server.log.read_bytes().splitlines()[before:]
                assert len(lines) < 20, b"\n".join(lines[:40]).decode()
                # and sockets were let go before the process ran out of file descriptors
                assert not any(b"no file descriptor left" in line for line in lines), lines
                # stopped with every socket of the flood still open
                started = time.monotonic()
                server.process.send_signal(signal.SIGTERM)
                await asyncio.to_thread(server.process.wait, SHUTDOWN_TIMEOUT + TIMEOUT)
                took = time.monotonic() - started
        assert server.process.returncode == 0, server.log.read_text()[-3000:]
        assert took < SHUTDOWN_TIMEOUT + 1.5, took


# -- what a flood of bad requests writes to the log -------------------------------------------


@pytest.mark.timeout(60)
async def test_bad_requests_are_counted_in_the_log_not_written_one_by_one(
    tmp_path: Path,
) -> None:
    """Malformed requests, oversized headers, unknown upgrades and silent sockets, 160 in all:
    a few summary lines whose counts add up, and no warning or error per request."""
    # Long enough for 110 sockets accepted at once on a loaded machine to send their bytes in
    # time (at 0.5 s a malformed request once got 408, not 400); the silent ones wait it out.
    options = ("--handshake-timeout", "3", "--max-header-size", "4096")
    with serve_process(tmp_path, *options) as server:

        async def send(data: bytes) -> bytes:
            sock = await connect(server.port)
            try:
                if data:
                    await asyncio.get_running_loop().sock_sendall(sock, data)
                return await answer(sock)
            finally:
                sock.close()

        garbage = b"GARBAGE\x00 / HTTP/9\r\n\r\n"
        oversized = HEALTH + b"X-Long: " + b"a" * 8192 + b"\r\n\r\n"
        unknown = b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
        answers = await asyncio.gather(
            *(send(garbage) for _ in range(50)),
            *(send(oversized) for _ in range(50)),
            *(send(b"") for _ in range(10)),
        )
        assert [got[:12] for got in answers] == (
            [b"HTTP/1.1 400"] * 50 + [b"HTTP/1.1 431"] * 50 + [b"HTTP/1.1 408"] * 10
        )
        # Answered, then kept alive until uvicorn's keep-alive timeout (5 s) closes them.
        for got in await asyncio.gather(*(send(unknown) for _ in range(50))):
            assert got.startswith(b"HTTP/1.1 200 "), got
    records = [json.loads(line) for line in server.log.read_bytes().splitlines()]
    assert not [
        r for r in records if r["level"] in ("warning", "error") and "refused" not in r["event"]
    ], records
    summaries = [r for r in records if r["event"] == "connections refused"]
    assert 1 <= len(summaries) <= 3
    reasons: dict[str, int] = {}
    for summary in summaries:
        for reason, count in summary["reasons"].items():
            reasons[reason] = reasons.get(reason, 0) + count
    assert reasons == {
        "400 Invalid HTTP request received.": 50,
        "431 the request's headers are too large": 50,
        "408 the request's headers took too long": 10,
    }
    assert len(records) < 30
