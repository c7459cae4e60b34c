"""A ``sum_event`` handler may only answer with ``sum_handler_result`` (or nothing)."""

from datetime import datetime, timezone

from datadivr.demo import PongMessage, PongPayload, SumEventMessage, websocket_handler

# mypy says: "SumEventHandlerDecorator"
# mypy says: [_SumEventHandlerT: SumEventHandler]


@websocket_handler("sum_event")  # E: call-overload
async def add_up(message: SumEventMessage) -> PongMessage:
    now = datetime.now(timezone.utc)
    return PongMessage(payload=PongPayload(sent_at=now, received_at=now))
