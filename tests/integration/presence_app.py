"""A cluster node whose lifecycle hooks make presence visible: each new client gets the
cluster's client list (``server.clients()``), everyone hears who joins and who leaves, on any
node, and the ``on_presence`` hook records what the node learns of the other nodes' clients
(``GET /presence``). The broker comes from ``DATADIVR_BROKER``; a short presence TTL."""

import json
import os

from datadivr import (
    ClientInfo,
    DisconnectInfo,
    HandlerContext,
    PresenceChange,
    Registry,
    create_app,
)
from datadivr.broker import RedisBackplane
from datadivr.demo import MsgMessage

registry = Registry()
app = create_app(
    registry=registry,
    broker=RedisBackplane(os.environ["DATADIVR_BROKER"], presence_ttl=1.5),
)
server = app.state.server


@registry.on_connect
async def roster(client: ClientInfo, ctx: HandlerContext) -> None:
    await ctx.send(MsgMessage(message="clients " + json.dumps(server.clients())))
    await ctx.send(MsgMessage(message=f"joined {client.client_id}", to="others"))


@registry.on_disconnect
async def farewell(client: DisconnectInfo, ctx: HandlerContext) -> None:
    await ctx.send(MsgMessage(message=f"left {client.client_id}", to="others"))


changes: list[tuple[str, str, bool]] = []


@registry.on_presence
async def record(change: PresenceChange, ctx: HandlerContext) -> None:
    changes.append((change.client_id, change.node, change.joined))


@app.get("/presence")
async def presence() -> list[tuple[str, str, bool]]:
    """What the on_presence hook was told, in order."""
    return changes
