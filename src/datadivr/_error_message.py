"""The typed factory of ``error`` messages, as the original datadivr had."""

from __future__ import annotations

from collections.abc import Sequence

from datadivr.exceptions import Violation
from datadivr.protocol import ErrorDetail, ErrorMessage, ErrorPayload

__all__ = ["create_error_message"]


def create_error_message(
    message: str,
    to: str = "others",
    *,
    code: str = "handler_error",
    event_name: str | None = None,
    details: Sequence[Violation] = (),
    reply_to: str | None = None,
) -> ErrorMessage:
    """Create an ``error`` message with a human-readable ``message`` and a machine ``code``.

    Raises:
        pydantic.ValidationError: ``code`` is not one of the schema's error codes.
    """
    payload = ErrorPayload.model_validate(
        {
            "code": code,
            **({"event_name": event_name} if event_name is not None else {}),
            **(
                {"details": [ErrorDetail.model_validate(d.as_dict()) for d in details]}
                if details
                else {}
            ),
        }
    )
    data: dict[str, object] = {"message": message, "to": to, "payload": payload}
    if reply_to is not None:
        data["reply_to"] = reply_to
    return ErrorMessage.model_validate(data)
