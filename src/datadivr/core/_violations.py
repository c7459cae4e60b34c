"""The failures of a message in JSON Schema's words, from pydantic's errors.

Every surface of datadivr names a failure the same way (see ``docs/validating.md``): ``kind``
is the JSON Schema keyword that failed, ``path`` the JSON path of the value at fault in the
message as sent, and a failure about one member of an object points at that member. The
reference validator (:mod:`datadivr.validation`) reports in these words by itself; the
generated models' errors are translated here (:data:`KEYWORDS`), for a message built locally
and for a frame too large for the reference validator to be cheap.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from datadivr.core._checks import CHECK_KIND, iter_failures
from datadivr.exceptions import Violation

__all__ = [
    "KEYWORDS",
    "MAX_DETAILS",
    "MAX_REASON",
    "NO_BRANCH",
    "UNKNOWN",
    "clip_reason",
    "json_path",
    "keyword_of",
    "path_order",
    "validation_details",
    "violations",
]

#: At most this many failures are reported for one message.
MAX_DETAILS = 100
#: A reason is at most this long: a value it names is cut short, not echoed whole.
MAX_REASON = 1024

UNKNOWN: Any = object()
"""The validated input when it is not known: error locations are then taken as they are."""

#: The JSON Schema keyword of each pydantic error type the generated models raise (the
#: models' own checks already name theirs; see :mod:`datadivr.core._checks`).
KEYWORDS: Mapping[str, str] = {
    "missing": "required",
    "extra_forbidden": "additionalProperties",
    "less_than_equal": "maximum",
    "less_than": "exclusiveMaximum",
    "greater_than_equal": "minimum",
    "greater_than": "exclusiveMinimum",
    "multiple_of": "multipleOf",
    "string_too_short": "minLength",
    "string_too_long": "maxLength",
    "too_short": "minItems",
    "too_long": "maxItems",
    "string_pattern_mismatch": "pattern",
    "literal_error": "enum",
    "enum": "enum",
    "union_tag_invalid": "oneOf",
    "union_tag_not_found": "oneOf",
    "datetime_parsing": "format",
    "datetime_from_date_parsing": "format",
    "timezone_aware": "format",
    "uuid_parsing": "format",
    "uuid_version": "format",
    "not_null": "type",
    "none_required": "type",
    "int_from_float": "type",
    "finite_number": "type",
}


def keyword_of(error: Mapping[str, Any]) -> str:
    """The JSON Schema keyword of a pydantic error: from :data:`KEYWORDS`, ``type`` for any
    ``*_type`` or ``*_parsing`` error, ``const`` for a ``Literal`` of one value,
    ``minProperties``/``maxProperties`` for an object's size; else the pydantic type as is."""
    kind = str(error["type"])
    context = error.get("ctx") or {}
    if kind in ("too_short", "too_long") and context.get("field_type") == "Dictionary":
        return "minProperties" if kind == "too_short" else "maxProperties"
    if kind == "literal_error":
        expected = str(context.get("expected", error.get("msg", "")))
        return "enum" if " or " in expected else "const"
    if kind in KEYWORDS:
        return KEYWORDS[kind]
    if kind.endswith(("_type", "_parsing")):
        return "type"
    return kind


def _member_reason(keyword: str, loc: Sequence[int | str], reason: str) -> str:
    """The reason of a failure about one member (at its path), in the reference's words."""
    if not loc:
        return reason
    if keyword == "required":
        return f"{loc[-1]!r} is a required property"
    if keyword == "additionalProperties":
        shown = repr(loc[-1])
        shown = shown if len(shown) <= 64 else shown[:63] + "…"
        return f"Additional properties are not allowed ({shown} was unexpected)"
    return reason


def clip_reason(text: str) -> str:
    """``text`` cut to :data:`MAX_REASON` characters (a reason, or a path: a member's name
    comes from the input)."""
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 1] + "…"


def path_order(loc: Iterable[int | str]) -> tuple[tuple[int, int | str], ...]:
    """The sort key of a place in a message: members by name, elements by index."""
    return tuple((0, part) if isinstance(part, int) else (1, str(part)) for part in loc)


def json_path(loc: Iterable[int | str]) -> str:
    """A pydantic error location as a JSON path: ``("payload", "numbers", 2)`` →
    ``$.payload.numbers[2]``."""
    path = "$"
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


#: The kind of the violation that stands for a union (``anyOf``) none of whose branches
#: matched: the JSON Schema keyword, as the reference validator names it.
NO_BRANCH = "anyOf"
NO_BRANCH_REASON = (
    "Input is not valid under any of the given schemas; the failures that follow are those of"
    " the closest branch"
)

#: A pydantic error location, each item marked: True for a key or an index of the input (a
#: place in the frame), False for a union branch's tag.
_Steps = tuple[tuple[bool, int | str], ...]
_Loc = tuple[int | str, ...]
_ABSENT: Any = object()


def violations(
    errors: Iterable[Mapping[str, Any]],
    *,
    skip: int = 0,
    prefix: tuple[str, ...] = (),
    data: Any = UNKNOWN,
) -> list[Violation]:
    """One :class:`Violation` per pydantic error (as ``ValidationError.errors()`` gives them);
    ``skip`` leading location parts (the union tag) are dropped and ``prefix`` is put before
    the rest.

    With ``data``, the input that was validated (decoded JSON, or the mapping given to a
    model; the location after ``skip`` is a path into it), every path is a place in it:
    pydantic puts the tag of a union's branch (a class name such as ``Shoot``) in the location
    of each of the branch's failures, and those tags are taken out. A union (``anyOf``) none
    of whose branches matched is then one :data:`NO_BRANCH` violation at the union's own path
    (where ``/validate`` reports it), followed by the failures of its closest branch only: one
    whose type the value has, then the one with the fewest missing or unknown properties,
    then with the fewest failures (the first listed, on a tie). Nested unions are treated
    alike; at most :data:`MAX_DETAILS` violations come out.

    Each kind is a JSON Schema keyword (:func:`keyword_of`), and a missing or unexpected
    member is reported at its own path. The violations come in the order the reference
    validator gives them: by path (members by name, elements by index), then by keyword, a
    union's violation followed by its closest branch's.
    """
    items = list(_expanded(errors, skip))
    if data is UNKNOWN:
        # A schema check's error holds many failures: the cap is on violations, not errors.
        found = sorted(
            ((tuple(loc), msg, kind) for loc, msg, kind in items),
            key=lambda item: (path_order(item[0]), item[2]),
        )[:MAX_DETAILS]
    else:
        steps = [(_steps(loc, kind, data), msg, kind) for loc, msg, kind in items]
        found = _closest(steps)[:MAX_DETAILS]
    return [
        Violation(clip_reason(json_path((*prefix, *loc))), clip_reason(msg), kind)
        for loc, msg, kind in found
    ]


def _expanded(
    errors: Iterable[Mapping[str, Any]], skip: int
) -> Iterator[tuple[Sequence[int | str], str, str]]:
    """``(location, reason, kind)`` per failure: a schema check's error (see
    :mod:`datadivr.core._checks`) gives one per failure it lists, at its place in the value
    and of the JSON Schema keyword that failed."""
    for error in errors:
        loc = error["loc"][skip:]
        if error["type"] == CHECK_KIND:
            for path, keyword, reason in iter_failures(error.get("ctx")):
                yield (*loc, *path), reason, keyword
        elif error["type"] in _TAG_FAILURES and loc:
            # A oneOf of tagged branches (a discriminated union) that no branch's tag matches.
            yield loc, _tag_reason(error), "oneOf"
        else:
            keyword = keyword_of(error)
            yield loc, _member_reason(keyword, loc, str(error["msg"])), keyword


_TAG_FAILURES = frozenset({"union_tag_invalid", "union_tag_not_found"})


def _tag_reason(error: Mapping[str, Any]) -> str:
    context = error.get("ctx") or {}
    tag = context.get("discriminator", "")
    expected = context.get("expected_tags")
    if error["type"] == "union_tag_not_found":
        return f"Input should be an object with the property {tag}, which tells its oneOf branch"
    return f"Input's {tag} should be one of {expected} (it tells the oneOf branch)"


def validation_details(
    exc: ValidationError, *, skip: int = 0, prefix: tuple[str, ...] = (), data: Any = UNKNOWN
) -> list[Violation]:
    """One :class:`Violation` per error of ``exc`` (see :func:`violations`)."""
    return violations(
        exc.errors(include_url=False, include_input=False),
        skip=skip,
        prefix=prefix,
        data=data,
    )


#: The keywords whose failure is at a member that is absent.
_ABSENT_MEMBER = frozenset({"required", "dependentRequired"})


def _steps(loc: Sequence[int | str], kind: str, data: Any) -> _Steps:
    """``loc`` walked along ``data``: an item that is no key or index of the value reached
    is a union branch's tag, except the last one of a ``required`` (or ``dependentRequired``)
    failure: the absent key."""
    steps: list[tuple[bool, int | str]] = []
    value = data
    last = len(loc) - 1
    for index, item in enumerate(loc):
        child = UNKNOWN if item == "[key]" else _child(value, item)  # (a key's own failure)
        if child is _ABSENT and not (index == last and kind in _ABSENT_MEMBER):
            if isinstance(value, Mapping) and isinstance(item, str) and item in value.values():
                continue  # the tag of a discriminated union: the one branch its value names
            steps.append((False, item))  # a tag: the value stays where it is
        else:
            steps.append((True, item))
            value = child
    return tuple(steps)


def _child(value: Any, item: int | str) -> Any:
    """The member or element ``item`` of ``value``: :data:`_ABSENT` if there is none,
    :data:`UNKNOWN` below a value that is not walked."""
    if isinstance(value, Mapping):
        return value.get(item, _ABSENT)
    if isinstance(value, list | tuple):
        return value[item] if isinstance(item, int) and 0 <= item < len(value) else _ABSENT
    if isinstance(value, BaseModel):  # a model given as is: its fields by their wire names
        for name, info in type(value).model_fields.items():
            if item in (info.alias, name):
                return getattr(value, name)
        extra: dict[str, Any] = value.__pydantic_extra__ or {}
        return extra.get(item, _ABSENT) if isinstance(item, str) else _ABSENT
    if value is None or isinstance(value, str | int | float | bool):
        return _ABSENT
    # UNKNOWN itself, or another object: what pydantic says is taken as a place.
    return UNKNOWN


def _closest(errors: list[tuple[_Steps, str, str]]) -> list[tuple[_Loc, str, str]]:
    """The failures, each union's replaced by a :data:`NO_BRANCH` failure and its closest
    branch's (see :func:`violations`), in the order they came."""
    # In order: a failure at a place, or (its reason None) the place of a union.
    order: list[tuple[_Loc, tuple[str, str] | None]] = []
    unions: dict[_Loc, dict[int | str, list[tuple[_Steps, str, str]]]] = {}
    for steps, msg, kind in errors:
        cut = next((i for i, (place, _) in enumerate(steps) if not place), None)
        if cut is None:
            order.append((tuple(item for _, item in steps), (msg, kind)))
            continue
        at = tuple(item for _, item in steps[:cut])
        if at not in unions:
            unions[at] = {}
            order.append((at, None))
        branch = unions[at].setdefault(steps[cut][1], [])
        branch.append(((*steps[:cut], *steps[cut + 1 :]), msg, kind))
    # In the reference validator's order (stable: a union's branches stay in theirs).
    order.sort(key=lambda item: (path_order(item[0]), NO_BRANCH if item[1] is None else item[1][1]))
    found: list[tuple[_Loc, str, str]] = []
    for loc, failure in order:
        if failure is not None:
            found.append((loc, *failure))
            continue
        closest = min(unions[loc].values(), key=lambda fails: _distance(fails, len(loc)))
        found.append((loc, NO_BRANCH_REASON, NO_BRANCH))
        found.extend(_closest(closest))
    return found


def _distance(failures: list[tuple[_Steps, str, str]], depth: int) -> tuple[bool, int, int]:
    """How far a union's branch is from the value at ``depth`` that it refused: whether the
    value's type is wrong, how many of its properties are missing or unknown, how many
    failures there are."""
    wrong_type = False
    shape = 0
    for steps, _, kind in failures:
        places = sum(place for place, _ in steps)
        wrong_type = wrong_type or (places == depth and kind == "type")
        shape += places == depth + 1 and kind in ("required", "additionalProperties")
    return wrong_type, shape, len(failures)
