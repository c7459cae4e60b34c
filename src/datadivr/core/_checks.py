"""Compiled JSON Schema checks of the subschemas a Python type cannot say exactly.

A generated model types every value as exactly as Python can: a class per object schema, a
``Literal`` per ``enum``, ``Annotated[int, Field(ge=0)]`` per bounded integer. What no type can
say (``oneOf``'s "exactly one", ``not``, ``if``/``then``/``else``, ``uniqueItems``,
``patternProperties``, a ``$ref`` back to the payload itself, ...) the generator leaves to a
check: the value is typed as loosely as the schema allows (``str | int``, ``list[Any]``,
``dict[str, Any]``, ``Any``) and annotated with a :class:`SchemaCheck` of that subschema,
which validates it with `jsonschema-rs <https://github.com/Stranger6667/jsonschema>`_
against the package's own published ``schema.json``: the very document the reference
validator and third-party clients read.

A package's checks are compiled once, on first use, from one registry of its bundle; a
failure becomes one pydantic error of kind :data:`CHECK_KIND` whose context lists each
failure (path into the value, JSON Schema keyword, reason), which the protocol core turns
into one :class:`~datadivr.exceptions.Violation` each.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from pydantic import BaseModel, GetCoreSchemaHandler, model_validator
from pydantic_core import CoreSchema, PydanticCustomError, core_schema, to_jsonable_python

__all__ = ["CHECK_KIND", "MAX_FAILURES", "SchemaCheck", "SchemaChecks"]

#: The pydantic error type of a failed check; its context's ``failures`` lists
#: ``(path, keyword, reason)`` triples, ``path`` a list of keys and indexes into the value.
CHECK_KIND = "json_schema"
#: At most this many failures of one check are kept (the protocol core reports at most
#: :data:`~datadivr.core._protocol.MAX_DETAILS` in all).
MAX_FAILURES = 100

_BASE_URI = "urn:datadivr:schema"


class SchemaChecks:
    """The checks of one generated package, compiled from its ``schema.json`` on first use.

    Args:
        module_file: The generated ``models.py`` (its ``__file__``); ``schema.json`` is
            read beside it.
    """

    def __init__(self, module_file: str) -> None:
        self._path = Path(module_file).with_name("schema.json")
        self._lock = threading.Lock()
        self._registry: Any = None

    def at(self, pointer: str) -> SchemaCheck:
        """The check of the subschema at JSON pointer ``pointer`` of ``schema.json``."""
        return SchemaCheck(self, pointer)

    def model(self, pointer: str) -> Any:
        """A model's check of the object schema at ``pointer``: the keywords its fields
        cannot say (``minProperties``, ``dependentRequired``, ``not`` ...), checked on the
        object before its fields are (a ``model_validator`` of mode ``"before"``, held by a
        class attribute ``__datadivr_check__``)."""
        check = SchemaCheck(self, pointer)
        aliases: dict[type, dict[str, str]] = {}

        def validate(cls: type[BaseModel], data: Any) -> Any:
            # A model built in Python may name its fields by their Python names: the check
            # reads the object as it goes on the wire, by the wire names.
            renames = aliases.get(cls)
            if renames is None:
                renames = aliases[cls] = {
                    name: field.alias
                    for name, field in cls.model_fields.items()
                    if field.alias and field.alias != name
                }
            if renames and isinstance(data, dict) and renames.keys() & data.keys():
                check({renames.get(key, key): value for key, value in data.items()})
                return data
            return check(data)

        return model_validator(mode="before")(classmethod(validate))  # type: ignore[arg-type]

    def _compile(self, pointer: str) -> Any:
        import jsonschema_rs

        with self._lock:
            if self._registry is None:
                bundle = json.loads(self._path.read_text(encoding="utf-8"))
                self._registry = jsonschema_rs.Registry(resources=[(_BASE_URI, bundle)])
            registry = self._registry
        return jsonschema_rs.validator_for(
            {"$ref": f"{_BASE_URI}#{pointer}"},
            registry=registry,
            validate_formats=True,
            formats=_formats(),
        )


#: The formats draft 2020-12 defines besides the two the models assert.
_ANNOTATION_FORMATS = (
    "date",
    "duration",
    "email",
    "hostname",
    "idn-email",
    "idn-hostname",
    "ipv4",
    "ipv6",
    "iri",
    "iri-reference",
    "json-pointer",
    "regex",
    "relative-json-pointer",
    "time",
    "uri",
    "uri-reference",
    "uri-template",
)


def _formats() -> dict[str, Any]:
    """The format checks of a schema check: ``date-time`` and ``uuid`` by the models' own
    functions (:func:`~datadivr.core._message.is_date_time`,
    :func:`~datadivr.core._message.is_uuid`), every other format an annotation."""
    from datadivr.core._message import is_date_time, is_uuid

    formats: dict[str, Any] = dict.fromkeys(_ANNOTATION_FORMATS, lambda _text: True)
    formats["date-time"] = is_date_time
    formats["uuid"] = is_uuid
    return formats


class SchemaCheck:
    """Metadata of an ``Annotated`` type: the value must also be valid against one subschema
    of the package's ``schema.json`` (see :class:`SchemaChecks`)."""

    __slots__ = ("_checks", "_validator", "pointer")

    def __init__(self, checks: SchemaChecks, pointer: str) -> None:
        self._checks = checks
        self._validator: Any = None
        self.pointer = pointer

    def __repr__(self) -> str:
        return f"SchemaCheck({self.pointer!r})"

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        # First: the type is looser than the schema, so what the check takes it takes too,
        # and a failure is told in the schema's own words.
        inner = handler(source)
        if inner.get("type") == "tuple":
            # The check hands it a list (the JSON array it read), which a strict tuple refuses.
            inner = {**inner, "strict": False}
        return core_schema.no_info_before_validator_function(self, inner)

    def __call__(self, value: Any) -> Any:
        validator = self._validator
        if validator is None:
            validator = self._validator = self._checks._compile(self.pointer)
        checked = value
        try:
            try:
                valid = validator.is_valid(checked)
            except ValueError:  # Python objects (a model, a datetime): read as on the wire
                checked = _wire(value)
                valid = validator.is_valid(checked)
            if valid:
                return value
            errors = islice(validator.iter_errors(checked), MAX_FAILURES)
            failures = [f for error in errors for f in _failures(error)][:MAX_FAILURES]
        except ValueError as exc:  # a Python object that is no JSON value
            failures = [[[], "type", f"Input should be a JSON value ({exc})"]]
        raise PydanticCustomError(
            CHECK_KIND, "{reason}", {"reason": failures[0][2], "failures": failures}
        )


#: The keywords of draft 2020-12 (and the older ones the generator reads as theirs) whose
#: value names subschemas: the step after one in a schema path is a name, not a keyword.
_NAMED = frozenset(
    {"$defs", "definitions", "dependencies", "dependentSchemas", "patternProperties", "properties"}
)
#: The keywords of draft 2020-12 whose value lists subschemas: the step after one is an index.
_LISTED = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})


def _wire(value: Any) -> Any:
    """``value`` as JSON data: a model as it dumps itself (wire names, unset fields left out),
    a datetime or a UUID as text."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, dict):
        return {key: _wire(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_wire(item) for item in value]
    return to_jsonable_python(value)


#: The texts of a failure about one member of an object, by keyword (``{0!r}`` the member).
_MEMBER_REASONS = {
    "required": "{0!r} is a required property",
    "dependentRequired": "{0!r} is a required property (a dependency)",
    "additionalProperties": "Additional properties are not allowed ({0!r} was unexpected)",
    "unevaluatedProperties": "Unevaluated properties are not allowed ({0!r} was unexpected)",
}


def _failures(error: Any) -> list[list[Any]]:
    """The failures of one error: one per member for a failure about members of an object,
    at the member's path (where the reference validator and the docs put it)."""
    path, keyword, reason = _failure(error)
    if keyword not in _MEMBER_REASONS:
        return [[path, keyword, reason]]
    kind = error.kind
    members = getattr(kind, "unexpected", None)
    if members is None:
        member = getattr(kind, "property", None)
        members = [member] if member is not None else None
    if not members:
        return [[path, keyword, reason]]
    text = _MEMBER_REASONS[keyword]
    return [[[*path, str(m)], keyword, _short(text.format(str(m)))] for m in members]


def _failure(error: Any) -> list[Any]:
    path = list(error.instance_path)
    # The kind is the keyword that failed: the schema path's last step that is a keyword,
    # told from names and indexes by its place (a property may be called "not" or "type").
    # A path that ends at a subschema, not a keyword, is a boolean false schema's failure.
    keyword = "false"
    keyword_next = True
    for step in error.schema_path:
        if not keyword_next or isinstance(step, int):
            keyword, keyword_next = "false", True
            continue
        keyword = str(step)
        keyword_next = keyword not in _NAMED and keyword not in _LISTED
    return [path, keyword, _reason(error)]


def _reason(error: Any) -> str:
    return _short(str(error.message))


def _short(message: str) -> str:
    # Keep a reason short: a 100,000-element value must not come back in every message.
    return message if len(message) <= 300 else message[:297] + "..."


def iter_failures(context: Any) -> Iterator[tuple[list[int | str], str, str]]:
    """The ``(path, keyword, reason)`` of each failure in a :data:`CHECK_KIND` error's context."""
    for path, keyword, reason in (context or {}).get("failures", ()):
        yield list(path), str(keyword), str(reason)
