"""Handlers must be ``async``: a plain function is not awaitable."""

from datadivr.demo import SumEventMessage, SumHandlerResultMessage, websocket_handler


@websocket_handler("sum_event")  # E: type-var
def add_up(message: SumEventMessage) -> SumHandlerResultMessage:
    return SumHandlerResultMessage(payload=sum(message.payload.numbers))
