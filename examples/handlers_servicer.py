"""A protocol's handlers as one class: ``python examples/handlers_servicer.py``."""

from datadivr import HandlerContext, HandlerError, create_app, run
from datadivr.demo import MsgMessage, Servicer, SumEventMessage, SumHandlerResultMessage


class Calculator(Servicer):
    """The methods overridden here handle their events; the others keep their default."""

    async def sum_event(
        self, message: SumEventMessage, ctx: HandlerContext
    ) -> SumHandlerResultMessage:
        if any(number < 0 for number in message.payload.numbers):
            # The sender gets an `error` (code handler_error) answering its request.
            raise HandlerError("this calculator adds non-negative numbers only")
        return SumHandlerResultMessage(payload=sum(message.payload.numbers))

    async def msg(self, message: MsgMessage, ctx: HandlerContext) -> None:
        # Handled here, so no longer relayed: everyone, the sender included, gets it shouted.
        text = (message.message or "").upper()
        await ctx.send(MsgMessage(message=f"{ctx.client_id}: {text}", to="all"))


app = create_app(servicer=Calculator())

if __name__ == "__main__":
    run(app, host="127.0.0.1", port=8765)
