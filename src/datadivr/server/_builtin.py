"""The server's built-in handlers: ``sum_event`` and ``ping``, as in the original datadivr."""

from __future__ import annotations

import math
from datetime import datetime, timezone

from datadivr.core._registry import HandlerType, Registry
from datadivr.demo import (
    PingMessage,
    PongMessage,
    PongPayload,
    SumEventMessage,
    SumHandlerResultMessage,
    websocket_handler,
)
from datadivr.exceptions import HandlerError

__all__ = ["builtin_registry", "ping_handler", "pong_handler", "sum_handler"]

#: Handlers a server runs unless the application registers its own for the same event.
builtin_registry = Registry()


@websocket_handler("sum_event", HandlerType.SERVER, registry=builtin_registry)
async def sum_handler(message: SumEventMessage) -> SumHandlerResultMessage:
    """Answer with the sum of the numbers; a sum too large for a float is an error."""
    try:
        total = math.fsum(message.payload.numbers)
    except OverflowError:
        total = math.inf
    if not math.isfinite(total):
        raise HandlerError("the sum is too large to represent")
    return SumHandlerResultMessage(payload=total)


@websocket_handler("ping", HandlerType.SERVER, registry=builtin_registry)
async def ping_handler(message: PingMessage) -> PongMessage:
    """Answer a ping with a pong that says when it arrived."""
    return PongMessage(
        payload=PongPayload(
            sent_at=message.payload.sent_at,
            received_at=datetime.now(timezone.utc),
            nonce=message.payload.nonce,
        )
    )


@websocket_handler("pong", HandlerType.SERVER, registry=builtin_registry)
async def pong_handler(message: PongMessage) -> None:
    """Accept the answers to the server's pings."""
    return None
