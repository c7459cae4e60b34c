"""A ``sum_event`` handler must take a ``SumEventMessage``, not another event's message."""

from datadivr.demo import MsgMessage, websocket_handler


@websocket_handler("sum_event")  # E: type-var
async def add_up(message: MsgMessage) -> None:
    pass
