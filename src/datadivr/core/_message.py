"""Runtime bases of the generated models, and the types and checks they use.

Besides the bases (:class:`Payload`, :class:`MessageBase`) and :data:`NotNull`, generated
``models.py`` files import plumbing that is not part of the public API:

- :data:`AwareDatetime` and :data:`UUID`, the types of ``"format": "date-time"`` and
  ``"format": "uuid"`` strings: pydantic's own types with the text checked as the schema's
  format defines it (pydantic alone also takes a Unix time or a UUID without hyphens);
- :data:`ExactLiteral`, the marker of an ``enum`` or ``const`` that holds a number or a boolean:
  pydantic's ``Literal`` alone takes ``true`` for ``1`` and ``0`` for ``false``.
"""

from __future__ import annotations

import functools
import re
import uuid as _uuid
from datetime import datetime
from typing import Annotated, Any, Literal, TypeAlias

from pydantic import AwareDatetime as _AwareDatetime
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    GetCoreSchemaHandler,
    Strict,
    TypeAdapter,
    ValidationError,
)
from pydantic.main import IncEx
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

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
    # An object schema without "additionalProperties": false allows other properties: keep
    # them, so that a relayed message loses nothing. Closed schemas generate extra="forbid".
    extra="allow",
    # A property may be called anything, "model_x" too: the generator renames the few fields
    # that would hide a BaseModel attribute ("model_dump" -> model_dump_, with its alias), so
    # pydantic's warning about the "model_" prefix says nothing about generated models.
    protected_namespaces=(),
)


def _not_null(value: Any) -> Any:
    if value is None:
        raise PydanticCustomError(
            "not_null", "Input should not be null (leave the field out instead)"
        )
    return value


#: Core schema types that refuse ``null`` with a ``*_type`` error of their own: the JSON type
#: the schema names (a union, a literal or a format would name another keyword).
_TYPED = frozenset(
    {"str", "int", "float", "bool", "list", "tuple", "set", "frozenset", "dict", "model"}
)


def _typed(schema: CoreSchema, handler: GetCoreSchemaHandler) -> bool:
    if schema["type"] == "definition-ref":
        try:  # a model, most often, defined before (else it is not known yet: no)
            schema = handler.resolve_ref_schema(schema)
        except LookupError:
            return False
    return schema["type"] in _TYPED


class _NotNull:
    """Makes an optional field refuse ``null``: where pydantic made its type ``X`` nullable
    and ``X`` refuses ``null`` as a wrong type, ``X`` itself (the ``None`` that ``X | None``
    adds is only the default, which is never validated); else a check after it."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        schema = handler(source)
        if schema["type"] == "nullable":
            inner: CoreSchema = schema["schema"]
            if _typed(inner, handler):
                # ``null`` fails in pydantic-core then, as any value of the wrong type: no
                # call into Python for every value, as a check after it makes (three for
                # each object of a scene). X's serializer writes the default as ``null``.
                return inner
        return core_schema.no_info_after_validator_function(_not_null, schema)


NotNull = _NotNull()
"""Metadata for an optional field whose schema refuses ``null``: absent is fine, null is not.

Defaults are not validated, so the field's default ``None`` (absent) passes.
"""

# RFC 3339 ``date-time``, as JSON Schema's format defines it: a "T" (or "t") between date and
# time, seconds, and a "Z" or a numeric offset. Values (month 13, second 61...) are pydantic's.
_DATE_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:[Zz]|[+-][0-9]{2}:[0-9]{2})"
)
# RFC 4122 (9562) text form: 32 hex digits in groups of 8-4-4-4-12, nothing around them.
_UUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")


def _text_check(
    python_type: type, pattern: re.Pattern[str], kind: str, expected: str
) -> BeforeValidator:
    """Take a ``python_type`` object, or text that matches ``pattern`` (which pydantic, in lax
    mode, then parses); refuse anything else."""

    def check(value: Any) -> Any:
        if isinstance(value, python_type):
            return value
        if isinstance(value, str) and pattern.fullmatch(value) is not None:
            return value
        raise PydanticCustomError(kind, "Input should be " + expected)

    return BeforeValidator(check)


# A validator function hands pydantic a Python str, which strict mode refuses for a datetime or
# a UUID: hence lax parsing (Strict(False)) behind a check that lets only the right text through.
AwareDatetime: TypeAlias = Annotated[
    _AwareDatetime,
    Strict(False),
    _text_check(
        datetime,
        _DATE_TIME,
        "datetime_parsing",
        "an RFC 3339 date-time with a time zone, e.g. 2024-05-01T12:00:00Z",
    ),
]
"""A ``"format": "date-time"`` value: a timezone-aware ``datetime``, from RFC 3339 text only."""

UUID: TypeAlias = Annotated[
    _uuid.UUID,
    Strict(False),
    _text_check(
        _uuid.UUID,
        _UUID,
        "uuid_parsing",
        "a UUID as 8-4-4-4-12 hex digits, e.g. 0b5e5c8e-2f64-4c39-9a8b-6a1f0f5d2c11",
    ),
]
"""A ``"format": "uuid"`` value: a ``uuid.UUID``, from its hyphenated text form only."""


@functools.cache
def _adapter(kind: str) -> TypeAdapter[Any]:
    return TypeAdapter(AwareDatetime if kind == "date-time" else UUID)


def _takes(kind: str, value: object) -> bool:
    if not isinstance(value, str):
        return True  # a format applies to strings only
    try:
        _adapter(kind).validate_python(value)
    except ValidationError:
        return False
    return True


def is_date_time(value: object) -> bool:
    """Whether a string is a ``"format": "date-time"`` value, exactly as the models decide it:
    the same :data:`AwareDatetime` checks the text, then parses it (no month 13, no second 61).

    The reference validator (:mod:`datadivr.validation`) asserts the format with this function,
    so that it and the models accept and refuse the same messages. Not a string: ``True``.
    """
    return _takes("date-time", value)


def is_uuid(value: object) -> bool:
    """Whether a string is a ``"format": "uuid"`` value, exactly as the models decide it (the
    same :data:`UUID`). Not a string: ``True``."""
    return _takes("uuid", value)


def _expected(values: tuple[Any, ...]) -> str:
    shown = [repr(v) for v in values]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " or " + shown[-1]


class _ExactLiteral:
    """Makes a ``Literal`` with numbers or booleans tell ``true`` from ``1``, ``false`` from ``0``.

    A boolean input must be one of the literal's booleans, a number one of its numbers (``1.0``
    is ``1``, as in JSON Schema); anything else is left to pydantic's ``Literal``.
    """

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        values: tuple[Any, ...] = getattr(source, "__args__", ())
        booleans = [v for v in values if isinstance(v, bool)]
        numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
        message = "Input should be " + _expected(values)

        def validate(value: Any, inner: core_schema.ValidatorFunctionWrapHandler) -> Any:
            if isinstance(value, bool):
                for candidate in booleans:
                    if candidate is value:
                        return value
                raise PydanticCustomError("literal_error", message)
            if isinstance(value, (int, float)):
                for number in numbers:
                    if number == value:
                        return number
                raise PydanticCustomError("literal_error", message)
            return inner(value)

        return core_schema.no_info_wrap_validator_function(validate, handler(source))


ExactLiteral = _ExactLiteral()
"""Metadata of a generated ``Literal`` that holds a number or a boolean."""


class _WireModel(BaseModel):
    """What generated models share: they dump what goes on the wire.

    ``model_dump()``, ``model_dump(mode="json")`` and ``model_dump_json()`` leave out the
    fields that were never set (``exclude_unset=True`` by default, nested models too) and use
    the wire names: an optional field left out is absent, not ``null``, which a schema that
    refuses ``null`` would reject. A field set explicitly, ``None`` included, is written.
    Pass ``exclude_unset=False`` for every field with its default.

    (Overriding the two methods, not a ``model_serializer``: that would run Python for every
    model of every message sent, and the send path, :meth:`MessageBase.to_json`, calls the
    serializer with ``exclude_unset=True`` itself.)
    """

    model_config = _STRICT

    def model_dump(
        self,
        *,
        mode: Literal["json", "python"] | str = "python",
        include: IncEx | None = None,
        exclude: IncEx | None = None,
        by_alias: bool | None = None,
        exclude_unset: bool = True,
        exclude_defaults: bool = False,
        exclude_none: bool = False,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """The model as a dict of what goes on the wire: fields never set are left out.

        Takes pydantic's keyword arguments (``context``, ``round_trip`` … too); only the
        default of ``exclude_unset`` differs.
        """
        return super().model_dump(
            mode=mode,
            include=include,
            exclude=exclude,
            by_alias=by_alias,
            exclude_unset=exclude_unset,
            exclude_defaults=exclude_defaults,
            exclude_none=exclude_none,
            **kwargs,
        )

    def model_dump_json(
        self,
        *,
        indent: int | None = None,
        include: IncEx | None = None,
        exclude: IncEx | None = None,
        by_alias: bool | None = None,
        exclude_unset: bool = True,
        exclude_defaults: bool = False,
        exclude_none: bool = False,
        **kwargs: Any,
    ) -> str:
        """The model as JSON text, as it goes on the wire: fields never set are left out.

        Takes pydantic's keyword arguments (``context``, ``round_trip`` … too); only the
        default of ``exclude_unset`` differs.
        """
        return super().model_dump_json(
            indent=indent,
            include=include,
            exclude=exclude,
            by_alias=by_alias,
            exclude_unset=exclude_unset,
            exclude_defaults=exclude_defaults,
            exclude_none=exclude_none,
            **kwargs,
        )


class Payload(_WireModel):
    """Base of every generated payload and shared-definition model.

    ``model_dump()`` and ``model_dump_json()`` give what goes on the wire: fields never set
    are left out.
    """


class MessageBase(_WireModel):
    """Base of every generated message: the envelope's behaviour.

    Generated subclasses narrow ``event_name`` to a literal and ``payload`` to a model.
    ``model_dump()``, ``model_dump_json()`` and :meth:`to_json` give what goes on the wire:
    fields never set are left out, in the payload too.
    """

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
        """Serialize to the wire format: JSON text without the fields that were never set
        (the same text as ``model_dump_json()``)."""
        # The serializer itself: ``model_dump_json`` with the same defaults, minus the Python
        # calls that forward a dozen keyword arguments (this runs once per message).
        return self.__pydantic_serializer__.to_json(self, exclude_unset=True).decode()

    def with_sender(self, from_id: str) -> MessageBase:
        """A copy whose ``from_id`` is ``from_id``, as the server stamps it."""
        return self.model_copy(update={"from_id": from_id})
