"""The engine of the reference validation (:mod:`datadivr.validation`): a protocol's bundled
JSON Schema checked with :mod:`jsonschema` (draft 2020-12), and the violations it reports.

The protocol core uses it, imported on the first refused frame (a valid frame never pays for
jsonschema), to report a frame's failures as ``/validate`` and ``datadivr validate`` do.

Its reports speak the vocabulary every surface of datadivr speaks (see ``docs/validating.md``):
``kind`` is the JSON Schema keyword that failed, ``path`` the JSON path of the value at fault,
and a failure about one member of an object points at that member (``required``,
``dependentRequired``, ``additionalProperties`` and ``unevaluatedProperties`` give one
violation per member, at its path). A value that matches no branch of an ``anyOf`` or a
``oneOf`` is one violation at the value, followed by the failures of its closest branch.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import islice
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker, validators
from jsonschema import _keywords as _jsonschema_keywords
from jsonschema._utils import find_evaluated_property_keys_by_schema
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource

from datadivr.core._message import is_date_time, is_uuid
from datadivr.core._violations import MAX_DETAILS, clip_reason, path_order
from datadivr.exceptions import Violation

__all__ = ["Draft", "Reference", "report_violations"]

_BUNDLE_URI = "urn:datadivr:protocol"

#: A value's repr longer than this is cut in a reason: a hostile 1 MB string is not echoed.
SHOWN_VALUE = 64


@functools.lru_cache(maxsize=1024)
def _matcher(pattern: str) -> Callable[[str], bool]:
    """What ``pattern`` matches: by Python's ``re`` when it compiles there, else by the
    engine of the models' checks (jsonschema-rs), which also reads the ECMA-262 forms
    ``re`` does not, such as ``\\p{Letter}``."""
    try:
        compiled = re.compile(pattern)
    except re.error:
        import jsonschema_rs

        check = jsonschema_rs.validator_for({"pattern": pattern})
        return lambda text: bool(check.is_valid(text))
    return lambda text: compiled.search(text) is not None


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not _matcher(pattern)(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(
    validator: Any, patterns: Mapping[str, Any], instance: Any, schema: Any
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for key, value in instance.items():
            if _matcher(pattern)(key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _required(
    validator: Any, required: list[str], instance: Any, schema: Any
) -> Iterator[ValidationError]:
    # At the missing member, not at the object that misses it.
    if not validator.is_type(instance, "object"):
        return
    for name in required:
        if name not in instance:
            yield ValidationError(f"{name!r} is a required property", path=[name])


def _dependent_required(
    validator: Any, dependencies: Mapping[str, list[str]], instance: Any, schema: Any
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    for name, needed in dependencies.items():
        if name in instance:
            for each in needed:
                if each not in instance:
                    yield ValidationError(f"{each!r} is a dependency of {name!r}", path=[each])


def _additional_properties(
    validator: Any, additional: Any, instance: Any, schema: Any
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    known = schema.get("properties", {})
    patterns = list(schema.get("patternProperties", {}))
    extras = [
        key for key in instance if key not in known and not any(_matcher(p)(key) for p in patterns)
    ]
    if validator.is_type(additional, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], additional, path=extra)
    elif additional is False:
        for extra in extras:
            yield ValidationError(
                f"Additional properties are not allowed ({_shown(extra)} was unexpected)",
                path=[extra],
            )


def _unevaluated(
    validator: Any, unevaluated: Any, instance: Any, schema: Any
) -> Iterator[ValidationError]:
    if unevaluated is not False:
        # (jsonschema's own: the value is a schema, each property checked against it)
        keyword: Any = _jsonschema_keywords.unevaluatedProperties
        yield from keyword(validator, unevaluated, instance, schema)
        return
    if not validator.is_type(instance, "object"):
        return
    evaluated = find_evaluated_property_keys_by_schema(validator, instance, schema)
    for key in instance:
        if key not in evaluated:
            yield ValidationError(
                f"Unevaluated properties are not allowed ({_shown(key)} was unexpected)",
                path=[key],
            )


def _shown(value: str) -> str:
    """``value``'s repr, cut short: a member's name comes from the input."""
    shown = repr(value)
    return shown if len(shown) <= SHOWN_VALUE else shown[: SHOWN_VALUE - 1] + "…"


def _is_integer(checker: Any, instance: Any) -> bool:
    """An integer as the models type it: written without a fraction (``1``, not ``1.0``)."""
    return isinstance(instance, int) and not isinstance(instance, bool)


def _is_number(checker: Any, instance: Any) -> bool:
    """A number as the models type it: finite (``1e400``, which a JSON reader makes
    infinite, is none)."""
    if isinstance(instance, float):
        return math.isfinite(instance)
    return isinstance(instance, int) and not isinstance(instance, bool)


#: Draft 2020-12, with patterns read as above, integers as the models read them, and a
#: failure about a member of an object at that member.
Draft: Any = validators.extend(  # type: ignore[no-untyped-call]
    Draft202012Validator,
    {
        "pattern": _pattern,
        "patternProperties": _pattern_properties,
        "required": _required,
        "dependentRequired": _dependent_required,
        "additionalProperties": _additional_properties,
        "unevaluatedProperties": _unevaluated,
    },
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine_many(
        {"integer": _is_integer, "number": _is_number}
    ),
)

_descend = Draft.descend


def _located_descend(
    self: Any,
    instance: Any,
    schema: Any,
    path: Any = None,
    schema_path: Any = None,
    resolver: Any = None,
) -> Iterator[ValidationError]:
    """jsonschema's ``descend``, whose failure of a boolean ``false`` subschema keeps its place
    (jsonschema 4.26 reports it at the parent: ``$`` for ``{"properties": {"a": false}}``)."""
    if schema is False:
        error = ValidationError(
            f"False schema does not allow {instance!r}",
            validator=None,  # type: ignore[arg-type]  # (as jsonschema has it)
            validator_value=None,
            instance=instance,
            schema=schema,
        )
        if path is not None:
            error.path.appendleft(path)
        if schema_path is not None:
            error.schema_path.appendleft(schema_path)
        yield error
        return
    yield from _descend(self, instance, schema, path, schema_path, resolver)


Draft.descend = _located_descend

#: The keywords of a union: a value that matches none of its branches.
_UNIONS = frozenset({"anyOf", "oneOf"})
#: The keywords of a failure about an object's shape (a missing or an unexpected member).
_SHAPE = frozenset(
    {"required", "dependentRequired", "additionalProperties", "unevaluatedProperties"}
)


def report_violations(errors: Iterable[ValidationError]) -> list[Violation]:
    """The violations of ``errors`` (:data:`MAX_DETAILS` and one at most, to tell that there
    were more), in their documented order:
    by path (members by name, elements by index), then by keyword; a union's violation is
    followed by its closest branch's, in the same order."""
    return [_violation(error) for error in islice(_ordered(errors), MAX_DETAILS + 1)]


def _ordered(errors: Iterable[ValidationError]) -> Iterator[ValidationError]:
    for error in sorted(errors, key=lambda e: (path_order(e.absolute_path), str(e.validator))):
        yield error
        if error.validator in _UNIONS and error.context:
            yield from _ordered(_closest(error))


def _closest(error: ValidationError) -> list[ValidationError]:
    """The failures of the branch of a union closest to the value it refused: one whose type
    the value has, then the one with the fewest missing or unknown members, then with the
    fewest failures (the first listed, on a tie)."""
    branches: dict[Any, list[ValidationError]] = {}
    for failure in error.context:
        branches.setdefault(failure.relative_schema_path[0], []).append(failure)
    depth = len(error.absolute_path)

    def distance(failures: list[ValidationError]) -> tuple[bool, int, int]:
        wrong_type = any(f.validator == "type" and len(f.absolute_path) == depth for f in failures)
        shape = sum(f.validator in _SHAPE and len(f.absolute_path) == depth + 1 for f in failures)
        return wrong_type, shape, sum(_leaves(f) for f in failures)

    return min(branches.values(), key=distance)


def _leaves(error: ValidationError) -> int:
    return sum(_leaves(e) for e in error.context) if error.context else 1


#: What a union's violation adds to jsonschema's reason when the failures of its closest
#: branch follow it.
CLOSEST = "; the failures that follow are those of the closest branch"


def _violation(error: ValidationError) -> Violation:
    reason = _reason(error)
    if error.validator in _UNIONS and error.context:
        reason = clip_reason(reason + CLOSEST)
    # A boolean false schema's failure has no keyword: "false", as the models' checks say.
    kind = "false" if error.validator is None else str(error.validator)
    return Violation(clip_reason(error.json_path), reason, kind)


def _reason(error: ValidationError) -> str:
    """jsonschema's message, with the value it names cut short (it writes the value's repr)."""
    message = error.message
    if len(message) <= SHOWN_VALUE or error.validator in _SHAPE:
        return clip_reason(message)
    try:
        shown = repr(error.instance)
    except RecursionError:  # (jsonschema wrote it; a deeper repr is not needed)
        return clip_reason(message)
    if len(shown) > SHOWN_VALUE and shown in message:
        message = message.replace(shown, shown[: SHOWN_VALUE - 1] + "…", 1)
    return clip_reason(message)


def _format_checker() -> FormatChecker:
    """The formats the models assert, ``date-time`` and ``uuid``, checked by the models' own
    functions (jsonschema's take a trailing newline in a date-time and a non-ASCII digit in a
    UUID, which the models refuse); every other format is an annotation, as draft 2020-12 has
    it by default and as the models have it."""
    checker = FormatChecker(formats=())
    checker.checks("date-time")(is_date_time)
    checker.checks("uuid")(is_uuid)
    return checker


_FORMATS = _format_checker()


class Reference:
    """Checks messages against a protocol's bundled schema (its ``schema.json``), event by
    event.

    Args:
        bundle: The bundled schema, with its ``x-datadivr.events`` table.
    """

    def __init__(self, bundle: Mapping[str, Any]) -> None:
        registry: Registry[Any] = Registry().with_resource(
            _BUNDLE_URI, Resource.from_contents(bundle)
        )
        self._validators = {
            name: Draft(
                {"$ref": f"{_BUNDLE_URI}{info['schema']}"},
                registry=registry,
                format_checker=_FORMATS,
            )
            for name, info in bundle["x-datadivr"]["events"].items()
        }

    @property
    def events(self) -> list[str]:
        """The events of the bundle."""
        return sorted(self._validators)

    def check(self, event_name: str, data: Any) -> tuple[list[Violation], bool]:
        """The violations of ``data`` (decoded JSON), a message of ``event_name``, and whether
        there were more than the :data:`MAX_DETAILS` listed (not checked past them)."""
        # iter_errors is lazy: a message with a million wrong values costs no more than one
        # with MAX_DETAILS + 1 of them (and the first ones are sorted, not all).
        try:
            errors = list(islice(self._validators[event_name].iter_errors(data), MAX_DETAILS + 1))
            violations = report_violations(errors[:MAX_DETAILS])
        except RecursionError:
            # jsonschema descends, and writes its messages with repr(), recursively: a value
            # nested deeper than the interpreter's stack allows is refused, not a crash.
            return [Violation("$", "nested too deeply to check against the schema", "depth")], False
        truncated = len(errors) > MAX_DETAILS or len(violations) > MAX_DETAILS
        return violations[:MAX_DETAILS], truncated
