"""Lifecycle hooks as decorators on the default registry and on a registry, and on a servicer."""

from datadivr import (
    ClientInfo,
    DisconnectInfo,
    HandlerContext,
    PresenceChange,
    Registry,
    on_connect,
    on_disconnect,
)
from datadivr.demo import MsgMessage, Servicer

registry = Registry()


@on_connect
async def greet(client: ClientInfo, ctx: HandlerContext) -> None:
    await ctx.send(MsgMessage(message=f"welcome {client.client_id}", to="others"))


@on_disconnect
async def farewell(client: DisconnectInfo, ctx: HandlerContext) -> None:
    if client.code != 1000:
        await ctx.send(MsgMessage(message=f"{client.client_id} lost ({client.reason})", to="all"))


@registry.on_connect
async def count(client: ClientInfo, ctx: HandlerContext) -> None:
    print(client.identity, client.address)


@registry.on_disconnect
async def any_client(client: ClientInfo, ctx: HandlerContext) -> None:
    """A hook for any client takes a DisconnectInfo too (it is a ClientInfo)."""


class Game(Servicer):
    async def on_connect(self, client: ClientInfo, ctx: HandlerContext) -> None:
        pass

    async def on_disconnect(self, client: DisconnectInfo, ctx: HandlerContext) -> None:
        pass


@registry.on_presence
async def remote(change: PresenceChange, ctx: HandlerContext) -> None:
    state = "joined" if change.joined else "left"
    await ctx.send(MsgMessage(message=f"{change.client_id} {state} {change.node}", to="all"))
