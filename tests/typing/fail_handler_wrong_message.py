"""A ``sum_event`` handler must take a ``SumEventMessage``, not another event's message.

mypy names what it expected: the event's public handler protocols, not a private TypeVar.
"""

from datadivr.demo import MsgMessage, websocket_handler

# mypy says: No overload variant of "__call__" of "SumEventHandlerDecorator" matches argument type
# mypy says: "Callable[[MsgMessage], Coroutine[Any, Any, None]]"
# mypy says: [_SumEventHandlerT: SumEventHandler]
# mypy says: [_SumEventHandlerWithContextT: SumEventHandlerWithContext]


@websocket_handler("sum_event")  # E: call-overload
async def add_up(message: MsgMessage) -> None:
    pass
