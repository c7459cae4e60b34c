"""Who is here: lifecycle hooks on a servicer (``python examples/lifecycle_hooks.py``)."""

from datadivr import ClientInfo, DisconnectInfo, HandlerContext, create_app, run
from datadivr.demo import MsgMessage, Servicer


class Lobby(Servicer):
    """Keeps the players connected to this server, and tells everyone who comes and goes."""

    def __init__(self) -> None:
        self.players: dict[str, str] = {}  # client id -> name

    async def on_connect(self, client: ClientInfo, ctx: HandlerContext) -> None:
        # After the client's welcome, before its first message is handled.
        name = client.identity.subject if client.identity is not None else client.client_id
        self.players[client.client_id] = name
        await ctx.send(MsgMessage(message=f"players: {', '.join(self.players.values())}"))
        await ctx.send(MsgMessage(message=f"{name} joined", to="others"))

    async def on_disconnect(self, client: DisconnectInfo, ctx: HandlerContext) -> None:
        # Once per connection, however it ended: closed, lost, evicted, server shut down.
        name = self.players.pop(client.client_id, client.client_id)
        await ctx.send(MsgMessage(message=f"{name} left (code {client.code})", to="others"))


app = create_app(servicer=Lobby())

if __name__ == "__main__":
    run(app, host="127.0.0.1", port=8765)
