"""Lifecycle hooks over real sockets against a real uvicorn server: each connection's
``on_connect`` and ``on_disconnect`` run once, with its id and identity, however it ends: a
close handshake, a socket that vanished (RST or FIN, no close frame), an eviction, the
server's shutdown. A hook that raises harms no one; a hook may tell the other clients."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import pytest
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection, connect

from datadivr import (
    ClientInfo,
    DisconnectInfo,
    HandlerContext,
    Limits,
    Registry,
    create_app,
)
from datadivr.demo import MsgMessage
from tests.conftest import LiveServer
from tests.integration.hostile import raw_connect

TIMEOUT = 5.0
TOKEN = "lifecycle-secret"


class Hooks:
    """Hooks on ``registry`` that record every call; they run in the server's thread, and
    hand each call to the test's loop."""

    def __init__(self, registry: Registry) -> None:
        self.loop = asyncio.get_running_loop()
        self.lock = threading.Lock()
        self.connected: list[ClientInfo] = []
        self.disconnected: list[DisconnectInfo] = []
        self.calls: asyncio.Queue[ClientInfo] = asyncio.Queue()
        registry.on_connect(self.on_connect)
        registry.on_disconnect(self.on_disconnect)

    async def on_connect(self, client: ClientInfo, ctx: HandlerContext) -> None:
        with self.lock:
            self.connected.append(client)
        self.loop.call_soon_threadsafe(self.calls.put_nowait, client)

    async def on_disconnect(self, client: DisconnectInfo, ctx: HandlerContext) -> None:
        with self.lock:
            self.disconnected.append(client)
        self.loop.call_soon_threadsafe(self.calls.put_nowait, client)

    async def left(self, client_id: str) -> DisconnectInfo:
        """The ``on_disconnect`` call of ``client_id``, once it comes."""
        while True:
            call = await asyncio.wait_for(self.calls.get(), TIMEOUT * 4)
            if isinstance(call, DisconnectInfo) and call.client_id == client_id:
                return call

    def calls_of(self, client_id: str) -> tuple[int, int]:
        with self.lock:
            return (
                sum(c.client_id == client_id for c in self.connected),
                sum(c.client_id == client_id for c in self.disconnected),
            )


@pytest.fixture
def serve(
    serve_app: Callable[[FastAPI], AbstractContextManager[LiveServer]], registry: Registry
) -> Callable[..., AbstractContextManager[LiveServer]]:
    """A real server with the test's ``registry`` and a token, so that clients have an
    identity."""

    @contextlib.contextmanager
    def serving(**options: Any) -> Iterator[LiveServer]:
        with serve_app(create_app(registry=registry, token=TOKEN, **options)) as server:
            yield server

    return serving


@contextlib.asynccontextmanager
async def client(url: str) -> Any:
    async with connect(
        f"{url}?token={TOKEN}", ping_interval=None, proxy=None, max_queue=None
    ) as ws:
        welcome = await receive(ws)
        assert welcome["event_name"] == "welcome", welcome
        yield ws, welcome["payload"]["client_id"]


async def receive(ws: ClientConnection) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
    return data


async def test_a_close_handshake(
    serve: Callable[..., AbstractContextManager[LiveServer]], registry: Registry
) -> None:
    hooks = Hooks(registry)
    with serve() as server:
        async with client(server.url) as (ws, client_id):
            connected = await asyncio.wait_for(hooks.calls.get(), TIMEOUT)
            await ws.close(1000, "bye")
        left = await hooks.left(client_id)
    assert connected.client_id == client_id
    assert connected.identity is not None
    assert connected.identity.subject == "token"
    assert connected.address is not None
    assert connected.address.startswith("127.0.0.1:")
    assert (left.client_id, left.identity, left.address) == (
        client_id,
        connected.identity,
        connected.address,
    )
    assert (left.code, left.reason) == (1000, "bye")
    assert hooks.calls_of(client_id) == (1, 1)


@pytest.mark.parametrize("reset", [True, False], ids=["rst", "fin"])
async def test_a_socket_that_vanished_without_a_close_frame(
    serve: Callable[..., AbstractContextManager[LiveServer]], registry: Registry, reset: bool
) -> None:
    hooks = Hooks(registry)
    with serve() as server:
        peer = await raw_connect(f"{server.url}?token={TOKEN}")
        peer.abort(reset=reset)
        left = await hooks.left(peer.client_id)
        assert left.code == 1006
        assert left.identity is not None
        assert left.identity.subject == "token"
    assert hooks.calls_of(peer.client_id) == (1, 1)


@pytest.mark.timeout(60)
async def test_an_evicted_client_that_stopped_reading(
    serve: Callable[..., AbstractContextManager[LiveServer]], registry: Registry
) -> None:
    hooks = Hooks(registry)
    filler = "x" * 60_000
    with serve(limits=Limits(queue_size=8)) as server:
        stalled = await raw_connect(f"{server.url}?token={TOKEN}", receive_buffer=4096)
        try:
            gone = asyncio.ensure_future(hooks.left(stalled.client_id))
            async with client(server.url) as (sender, _):
                for n in range(2000):  # the socket buffers fill up, then 8 frames queue
                    if gone.done():
                        break
                    text = json.dumps(
                        {"event_name": "msg", "to": stalled.client_id, "message": f"{n}:{filler}"}
                    )
                    await sender.send(text)
                    if n % 16 == 15:
                        await asyncio.sleep(0)  # let the hooks' calls arrive
                left = await gone
        finally:
            stalled.abort(reset=True)
    assert (left.code, left.reason) == (1013, "outbound queue full: client too slow")
    assert hooks.calls_of(stalled.client_id) == (1, 1)


async def test_the_server_shutting_down(
    serve: Callable[..., AbstractContextManager[LiveServer]], registry: Registry
) -> None:
    hooks = Hooks(registry)
    async with contextlib.AsyncExitStack() as stack:
        with serve() as server:
            ids = [(await stack.enter_async_context(client(server.url)))[1] for _ in range(3)]
            for _ in ids:
                await asyncio.wait_for(hooks.calls.get(), TIMEOUT)
        # The server's thread has ended: every hook ran before the shutdown returned.
        for client_id in ids:
            assert hooks.calls_of(client_id) == (1, 1)
        assert {(c.code, c.reason) for c in hooks.disconnected} == {(1001, "server shutting down")}


async def test_a_hook_that_raises_harms_no_one(
    serve: Callable[..., AbstractContextManager[LiveServer]],
    registry: Registry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, logger="datadivr.server")

    @registry.on_connect
    async def broken(client: ClientInfo, ctx: HandlerContext) -> None:
        raise RuntimeError("no room left")

    @registry.on_disconnect
    async def broken_too(client: DisconnectInfo, ctx: HandlerContext) -> None:
        raise RuntimeError("cannot save")

    hooks = Hooks(registry)  # after the broken ones: they run all the same
    with serve() as server:
        async with client(server.url) as (ws, client_id):
            ping = {"sent_at": "2026-01-01T00:00:00Z", "nonce": "n1"}
            await ws.send(json.dumps({"event_name": "ping", "payload": ping}))
            pong = await receive(ws)
            assert (pong["event_name"], pong["payload"]["nonce"]) == ("pong", "n1")
        await hooks.left(client_id)
        async with client(server.url) as (ws, _):  # the server serves on
            pass
    failures = [r.getMessage() for r in caplog.records if r.getMessage().endswith("hook failed")]
    assert sorted(failures) == ["on_connect hook failed"] * 2 + ["on_disconnect hook failed"] * 2
    assert any(
        client_id in str(r.__dict__) for r in caplog.records if "hook failed" in r.getMessage()
    )
    assert "no room left" in caplog.text
    assert "cannot save" in caplog.text


async def test_hooks_tell_the_others(
    serve: Callable[..., AbstractContextManager[LiveServer]], registry: Registry
) -> None:
    @registry.on_connect
    async def joined(client: ClientInfo, ctx: HandlerContext) -> None:
        await ctx.send(MsgMessage(message=f"{client.client_id} joined", to="others"))

    @registry.on_disconnect
    async def left(client: DisconnectInfo, ctx: HandlerContext) -> None:
        await ctx.send(MsgMessage(message=f"{client.client_id} left", to="others"))

    with serve() as server:
        async with client(server.url) as (staying, _):
            async with client(server.url) as (_, leaving_id):
                said = await receive(staying)
                assert (said["message"], said["from_id"]) == (f"{leaving_id} joined", "server")
            said = await receive(staying)
            assert (said["message"], said["from_id"]) == (f"{leaving_id} left", "server")
