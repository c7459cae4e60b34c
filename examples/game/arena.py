"""The game's own handlers; `datadivr serve` imports this module ([tool.datadivr] import)."""

import asyncio

from game_protocol import (
    ActedMessage,
    ActedPayload,
    ActMessage,
    Build,
    ChatMessage,
    ChatPayload,
    JoinedMessage,
    JoinedPayload,
    JoinMessage,
    ReadyCheckMessage,
    ReadyCheckPayload,
    Team,
    websocket_handler,
)

from datadivr import ClientInfo, HandlerContext, on_connect

teams: dict[str, Team] = {}
asks: set[asyncio.Task[None]] = set()


@websocket_handler("join")
async def join(message: JoinMessage, ctx: HandlerContext) -> JoinedMessage:
    assert ctx.client_id is not None
    teams[ctx.client_id] = message.payload.team
    name = message.payload.nickname or ctx.client_id
    return JoinedMessage(payload=JoinedPayload(team=message.payload.team, name=name))


@websocket_handler("act")
async def act(message: ActMessage) -> ActedMessage:
    payload = message.payload
    if isinstance(payload, Build):
        summary = f"built a {payload.kind}"
    else:
        summary = f"shot {payload.target} with power {payload.power or 1}"
    return ActedMessage(payload=ActedPayload(summary=summary))


async def ask_ready(client_id: str, ctx: HandlerContext) -> None:
    answer = await ctx.request(
        client_id, ReadyCheckMessage(payload=ReadyCheckPayload(round=1)), timeout=10
    )
    text = f"ready: {answer.payload.ready}"
    await ctx.send(ChatMessage(payload=ChatPayload(text=text), to=client_id))


@on_connect
async def greet_player(client: ClientInfo, ctx: HandlerContext) -> None:
    # A hook runs before the client's first message is read: ask from a task of its own.
    task = asyncio.create_task(ask_ready(client.client_id, ctx))
    asks.add(task)
    task.add_done_callback(asks.discard)
