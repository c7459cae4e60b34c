"""Handlers must be ``async``: a plain function is not awaitable."""

from datadivr.demo import SumEventMessage, SumHandlerResultMessage, websocket_handler

# mypy says: "SumEventHandlerDecorator"
# mypy says: [_SumEventHandlerT: SumEventHandler]


@websocket_handler("sum_event")  # E: call-overload
def add_up(message: SumEventMessage) -> SumHandlerResultMessage:
    return SumHandlerResultMessage(payload=sum(message.payload.numbers))
