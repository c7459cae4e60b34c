"""A handler's second parameter is the ``HandlerContext``: mypy names the protocol it expected."""

from datadivr.demo import SumEventMessage, websocket_handler

# mypy says: [_SumEventHandlerWithContextT: SumEventHandlerWithContext]


@websocket_handler("sum_event")  # E: call-overload
async def add_up(message: SumEventMessage, ctx: int) -> None:
    pass
