"""The server asks its clients: ``python examples/server_requests.py``.

A client sends ``msg`` to the server with another client's id as its text; the server pings
that client (a request of the server: it waits for the ``pong``) and answers with the round
trip. ``ping_everyone`` asks every client, as a background task holding the server would.
"""

import asyncio
from datetime import datetime, timezone

from datadivr import (
    ClientGoneError,
    HandlerContext,
    Registry,
    RemoteError,
    RequestTimeoutError,
    Server,
    UnknownClientError,
    create_app,
    run,
)
from datadivr.demo import MsgMessage, PingMessage, PingPayload, websocket_handler

registry = Registry()


def ping() -> PingMessage:
    return PingMessage(payload=PingPayload(sent_at=datetime.now(timezone.utc)))


@websocket_handler("msg", registry=registry)
async def round_trip(message: MsgMessage, ctx: HandlerContext) -> MsgMessage:
    other = (message.message or "").strip()
    try:
        # Typed: a PingMessage is answered with a PongMessage.
        pong = await ctx.request(other, ping(), timeout=5)
    except (UnknownClientError, ClientGoneError, RequestTimeoutError, RemoteError) as error:
        return MsgMessage(message=f"no pong from {other}: {error}")
    took = pong.payload.received_at - pong.payload.sent_at
    return MsgMessage(message=f"{other} answered in {took.total_seconds() * 1000:.0f} ms")


app = create_app(registry=registry)
server: Server = app.state.server  # the app's server, for tasks outside any handler


async def ping_everyone() -> dict[str, bool]:
    """Ping every client of this server at once: who answered."""
    clients = list(server.connections)
    answers = await asyncio.gather(
        *(server.request(client_id, ping(), timeout=5) for client_id in clients),
        return_exceptions=True,
    )
    return {
        client_id: not isinstance(answer, BaseException)
        for client_id, answer in zip(clients, answers, strict=True)
    }


if __name__ == "__main__":
    run(app, host="127.0.0.1", port=8765)
