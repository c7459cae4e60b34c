"""The server's requests to its clients, without sockets: the pending table, and the hub's
``request`` (matching answers, timeouts, disconnects, error answers, unsolicited replies)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from concurrent.futures import Future
from types import ModuleType
from typing import Any

import pytest

from datadivr import (
    ClientGoneError,
    ClientOnOtherNodeError,
    Direct,
    HandlerContext,
    HandlerType,
    Hub,
    InvalidStateError,
    MessageBase,
    RegistrationError,
    Registry,
    RemoteError,
    RequestTimeoutError,
    Route,
    TooManyRequestsError,
    UnknownClientError,
)
from datadivr.core._registry import register_handler
from datadivr.core._requests import PendingRequests
from datadivr.validation._proxy import DOWNSTREAM, UPSTREAM, ValidatingProxy
from tests.case_protocols import case_package


@pytest.fixture(scope="module")
def proto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    with case_package("server_request", tmp_path_factory.mktemp("proto")) as package:
        yield package


class Wire:
    """An in-memory transport: records what the hub delivers, and wakes who waits for it."""

    def __init__(self) -> None:
        self.sent: list[tuple[Route, dict[str, Any]]] = []
        self._arrived = asyncio.Event()

    def __call__(self, route: Route, data: str) -> None:
        self.sent.append((route, json.loads(data)))
        self._arrived.set()

    async def next(self) -> tuple[Route, dict[str, Any]]:
        while not self.sent:
            self._arrived.clear()
            await self._arrived.wait()
        return self.sent.pop(0)


class Members:
    """Another node's clients, as a backplane tells the hub of them."""

    def __init__(self, *client_ids: str) -> None:
        self.ids = set(client_ids)

    def __contains__(self, client_id: object) -> bool:
        return client_id in self.ids

    def joined(self, client_id: str) -> None:
        pass

    def left(self, client_id: str) -> None:
        pass


def start_hub(
    proto: ModuleType, registry: Registry | None = None, **kwargs: Any
) -> tuple[Hub, Wire]:
    wire = Wire()
    hub = Hub(proto.PROTOCOL, registry if registry is not None else Registry(), wire, **kwargs)
    return hub, wire


async def connect(hub: Hub, wire: Wire, client_id: str) -> str:
    hub.connect(client_id=client_id)
    _, welcome = await wire.next()
    assert welcome["event_name"] == "welcome"
    return client_id


def ack(reply_to: str, accepted: bool = True, **envelope: Any) -> str:
    return json.dumps(
        {
            "event_name": "charge_start_ack",
            "payload": {"accepted": accepted},
            "to": "server",
            "reply_to": reply_to,
            **envelope,
        }
    )


# -- the pending table ----------------------------------------------------------------------


class TestPendingRequests:
    def message(self, proto: ModuleType, **fields: Any) -> MessageBase:
        model: type[MessageBase] = proto.ChargeStartAckMessage
        return model.model_validate({"payload": {"accepted": True}, **fields})

    def test_the_reply_settles_its_request(self, proto: ModuleType) -> None:
        table = PendingRequests()
        waiter: Future[MessageBase] = Future()
        table.add("c1", "r1", waiter, proto.ChargeStartAckMessage, "charge_start")
        reply = self.message(proto, reply_to="r1")
        assert table.settle("c1", reply)
        assert waiter.result() is reply
        assert table.waiting() == 0

    def test_an_answer_of_another_client_or_type_settles_nothing(self, proto: ModuleType) -> None:
        table = PendingRequests()
        waiter: Future[MessageBase] = Future()
        table.add("c1", "r1", waiter, proto.ChargeStartAckMessage, "charge_start")
        assert not table.settle("c2", self.message(proto, reply_to="r1"))
        assert not table.settle("c1", self.message(proto, reply_to="r2"))
        assert not table.settle("c1", self.message(proto))
        other = proto.PlugInMessage.model_validate(
            {"payload": {"charger": "c", "connector": 1}, "reply_to": "r1"}
        )
        assert not table.settle("c1", other)
        assert not waiter.done()
        assert table.waiting("c1") == 1

    def test_an_error_settles_it(self, proto: ModuleType) -> None:
        table = PendingRequests()
        waiter: Future[MessageBase] = Future()
        table.add("c1", "r1", waiter, proto.ChargeStartAckMessage, "charge_start")
        error = proto.ErrorMessage.model_validate(
            {"payload": {"code": "handler_error"}, "message": "no", "reply_to": "r1"}
        )
        assert table.settle("c1", error)
        assert waiter.result() is error

    def test_a_client_that_leaves_fails_its_requests(self) -> None:
        table = PendingRequests()
        waiters: list[Future[MessageBase]] = [Future(), Future()]
        table.add("c1", "r1", waiters[0], MessageBase, "charge_start")
        table.add("c2", "r1", waiters[1], MessageBase, "charge_start")
        table.client_gone("c1")
        with pytest.raises(ClientGoneError, match="'c1' disconnected before it answered"):
            waiters[0].result()
        assert not waiters[1].done()
        assert table.waiting() == 1

    def test_requests_per_client_are_bounded(self) -> None:
        table = PendingRequests(max_per_client=2)
        table.add("c1", "r1", Future(), MessageBase, "e")
        table.add("c1", "r2", Future(), MessageBase, "e")
        with pytest.raises(TooManyRequestsError) as caught:
            table.add("c1", "r3", Future(), MessageBase, "e")
        assert (caught.value.client_id, caught.value.limit) == ("c1", 2)
        table.add("c2", "r3", Future(), MessageBase, "e")  # another client's own bound
        with pytest.raises(ValueError, match="already"):
            table.add("c2", "r3", Future(), MessageBase, "e")
        table.remove("c1", "r1")
        table.add("c1", "r3", Future(), MessageBase, "e")


# -- the hub --------------------------------------------------------------------------------


class TestHubRequest:
    async def test_the_client_s_answer_is_the_typed_reply(self, proto: ModuleType) -> None:
        hub, wire = start_hub(proto)
        charger = await connect(hub, wire, "charger")
        asking = asyncio.create_task(
            hub.request(charger, proto.ChargeStartMessage(payload={"connector": 2}))
        )
        route, request = await wire.next()
        assert route == Direct(charger)
        assert request["event_name"] == "charge_start"
        assert request["from_id"] == "server"
        assert request["to"] == charger
        assert isinstance(request["id"], str)
        proto.PROTOCOL.validate(request)
        await hub.receive(charger, ack(request["id"]))
        reply = await asking
        assert isinstance(reply, proto.ChargeStartAckMessage)
        assert reply.payload.accepted is True
        assert reply.from_id == charger
        assert wire.sent == []  # the answer went to no one else
        assert hub.requests.waiting() == 0

    async def test_answers_in_any_order_settle_their_own_requests(self, proto: ModuleType) -> None:
        hub, wire = start_hub(proto)
        charger = await connect(hub, wire, "charger")
        asking = [
            asyncio.create_task(
                hub.request(charger, proto.ChargeStartMessage(payload={"connector": n}))
            )
            for n in (1, 6, 7)
        ]
        requests = [(await wire.next())[1] for _ in asking]
        assert len({r["id"] for r in requests}) == 3
        for request in reversed(requests):
            accepted = request["payload"]["connector"] == 6
            await hub.receive(charger, ack(request["id"], accepted=accepted))
        answers = [(await task).payload.accepted for task in asking]
        assert answers == [False, True, False]

    async def test_too_many_waiting_requests(self, proto: ModuleType) -> None:
        hub, wire = start_hub(proto)
        hub.requests.max_per_client = 1
        charger = await connect(hub, wire, "charger")
        start = proto.ChargeStartMessage(payload={"connector": 1})
        first = asyncio.create_task(hub.request(charger, start))
        await wire.next()
        with pytest.raises(TooManyRequestsError):
            await hub.request(charger, start)
        assert wire.sent == []  # not sent
        hub.disconnect(charger)
        with pytest.raises(ClientGoneError):
            await first

    async def test_no_answer_in_time(self, proto: ModuleType) -> None:
        hub, wire = start_hub(proto)
        charger = await connect(hub, wire, "charger")
        with pytest.raises(RequestTimeoutError, match="'charger' did not answer 'charge_start'"):
            await hub.request(
                charger, proto.ChargeStartMessage(payload={"connector": 1}), timeout=0
            )
        assert hub.requests.waiting() == 0

    async def test_the_client_leaves_before_it_answers(self, proto: ModuleType) -> None:
        hub, wire = start_hub(proto)
        charger = await connect(hub, wire, "charger")
        asking = asyncio.create_task(
            hub.request(charger, proto.ChargeStartMessage(payload={"connector": 1}))
        )
        await wire.next()
        hub.disconnect(charger)
        with pytest.raises(ClientGoneError) as caught:
            await asking
        assert caught.value.client_id == charger
        assert hub.requests.waiting() == 0

    async def test_an_error_answer_raises_remote_error(self, proto: ModuleType) -> None:
        hub, wire = start_hub(proto)
        charger = await connect(hub, wire, "charger")
        asking = asyncio.create_task(
            hub.request(charger, proto.ChargeStartMessage(payload={"connector": 1}))
        )
        _, request = await wire.next()
        error = {
            "event_name": "error",
            "payload": {"code": "handler_error", "event_name": "charge_start"},
            "message": "connector 1 is broken",
            "to": "server",
            "reply_to": request["id"],
        }
        await hub.receive(charger, json.dumps(error))
        with pytest.raises(RemoteError) as caught:
            await asking
        assert (caught.value.code, caught.value.message) == (
            "handler_error",
            "connector 1 is broken",
        )

    async def test_an_error_that_answers_nothing_is_refused(self, proto: ModuleType) -> None:
        hub, wire = start_hub(proto)
        charger = await connect(hub, wire, "charger")
        error = {"event_name": "error", "payload": {"code": "handler_error"}, "message": "x"}
        await hub.receive(charger, json.dumps({**error, "id": "e1"}))
        _, refused = await wire.next()
        assert refused["payload"]["code"] == "wrong_direction"
        assert refused["reply_to"] == "e1"

    @pytest.mark.parametrize("reply_to", [None, "not-asked"])
    async def test_an_unsolicited_reply_is_refused(
        self, proto: ModuleType, reply_to: str | None
    ) -> None:
        hub, wire = start_hub(proto)
        charger = await connect(hub, wire, "charger")
        frame = json.loads(ack("x", id="a1"))
        if reply_to is None:
            del frame["reply_to"]
        else:
            frame["reply_to"] = reply_to
        await hub.receive(charger, json.dumps(frame))
        route, refused = await wire.next()
        assert route == Direct(charger)
        proto.PROTOCOL.validate(refused)
        assert refused["payload"] == {"code": "wrong_direction", "event_name": "charge_start_ack"}
        assert refused["reply_to"] == "a1"
        assert "only to answer the server's request" in refused["message"]

    async def test_another_client_cannot_answer_for_it(self, proto: ModuleType) -> None:
        hub, wire = start_hub(proto)
        charger = await connect(hub, wire, "charger")
        other = await connect(hub, wire, "other")
        asking = asyncio.create_task(
            hub.request(charger, proto.ChargeStartMessage(payload={"connector": 1}), timeout=0.5)
        )
        _, request = await wire.next()
        await hub.receive(other, ack(request["id"], accepted=False))
        _, refused = await wire.next()
        assert refused["payload"]["code"] == "wrong_direction"
        assert refused["to"] == other
        await hub.receive(charger, ack(request["id"]))
        assert (await asking).payload.accepted is True

    async def test_an_unknown_client(self, proto: ModuleType) -> None:
        hub, _ = start_hub(proto)
        with pytest.raises(UnknownClientError, match="no client 'nobody' is connected"):
            await hub.request("nobody", proto.ChargeStartMessage(payload={"connector": 1}))

    async def test_a_client_of_another_node(self, proto: ModuleType) -> None:
        hub, _ = start_hub(proto, members=Members("far"))
        with pytest.raises(ClientOnOtherNodeError, match="another node"):
            await hub.request("far", proto.ChargeStartMessage(payload={"connector": 1}))

    async def test_a_message_that_is_not_a_server_request(self, proto: ModuleType) -> None:
        hub, wire = start_hub(proto)
        charger = await connect(hub, wire, "charger")
        result = proto.PlugInResultMessage(payload={"started": True})
        with pytest.raises(TypeError, match="not a request the server may send"):
            await hub.request(charger, result)

    async def test_a_handler_asks_another_client(self, proto: ModuleType) -> None:
        registry = Registry()

        async def plug_in(message: Any, ctx: HandlerContext) -> MessageBase:
            start = proto.ChargeStartMessage(payload={"connector": message.payload.connector})
            answer = await ctx.request(message.payload.charger, start)
            result: MessageBase = proto.PlugInResultMessage(
                payload={"started": answer.payload.accepted}
            )
            return result

        registry.register("plug_in", HandlerType.SERVER, plug_in)
        hub, wire = start_hub(proto, registry)
        charger = await connect(hub, wire, "charger")
        driver = await connect(hub, wire, "driver")
        plug = {
            "event_name": "plug_in",
            "payload": {"charger": charger, "connector": 3},
            "to": "server",
            "id": "p1",
        }
        handling = asyncio.create_task(hub.receive(driver, json.dumps(plug)))
        route, request = await wire.next()
        assert (route, request["payload"]) == (Direct(charger), {"connector": 3})
        await hub.receive(charger, ack(request["id"]))
        await handling
        route, result = await wire.next()
        assert route == Direct(driver)
        assert (result["payload"], result["reply_to"]) == ({"started": True}, "p1")

    async def test_a_handler_cannot_wait_for_its_own_sender(self, proto: ModuleType) -> None:
        registry = Registry()
        failures: list[BaseException] = []

        async def plug_in(message: Any, ctx: HandlerContext) -> None:
            assert ctx.client_id is not None
            try:
                await ctx.request(ctx.client_id, proto.ChargeStartMessage(payload={"connector": 1}))
            except InvalidStateError as exc:
                failures.append(exc)
                raise

        registry.register("plug_in", HandlerType.SERVER, plug_in)
        hub, wire = start_hub(proto, registry)
        charger = await connect(hub, wire, "charger")
        plug = {"event_name": "plug_in", "payload": {"charger": charger, "connector": 1}}
        # It fails at once (its sender's next frame, the answer, is read only after it).
        await hub.receive(charger, json.dumps(plug))
        [failure] = failures
        assert "ask it from a task of its own" in str(failure)
        _, refused = await wire.next()
        assert refused["event_name"] == "error"  # no charge_start went out
        assert hub.requests.waiting() == 0

    async def test_a_task_of_the_handler_may_ask_its_sender(self, proto: ModuleType) -> None:
        """The advice of the error above works: the same ``ctx``, in a task of its own."""
        registry = Registry()
        asked: list[asyncio.Task[Any]] = []

        async def plug_in(message: Any, ctx: HandlerContext) -> None:
            assert ctx.client_id is not None
            request = proto.ChargeStartMessage(payload={"connector": 1})
            asked.append(asyncio.create_task(ctx.request(ctx.client_id, request, timeout=5)))

        registry.register("plug_in", HandlerType.SERVER, plug_in)
        hub, wire = start_hub(proto, registry)
        charger = await connect(hub, wire, "charger")
        plug = {"event_name": "plug_in", "payload": {"charger": charger, "connector": 1}}
        await hub.receive(charger, json.dumps(plug))  # returns while its task asks
        route, request = await wire.next()
        assert (route, request["event_name"]) == (Direct(charger), "charge_start")
        await hub.receive(charger, ack(request["id"]))
        [task] = asked
        answer = await task
        assert answer.payload.accepted is True

    async def test_hub_request_from_the_handler_of_its_sender_fails_at_once(
        self, proto: ModuleType
    ) -> None:
        """``server.request`` (the hub's) tells as ``ctx.request`` does, instead of waiting
        until its timeout."""
        registry = Registry()
        failures: list[BaseException] = []
        hub: Hub | None = None

        async def plug_in(message: Any, ctx: HandlerContext) -> None:
            assert ctx.client_id is not None
            assert hub is not None
            request = proto.ChargeStartMessage(payload={"connector": 1})
            try:
                await hub.request(ctx.client_id, request, timeout=60)
            except InvalidStateError as exc:
                failures.append(exc)

        registry.register("plug_in", HandlerType.SERVER, plug_in)
        hub, wire = start_hub(proto, registry)
        charger = await connect(hub, wire, "charger")
        plug = {"event_name": "plug_in", "payload": {"charger": charger, "connector": 1}}
        await hub.receive(charger, json.dumps(plug))
        [failure] = failures
        assert "ask it from a task of its own" in str(failure)
        assert hub.requests.waiting() == 0

    async def test_a_client_handler_context_cannot_ask(self, proto: ModuleType) -> None:
        async def send(message: MessageBase) -> None:
            pass

        ctx = HandlerContext(HandlerType.CLIENT, "me", send)
        with pytest.raises(InvalidStateError, match="only the server"):
            await ctx.request("other", proto.ChargeStartMessage(payload={"connector": 1}))


# -- the validating proxy -------------------------------------------------------------------


def test_the_proxy_lets_a_client_answer_the_server(proto: ModuleType) -> None:
    proxy = ValidatingProxy("ws://127.0.0.1:9/ws", protocol=proto.PROTOCOL)
    answer = proxy.check(ack("r1"), UPSTREAM)
    assert answer.valid
    assert proxy.conformance.violations == {}
    request = json.dumps({"event_name": "charge_start", "payload": {"connector": 1}, "id": "r1"})
    assert proxy.check(request, DOWNSTREAM).valid
    asked_by_a_client = proxy.check(request, UPSTREAM)
    assert [v.kind for v in asked_by_a_client.violations] == ["direction"]
    assert proxy.conformance.violations == {"direction": 1}
    error = {"event_name": "error", "payload": {"code": "handler_error"}, "message": "no"}
    assert proxy.check(json.dumps({**error, "reply_to": "r1"}), UPSTREAM).valid
    assert not proxy.check(json.dumps(error), UPSTREAM).valid  # an error that answers nothing
    assert proxy.conformance.violations == {"direction": 2}


def test_a_client_reply_has_no_server_handler(proto: ModuleType) -> None:
    with pytest.raises(RegistrationError, match=r"ctx\.request \(or server\.request\) returns it"):
        register_handler(proto.PROTOCOL, "charge_start_ack", registry=Registry())
    with pytest.raises(RegistrationError, match="clients never receive it"):
        register_handler(
            proto.PROTOCOL, "charge_start_ack", HandlerType.CLIENT, registry=Registry()
        )
