"""Message factories: build a validated message from an event name and a payload."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import to_json

from datadivr.core._message import MessageBase
from datadivr.core._protocol import Protocol, validation_details
from datadivr.exceptions import MessageValidationError, ProtocolError

__all__ = ["build_message"]


def build_message(
    protocol: Protocol,
    event_name: str,
    payload: Any = None,
    *,
    to: str | None = None,
    message: str | None = None,
    id: str | None = None,
    reply_to: str | None = None,
) -> MessageBase:
    """Build a validated message of ``event_name``; unset envelope fields stay off the wire.

    Raises:
        ProtocolError: ``event_name`` is not an event of ``protocol``.
        MessageValidationError: the message fails its schema.
    """
    spec = protocol.events.get(event_name)
    if spec is None:
        raise ProtocolError("unknown_event", f"unknown event {event_name!r}", event_name=event_name)
    data: dict[str, Any] = {"event_name": event_name}
    for key, value in (
        ("payload", payload),
        ("to", to),
        ("message", message),
        ("id", id),
        ("reply_to", reply_to),
    ):
        if value is not None:
            data[key] = value
    try:
        if payload is None or isinstance(payload, BaseModel):
            return spec.message_type.model_validate(data)
        # Plain data (as decoded from JSON) is validated as JSON is, so a date-time or a UUID
        # may be given as its string, and nothing is coerced that the wire would refuse.
        return spec.message_type.model_validate_json(to_json(data))
    except ValidationError as exc:
        details = validation_details(exc)
        raise MessageValidationError(
            "validation_error",
            f"invalid {event_name!r} message: "
            + "; ".join(f"{d.path}: {d.reason}" for d in details),
            event_name=event_name,
            details=details,
        ) from None
