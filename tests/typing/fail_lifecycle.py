"""Lifecycle hooks with the wrong signature are rejected."""

from datadivr import ClientInfo, DisconnectInfo, HandlerContext, Registry, on_connect, on_disconnect
from datadivr.demo import Servicer

registry = Registry()


@on_connect  # E: arg-type
async def no_context(client: ClientInfo) -> None:
    pass


@on_connect  # E: arg-type
def not_async(client: ClientInfo, ctx: HandlerContext) -> None:
    pass


@on_connect  # E: arg-type
async def wants_disconnect_info(client: DisconnectInfo, ctx: HandlerContext) -> None:
    pass


@registry.on_disconnect  # E: arg-type
async def returns_something(client: DisconnectInfo, ctx: HandlerContext) -> int:
    return client.code


@on_disconnect  # E: arg-type
async def wrong_client(client: str, ctx: HandlerContext) -> None:
    pass


@registry.on_presence  # E: arg-type
async def wrong_change(change: ClientInfo, ctx: HandlerContext) -> None:
    pass


class Game(Servicer):
    async def on_connect(self, client: str, ctx: HandlerContext) -> None:  # E: override
        pass
