"""The chat room's server: ``python examples/chatroom/server.py``, once its protocol package is
generated (``datadivr generate --schema examples/chatroom/schema --out
examples/chatroom/chatroom_protocol``)."""

from chatroom_protocol import (
    PROTOCOL,
    JoinMessage,
    Member,
    RosterMessage,
    RosterPayload,
    Servicer,
    StatusMessage,
    StatusPayload,
)

from datadivr import HandlerContext, HandlerError, create_app, run


class ChatRoom(Servicer):
    """Handles ``join`` and ``status``; ``say`` and ``typing``, not handled, are relayed."""

    def __init__(self) -> None:
        self.nicks: dict[str, str] = {}  # by client id; a longer example would forget leavers

    async def join(self, message: JoinMessage, ctx: HandlerContext) -> RosterMessage:
        assert ctx.client_id is not None  # a server handler always knows its sender
        self.nicks[ctx.client_id] = message.payload.nick
        here = StatusPayload(nick=message.payload.nick, state="here")
        await ctx.send(StatusMessage(payload=here, to="others"))
        members = [Member(client_id=client, nick=nick) for client, nick in self.nicks.items()]
        return RosterMessage(payload=RosterPayload(members=members))

    async def status(self, message: StatusMessage, ctx: HandlerContext) -> None:
        nick = self.nicks.get(ctx.client_id or "")
        if nick is None:
            raise HandlerError("join first")
        # Passed on to the others, under the nick the sender joined with.
        update = message.payload.model_copy(update={"nick": nick})
        await ctx.send(StatusMessage(payload=update, to="others"))


app = create_app(protocol=PROTOCOL, servicer=ChatRoom())

if __name__ == "__main__":
    run(app, host="127.0.0.1", port=8765)
