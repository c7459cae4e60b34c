"""A server with a handler of its own: ``python examples/quickstart_server.py``."""

from datadivr import HandlerContext, HandlerType, create_app, run
from datadivr.demo import MsgMessage, SumEventMessage, SumHandlerResultMessage, websocket_handler


@websocket_handler("sum_event", HandlerType.SERVER)
async def add(message: SumEventMessage, ctx: HandlerContext) -> SumHandlerResultMessage:
    """Answer the sender with the sum, and tell everyone else about it."""
    total = sum(message.payload.numbers)
    await ctx.send(MsgMessage(message=f"{ctx.client_id} added up to {total}", to="others"))
    return SumHandlerResultMessage(payload=total)


app = create_app()  # or serve it with: uvicorn quickstart_server:app --port 8765

if __name__ == "__main__":
    run(app, host="127.0.0.1", port=8765)
