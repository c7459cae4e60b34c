"""One valid example message per event: for the docs, the explorer page and third parties.

An event's example payload is the first entry of its schema's ``examples`` keyword (every
entry must be a valid payload), or else one made from the schema:

- a value with ``examples``, ``const``, ``default`` or ``enum`` takes the first of them;
- an object has its required properties, and the optional ones that carry ``examples``;
- an array has ``minItems`` items (one at least, unless ``maxItems`` is 0);
- a string is ``"example"`` (or a timestamp, a UUID), fitted to its length and pattern;
- a number is the first of 1, 0, its bounds and the multiples of ``multipleOf`` next to them
  that satisfies them;
- an ``anyOf`` takes its first branch that gives a value (``null`` last), and an array whose
  items contain themselves and need not be there is empty.

Either way the message is checked against the published bundle before anything is written:
an example that is not valid is a :class:`~datadivr_codegen.errors.SchemaError`, and so is a
schema the rules above cannot satisfy (a pattern ``"example"`` does not match, say), which
asks for an ``examples`` entry and names the subschema, by its JSON pointer, that defeated them.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from datadivr_codegen.errors import SchemaError
from datadivr_codegen.schema import EventDef, SchemaSet
from datadivr_codegen.terms import MessageText

__all__ = ["EXAMPLE_TEXT", "example_messages"]

#: The ``message`` text of an example whose event requires one.
EXAMPLE_TEXT = "Example text."

_DEFS = "#/$defs/"
#: Deeper than this, a made example gives up (a definition that contains itself).
_MAX_DEPTH = 32
_STRINGS = ("example", "a", "A", "0", "example-1", "example_1", "x1")
_FORMATS = {
    "date-time": "2026-01-01T12:00:00Z",
    "uuid": "3f2b8c1e-5a4d-4e6f-9b7a-0c1d2e3f4a5b",
}


class _NoExample(Exception):
    """The schema at hand defeats the rules: the reason says which keyword."""


def example_messages(schemas: SchemaSet, bundle: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """A valid example message of every event, by event name.

    Args:
        schemas: The checked schema folder.
        bundle: Its published bundle (:func:`~datadivr_codegen.bundle.protocol_bundle`),
            which every example must satisfy.

    Raises:
        SchemaError: an ``examples`` entry is not a valid payload, or no example can be made.
    """
    return {event.name: _example(event, schemas, bundle) for event in schemas.events}


def _example(event: EventDef, schemas: SchemaSet, bundle: Mapping[str, Any]) -> dict[str, Any]:
    validator = Draft202012Validator(
        {"$ref": _DEFS + event.message_class, "$defs": bundle["$defs"]},
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )
    given = event.payload_schema.get("examples")
    if isinstance(given, list) and given:
        for i, payload in enumerate(given):
            problem = _problem(validator, _message(event, payload))
            if problem is not None:
                raise SchemaError(f"examples[{i}] is not a valid payload: {problem}", event.file)
        return _message(event, given[0])
    maker = _Maker(schemas.definitions)
    try:
        payload = maker.value(event.payload_schema, 0)
    except Exception as exc:
        # Besides _NoExample, whatever a schema the rules do not expect makes them raise (a
        # pattern Python cannot compile, a bound too large for a float ...) is the schema's
        # fault too: a SchemaError that says where, never a traceback.
        reason = str(exc) if isinstance(exc, _NoExample) else f"{type(exc).__name__}: {exc}"
        raise SchemaError(
            f"cannot make an example payload at {maker.pointer()} ({reason}): give the event "
            "an 'examples' entry",
            event.file,
        ) from None
    message = _message(event, payload)
    problem = _problem(validator, message)
    if problem is not None:
        raise SchemaError(
            f"the example payload made from the schema is not valid ({problem}): give the "
            "event an 'examples' entry",
            event.file,
        )
    return message


def _message(event: EventDef, payload: Any) -> dict[str, Any]:
    message: dict[str, Any] = {"event_name": event.name, "payload": copy.deepcopy(payload)}
    if event.message_text is MessageText.REQUIRED:
        message["message"] = EXAMPLE_TEXT
    return message


def _problem(validator: Draft202012Validator, message: dict[str, Any]) -> str | None:
    try:
        error = best_match(validator.iter_errors(message))
    except Exception as exc:  # a pattern Python's re cannot compile, say
        return f"the schema cannot be checked: {type(exc).__name__}: {exc}"
    if error is None:
        return None
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    return f"at ${path}: {error.message}"


class _Root(str):
    """A JSON pointer where :attr:`_Maker.path` starts again (a ``$ref``'s target)."""

    __slots__ = ()


class _Maker:
    """Makes a value for a schema of the supported keywords (:mod:`datadivr_codegen.keywords`)."""

    def __init__(self, definitions: Mapping[str, Any]) -> None:
        self.definitions = definitions
        #: The definitions being made, outermost first: one met again contains itself.
        self.expanding: list[str] = []
        #: Where the value being made is, as JSON pointer tokens from the payload's schema (a
        #: ``$ref`` starts again at its definition); left where a failure happened.
        self.path: list[str] = []

    def pointer(self) -> str:
        """Where the value being made is, as a JSON pointer."""
        start = max((i for i, t in enumerate(self.path) if isinstance(t, _Root)), default=-1)
        head = self.path[start] if start >= 0 else "#"
        tokens = [t.replace("~", "~0").replace("/", "~1") for t in self.path[start + 1 :]]
        return "/".join([head, *tokens])

    def at(self, *tokens: object) -> None:
        self.path.extend(str(t) for t in tokens)

    def back(self, length: int) -> None:
        del self.path[length:]

    def value(self, schema: Any, depth: int) -> Any:
        if depth > _MAX_DEPTH:
            raise _NoExample("a definition contains itself")
        if not isinstance(schema, Mapping):
            return None
        for key in ("examples", "enum"):
            if isinstance(schema.get(key), list) and schema[key]:
                return copy.deepcopy(schema[key][0])
        for key in ("const", "default"):
            if key in schema:
                return copy.deepcopy(schema[key])
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith(_DEFS):
            name = ref.removeprefix(_DEFS)
            if name in self.expanding:
                raise _NoExample(f"the definition {name} contains itself")
            self.expanding.append(name)
            mark = len(self.path)
            self.path.append(_Root("#/$defs/" + name))
            try:
                made = self.value(self.definitions[name], depth + 1)
            finally:
                self.expanding.pop()
            self.back(mark)
            return made
        if "anyOf" in schema:
            return self.first(schema["anyOf"], depth)
        if "allOf" in schema:
            return self.object(self.merged(schema), depth)
        kind = _kind(schema)
        if kind == "object":
            return self.object(schema, depth)
        if kind == "array":
            return self.array(schema, depth)
        if kind == "string":
            return _string(schema)
        if kind in ("integer", "number"):
            return _number(schema, integer=kind == "integer")
        if kind == "boolean":
            return True
        return None

    def merged(self, schema: Mapping[str, Any], depth: int = 0) -> dict[str, Any]:
        """The object schema that ``schema``'s ``allOf`` members (and theirs) and its own
        properties add up to."""
        if depth > _MAX_DEPTH:
            raise _NoExample("a definition contains itself")
        properties: dict[str, Any] = {}
        required: list[str] = []
        for member in schema.get("allOf", ()):
            ref = member.get("$ref", "")
            part = self.merged(self.definitions.get(ref.removeprefix(_DEFS), member), depth + 1)
            properties.update(part["properties"])
            required.extend(part["required"])
        properties.update(schema.get("properties", {}))
        required.extend(schema.get("required", ()))
        return {"type": "object", "properties": properties, "required": required}

    def object(self, schema: Mapping[str, Any], depth: int) -> dict[str, Any]:
        required = set(schema.get("required", ()))
        made = {}
        mark = len(self.path)
        for name, prop in schema.get("properties", {}).items():
            if name in required or (isinstance(prop, Mapping) and prop.get("examples")):
                self.at("properties", name)
                made[name] = self.value(prop, depth + 1)
                self.back(mark)
        return made

    def first(self, branches: list[Any], depth: int) -> Any:
        """The value of the first ``anyOf`` branch that has one, ``null`` ones last."""
        reason = _NoExample("no branch of anyOf")
        mark = len(self.path)
        failed: list[str] = []
        order = sorted(range(len(branches)), key=lambda i: _kind(branches[i]) == "null")
        for index in order:
            self.at("anyOf", index)
            try:
                made = self.value(branches[index], depth + 1)
            except _NoExample as exc:  # a branch that contains itself, say: try the next
                reason = exc
                failed = self.path[mark:]
                self.back(mark)
                continue
            self.back(mark)
            return made
        self.path[mark:] = failed
        raise reason

    def array(self, schema: Mapping[str, Any], depth: int) -> list[Any]:
        least = _count(schema, "minItems") or 0
        count = max(least, 1)
        most = _count(schema, "maxItems")
        if most is not None:
            count = min(count, most)
        mark = len(self.path)
        self.at("items")
        try:
            made = [self.value(schema.get("items", {}), depth + 1) for _ in range(count)]
        except _NoExample:
            if least == 0:  # an item that contains itself: the array may stay empty
                self.back(mark)
                return []
            raise
        self.back(mark)
        return made


def _kind(schema: Any) -> str | None:
    """The schema's type, the one besides ``"null"`` when it allows two."""
    if not isinstance(schema, Mapping):
        return None
    kind = schema.get("type")
    if isinstance(kind, list):
        others = [k for k in kind if k != "null"]
        return others[0] if others else "null"
    return kind if isinstance(kind, str) else None


def _string(schema: Mapping[str, Any]) -> str:
    if schema.get("format") in _FORMATS:
        return _FORMATS[schema["format"]]
    low = _count(schema, "minLength") or 0
    high = _count(schema, "maxLength")
    pattern = schema.get("pattern")
    for candidate in _STRINGS:
        text = candidate + "x" * max(low - len(candidate), 0)
        if high is not None:
            text = text[:high]
        if pattern is None or re.search(pattern, text):
            return text
    raise _NoExample(f"no simple string matches the pattern {pattern!r}")


def _count(schema: Mapping[str, Any], key: str) -> int | None:
    """A count keyword's value as an ``int``: draft 2020-12 counts ``2.0`` as the integer 2."""
    value = schema.get(key)
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    raise _NoExample(f"{key} is {value!r}, not a non-negative integer")


def _number(schema: Mapping[str, Any], *, integer: bool) -> int | float:
    low, high = schema.get("minimum"), schema.get("maximum")
    above, below = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    step = schema.get("multipleOf")
    candidates: list[float] = [1, 0]
    for bound in (low, high):
        if bound is not None:
            candidates.append(bound)
    for bound, sign in ((above, 1), (below, -1)):
        if bound is not None:
            candidates.append(bound + sign)
            if integer:
                candidates.append(math.floor(bound) + sign if sign > 0 else math.ceil(bound) - 1)
    if above is not None and below is not None:
        candidates.append((above + below) / 2)
    if step:
        floors = [b for b in (low, above) if b is not None]
        ceilings = [b for b in (high, below) if b is not None]
        candidates.append(step)
        if floors:
            candidates += [math.ceil(max(floors) / step) * step + k * step for k in (0, 1)]
        if ceilings:
            candidates += [math.floor(min(ceilings) / step) * step - k * step for k in (0, 1)]
    for candidate in candidates:
        value: int | float = int(candidate) if integer else candidate
        if integer and value != candidate:
            continue
        if (
            (low is None or value >= low)
            and (high is None or value <= high)
            and (above is None or value > above)
            and (below is None or value < below)
            and (not step or (value / step).is_integer())
        ):
            return value
    raise _NoExample("no simple number satisfies the bounds")
