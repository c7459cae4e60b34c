"""Correct uses of the server's requests: mypy --strict must accept every line, and knows the
type of each answer from the request's type.

Type-checked by ``test_typing.py``, never imported or run.
"""

from __future__ import annotations

from datetime import datetime, timezone

from typing_extensions import assert_type

from datadivr import HandlerContext, Server
from datadivr.demo import PingMessage, PingPayload, PongMessage, create_message


def ping() -> PingMessage:
    return PingMessage(payload=PingPayload(sent_at=datetime.now(timezone.utc)))


async def from_a_handler(ctx: HandlerContext, client_id: str) -> None:
    pong = await ctx.request(client_id, ping(), timeout=5)
    assert_type(pong, PongMessage)
    print(pong.payload.received_at)


async def from_a_background_task(server: Server, client_id: str) -> None:
    pong = await server.request(client_id, ping())
    assert_type(pong, PongMessage)
    made = create_message("ping", PingPayload(sent_at=datetime.now(timezone.utc)))
    assert_type(await server.request(client_id, made, timeout=None), PongMessage)
