"""Correct uses of the typed client: mypy --strict must accept every line.

Type-checked by ``test_typing.py``, never imported or run: the coroutines are never called.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime, timezone
from typing import Any, Literal

from typing_extensions import assert_type

from datadivr import ClientState, HandlerContext, IncompatibleProtocolError, MessageBase
from datadivr.compat import ProtocolDiff
from datadivr.demo import (
    Client,
    MsgMessage,
    PingMessage,
    PongMessage,
    PongPayload,
    SumHandlerResultMessage,
)


async def check_the_servers_protocol() -> None:
    for policy in ("raise", "warn", "ignore"):
        async with Client("ws://127.0.0.1:8765/ws", on_incompatible=policy) as client:
            assert_type(client.on_incompatible, Literal["raise", "warn", "ignore"])
    try:
        await Client().connect()
    except IncompatibleProtocolError as exc:
        assert_type(exc.headline, str)
        assert_type(exc.diff, ProtocolDiff)
        assert_type(exc.server_fingerprint, str)
    assert_type(Client.protocol.fingerprint, str)


async def use_client() -> None:
    async with Client("ws://127.0.0.1:8765/ws") as client:
        assert_type(client, Client)
        assert_type(client.state, ClientState)
        assert_type(client.client_id, str | None)

        result = await client.sum_event([1, 2, 3], timeout=5)
        assert_type(result, SumHandlerResultMessage)
        assert_type(result.payload, float)
        assert_type(result.reply_to, str | None)
        assert_type(
            await client.sum_event(numbers=[0.5], to="server", message="please"),
            SumHandlerResultMessage,
        )

        # msg has no reply: the method answers nothing (assert_type on a coroutine would be
        # flagged as an un-awaited coroutine, so an annotated assignment checks it).
        sending: Coroutine[Any, Any, None] = client.msg("hi", to="all")
        await sending

        pong = await client.ping(datetime.now(timezone.utc), "n1", timeout=1.5)
        assert_type(pong, PongMessage)
        assert_type(pong.payload, PongPayload)
        assert_type(pong.payload.nonce, str | None)

        incoming = await client.receive(timeout=1)
        assert_type(incoming, MessageBase)
        async for message in client:
            assert_type(message, MessageBase)


async def connect_by_hand() -> None:
    client = await Client("ws://127.0.0.1:8765/ws", request_timeout=2).connect()
    assert_type(client, Client)
    await client.close()


def register(client: Client) -> Callable[[PongMessage], Awaitable[None]]:
    @client.on("pong")
    async def on_pong(message: PongMessage) -> None:
        assert_type(message.payload.received_at, datetime)

    @client.on("msg")
    async def on_msg(message: MsgMessage, ctx: HandlerContext) -> None:
        assert_type(ctx.client_id, str | None)

    @client.on("ping")
    async def on_ping(message: PingMessage) -> PongMessage:
        payload = PongPayload(
            sent_at=message.payload.sent_at, received_at=datetime.now(timezone.utc)
        )
        return PongMessage(payload=payload)

    @client.on("sum_handler_result")
    async def on_result(message: SumHandlerResultMessage) -> None:
        assert_type(message.payload, float)

    # The decorator hands back the function with its own type, not the wider handler alias.
    return on_pong
