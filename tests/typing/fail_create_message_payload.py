"""``create_message`` ties each event to its payload model."""

from datetime import datetime, timezone

from datadivr.demo import PingPayload, create_message

ping = PingPayload(sent_at=datetime.now(timezone.utc))
message = create_message("sum_event", ping)  # E: call-overload
raw = create_message("sum_event", {"numbers": [1.0]})  # E: call-overload
text_missing = create_message("msg")  # E: call-overload
