"""``websocket_handler`` only accepts the protocol's event names.

The failed overload leaves the decorator untyped, which ``--strict`` reports on the same line.
"""

from datadivr.demo import SumEventMessage, websocket_handler


@websocket_handler("sum_events")  # E: call-overload, untyped-decorator
async def add_up(message: SumEventMessage) -> None:
    pass


register = websocket_handler("no_such_event")  # E: call-overload
