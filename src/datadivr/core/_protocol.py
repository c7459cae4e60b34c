"""What a generated protocol package tells the runtime: its events and how to parse them."""

from __future__ import annotations

import gc
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import Enum
from functools import cached_property
from importlib import resources
from typing import Any

from pydantic import TypeAdapter, ValidationError
from pydantic_core import SchemaValidator, from_json

from datadivr.core._message import MessageBase
from datadivr.core._violations import (
    MAX_DETAILS,
    UNKNOWN,
    clip_reason,
    validation_details,
    violations,
)
from datadivr.exceptions import MessageValidationError, ProtocolError, Violation
from datadivr_codegen.terms import Direction, MessageText

__all__ = ["Direction", "EventSpec", "MessageText", "Protocol"]

#: The WebSocket subprotocol the server selects when a client offers it.
SUBPROTOCOL = "datadivr"
#: The response header of ``GET /events`` and ``GET /schema`` that holds the protocol's
#: :attr:`Protocol.fingerprint`.
FINGERPRINT_HEADER = "Datadivr-Fingerprint"
#: A frame with more array elements and object members than this (counted from above, at C
#: speed) is checked fail-fast: each array and map stops at its first failure, so that
#: refusing it costs no more than accepting it, however many of its values are wrong. Smaller
#: frames get every failure reported, each of the at most this many values failing. (A frame
#: of more characters than this is parsed fail-fast; only if it is refused are its items
#: counted, and it is checked again for every failure if they are few.)
EXHAUSTIVE_ITEMS = 2_000
#: The summary of an invalid message names this many failures and counts the others.
SHOWN_DETAILS = 3


@dataclass(frozen=True)
class EventSpec:
    """One event of a protocol.

    Attributes:
        name: The wire name.
        direction: Who may send it.
        reply: The event that answers it, if any.
        message_type: The generated message model.
        description: The schema's description.
        message_text: Whether the envelope's ``message`` text is required.
        example: A valid message of this event (``event_name``, ``payload`` and, when the
            event requires it, ``message``): the schema's first ``examples`` entry, or one the
            generator made and checked; ``None`` when it could make none (the schema has no
            ``examples``, and the generator's rules do not satisfy it).
    """

    name: str
    direction: Direction
    reply: str | None
    message_type: type[MessageBase]
    description: str = ""
    message_text: MessageText = field(kw_only=True)
    example: Mapping[str, Any] | None = field(kw_only=True)

    @property
    def payload_type(self) -> Any:
        """The type of the message's ``payload`` (a model, a plain type, or ``None``)."""
        return self.message_type.model_fields["payload"].annotation


@dataclass(frozen=True)
class Protocol:
    """A generated protocol: its events, the parser of its frames, and its bundled schema.

    Attributes:
        events: Every event by name.
        adapter: Parses a frame into the right message model in one pass.
        schema_hash: Hash of the schema files the package was generated from.
        package: The generated package, whose ``schema.json`` holds the bundled schema,
            ``asyncapi.json`` the AsyncAPI document and ``protocol.d.ts`` the TypeScript
            declarations.
        recorded_fingerprint: The compatibility fingerprint the generator recorded
            (``None`` for a package generated before it did: :attr:`fingerprint` then
            computes it from ``schema.json``).
    """

    events: Mapping[str, EventSpec]
    adapter: TypeAdapter[Any] = field(repr=False)
    schema_hash: str
    package: str
    recorded_fingerprint: str | None = field(default=None, repr=False)

    @classmethod
    def build(
        cls,
        events: Iterable[EventSpec],
        adapter: TypeAdapter[Any],
        *,
        schema_hash: str,
        package: str,
        fingerprint: str | None = None,
    ) -> Protocol:
        """Build a protocol from its events (used by generated code; packages generated
        before the fingerprint was recorded pass none)."""
        return cls({e.name: e for e in events}, adapter, schema_hash, package, fingerprint)

    @cached_property
    def fingerprint(self) -> str:
        """The protocol's compatibility fingerprint (see :func:`datadivr.compat.fingerprint`):
        equal for two protocols that accept the same messages in the same directions with the
        same replies. The one the generator recorded, else computed from ``schema.json``."""
        if self.recorded_fingerprint is not None:
            return self.recorded_fingerprint
        from datadivr.compat import fingerprint  # only packages older than the record need it

        return fingerprint(self.schema)

    @cached_property
    def schema(self) -> dict[str, Any]:
        """The whole protocol as one self-contained JSON Schema (draft 2020-12)."""
        text = resources.files(self.package).joinpath("schema.json").read_text(encoding="utf-8")
        data: dict[str, Any] = json.loads(text)
        return data

    @cached_property
    def asyncapi(self) -> dict[str, Any]:
        """The protocol as an AsyncAPI 3.0.0 document (the package's ``asyncapi.json``)."""
        text = resources.files(self.package).joinpath("asyncapi.json").read_text(encoding="utf-8")
        data: dict[str, Any] = json.loads(text)
        return data

    @cached_property
    def typescript(self) -> str:
        """The protocol's TypeScript declarations (the package's ``protocol.d.ts``): a type per
        message and definition, and the ``ClientFrame`` and ``ServerFrame`` unions.

        Raises:
            FileNotFoundError: the package was generated before datadivr wrote them.
        """
        return resources.files(self.package).joinpath("protocol.d.ts").read_text(encoding="utf-8")

    def event_schema(self, name: str) -> dict[str, Any]:
        """The self-contained schema of one event's message."""
        bundle = self.schema
        return {
            "$schema": bundle["$schema"],
            **bundle["$defs"][self.events[name].message_type.__name__],
            "$defs": bundle["$defs"],
        }

    def unknown_event(self, event_name: str) -> str:
        """The text of an error about an event this protocol does not have: it names the protocol
        (its package), so that a name looked up in the wrong one shows where it was looked up,
        and lists the events it has."""
        return (
            f"unknown event {event_name!r} in protocol {self.package!r}; "
            f"known: {', '.join(sorted(self.events))}"
        )

    @cached_property
    def _has_unions(self) -> bool:
        """Whether any model of the protocol has a union (``anyOf``) that is not the event's
        own: only then do error locations name union branches (see :func:`violations`)."""
        return _has_union(self.adapter.core_schema)

    @cached_property
    def _fail_fast(self) -> SchemaValidator | None:
        """The adapter's validator with every array and map made fail-fast, building the same
        models; ``None`` where pydantic cannot build one for these models, which are then
        checked by the adapter whatever their size."""
        try:
            models: set[type] = set()
            schema = _fail_fast_schema(self.adapter.core_schema, models)
            with _rebuilding(models):
                return SchemaValidator(schema)
        except Exception:  # a model shape pydantic-core refuses to rebuild: no shortcut
            return None

    def parse(self, frame: str | bytes) -> MessageBase:
        """Parse and validate one frame, by its wire names only.

        The cost of refusing a frame is bounded by its size, not by its number of failures:
        a large frame is checked fail-fast (see :data:`EXHAUSTIVE_ITEMS`), and at most
        :data:`MAX_DETAILS` failures are reported.

        Raises:
            ProtocolError: the frame is not JSON (``invalid_json``), not a message
                (``invalid_message``), or names an unknown event (``unknown_event``).
            MessageValidationError: the message fails its event's schema (``validation_error``).
        """
        if len(frame) <= EXHAUSTIVE_ITEMS or self._fail_fast is None:
            # Surely few items (one character at least each): every failure is reported.
            try:
                # The adapter's own validator: its ``validate_json`` minus a Python call.
                message: MessageBase = self.adapter.validator.validate_json(
                    frame, by_alias=True, by_name=False
                )
            except ValidationError as exc:
                raise self._classify(exc, frame) from None
            return message
        # A valid frame gives the same message either way: fail-fast, its items need not be
        # counted. Every object pydantic-core allocates for the message is reachable from it
        # until it is built, so that a collection meanwhile could free none of them; yet the
        # thousands of models, dicts and sets of a large frame would start one every 700
        # allocations, each going over all the young objects (a quarter of the time of a
        # 1,000-object scene). The collector is held off until the message is built.
        collecting = gc.isenabled()
        gc.disable()
        try:
            try:
                message = self._fail_fast.validate_json(frame, by_alias=True, by_name=False)
            finally:
                if collecting:
                    gc.enable()
        except ValidationError as exc:
            refused = exc
        else:
            return message
        if _few_items(frame, EXHAUSTIVE_ITEMS):
            # Few items after all: every failure is reported, as for a short frame.
            try:
                self.adapter.validator.validate_json(frame, by_alias=True, by_name=False)
            except ValidationError as exc:
                raise self._classify(exc, frame) from None
        raise self._classify(refused, frame, exhaustive=False) from None

    def validate(self, data: Mapping[str, Any]) -> MessageBase:
        """Validate a message given as a mapping, as decoded from JSON."""
        return self.parse(json.dumps(data))

    def refusal(self, frame: str | bytes) -> ProtocolError | None:
        """The error the server answers ``frame`` with when it refuses it as a message of
        this protocol (its JSON, its event, its schema; not its direction, see
        :func:`direction_error`), or ``None`` if the frame is a valid message.

        The server and the validating proxy (``datadivr proxy --enforce``) both answer with
        this, so that their answers are the same, byte for byte.
        """
        try:
            self.parse(frame)
        except ProtocolError as exc:
            return exc
        return None

    @cached_property
    def _reference(self) -> Any:
        """The reference validation of this protocol (:mod:`datadivr.validation`'s engine),
        imported and built on the first refused frame: a valid frame does not pay for it."""
        from datadivr.core._reference import Reference

        return Reference(self.schema)

    def _classify(
        self, exc: ValidationError, frame: str | bytes, *, exhaustive: bool = True
    ) -> ProtocolError:
        # Only the first errors are reported: a frame with a million bad items must not cost
        # a million error objects here.
        errors = _first_errors(exc, MAX_DETAILS)
        first = errors[0]
        kind = first["type"]
        if kind == "json_invalid":
            return frame_error(FrameFault.NOT_JSON, f"frame is not valid JSON: {first['msg']}")
        try:
            # What the models read leniently (NaN, half a surrogate pair) is no JSON to a
            # client in another language, nor to the reference validator.
            decode_frame(frame)
        except ValueError as bad:
            return frame_error(FrameFault.NOT_JSON, f"frame is not valid JSON: {bad}")
        refused: ProtocolError | None = None
        if kind in ("model_attributes_type", "dict_type", "model_type") and not first["loc"]:
            refused = envelope_error(_stand_in(frame), self)
        elif kind in ("union_tag_not_found", "union_tag_invalid") and not first["loc"]:
            data = _decoded(frame)
            refused = envelope_error(data if isinstance(data, dict) else {}, self)
        if refused is not None:
            return refused
        event_name = str(first["loc"][0]) if first["loc"] else None
        details: list[Violation] = []
        total: int | None = None
        if _few_items(frame, EXHAUSTIVE_ITEMS):
            # The reference validator's report: the very one /validate and `datadivr validate`
            # give. (A frame it finds valid, where it and the models differ, is left to the
            # models' errors below.)
            data = _decoded(frame)
            if event_name in self.events and data is not UNKNOWN:
                found, truncated = self._reference.check(event_name, data)
                details, exhaustive = list(found), not truncated
        if not details:
            total = exc.error_count()
            data = _decoded(frame) if self._has_unions else UNKNOWN
            details = violations(errors, skip=1, data=data)
            if data is not UNKNOWN:
                # Union branches' failures are left out: what is left is counted, and only
                # what was seen (a lower bound, if the errors were cut at MAX_DETAILS).
                exhaustive = exhaustive and total == len(errors) and len(details) < MAX_DETAILS
                total = None
        return frame_error(
            FrameFault.SCHEMA,
            invalid_text(f"{event_name!r} message", details, total=total, exhaustive=exhaustive),
            event_name=event_name,
            details=details,
        )


class FrameFault(Enum):
    """What is wrong with a frame that is refused before it is handled.

    :meth:`Protocol.refusal` (which the server and the validating proxy both answer with)
    finds the fault; :func:`frame_error` then decides the error code and the exception the
    sender is told of.
    """

    NOT_JSON = "not_json"
    """The frame is not JSON."""
    NOT_OBJECT = "not_object"
    """The frame is JSON, but not an object."""
    NO_EVENT_NAME = "no_event_name"
    """The object has no ``event_name``, or one that is not a string."""
    UNKNOWN_EVENT = "unknown_event"
    """The ``event_name`` is no event of the protocol."""
    WRONG_DIRECTION = "wrong_direction"
    """The event may not be sent this way (a client sending a server's event)."""
    SCHEMA = "schema"
    """The message fails its event's schema."""

    @property
    def code(self) -> str:
        """The ``error`` message's code for this fault."""
        return _FAULT_CODES[self]


_FAULT_CODES = {
    FrameFault.NOT_JSON: "invalid_json",
    FrameFault.NOT_OBJECT: "invalid_message",
    FrameFault.NO_EVENT_NAME: "invalid_message",
    FrameFault.UNKNOWN_EVENT: "unknown_event",
    FrameFault.WRONG_DIRECTION: "wrong_direction",
    FrameFault.SCHEMA: "validation_error",
}


def frame_error(
    fault: FrameFault,
    message: str,
    *,
    event_name: str | None = None,
    details: Sequence[Violation] = (),
) -> ProtocolError:
    """The error a refused frame is answered with: ``fault``'s code, and ``message``.

    Returns:
        A :class:`MessageValidationError` for a schema violation, else a
        :class:`ProtocolError`.
    """
    kind = MessageValidationError if fault is FrameFault.SCHEMA else ProtocolError
    return kind(fault.code, message, event_name=event_name, details=details)


#: The JSON type of a value, by its Python type as decoded from JSON.
_JSON_TYPES: tuple[tuple[Any, str], ...] = (
    (bool, "boolean"),
    (int | float, "number"),
    (str, "string"),
    (list, "array"),
    (Mapping, "object"),
    (type(None), "null"),
)


def json_type(value: object) -> str:
    """The JSON type of a decoded value: ``object``, ``array``, ``string`` …"""
    return next((name for kind, name in _JSON_TYPES if isinstance(value, kind)), "value")


def _stand_in(frame: str | bytes) -> object:
    """A value of the JSON type of a frame that is JSON, from its first character, without
    decoding it (only its type is told)."""
    text = frame.lstrip() if isinstance(frame, str) else frame.lstrip().decode("utf-8", "replace")
    return {"[": [], '"': "", "t": True, "f": False, "n": None, "{": {}}.get(text[:1], 0)


def envelope_error(data: object, protocol: Protocol) -> ProtocolError | None:
    """The error for a decoded frame that is no message of ``protocol`` at all: not an object
    (``invalid_message``), no ``event_name`` or one that is no string (``invalid_message``),
    or an event the protocol does not have (``unknown_event``); ``None`` otherwise.

    The server, the validating proxy and the reference validator all decide these with this
    function, and give the same code, text and one violation as ``details``.
    """
    if not isinstance(data, Mapping):
        text = f"a message must be a JSON object, not {_a(json_type(data))}"
        return frame_error(FrameFault.NOT_OBJECT, text, details=[Violation("$", text, "type")])
    if "event_name" not in data:
        return frame_error(
            FrameFault.NO_EVENT_NAME,
            "a message must have an 'event_name'",
            details=[Violation("$.event_name", "'event_name' is a required property", "required")],
        )
    name = data["event_name"]
    if not isinstance(name, str):
        text = f"'event_name' must be a string, not {_a(json_type(name))}"
        return frame_error(
            FrameFault.NO_EVENT_NAME, text, details=[Violation("$.event_name", text, "type")]
        )
    if name in protocol.events:
        return None
    shown = name if len(name) <= 64 else name[:63] + "…"
    return frame_error(
        FrameFault.UNKNOWN_EVENT,
        f"unknown event {shown!r}",
        event_name=shown,
        details=[
            Violation(
                "$.event_name",
                clip_reason(
                    f"{shown!r} is not one of the events of protocol {protocol.package!r}: "
                    + ", ".join(sorted(protocol.events))
                ),
                "enum",
            )
        ],
    )


def binary_error() -> ProtocolError:
    """The error for a binary frame (``invalid_message``): messages are JSON text. The server
    and the validating proxy both answer a binary frame with it."""
    return ProtocolError("invalid_message", "binary frames are not supported: send JSON as text")


def _a(noun: str) -> str:
    return f"an {noun}" if noun[:1] in "aeiou" else f"a {noun}"


def direction_error(
    event_name: str, direction: Direction, *, why: str | None = None
) -> ProtocolError:
    """The error for a client's message of an event that clients may not send
    (``wrong_direction``); ``why`` replaces the default text (the server says, for a
    ``client_reply`` event, that no request of its waits for the answer)."""
    return frame_error(
        FrameFault.WRONG_DIRECTION,
        why or f"clients may not send {event_name!r} ({direction.value})",
        event_name=event_name,
    )


def invalid_text(
    subject: str,
    details: Sequence[Violation],
    *,
    total: int | None = None,
    exhaustive: bool = True,
) -> str:
    """The summary of a validation failure: ``invalid 'x' message: $.a: reason; …``.

    The first :data:`SHOWN_DETAILS` failures are named and the rest counted.

    Args:
        subject: What is invalid (``"'sum_event' message"``, a payload model's name).
        details: The failures, in order.
        total: How many failures there are, when more than ``details`` (which may hold only
            the first ones).
        exhaustive: Whether the message was checked to the end; after a fail-fast check an
            array or map that failed was not checked past its first failure, so that the
            count is only a lower bound.
    """
    total = len(details) if total is None else total
    named = "; ".join(f"{d.path}: {d.reason}" for d in details[:SHOWN_DETAILS])
    if exhaustive:
        more = f" (and {total - SHOWN_DETAILS} more)" if total > SHOWN_DETAILS else ""
    else:
        more = (
            f" (and at least {total - SHOWN_DETAILS} more)"
            if total > SHOWN_DETAILS
            else " (and maybe more)"
        )
    return f"invalid {subject}: {named}{more}"


def invalid_error(
    subject: str,
    exc: ValidationError,
    *,
    event_name: str | None = None,
    prefix: tuple[str, ...] = (),
    data: Any = UNKNOWN,
) -> MessageValidationError:
    """The error for a message or payload built locally that fails its schema: every failure
    of ``exc`` as a :class:`Violation` (``prefix`` put before each path) and their summary;
    ``data`` is what was validated (see :func:`violations`)."""
    details = validation_details(exc, prefix=prefix, data=data)
    return MessageValidationError(
        "validation_error",
        invalid_text(subject, details),
        event_name=event_name,
        details=details,
    )


def _first_errors(exc: ValidationError, limit: int) -> list[Any]:
    """The first ``limit`` errors of ``exc``, without building a Python object for every one
    of the others (read from the error JSON, which pydantic writes in Rust)."""
    if exc.error_count() <= limit:
        return list(exc.errors(include_url=False, include_input=False))
    text = exc.json(include_url=False, include_input=False)
    decoder = json.JSONDecoder()
    errors: list[Any] = []
    index = text.index("[") + 1
    while len(errors) < limit:
        while text[index] in " ,\n\t":
            index += 1
        error, index = decoder.raw_decode(text, index)
        errors.append(error)
    return errors


def _few_items(frame: str | bytes, limit: int) -> bool:
    """Whether ``frame`` surely holds at most ``limit`` array elements and object members: their
    number is at most its commas plus its opening brackets (those in strings count too)."""
    if len(frame) <= limit:
        return True  # fewer characters than that
    if isinstance(frame, str):
        commas = frame.count(",")
        # A large frame has more commas than the limit alone: one pass over it, not three.
        return commas <= limit and commas + frame.count("[") + frame.count("{") <= limit
    commas = frame.count(b",")
    return commas <= limit and commas + frame.count(b"[") + frame.count(b"{") <= limit


#: Core schema types that take ``fail_fast``.
_CONTAINERS = frozenset(
    {"list", "tuple", "set", "frozenset", "dict", "generator", "deque", "counter"}
)


def _fail_fast_schema(node: Any, models: set[type]) -> Any:
    """A copy of a core schema with ``fail_fast`` set on every container; the classes of
    its models are added to ``models`` (see :func:`_rebuilding`)."""
    if isinstance(node, list):
        return [_fail_fast_schema(item, models) for item in node]
    if not isinstance(node, dict):
        return node
    copy = {
        key: value if key in ("metadata", "serialization") else _fail_fast_schema(value, models)
        for key, value in node.items()
    }
    kind = copy.get("type")
    if kind in _CONTAINERS:
        copy["fail_fast"] = True
    elif kind == "model" and isinstance(copy.get("cls"), type):
        models.add(copy["cls"])
    return copy


@contextmanager
def _rebuilding(models: Iterable[type]) -> Iterator[None]:
    """While a validator is built from a copy of these models' schemas: the models marked
    incomplete, as ``model_rebuild`` marks them.

    pydantic-core reuses the validator of a complete model wherever a schema names the model,
    whatever the schema says, so that the copy's containers would not be the ones validated.
    Nothing but the build runs meanwhile: it is Rust, holding the GIL.
    """
    complete = [model for model in models if model.__dict__.get("__pydantic_complete__")]
    for model in complete:
        type.__setattr__(model, "__pydantic_complete__", False)
    try:
        yield
    finally:
        for model in complete:
            type.__setattr__(model, "__pydantic_complete__", True)


def frame_field(frame: str | bytes, key: str) -> object:
    """The top-level ``key`` of a frame that failed to parse as a message, if it is a JSON
    object that has one (for correlating and naming the error)."""
    try:
        data = decode_frame(frame)
    except ValueError:  # no JSON (NaN and half surrogate pairs included): nothing to read
        return None
    return data.get(key) if isinstance(data, dict) else None


def decode_frame(frame: str | bytes) -> Any:
    """A frame's JSON, read as the models read it, and as strictly as the JSON standard
    (RFC 8259) has it: ``NaN`` and ``Infinity`` are no JSON, nor is a string escape of half
    a surrogate pair (``"\\ud800"``), which no Unicode text has.

    Raises:
        ValueError: the frame is not such JSON (also when nested deeper than the reader's
            limit); the message says where.
    """
    return from_json(frame, allow_inf_nan=False)


def _decoded(frame: str | bytes) -> Any:
    """The frame as JSON, or :data:`UNKNOWN` if it cannot be decoded (too deep)."""
    try:
        return json.loads(frame)
    except (ValueError, RecursionError):
        return UNKNOWN


def _has_union(schema: Any) -> bool:
    """Whether a core schema has a ``union`` node, or a ``tagged-union`` besides the one
    of the messages (by ``event_name``)."""
    stack = [schema]
    tagged = 0
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("type") == "tagged-union":
                tagged += 1
            if node.get("type") == "union" or tagged > 1:
                return True
            stack.extend(v for k, v in node.items() if k not in ("metadata", "serialization"))
        elif isinstance(node, list):
            stack.extend(node)
    return False
