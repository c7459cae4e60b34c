"""Lifecycle hooks: their registration, and when the server calls them, driven through an
in-memory WebSocket: no sockets (the real thing runs in tests/integration/test_lifecycle.py)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from starlette.datastructures import Address
from starlette.websockets import WebSocket, WebSocketState

import datadivr
import datadivr.runtime
from datadivr import (
    ClientInfo,
    DisconnectInfo,
    HandlerContext,
    Identity,
    Limits,
    PresenceChange,
    RegistrationError,
    Registry,
    Server,
)
from datadivr.demo import (
    PROTOCOL,
    MsgMessage,
    Servicer,
    SumEventMessage,
    SumHandlerResultMessage,
)
from datadivr.server._builtin import builtin_registry

# -- registration --------------------------------------------------------------------------


def test_hooks_run_in_the_order_registered_then_the_fallbacks() -> None:
    first, second = Registry(), Registry()

    @first.on_connect
    async def a(client: ClientInfo, ctx: HandlerContext) -> None: ...

    @second.on_connect
    async def b(client: ClientInfo, ctx: HandlerContext) -> None: ...

    @first.on_connect
    async def c(client: ClientInfo, ctx: HandlerContext) -> None: ...

    @second.on_disconnect
    async def d(client: DisconnectInfo, ctx: HandlerContext) -> None: ...

    merged = first.merged(second, first)
    assert merged.hooks("on_connect") == [a, c, b]  # each once
    assert merged.hooks("on_disconnect") == [d]
    assert Registry().hooks("on_connect") == []


def test_a_hook_registered_again_replaces_itself() -> None:
    registry = Registry()

    async def hook(client: ClientInfo, ctx: HandlerContext) -> None: ...

    registry.on_connect(hook)
    registry.on_connect(hook)
    assert registry.hooks("on_connect") == [hook]


def test_a_hook_that_is_not_async_is_refused() -> None:
    def plain(client: ClientInfo, ctx: HandlerContext) -> None: ...

    with pytest.raises(RegistrationError, match="must be an async function"):
        Registry().on_connect(plain)  # type: ignore[arg-type]


def test_a_hook_that_does_not_take_client_and_ctx_is_refused() -> None:
    async def one(client: ClientInfo) -> None: ...

    async def three(client: ClientInfo, ctx: HandlerContext, extra: int) -> None: ...

    for hook in (one, three):
        with pytest.raises(RegistrationError, match=r"must take \(client, ctx\)"):
            Registry().on_disconnect(hook)  # type: ignore[arg-type]


def test_the_module_level_decorators_use_the_default_registry() -> None:
    async def hook(client: ClientInfo, ctx: HandlerContext) -> None: ...

    try:
        assert datadivr.on_connect(hook) is hook
        assert datadivr.on_disconnect(hook) is hook  # type: ignore[arg-type]
        assert hook in datadivr.default_registry.hooks("on_connect")
        assert hook in datadivr.default_registry.hooks("on_disconnect")
    finally:
        for hooks in datadivr.default_registry._hooks.values():
            hooks.pop(hook, None)
    assert datadivr.runtime.on_connect is datadivr.on_connect


def test_a_servicer_registers_the_hooks_it_overrides_only() -> None:
    class Game(Servicer):
        async def on_disconnect(self, client: DisconnectInfo, ctx: HandlerContext) -> None: ...

        async def on_presence(self, change: PresenceChange, ctx: HandlerContext) -> None: ...

    game = Game()
    registry = game.registry()
    assert registry.hooks("on_connect") == []
    assert registry.hooks("on_disconnect") == [game.on_disconnect]
    assert registry.hooks("on_presence") == [game.on_presence]
    assert Servicer().registry().hooks("on_disconnect") == []


def test_on_presence_registers_like_the_others() -> None:
    registry = Registry()

    @registry.on_presence
    async def seen(change: PresenceChange, ctx: HandlerContext) -> None: ...

    assert registry.hooks("on_presence") == [seen]
    assert datadivr.runtime.on_presence is datadivr.on_presence

    async def alone(change: PresenceChange) -> None: ...

    with pytest.raises(RegistrationError, match=r"must take \(change, ctx\)"):
        registry.on_presence(alone)  # type: ignore[arg-type]


# -- the server, over an in-memory WebSocket -------------------------------------------------


class FakeWebSocket:
    """The part of starlette's ``WebSocket`` the server uses: what the client sends is put in
    ``inbox``, what the server sends is in ``outbox``."""

    def __init__(self, host: str = "127.0.0.1", port: int = 40000) -> None:
        self.scope: dict[str, Any] = {"type": "websocket", "subprotocols": [], "extensions": {}}
        self.headers: dict[str, str] = {}
        self.client = Address(host, port)
        self.application_state = WebSocketState.CONNECTING
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.closed: tuple[int, str] | None = None

    async def accept(
        self, subprotocol: str | None = None, headers: list[tuple[bytes, bytes]] | None = None
    ) -> None:
        self.application_state = WebSocketState.CONNECTED

    async def receive(self) -> dict[str, Any]:
        return await self.inbox.get()

    async def send_text(self, data: str) -> None:
        if self.application_state is not WebSocketState.CONNECTED:
            raise RuntimeError("not connected")
        self.outbox.put_nowait(json.loads(data))

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)
        self.application_state = WebSocketState.DISCONNECTED
        # The client answers the close frame.
        self.inbox.put_nowait({"type": "websocket.disconnect", "code": code, "reason": reason})

    # -- the client's side --

    def say(self, frame: dict[str, Any]) -> None:
        self.inbox.put_nowait({"type": "websocket.receive", "text": json.dumps(frame)})

    def hang_up(self, code: int = 1000, reason: str = "") -> None:
        self.inbox.put_nowait({"type": "websocket.disconnect", "code": code, "reason": reason})

    async def next(self) -> dict[str, Any]:
        return await asyncio.wait_for(self.outbox.get(), 5)


class Recorder:
    """Hooks that record what they were told, and a future per client that left."""

    def __init__(self, registry: Registry) -> None:
        self.connected: list[ClientInfo] = []
        self.disconnected: list[DisconnectInfo] = []
        self.left: dict[str, asyncio.Future[DisconnectInfo]] = {}
        registry.on_connect(self.on_connect)
        registry.on_disconnect(self.on_disconnect)

    async def on_connect(self, client: ClientInfo, ctx: HandlerContext) -> None:
        self.connected.append(client)

    async def on_disconnect(self, client: DisconnectInfo, ctx: HandlerContext) -> None:
        self.disconnected.append(client)
        self.gone(client.client_id).set_result(client)

    def gone(self, client_id: str) -> asyncio.Future[DisconnectInfo]:
        if client_id not in self.left:
            self.left[client_id] = asyncio.get_running_loop().create_future()
        return self.left[client_id]


@asynccontextmanager
async def serving(
    registry: Registry, **options: Any
) -> AsyncIterator[tuple[Server, list[asyncio.Task[None]]]]:
    # The built-in handlers answer sum_event where the test has no handler of its own.
    server = Server(PROTOCOL, registry.merged(builtin_registry), **options)
    tasks: list[asyncio.Task[None]] = []
    try:
        yield server, tasks
    finally:
        await server.shutdown(1.0)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def connect(
    server: Server, tasks: list[asyncio.Task[None]], **options: Any
) -> tuple[FakeWebSocket, str]:
    ws = FakeWebSocket(**options)
    tasks.append(asyncio.create_task(server.serve(ws)))  # type: ignore[arg-type]
    welcome = await ws.next()
    assert welcome["event_name"] == "welcome"
    return ws, welcome["payload"]["client_id"]


async def test_a_normal_close_runs_each_hook_once() -> None:
    registry = Registry()
    recorder = Recorder(registry)

    async def identify(websocket: WebSocket) -> Identity:
        return Identity("ada", {"team": "red"})

    async with serving(registry, authenticate=identify) as (server, tasks):
        ws, client_id = await connect(server, tasks, port=40001)
        assert recorder.connected == [
            ClientInfo(client_id, Identity("ada", {"team": "red"}), "127.0.0.1:40001")
        ]
        ws.hang_up(1000, "bye")
        left = await recorder.gone(client_id)
        await tasks[0]
    assert left == DisconnectInfo(
        client_id, Identity("ada", {"team": "red"}), "127.0.0.1:40001", 1000, "bye"
    )
    assert len(recorder.connected) == len(recorder.disconnected) == 1


async def test_the_welcome_comes_first_and_the_first_message_waits_for_on_connect() -> None:
    registry = Registry()
    release = asyncio.Event()
    order: list[str] = []

    @registry.on_connect
    async def greet(client: ClientInfo, ctx: HandlerContext) -> None:
        await ctx.send(MsgMessage(message=f"hello {client.client_id}"))
        await release.wait()
        order.append("on_connect done")

    async def add(message: SumEventMessage) -> SumHandlerResultMessage:
        order.append("handled")
        return SumHandlerResultMessage(payload=sum(message.payload.numbers))

    registry.register("sum_event", datadivr.HandlerType.SERVER, add)
    async with serving(registry) as (server, tasks):
        ws, client_id = await connect(server, tasks)
        hello = await ws.next()
        assert (hello["event_name"], hello["message"], hello["to"]) == (
            "msg",
            f"hello {client_id}",
            client_id,
        )
        ws.say({"event_name": "sum_event", "payload": {"numbers": [1, 2]}, "id": "r1"})
        await asyncio.sleep(0)
        assert order == []
        release.set()
        answer = await ws.next()
        assert (answer["payload"], answer["reply_to"]) == (3, "r1")
        assert order == ["on_connect done", "handled"]
        ws.hang_up()


async def test_a_hook_that_raises_is_logged_and_the_connection_carries_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry = Registry()

    @registry.on_connect
    async def broken(client: ClientInfo, ctx: HandlerContext) -> None:
        raise ValueError("the game is full")

    recorder = Recorder(registry)  # registered after the broken one: it runs all the same

    @registry.on_disconnect
    async def broken_too(client: DisconnectInfo, ctx: HandlerContext) -> None:
        raise ValueError("cannot save the score")

    caplog.set_level(logging.ERROR, logger="datadivr.server")
    async with serving(registry) as (server, tasks):
        ws, client_id = await connect(server, tasks)
        ws.say({"event_name": "sum_event", "payload": {"numbers": [2, 3]}, "id": "r1"})
        answer = await ws.next()
        assert (answer["payload"], answer["reply_to"]) == (5, "r1")
        assert [c.client_id for c in recorder.connected] == [client_id]
        ws.hang_up()
        await recorder.gone(client_id)
        await tasks[0]
    failures = [r for r in caplog.records if "hook failed" in r.getMessage()]
    assert len(failures) == 2, [r.getMessage() for r in caplog.records]
    text = "\n".join(r.getMessage() + str(r.__dict__) for r in failures)
    assert client_id in text
    assert "on_connect hook failed" in text
    assert "on_disconnect hook failed" in text
    assert "the game is full" in caplog.text
    assert "cannot save the score" in caplog.text


async def test_an_evicted_client_gets_on_disconnect_once_with_the_eviction_code() -> None:
    registry = Registry()
    recorder = Recorder(registry)
    async with serving(registry, limits=Limits(queue_size=4)) as (server, tasks):
        ws, client_id = await connect(server, tasks)
        # The client reads nothing more: the server's queue for it fills up.
        ws.application_state = WebSocketState.CONNECTED
        blocked = asyncio.Event()

        async def stalled(data: str) -> None:
            await blocked.wait()

        ws.send_text = stalled  # type: ignore[method-assign]
        for n in range(20):
            server.hub.send(MsgMessage(message=str(n)), to=client_id)
        left = await recorder.gone(client_id)
        assert (left.client_id, left.code) == (client_id, 1013)
        assert "too slow" in left.reason
        await tasks[0]
    assert len(recorder.disconnected) == 1


async def test_shutdown_runs_on_disconnect_for_everyone_and_waits_for_it() -> None:
    registry = Registry()
    recorder = Recorder(registry)
    saved: list[str] = []

    @registry.on_disconnect
    async def save(client: DisconnectInfo, ctx: HandlerContext) -> None:
        await asyncio.sleep(0.05)  # e.g. a database write
        saved.append(client.client_id)

    async with serving(registry) as (server, tasks):
        ids = [(await connect(server, tasks))[1] for _ in range(3)]
        await server.shutdown(2.0)
        assert sorted(saved) == sorted(ids)  # shutdown returned after the hooks
    assert sorted(c.client_id for c in recorder.disconnected) == sorted(ids)
    assert {(c.code, c.reason) for c in recorder.disconnected} == {(1001, "server shutting down")}


async def test_a_hook_still_running_is_cut_short_at_shutdown_after_its_bound(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry = Registry()
    started = asyncio.Event()
    never = asyncio.Event()

    @registry.on_disconnect
    async def stuck(client: DisconnectInfo, ctx: HandlerContext) -> None:
        started.set()
        await never.wait()

    async with serving(registry) as (server, tasks):
        await connect(server, tasks)
        await server.shutdown(0.0)  # the hooks get their minimum, HOOKS_TIMEOUT
        assert started.is_set()
        assert server._hook_tasks == set()
    assert "lifecycle hooks cut short by the shutdown" in caplog.text


async def test_a_slow_on_disconnect_holds_up_no_one() -> None:
    registry = Registry()
    release = asyncio.Event()

    @registry.on_disconnect
    async def slow(client: DisconnectInfo, ctx: HandlerContext) -> None:
        await release.wait()

    async with serving(registry) as (server, tasks):
        first, _ = await connect(server, tasks)
        second, _ = await connect(server, tasks)
        first.hang_up()
        await tasks[0]  # its connection ended, its hook still runs
        assert len(server._hook_tasks) == 1
        second.say({"event_name": "sum_event", "payload": {"numbers": [4]}, "id": "r"})
        assert (await second.next())["payload"] == 4
        third, _ = await connect(server, tasks)
        release.set()
        second.hang_up()
        third.hang_up()


async def test_on_disconnect_tells_the_others() -> None:
    registry = Registry()

    @registry.on_disconnect
    async def announce(client: DisconnectInfo, ctx: HandlerContext) -> None:
        await ctx.send(MsgMessage(message=f"{client.client_id} left", to="others"))

    async with serving(registry) as (server, tasks):
        leaving, leaving_id = await connect(server, tasks)
        staying, _ = await connect(server, tasks)
        leaving.hang_up()
        said = await staying.next()
        assert (said["event_name"], said["message"], said["from_id"]) == (
            "msg",
            f"{leaving_id} left",
            "server",
        )
        staying.hang_up()


async def test_clients_lists_this_node_s_clients() -> None:
    async with serving(Registry()) as (server, tasks):
        _, one = await connect(server, tasks)
        two_ws, two = await connect(server, tasks)
        assert server.clients() == {one: None, two: None}
        two_ws.hang_up()
        await tasks[1]
        assert server.clients() == {one: None}


async def test_a_refused_handshake_runs_no_hook() -> None:
    registry = Registry()
    recorder = Recorder(registry)

    async def nobody(websocket: WebSocket) -> None:
        return None

    async with serving(registry, authenticate=nobody) as (server, _):
        ws = FakeWebSocket()
        await server.serve(ws)  # type: ignore[arg-type]
        assert ws.closed == (1008, "not authenticated")
        assert server._hook_tasks == set()
    assert (recorder.connected, recorder.disconnected) == ([], [])


async def test_a_client_evicted_during_on_connect_gets_on_disconnect_after_it() -> None:
    registry = Registry()
    order: list[str] = []
    left: asyncio.Future[DisconnectInfo] = asyncio.get_running_loop().create_future()

    @registry.on_connect
    async def flood(client: ClientInfo, ctx: HandlerContext) -> None:
        for n in range(20):  # the client reads nothing: its queue overflows here
            await ctx.send(MsgMessage(message=str(n)))
        for _ in range(10):  # turns of the loop, for an on_disconnect started too early to run
            await asyncio.sleep(0)
        order.append("on_connect done")

    @registry.on_disconnect
    async def bye(client: DisconnectInfo, ctx: HandlerContext) -> None:
        order.append("on_disconnect")
        left.set_result(client)

    async with serving(registry, limits=Limits(queue_size=4)) as (server, tasks):
        ws = FakeWebSocket()
        blocked = asyncio.Event()

        async def stalled(data: str) -> None:
            await blocked.wait()

        ws.send_text = stalled  # type: ignore[method-assign]
        tasks.append(asyncio.create_task(server.serve(ws)))  # type: ignore[arg-type]
        assert (await left).code == 1013
        await tasks[0]
    assert order == ["on_connect done", "on_disconnect"]


async def test_presence_changes_run_on_presence_in_order_with_a_server_context() -> None:
    registry = Registry()
    told: list[tuple[str, str, bool]] = []

    @registry.on_presence
    async def note(change: PresenceChange, ctx: HandlerContext) -> None:
        if not told:
            # The first waits: the second change must not overtake it.
            await asyncio.sleep(0)
            await asyncio.sleep(0)
        told.append((change.client_id, change.node, change.joined))
        assert ctx.client_id is None
        word = "joined" if change.joined else "left"
        await ctx.send(MsgMessage(message=f"{change.client_id} {word} on {change.node}", to="all"))

    async with serving(registry) as (server, tasks):
        ws, _ = await connect(server, tasks)
        server.presence_changed("r1", "n2", True)
        server.presence_changed("r1", "n2", False)
        assert (await ws.next())["message"] == "r1 joined on n2"
        assert (await ws.next())["message"] == "r1 left on n2"
        ws.hang_up()
    assert told == [("r1", "n2", True), ("r1", "n2", False)]
