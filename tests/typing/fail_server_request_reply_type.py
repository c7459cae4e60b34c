"""A server request's answer has its reply's type: ``ping`` is answered with ``pong``, and a
message without a reply is no request."""

from __future__ import annotations

from datetime import datetime, timezone

from datadivr import HandlerContext, Server
from datadivr.demo import (
    MsgMessage,
    PingMessage,
    PingPayload,
    SumEventMessage,
    SumEventPayload,
    SumHandlerResultMessage,
)


async def ask(ctx: HandlerContext, server: Server, client_id: str) -> None:
    ping = PingMessage(payload=PingPayload(sent_at=datetime.now(timezone.utc)))
    wrong: SumHandlerResultMessage = await ctx.request(client_id, ping)  # E: arg-type
    await server.request(client_id, MsgMessage(message="hi"))  # E: arg-type
    sums = SumEventMessage(payload=SumEventPayload(numbers=[1.0]))
    await ctx.request(client_id, sums)  # E: arg-type
    await server.request(client_id, ping, timeout="soon")  # E: arg-type
    print(wrong)
