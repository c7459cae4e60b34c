"""Message factories: build a validated message from an event name and a payload."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import to_json

from datadivr.core._message import MessageBase
from datadivr.core._protocol import Protocol, invalid_error
from datadivr.exceptions import ProtocolError

__all__ = ["build_message", "create_message"]

_P = ParamSpec("_P")
_R = TypeVar("_R")


def create_message(
    protocol: Protocol,
    event_name: str,
    payload: Any = None,
    *,
    to: str | None = None,
    message: str | None = None,
    id: str | None = None,
    reply_to: str | None = None,
) -> MessageBase:
    """Create a validated message of ``protocol``'s ``event_name``; unset envelope fields stay
    off the wire. A generated package's ``create_message`` is this, for its own protocol.

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
        raise invalid_error(
            f"{event_name!r} message", exc, event_name=event_name, data=data
        ) from None


def _renamed(func: Callable[_P, _R], old: str) -> Callable[_P, _R]:
    """``func`` under its ``old`` name, warning that the name is deprecated."""

    @functools.wraps(func)
    def alias(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        warnings.warn(
            f"{old} is deprecated: use {func.__name__}, its new name",
            DeprecationWarning,
            stacklevel=2,
        )
        return func(*args, **kwargs)

    alias.__name__ = alias.__qualname__ = old
    alias.__doc__ = f"Deprecated: the old name of :func:`{func.__name__}`."
    return alias


build_message = _renamed(create_message, "build_message")
"""Deprecated: the old name of :func:`create_message` (packages generated before it was
renamed call it)."""
