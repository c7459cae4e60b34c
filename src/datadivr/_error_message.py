"""The factory of ``error`` messages, as the original datadivr had, for any protocol."""

from __future__ import annotations

from collections.abc import Sequence

from datadivr.core._message import MessageBase
from datadivr.core._protocol import Protocol
from datadivr.exceptions import Violation

__all__ = ["create_error_message"]


def create_error_message(
    message: str,
    to: str = "others",
    *,
    code: str = "handler_error",
    event_name: str | None = None,
    details: Sequence[Violation] = (),
    reply_to: str | None = None,
    protocol: Protocol | None = None,
) -> MessageBase:
    """Create an ``error`` message with a human-readable ``message`` and a machine ``code``.

    Args:
        message: The text for people.
        to: The recipients.
        code: One of the schema's error codes.
        event_name: The event the error is about.
        details: The violations, for a refused message.
        reply_to: The id of the request this answers.
        protocol: The protocol whose ``error`` event to build (its generated ``PROTOCOL``);
            :mod:`datadivr.demo`'s when omitted.

    Raises:
        KeyError: the protocol has no ``error`` event.
        pydantic.ValidationError: ``code`` is not one of the schema's error codes.
    """
    if protocol is None:
        from datadivr.demo import PROTOCOL

        protocol = PROTOCOL
    payload: dict[str, object] = {"code": code}
    if event_name is not None:
        payload["event_name"] = event_name
    if details:
        payload["details"] = [d.as_dict() for d in details]
    data: dict[str, object] = {"message": message, "to": to, "payload": payload}
    if reply_to is not None:
        data["reply_to"] = reply_to
    return protocol.events["error"].message_type.model_validate(data)
