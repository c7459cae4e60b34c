"""Handler registration: the decorator, sides, arity, duplicates, live fallbacks, servicers."""

from __future__ import annotations

from typing import Any

import pytest

from datadivr import (
    HandlerContext,
    HandlerNotImplementedError,
    HandlerType,
    RegistrationError,
    Registry,
)
from datadivr.core._registry import register_handler
from datadivr.demo import (
    PROTOCOL,
    MsgMessage,
    Servicer,
    SumEventMessage,
    SumHandlerResultMessage,
    websocket_handler,
)

CTX = HandlerContext(HandlerType.SERVER, "a", send_message=lambda message: _noop())


async def _noop() -> None:
    return None


async def test_both_arities_are_called_with_message_and_context(registry: Registry) -> None:
    seen: list[Any] = []

    @websocket_handler("msg", HandlerType.SERVER, registry=registry)
    async def one(message: MsgMessage) -> None:
        seen.append(message.message)

    @websocket_handler("sum_event", HandlerType.SERVER, registry=registry)
    async def two(message: SumEventMessage, ctx: HandlerContext) -> SumHandlerResultMessage:
        seen.append(ctx.client_id)
        return SumHandlerResultMessage(payload=1.0)

    msg_handler = registry.get("msg", HandlerType.SERVER)
    sum_handler = registry.get("sum_event", HandlerType.SERVER)
    assert msg_handler is not None
    assert sum_handler is not None
    assert await msg_handler(MsgMessage(message="x"), CTX) is None
    result = await sum_handler(SumEventMessage.model_validate({"payload": {"numbers": [1]}}), CTX)
    assert isinstance(result, SumHandlerResultMessage)
    assert seen == ["x", "a"]
    assert one.__name__ == "one"  # the decorator returns the function itself


def test_sides(registry: Registry) -> None:
    @websocket_handler("ping", HandlerType.BOTH, registry=registry)
    async def ping(message: Any) -> None:
        return None

    assert registry.events(HandlerType.SERVER) == ["ping"]
    assert registry.events(HandlerType.CLIENT) == ["ping"]
    registry.unregister("ping", HandlerType.CLIENT)
    assert registry.get("ping", HandlerType.CLIENT) is None
    assert registry.get("ping", HandlerType.SERVER) is not None
    assert list(registry) == [("ping", HandlerType.SERVER)]
    assert len(registry) == 1


@pytest.mark.parametrize(
    ("event_name", "handler_type", "match"),
    [
        (
            "nope",
            HandlerType.SERVER,
            r"^unknown event 'nope' in protocol 'datadivr\.demo'; known: error, msg, ping, ",
        ),
        ("sum_handler_result", HandlerType.SERVER, "the server never receives it"),
        ("sum_event", HandlerType.CLIENT, "clients never receive it"),
        ("welcome", HandlerType.BOTH, "the server never receives it"),
    ],
)
def test_wrong_event_or_side_is_refused(
    registry: Registry, event_name: str, handler_type: HandlerType, match: str
) -> None:
    with pytest.raises(RegistrationError, match=match):
        register_handler(PROTOCOL, event_name, handler_type, registry=registry)


def test_errors_that_list_events_name_the_protocol() -> None:
    """A user who registered against the wrong package sees which one was looked at."""
    from datadivr._console import parse_line
    from datadivr.exceptions import ProtocolError

    text = PROTOCOL.unknown_event("move")
    assert text == (
        "unknown event 'move' in protocol 'datadivr.demo'; known: "
        "error, msg, ping, pong, scene_update, sum_event, sum_handler_result, welcome"
    )
    with pytest.raises(RegistrationError) as registering:
        register_handler(PROTOCOL, "move", HandlerType.SERVER, registry=Registry())
    assert str(registering.value) == text
    with pytest.raises(ProtocolError) as typing_it:
        parse_line(PROTOCOL, "move {}")
    assert typing_it.value.code == "unknown_event"
    assert text in str(typing_it.value)


def test_bad_handlers_are_refused(registry: Registry) -> None:
    def sync(message: Any) -> None:
        return None

    async def three(a: Any, b: Any, c: Any) -> None:
        return None

    async def none() -> None:
        return None

    with pytest.raises(RegistrationError, match="async"):
        registry.register("msg", HandlerType.SERVER, sync)
    with pytest.raises(RegistrationError, match="parameters"):
        registry.register("msg", HandlerType.SERVER, three)
    with pytest.raises(RegistrationError, match="parameters"):
        registry.register("msg", HandlerType.SERVER, none)


def test_a_second_handler_for_the_same_event_is_refused(registry: Registry) -> None:
    async def first(message: Any) -> None:
        return None

    async def second(message: Any) -> None:
        return None

    registry.register("msg", HandlerType.SERVER, first)
    registry.register("msg", HandlerType.SERVER, first)  # the same one again: fine (reloads)
    with pytest.raises(RegistrationError, match="already registered"):
        registry.register("msg", HandlerType.BOTH, second)
    assert registry.get("msg", HandlerType.CLIENT) is None  # nothing half-registered


async def test_fallbacks_are_live(registry: Registry) -> None:
    fallback = Registry()
    layered = registry.merged(fallback)
    assert layered.get("msg", HandlerType.SERVER) is None

    async def late(message: Any) -> None:
        return None

    async def early(message: Any) -> None:
        return None

    fallback.register("msg", HandlerType.SERVER, late)
    assert layered.get("msg", HandlerType.SERVER) is not None
    registry.register("msg", HandlerType.SERVER, early)
    handler = layered.get("msg", HandlerType.SERVER)
    assert handler is not None
    assert handler is registry.get("msg", HandlerType.SERVER)
    assert layered.events(HandlerType.SERVER) == ["msg"]


def test_a_registry_s_own_handler_wins_over_its_fallbacks() -> None:
    async def own(message: Any) -> None:
        return None

    async def fallen_back(message: Any) -> None:
        return None

    async def other(message: Any) -> None:
        return None

    fallback = Registry()
    fallback.register("msg", HandlerType.BOTH, fallen_back)
    fallback.register("ping", HandlerType.SERVER, other)
    layered = Registry(fallback)
    layered.register("msg", HandlerType.SERVER, own)
    # Asked both before and after the fallbacks changed, so no cached answer hides the order.
    for _ in range(2):
        server = layered.lookup("msg", HandlerType.SERVER)
        assert server is not None
        assert server.func is own
        client = layered.lookup("msg", HandlerType.CLIENT)
        assert client is not None
        assert client.func is fallen_back
        ping = layered.lookup("ping", HandlerType.SERVER)
        assert ping is not None
        assert ping.func is other
        fallback.unregister("sum_event")
    assert layered.events(HandlerType.SERVER) == ["msg", "ping"]


class Adder(Servicer):
    async def sum_event(
        self, message: SumEventMessage, ctx: HandlerContext
    ) -> SumHandlerResultMessage | None:
        return SumHandlerResultMessage(payload=sum(message.payload.numbers))


async def test_servicer_registers_only_what_it_overrides() -> None:
    registry = Adder().registry()
    assert registry.events(HandlerType.SERVER) == ["sum_event"]
    handler = registry.get("sum_event", HandlerType.SERVER)
    assert handler is not None
    result = await handler(SumEventMessage.model_validate({"payload": {"numbers": [2, 3]}}), CTX)
    assert isinstance(result, SumHandlerResultMessage)
    assert result.payload == 5


async def test_servicer_defaults_raise_not_implemented() -> None:
    with pytest.raises(HandlerNotImplementedError):
        await Servicer().msg(MsgMessage(message="x"), CTX)
    assert HandlerNotImplementedError.code == "no_handler"
    assert set(Servicer().__mapping__()) == {
        name for name, spec in PROTOCOL.events.items() if spec.direction.client_may_send
    }


def test_same_name_in_another_module_is_another_handler(registry: Registry) -> None:
    async def handle(message: Any) -> None:
        return None

    async def other(message: Any) -> None:
        return None

    other.__qualname__ = handle.__qualname__
    other.__module__ = "somewhere.else"
    registry.register("msg", HandlerType.SERVER, handle)
    with pytest.raises(RegistrationError, match="already registered"):
        registry.register("msg", HandlerType.SERVER, other)


# -- how a handler's answer is addressed: one rule for the hub and the client -----------------


def test_answer_fields_fills_in_what_the_answer_left_unset() -> None:
    from datadivr.core._registry import answer_fields

    answer = SumHandlerResultMessage(payload=3.0)
    assert answer_fields(answer, to="a", reply_to="q1", from_id="server") == {
        "to": "a",
        "reply_to": "q1",
        "from_id": "server",
    }
    # A client stamps no sender, and a request without an id gets no reply_to.
    assert answer_fields(answer, to="server", reply_to=None) == {"to": "server"}


def test_answer_fields_keeps_what_the_answer_set() -> None:
    from datadivr.core._registry import answer_fields

    answer = SumHandlerResultMessage(payload=3.0, to="all", reply_to="mine", from_id="x")
    assert answer_fields(answer, to="a", reply_to="q1", from_id="server") == {}


def test_a_sides_values_are_handler_types() -> None:
    from typing import get_args

    from datadivr import Side

    assert set(get_args(Side)) == {HandlerType.SERVER, HandlerType.CLIENT}
    assert HandlerType.BOTH not in get_args(Side)
    assert CTX.side == HandlerType.SERVER == "server"
