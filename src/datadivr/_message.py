"""Runtime bases of the generated models."""

from __future__ import annotations

from typing import Any

from pydantic import AfterValidator, BaseModel, ConfigDict
from pydantic_core import PydanticCustomError

__all__ = ["MessageBase", "NotNull", "Payload"]

_STRICT = ConfigDict(
    # Never laxer than the schema: no "1" -> 1, no false -> 0, no NaN or Infinity.
    strict=True,
    allow_inf_nan=False,
    validate_default=False,
    # Wire names (aliases, e.g. "from") on the way in and out; Python names in constructors too.
    validate_by_alias=True,
    validate_by_name=True,
    serialize_by_alias=True,
)


def _not_null(value: Any) -> Any:
    if value is None:
        raise PydanticCustomError(
            "not_null", "Input should not be null (leave the field out instead)"
        )
    return value


NotNull = AfterValidator(_not_null)
"""Metadata for an optional field whose schema refuses ``null``: absent is fine, null is not.

Defaults are not validated, so the field's default ``None`` (absent) passes.
"""


class Payload(BaseModel):
    """Base of every generated payload and shared-definition model."""

    model_config = _STRICT


class MessageBase(BaseModel):
    """Base of every generated message: the envelope's behaviour.

    Generated subclasses narrow ``event_name`` to a literal and ``payload`` to a model.
    """

    model_config = _STRICT

    event_name: str
    to: str
    from_id: str | None
    message: str | None
    id: str | None
    reply_to: str | None
    payload: Any

    def model_post_init(self, context: Any, /) -> None:
        # The event name always goes on the wire, even when it came from the class default.
        self.__pydantic_fields_set__.add("event_name")

    def to_json(self) -> str:
        """Serialize to the wire format: JSON text without the fields that were never set."""
        return self.model_dump_json(exclude_unset=True)

    def with_sender(self, from_id: str) -> MessageBase:
        """A copy whose ``from_id`` is ``from_id``, as the server stamps it."""
        return self.model_copy(update={"from_id": from_id})
