"""Requests from the server over real sockets: a uvicorn server asks a generated typed client,
whose answer handler answers; timeouts, a client that leaves, error answers and unsolicited
replies."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from contextlib import AbstractContextManager
from types import ModuleType
from typing import Any, TypeVar

import pytest
from fastapi import FastAPI, WebSocket

from datadivr import (
    Backplane,
    ClientGoneError,
    ClientOnOtherNodeError,
    HandlerContext,
    HandlerError,
    HandlerType,
    Identity,
    Registry,
    RemoteError,
    RequestTimeoutError,
    Server,
    UnknownClientError,
    create_app,
)
from datadivr.broker import RedisBackplane
from tests.case_protocols import case_package
from tests.conftest import LiveServer
from tests.redis_server import RedisServer

_T = TypeVar("_T")
ServeApp = Callable[[FastAPI], AbstractContextManager[LiveServer]]


@pytest.fixture(scope="module")
def proto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    with case_package("server_request", tmp_path_factory.mktemp("proto")) as package:
        yield package


class App:
    """The app, its server, and the event loop it runs on (the server's thread's)."""

    def __init__(
        self, proto: ModuleType, registry: Registry, broker: Backplane | None = None
    ) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.app = create_app(
            protocol=proto.PROTOCOL,
            registry=registry,
            authenticate=self._admit,
            explorer=False,
            broker=broker,
        )
        # The documented way to the server of an app, for a task outside any handler.
        self.server: Server = self.app.state.server

    async def _admit(self, websocket: WebSocket) -> Identity:
        self.loop = asyncio.get_running_loop()
        return Identity("test")

    async def run(self, coroutine: Coroutine[Any, Any, _T]) -> _T:
        """Run ``coroutine`` on the server's loop, as a background task of the app would."""
        assert self.loop is not None, "no client connected yet"
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine, self.loop))


def charger_answers(proto: ModuleType, client: Any) -> list[Any]:
    """Give ``client`` an answer handler for ``charge_start``; what it was asked, listed."""
    asked: list[Any] = []

    async def start(message: Any) -> Any:
        asked.append(message)
        return proto.ChargeStartAckMessage(
            payload=proto.ChargeStartAckPayload(accepted=message.payload.connector < 5)
        )

    client.on("charge_start")(start)
    return asked


async def test_a_handler_asks_another_client(proto: ModuleType, serve_app: ServeApp) -> None:
    registry = Registry()

    async def plug_in(message: Any, ctx: HandlerContext) -> Any:
        start = proto.ChargeStartMessage(
            payload=proto.ChargeStartPayload(connector=message.payload.connector)
        )
        answer = await ctx.request(message.payload.charger, start, timeout=10)
        return proto.PlugInResultMessage(
            payload=proto.PlugInResultPayload(started=answer.payload.accepted)
        )

    registry.register("plug_in", HandlerType.SERVER, plug_in)
    app = App(proto, registry)
    with serve_app(app.app) as live:
        async with proto.Client(live.url) as charger, proto.Client(live.url) as driver:
            asked = charger_answers(proto, charger)
            result = await driver.plug_in(charger.client_id, 2)
            assert isinstance(result, proto.PlugInResultMessage)
            assert result.payload.started is True
            refused = await driver.plug_in(charger.client_id, 7)
            assert refused.payload.started is False
            assert [m.payload.connector for m in asked] == [2, 7]
            assert all(m.from_id == "server" and m.id for m in asked)


async def test_the_server_asks_from_a_background_task(
    proto: ModuleType, serve_app: ServeApp
) -> None:
    app = App(proto, Registry())
    with serve_app(app.app) as live:
        async with proto.Client(live.url) as charger:
            charger_answers(proto, charger)
            start = proto.ChargeStartMessage(payload=proto.ChargeStartPayload(connector=1))
            answer = await app.run(app.server.request(charger.client_id, start, timeout=10))
            assert isinstance(answer, proto.ChargeStartAckMessage)
            assert answer.payload.accepted is True
            assert answer.from_id == charger.client_id
            assert app.server.hub.requests.waiting() == 0


async def test_no_answer_in_time(proto: ModuleType, serve_app: ServeApp) -> None:
    app = App(proto, Registry())
    with serve_app(app.app) as live:
        async with proto.Client(live.url) as charger:  # no answer handler: it never answers
            start = proto.ChargeStartMessage(payload=proto.ChargeStartPayload(connector=1))
            with pytest.raises(RequestTimeoutError, match="did not answer 'charge_start'"):
                await app.run(app.server.request(charger.client_id, start, timeout=0.2))
            received = await charger.receive(timeout=10)  # it was asked all the same
            assert received.event_name == "charge_start"
            assert app.server.hub.requests.waiting() == 0


async def test_the_client_leaves_before_it_answers(proto: ModuleType, serve_app: ServeApp) -> None:
    app = App(proto, Registry())
    with serve_app(app.app) as live:
        charger = await proto.Client(live.url).connect()
        start = proto.ChargeStartMessage(payload=proto.ChargeStartPayload(connector=1))
        asking = asyncio.ensure_future(
            app.run(app.server.request(charger.client_id, start, timeout=30))
        )
        await charger.receive(timeout=10)  # the request arrived; the charger leaves instead
        await charger.close()
        with pytest.raises(ClientGoneError) as caught:
            await asking
        assert caught.value.client_id == charger.client_id
        assert app.server.hub.requests.waiting() == 0
        with pytest.raises(UnknownClientError):
            await app.run(app.server.request(charger.client_id, start))


async def test_an_answer_handler_that_fails_answers_with_an_error(
    proto: ModuleType, serve_app: ServeApp
) -> None:
    app = App(proto, Registry())
    with serve_app(app.app) as live:
        async with proto.Client(live.url) as charger:

            async def start(message: Any) -> Any:
                if message.payload.connector == 1:
                    raise HandlerError("connector 1 is out of order")
                raise KeyError("a secret the server must not see")

            charger.on("charge_start")(start)

            request = proto.ChargeStartMessage(payload=proto.ChargeStartPayload(connector=1))
            with pytest.raises(RemoteError) as caught:
                await app.run(app.server.request(charger.client_id, request, timeout=10))
            assert (caught.value.code, caught.value.message) == (
                "handler_error",
                "connector 1 is out of order",
            )
            request = proto.ChargeStartMessage(payload=proto.ChargeStartPayload(connector=2))
            with pytest.raises(RemoteError) as caught:
                await app.run(app.server.request(charger.client_id, request, timeout=10))
            assert caught.value.code == "internal_error"
            assert "secret" not in str(caught.value)


async def test_an_unsolicited_reply_is_refused(proto: ModuleType, serve_app: ServeApp) -> None:
    app = App(proto, Registry())
    with serve_app(app.app) as live:
        async with proto.Client(live.url) as charger:
            assert not hasattr(charger, "charge_start_ack")  # no method to send it with
            ack = proto.ChargeStartAckMessage(
                payload=proto.ChargeStartAckPayload(accepted=True),
                to="server",
                id="a1",
                reply_to="never-asked",
            )
            await charger.send(ack)
            refused = await charger.receive(timeout=10)
            assert refused.event_name == "error"
            assert refused.reply_to == "a1"
            assert refused.payload.code == "wrong_direction"
            assert "only to answer the server's request" in (refused.message or "")
            # The connection is fine: the server still asks it.
            charger_answers(proto, charger)
            start = proto.ChargeStartMessage(payload=proto.ChargeStartPayload(connector=3))
            answer = await app.run(app.server.request(charger.client_id, start, timeout=10))
            assert answer.payload.accepted is True


@pytest.mark.slow
async def test_a_client_of_another_node_is_refused_clearly(
    proto: ModuleType, serve_app: ServeApp, redis_server: RedisServer
) -> None:
    """In a cluster, a server asks only its own node's clients: a client of another node gets
    a ClientOnOtherNodeError at once (not a timeout), and its own node asks it fine."""
    near = App(proto, Registry(), RedisBackplane(redis_server.url, presence_ttl=1.5))
    far = App(proto, Registry(), RedisBackplane(redis_server.url, presence_ttl=1.5))
    with serve_app(near.app) as near_live, serve_app(far.app) as far_live:
        async with proto.Client(near_live.url), proto.Client(far_live.url) as charger:
            charger_answers(proto, charger)
            near_backplane = near.server.backplane
            for _ in range(500):  # bounded: until the near node knows of the far one's client
                if charger.client_id in near_backplane:
                    break
                await asyncio.sleep(0.01)
            assert charger.client_id in near_backplane
            start = proto.ChargeStartMessage(payload=proto.ChargeStartPayload(connector=1))
            with pytest.raises(ClientOnOtherNodeError, match="another node of the cluster"):
                await near.run(near.server.request(charger.client_id, start, timeout=10))
            answer = await far.run(far.server.request(charger.client_id, start, timeout=10))
            assert answer.payload.accepted is True
