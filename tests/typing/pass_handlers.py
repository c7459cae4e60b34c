"""Correct uses of the typed handler API: mypy --strict must accept every line.

Type-checked by ``test_typing.py``, never imported or run.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Literal

from typing_extensions import assert_type

from datadivr import HandlerContext, HandlerType, MessageBase, Registry
from datadivr.demo import (
    MsgMessage,
    PingMessage,
    PongMessage,
    PongPayload,
    Servicer,
    SumEventHandler,
    SumEventMessage,
    SumEventPayload,
    SumHandlerResultMessage,
    create_message,
    websocket_handler,
)

registry = Registry()


@websocket_handler("sum_event", registry=registry)
async def add_up(message: SumEventMessage) -> SumHandlerResultMessage:
    return SumHandlerResultMessage(payload=sum(message.payload.numbers))


# The decorator hands back the function with its own type, not the wider handler alias.
exactly_add_up: Callable[[SumEventMessage], Awaitable[SumHandlerResultMessage]] = add_up
as_alias: SumEventHandler = add_up


@websocket_handler("sum_event", HandlerType.SERVER, registry=registry)
async def add_up_with_context(
    message: SumEventMessage, ctx: HandlerContext
) -> SumHandlerResultMessage:
    assert_type(ctx.client_id, str | None)
    await ctx.send(create_message("msg", to="all", message=f"{ctx.client_id} asked for a sum"))
    return SumHandlerResultMessage(payload=sum(message.payload.numbers), reply_to=message.id)


@websocket_handler("sum_event", registry=registry)
async def add_up_quietly(message: SumEventMessage) -> None:
    """A handler may answer nothing."""


@websocket_handler("sum_event", registry=registry)
async def add_up_maybe(message: SumEventMessage) -> SumHandlerResultMessage | None:
    if not message.payload.numbers:
        return None
    return SumHandlerResultMessage(payload=sum(message.payload.numbers))


@websocket_handler("msg", HandlerType.CLIENT, registry=registry)
async def show(message: MsgMessage) -> None:
    assert_type(message.message, str)
    assert_type(message.from_id, str | None)


@websocket_handler("msg", HandlerType.SERVER, registry=registry)
async def echo(message: MsgMessage, ctx: HandlerContext) -> MessageBase:
    """Events without a declared reply may answer with any message."""
    return MsgMessage(message=message.message, to=ctx.client_id or "others")


@websocket_handler("ping", HandlerType.BOTH, registry=registry)
async def answer_ping(message: PingMessage) -> PongMessage:
    payload = PongPayload(
        sent_at=message.payload.sent_at,
        received_at=message.payload.sent_at,
        nonce=message.payload.nonce,
    )
    return PongMessage(payload=payload)


class Calculator(Servicer):
    async def sum_event(
        self, message: SumEventMessage, ctx: HandlerContext
    ) -> SumHandlerResultMessage:
        return SumHandlerResultMessage(payload=sum(message.payload.numbers))


calculator_registry: Registry = Calculator().registry()

request = create_message("sum_event", SumEventPayload(numbers=[1.0]))
assert_type(request, SumEventMessage)
assert_type(request.payload, SumEventPayload)
assert_type(request.payload.numbers, list[float])
assert_type(request.event_name, Literal["sum_event"])
assert_type(create_message("sum_event", SumEventPayload(numbers=[1, 2]), "server"), SumEventMessage)
assert_type(create_message("msg", message="hello", to="all"), MsgMessage)
assert_type(create_message("sum_handler_result", 3.0, reply_to="r1"), SumHandlerResultMessage)
