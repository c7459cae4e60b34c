"""A ``Servicer`` method keeps the event's message and reply types."""

from datetime import datetime, timezone

from datadivr import HandlerContext
from datadivr.demo import MsgMessage, PongMessage, PongPayload, Servicer, SumEventMessage


class WrongReply(Servicer):
    async def sum_event(  # E: override
        self, message: SumEventMessage, ctx: HandlerContext
    ) -> PongMessage:
        now = datetime.now(timezone.utc)
        return PongMessage(payload=PongPayload(sent_at=now, received_at=now))


class WrongMessage(Servicer):
    async def sum_event(self, message: MsgMessage, ctx: HandlerContext) -> None:  # E: override
        pass
