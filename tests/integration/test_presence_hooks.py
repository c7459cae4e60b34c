"""Presence across a cluster, from the application's seat: two server processes sharing a
real ``redis-server``, each running tests/integration/presence_app.py. Each node runs the
lifecycle hooks of its own clients; what they send to ``others`` reaches every node, and
``server.clients()`` lists the clients of every node, with their node; ``on_presence`` hooks
are told of the other nodes' clients joining and leaving, those of a node that was killed
too."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
import websockets

from tests.commands import CLI_ENV
from tests.redis_server import RedisServer

TIMEOUT = 10.0
STARTUP = 40.0
#: The app's presence TTL, and the bound on a dead node's clients vanishing (TTL + TTL / 3).
BOUND = 1.5 + 1.5 / 3

pytestmark = pytest.mark.slow


class Node:
    """A uvicorn process serving presence_app."""

    def __init__(self, proc: asyncio.subprocess.Process, port: int) -> None:
        self.proc = proc
        self.url = f"ws://127.0.0.1:{port}/ws"
        self.health_url = f"http://127.0.0.1:{port}/health"

    async def broker(self) -> dict[str, Any]:
        async with httpx.AsyncClient() as http:
            body: dict[str, Any] = (await http.get(self.health_url, timeout=TIMEOUT)).json()
        return body["broker"]  # type: ignore[no-any-return]

    async def presence(self, count: int, timeout: float = TIMEOUT) -> list[list[Any]]:
        """What the node's ``on_presence`` hook was told, once it is ``count`` changes."""
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient() as http:
            while True:
                url = self.health_url.replace("/health", "/presence")
                changes: list[list[Any]] = (await http.get(url, timeout=TIMEOUT)).json()
                if len(changes) >= count:
                    return changes
                assert time.monotonic() < deadline, f"only {changes}"
                await asyncio.sleep(0.02)

    async def until(self, timeout: float = TIMEOUT, **expected: Any) -> dict[str, Any]:
        """Poll ``/health`` (the state is in another process) until its broker section shows
        ``expected``; bounded in time."""
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(httpx.TransportError):  # not listening yet
                broker = await self.broker()
                if all(broker.get(key) == value for key, value in expected.items()):
                    return broker
            assert time.monotonic() < deadline, f"the node never showed {expected}"
            await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def node(redis: RedisServer, port: int) -> AsyncIterator[Node]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "uvicorn", "tests.integration.presence_app:app",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**CLI_ENV, "DATADIVR_BROKER": redis.url},
    )  # fmt: skip
    try:
        served = Node(proc, port)
        # Starting Python, FastAPI and the app takes seconds on a loaded machine.
        await served.until(timeout=STARTUP, available=True)
        yield served
    finally:
        if proc.returncode is None:
            proc.terminate()
        await asyncio.wait_for(proc.wait(), TIMEOUT)


class Peer:
    def __init__(self, ws: websockets.ClientConnection, client_id: str) -> None:
        self.ws = ws
        self.client_id = client_id

    @classmethod
    async def open(cls, served: Node) -> tuple[Peer, dict[str, str | None]]:
        """A client of ``served``, and the client list its ``on_connect`` hook sent it."""
        ws = await websockets.connect(served.url, proxy=None)
        peer = cls(ws, (await peer_recv(ws))["payload"]["client_id"])
        roster = await peer.text()
        assert roster.startswith("clients "), roster
        clients: dict[str, str | None] = json.loads(roster.removeprefix("clients "))
        return peer, clients

    async def text(self) -> str:
        message = await peer_recv(self.ws)
        assert (message["event_name"], message["from_id"]) == ("msg", "server"), message
        text: str = message["message"]
        return text


async def peer_recv(ws: websockets.ClientConnection) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
    return data


@pytest.mark.timeout(90)
async def test_presence_is_observable_on_every_node(
    redis_server: RedisServer, unused_tcp_port_factory: Callable[[], int]
) -> None:
    async with (
        node(redis_server, unused_tcp_port_factory()) as a,
        node(redis_server, unused_tcp_port_factory()) as b,
    ):
        node_a = (await a.broker())["node"]
        node_b = (await b.broker())["node"]
        a1, seen = await Peer.open(a)
        assert seen == {a1.client_id: None}
        await b.until(remote_clients=1)

        # A client of b: its list names a1 on node a; a1 hears it joined, from b's hook.
        b1, seen = await Peer.open(b)
        assert seen == {a1.client_id: node_a, b1.client_id: None}
        assert await a1.text() == f"joined {b1.client_id}"

        # It leaves: b's on_disconnect tells a1, and a's list no longer has it (b announced
        # the leave before its hook's message, in order on one connection to Redis).
        await b1.ws.close()
        assert await a1.text() == f"left {b1.client_id}"
        assert await a.presence(2) == [[b1.client_id, node_b, True], [b1.client_id, node_b, False]]
        a2, seen = await Peer.open(a)
        assert seen == {a1.client_id: None, a2.client_id: None}
        assert await a1.text() == f"joined {a2.client_id}"

        # A node that is killed runs no hooks: its clients vanish from the others' lists
        # within the presence TTL and a third, with no word to anyone.
        await b.until(remote_clients=2)
        b2, seen = await Peer.open(b)
        assert seen == {a1.client_id: node_a, a2.client_id: node_a, b2.client_id: None}
        assert [await a1.text(), await a2.text()] == [f"joined {b2.client_id}"] * 2
        os.kill(b.proc.pid, signal.SIGKILL)
        await b.proc.wait()
        killed = time.monotonic()
        changes = await a.presence(4, timeout=BOUND + 2)
        vanished = time.monotonic() - killed
        assert changes[2:] == [[b2.client_id, node_b, True], [b2.client_id, node_b, False]]
        await a.until(remote_clients=0)
        a3, seen = await Peer.open(a)
        assert seen == {a1.client_id: None, a2.client_id: None, a3.client_id: None}
        assert node_b not in seen.values()
        assert vanished <= BOUND + 0.5, f"{vanished:.2f} s, the bound is {BOUND:.2f} s"
        for peer in (a1, a2, a3):
            await peer.ws.close()
