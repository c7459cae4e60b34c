"""Hypothesis strategies for the JSON Schema keyword subset the generator accepts.

Covered keywords (anything else raises :class:`UnsupportedKeyword`, so these tests fail loudly
the day the generator accepts more):

- ``type`` (one type, or a ``["T", "null"]`` pair)
- ``properties``, ``required``, ``additionalProperties`` (``false``, ``true``/absent, a schema)
- ``items`` (one schema), ``minItems``, ``maxItems``
- ``minimum``, ``maximum``, ``exclusiveMinimum``, ``exclusiveMaximum``, ``multipleOf``
  (integers)
- ``minLength``, ``maxLength``, ``pattern``
- ``enum``, ``const``
- ``format``: ``date-time`` (RFC 3339 with an offset) and ``uuid``
- ``anyOf``, ``allOf`` (of ``$ref``s to object schemas, and the bundle's inline overlay that
  narrows the envelope), ``$ref`` to ``#/$defs/<Name>``
- annotations (``title``, ``description``, ``default``, ``examples``, ``deprecated``,
  ``readOnly``, ``writeOnly``, ``$comment``, ``x-…``, ``$schema``, ``$id``, ``$defs``)

Valid instances never use the two documented corners where the models are stricter than the
schema: an integer written ``3.0`` and a leap second.

Mutations (one per broken instance, at a JSON path where the schema allows it): ``wrong_type``,
``missing_required``, ``extra_property``, ``out_of_bounds`` (minimum/maximum/exclusive bounds,
multipleOf), ``bad_enum`` (enum/const), ``bad_pattern``, ``bad_length`` (minLength/maxLength,
minItems/maxItems up to ``LARGE_ARRAY``), ``bad_format`` (date-time/uuid), and
``too_many_items`` (``maxItems`` above ``LARGE_ARRAY``: costly, so run with fewer examples).
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from hypothesis import strategies as st

ANNOTATIONS = frozenset(
    {
        "title",
        "description",
        "default",
        "examples",
        "deprecated",
        "readOnly",
        "writeOnly",
        "$comment",
        "$schema",
        "$id",
        "$defs",
    }
)
ASSERTIONS = frozenset(
    {
        "type",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "minItems",
        "maxItems",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "minLength",
        "maxLength",
        "pattern",
        "enum",
        "const",
        "format",
        "anyOf",
        "allOf",
        "$ref",
    }
)
FORMATS = frozenset({"date-time", "uuid"})
ALL_TYPES = ("null", "boolean", "integer", "number", "string", "array", "object")
MUTATIONS = (
    "wrong_type",
    "missing_required",
    "extra_property",
    "out_of_bounds",
    "bad_enum",
    "bad_pattern",
    "bad_length",
    "bad_format",
)
#: Numbers are drawn in this range (narrowed by the schema's bounds).
NUMBER_RANGE = 10**6
#: Arrays hold at most this many items, unless ``minItems`` demands more.
MAX_ARRAY = 3
#: ``maxItems`` above this is broken by the separate, fewer-example ``too_many_items`` kind.
LARGE_ARRAY = 1000
#: Bound on ``$ref`` / nesting depth while walking a schema.
MAX_DEPTH = 32
EXTRA_KEY = "zz_undeclared_property"


class UnsupportedKeyword(ValueError):
    """The schema uses a keyword outside the subset these strategies (and the generator) cover."""


def _check_keywords(schema: dict[str, Any]) -> None:
    for key in schema:
        if key in ANNOTATIONS or key in ASSERTIONS or key.startswith("x-"):
            continue
        raise UnsupportedKeyword(f"keyword {key!r} is not covered by the agreement strategies")
    fmt = schema.get("format")
    if fmt is not None and fmt not in FORMATS:
        raise UnsupportedKeyword(f"format {fmt!r} is not covered by the agreement strategies")


def resolve_ref(bundle: dict[str, Any], ref: str) -> dict[str, Any]:
    """The schema a ``#/$defs/<Name>`` reference points to inside the bundle."""
    prefix = "#/$defs/"
    if not ref.startswith(prefix):
        raise UnsupportedKeyword(f"$ref {ref!r} is not a '#/$defs/<Name>' reference")
    return bundle["$defs"][ref[len(prefix) :]]  # type: ignore[no-any-return]


def _types(schema: dict[str, Any]) -> tuple[str, ...] | None:
    t = schema.get("type")
    if t is None:
        return None
    if isinstance(t, str):
        return (t,)
    return tuple(t)


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """The intersection of two normalized schemas, for the keywords that can meet in allOf."""
    for closed, other in ((a, b), (b, a)):
        missing = set(other.get("properties", {})) - set(closed.get("properties", {}))
        if closed.get("additionalProperties") is False and missing:
            # JSON Schema: the closed member refuses them, whatever the other member says.
            raise UnsupportedKeyword(
                f"allOf member with additionalProperties false misses {sorted(missing)}"
            )
    out = dict(a)
    for key, value in b.items():
        if key not in out:
            out[key] = value
            continue
        mine = out[key]
        if mine == value:
            continue
        if key == "type":
            ta = _types(a) or ()
            tb = _types(b) or ()
            both = tuple(t for t in ta if t in tb)
            if "integer" in ta and "number" in tb and "integer" not in both:
                both += ("integer",)
            if "integer" in tb and "number" in ta and "integer" not in both:
                both += ("integer",)
            if not both:
                raise UnsupportedKeyword(f"allOf members with disjoint types {ta} and {tb}")
            out["type"] = list(both) if len(both) > 1 else both[0]
        elif key in ("minimum", "exclusiveMinimum", "minLength", "minItems"):
            out[key] = max(mine, value)
        elif key in ("maximum", "exclusiveMaximum", "maxLength", "maxItems"):
            out[key] = min(mine, value)
        elif key == "required":
            out[key] = sorted(set(mine) | set(value))
        elif key == "additionalProperties":
            out[key] = False if (mine is False or value is False) else mine
        elif key == "properties":
            props = dict(mine)
            for name, sub in value.items():
                props[name] = _merge(props[name], sub) if name in props else sub
            out[key] = props
        elif key in ANNOTATIONS or key.startswith("x-"):
            continue
        else:
            raise UnsupportedKeyword(f"allOf members disagree on {key!r}: {mine!r} vs {value!r}")
    return out


def normalize(bundle: dict[str, Any], schema: dict[str, Any], depth: int = 0) -> dict[str, Any]:
    """Resolve ``$ref`` and ``allOf`` at the top of ``schema`` (recursively for properties).

    Returns a schema without ``$ref``/``allOf`` at any level that a strategy or a mutation
    walks, with properties of merged ``allOf`` members intersected.
    """
    if depth > MAX_DEPTH:
        raise UnsupportedKeyword("schema nests (or recurses) too deeply for the strategies")
    if not isinstance(schema, dict):
        raise UnsupportedKeyword(f"boolean schema {schema!r} outside additionalProperties")
    _check_keywords(schema)
    out = {k: v for k, v in schema.items() if k not in ("$ref", "allOf", "$defs")}
    if "$ref" in schema:
        out = _merge(normalize(bundle, resolve_ref(bundle, schema["$ref"]), depth + 1), out)
    for member in schema.get("allOf", ()):
        out = _merge(out, normalize(bundle, member, depth + 1))
    if "properties" in out:
        out["properties"] = {
            name: normalize(bundle, sub, depth + 1) for name, sub in out["properties"].items()
        }
    if "items" in out:
        out["items"] = normalize(bundle, out["items"], depth + 1)
    if isinstance(out.get("additionalProperties"), dict):
        out["additionalProperties"] = normalize(bundle, out["additionalProperties"], depth + 1)
    if "anyOf" in out:
        out["anyOf"] = [normalize(bundle, sub, depth + 1) for sub in out["anyOf"]]
    return out


# --------------------------------------------------------------------------- valid values


def _format_datetime(value: datetime, offset: str = "Z") -> str:
    text = (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
        f"T{value.hour:02d}:{value.minute:02d}:{value.second:02d}"
    )
    if value.microsecond:
        text += f".{value.microsecond:06d}"
    return text + offset


def _bounds(schema: dict[str, Any], integer: bool) -> tuple[float, float, bool, bool]:
    """A modest (lo, hi, exclude_lo, exclude_hi) range within the schema's bounds."""
    lo: float | None = None
    hi: float | None = None
    exclude_lo = exclude_hi = False
    if "minimum" in schema:
        lo = schema["minimum"]
    if "exclusiveMinimum" in schema and (lo is None or schema["exclusiveMinimum"] >= lo):
        lo, exclude_lo = schema["exclusiveMinimum"], True
    if "maximum" in schema:
        hi = schema["maximum"]
    if "exclusiveMaximum" in schema and (hi is None or schema["exclusiveMaximum"] <= hi):
        hi, exclude_hi = schema["exclusiveMaximum"], True
    if integer:
        if lo is not None:
            lo = math.floor(lo) + 1 if exclude_lo else math.ceil(lo)
        if hi is not None:
            hi = math.ceil(hi) - 1 if exclude_hi else math.floor(hi)
        exclude_lo = exclude_hi = False
    if lo is None and hi is None:
        lo, hi = -NUMBER_RANGE, NUMBER_RANGE
    elif lo is None:
        assert hi is not None
        lo = min(-NUMBER_RANGE, hi - 2 * NUMBER_RANGE)
    elif hi is None:
        hi = max(NUMBER_RANGE, lo + 2 * NUMBER_RANGE)
    if lo > hi or (lo == hi and (exclude_lo or exclude_hi)):
        raise UnsupportedKeyword(f"no number within the bounds of {schema!r}")
    return lo, hi, exclude_lo, exclude_hi


def _integers(schema: dict[str, Any]) -> st.SearchStrategy[int]:
    lo, hi, _, _ = _bounds(schema, integer=True)
    step = schema.get("multipleOf")
    if step is None:
        return st.integers(int(lo), int(hi))
    if not isinstance(step, int) or isinstance(step, bool) or step <= 0:
        raise UnsupportedKeyword(f"multipleOf {step!r} is not a positive integer")
    k_lo, k_hi = -(-int(lo) // step), int(hi) // step
    if k_lo > k_hi:
        raise UnsupportedKeyword(f"no multiple of {step} within the bounds of {schema!r}")
    return st.integers(k_lo, k_hi).map(lambda k: k * step)


def _numbers(schema: dict[str, Any]) -> st.SearchStrategy[float | int]:
    if "multipleOf" in schema:
        raise UnsupportedKeyword("multipleOf is covered on integers only")
    lo, hi, exclude_lo, exclude_hi = _bounds(schema, integer=False)
    floats = st.floats(
        lo,
        hi,
        allow_nan=False,
        allow_infinity=False,
        exclude_min=exclude_lo,
        exclude_max=exclude_hi,
    )
    try:
        ilo, ihi, _, _ = _bounds(schema, integer=True)
    except UnsupportedKeyword:  # no integer between the bounds: floats only
        return floats
    return st.one_of(st.integers(int(ilo), int(ihi)), floats)


def _strings(schema: dict[str, Any]) -> st.SearchStrategy[str]:
    fmt = schema.get("format")
    lo = schema.get("minLength", 0)
    hi = schema.get("maxLength")
    if fmt == "date-time":
        # datetimes() never yields a leap second; years 2..9998 keep every offset in range.
        return st.tuples(
            st.datetimes(
                min_value=datetime(2, 1, 1),
                max_value=datetime(9998, 12, 31, 23, 59, 59),
                timezones=st.just(timezone.utc),
            ),
            st.sampled_from(("Z", "+00:00", "+05:30", "-08:00", "z")),
        ).map(lambda pair: _format_datetime(pair[0], pair[1]))
    if fmt == "uuid":
        return st.uuids().map(str)
    if "pattern" in schema:
        pattern = schema["pattern"]
        return st.from_regex(pattern, fullmatch=True).filter(
            lambda s: lo <= len(s) and (hi is None or len(s) <= hi)
        )
    cap = lo + 8 if hi is None else min(hi, lo + 8)
    return st.text(min_size=lo, max_size=cap)


def _for_type(t: str, schema: dict[str, Any], bundle: dict[str, Any]) -> st.SearchStrategy[Any]:
    if t == "null":
        return st.none()
    if t == "boolean":
        return st.booleans()
    if t == "integer":
        return _integers(schema)
    if t == "number":
        return _numbers(schema)
    if t == "string":
        return _strings(schema)
    if t == "array":
        item = from_schema(schema.get("items", {}), bundle)
        lo = schema.get("minItems", 0)
        hi = max(lo, min(schema.get("maxItems", MAX_ARRAY), MAX_ARRAY))
        return st.lists(item, min_size=lo, max_size=hi)
    if t == "object":
        return _objects(schema, bundle)
    raise UnsupportedKeyword(f"type {t!r} is not a JSON Schema type")


def _objects(schema: dict[str, Any], bundle: dict[str, Any]) -> st.SearchStrategy[Any]:
    props = schema.get("properties", {})
    required = set(schema.get("required", ()))
    undeclared = required - set(props)
    if undeclared:
        raise UnsupportedKeyword(f"required names undeclared properties {sorted(undeclared)}")
    fixed = st.fixed_dictionaries(
        {name: from_schema(props[name], bundle) for name in sorted(required)},
        optional={
            name: from_schema(sub, bundle) for name, sub in props.items() if name not in required
        },
    )
    extra = schema.get("additionalProperties", True)
    if extra is False:
        return fixed
    extra_values = st.integers(0, 9) if extra is True else from_schema(extra, bundle)
    extras = st.dictionaries(
        st.from_regex(r"zz_extra_[a-z]{1,4}", fullmatch=True), extra_values, max_size=2
    )
    return st.tuples(fixed, extras).map(lambda pair: {**pair[1], **pair[0]})


def from_schema(schema: dict[str, Any], bundle: dict[str, Any]) -> st.SearchStrategy[Any]:
    """A strategy for instances valid against ``schema`` (resolved inside ``bundle``)."""
    schema = normalize(bundle, schema)
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "anyOf" in schema:
        beside = set(schema) - {"anyOf"} - ANNOTATIONS
        if any(not k.startswith("x-") for k in beside):
            raise UnsupportedKeyword(f"anyOf with assertions beside it: {sorted(beside)}")
        return st.one_of([from_schema(sub, bundle) for sub in schema["anyOf"]])
    types = _types(schema)
    if types is None:
        if set(schema) & (ASSERTIONS - {"$ref", "allOf"}):
            raise UnsupportedKeyword(f"type-specific keywords without 'type': {schema!r}")
        # Any JSON value (the envelope's bare `payload`, narrowed by each event).
        return st.one_of(st.none(), st.booleans(), st.integers(-9, 9), st.text(max_size=3))
    if len(types) > 1 and not (len(types) == 2 and "null" in types):
        raise UnsupportedKeyword(f"type {list(types)!r}: only one type, or one with 'null'")
    return st.one_of([_for_type(t, schema, bundle) for t in types])


def event_schema(bundle: dict[str, Any], event: str) -> dict[str, Any]:
    """The normalized message schema of one event of the bundle."""
    ref = bundle["x-datadivr"]["events"][event]["schema"]
    return normalize(bundle, {"$ref": ref})


# --------------------------------------------------------------------------- mutations


@dataclass(frozen=True)
class Site:
    """One place of an instance and the (normalized) schema that governs it."""

    path: tuple[str | int, ...]
    schema: dict[str, Any]
    value: Any


def sites(schema: dict[str, Any], value: Any, path: tuple[str | int, ...] = ()) -> Iterator[Site]:
    """Every place of ``value`` (valid against ``schema``) together with its schema."""
    if len(path) > MAX_DEPTH:
        return
    yield Site(path, schema, value)
    if "anyOf" in schema:
        return  # which branch matched is not tracked: do not mutate inside
    if isinstance(value, dict):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for key, sub in value.items():
            if key in props:
                yield from sites(props[key], sub, (*path, key))
            elif isinstance(extra, dict):
                yield from sites(extra, sub, (*path, key))
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, sub in enumerate(value):
            yield from sites(schema["items"], sub, (*path, index))


def _json_type_ok(value: Any, types: tuple[str, ...]) -> bool:
    if value is None:
        return "null" in types
    if isinstance(value, bool):
        return "boolean" in types
    if isinstance(value, int):
        return "integer" in types or "number" in types
    if isinstance(value, float):
        return "number" in types or ("integer" in types and value.is_integer())
    if isinstance(value, str):
        return "string" in types
    if isinstance(value, list):
        return "array" in types
    return "object" in types


WRONG_TYPE_VALUES: tuple[Any, ...] = (None, True, 7, 0.5, "wrong", [], {})
BAD_PATTERN_CANDIDATES = ("!!", "", " ", "#", "~~~~", "A", "0", "a")
BAD_DATETIMES = (
    "2024-01-01T00:00:00",  # no offset
    "2024-13-01T00:00:00Z",  # month 13
    "2024-01-32T00:00:00Z",  # day 32
    "not a date",
    "1700000000",  # a Unix time
)
BAD_UUIDS = ("not-a-uuid", "1234", "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz", "12345678123412341234")


def _candidates(kind: str, site: Site) -> list[Any]:
    """The broken replacement values of ``kind`` for ``site`` (empty when not applicable)."""
    schema, value = site.schema, site.value
    types = _types(schema)
    if kind == "wrong_type":
        if types is None or "anyOf" in schema:
            return []
        return [v for v in WRONG_TYPE_VALUES if not _json_type_ok(v, types)]
    if kind == "missing_required":
        if not isinstance(value, dict):
            return []
        out: list[Any] = []
        for name in schema.get("required", ()):
            if name in value:
                broken = dict(value)
                del broken[name]
                out.append(broken)
        return out
    if kind == "extra_property":
        if not isinstance(value, dict) or schema.get("additionalProperties", True) is not False:
            return []
        assert EXTRA_KEY not in schema.get("properties", {})
        return [{**value, EXTRA_KEY: 1}]
    if kind == "out_of_bounds":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return []
        out = []
        if "minimum" in schema:
            out.append(math.floor(schema["minimum"]) - 1)
        if "exclusiveMinimum" in schema:
            out.append(schema["exclusiveMinimum"])
        if "maximum" in schema:
            out.append(math.ceil(schema["maximum"]) + 1)
        if "exclusiveMaximum" in schema:
            out.append(schema["exclusiveMaximum"])
        step = schema.get("multipleOf")
        if isinstance(step, int) and step > 1 and isinstance(value, int):
            # value + 1 is no multiple; keep it within bounds when possible.
            for candidate in (value + 1, value - 1):
                if _within(schema, candidate):
                    out.append(candidate)
                    break
        return out
    if kind == "bad_enum":
        allowed = [schema["const"]] if "const" in schema else schema.get("enum")
        if allowed is None:
            return []
        if types is None or "string" in types or any(isinstance(a, str) for a in allowed):
            text = "zz_not_allowed"
            while text in allowed:  # bounded: each pass makes it longer than any allowed string
                text += "_x"
            return [text]
        if "integer" in types or "number" in types:
            nums = [a for a in allowed if isinstance(a, int | float) and not isinstance(a, bool)]
            return [max(nums, default=0) + 1]
        if "boolean" in types:
            return [b for b in (True, False) if b not in allowed]
        return []
    if kind == "bad_pattern":
        if not isinstance(value, str) or "pattern" not in schema or "format" in schema:
            return []
        lo, hi = schema.get("minLength", 0), schema.get("maxLength")
        return [
            c
            for c in BAD_PATTERN_CANDIDATES
            if re.search(schema["pattern"], c) is None
            and lo <= len(c)
            and (hi is None or len(c) <= hi)
        ][:1]
    if kind == "bad_length":
        if isinstance(value, str):
            out = []
            if schema.get("minLength", 0) > 0:
                out.append("a" * (schema["minLength"] - 1))
            if "maxLength" in schema:
                out.append("a" * (schema["maxLength"] + 1))
            return out
        if isinstance(value, list):
            out = []
            if schema.get("minItems", 0) > 0:
                out.append(value[: schema["minItems"] - 1])
            if "maxItems" in schema and value and schema["maxItems"] <= LARGE_ARRAY:
                out.append(value + [value[0]] * (schema["maxItems"] + 1 - len(value)))
            return out
        return []
    if kind == "too_many_items":
        if not isinstance(value, list) or not value or schema.get("maxItems", 0) <= LARGE_ARRAY:
            return []
        return [value + [value[0]] * (schema["maxItems"] + 1 - len(value))]
    if kind == "bad_format":
        if not isinstance(value, str):
            return []
        if schema.get("format") == "date-time":
            return list(BAD_DATETIMES)
        if schema.get("format") == "uuid":
            return list(BAD_UUIDS)
        return []
    raise ValueError(f"unknown mutation {kind!r}")


def _within(schema: dict[str, Any], number: float) -> bool:
    return bool(
        number >= schema.get("minimum", -math.inf)
        and number > schema.get("exclusiveMinimum", -math.inf)
        and number <= schema.get("maximum", math.inf)
        and number < schema.get("exclusiveMaximum", math.inf)
    )


def _replace(instance: Any, path: tuple[str | int, ...], new: Any) -> Any:
    if not path:
        return new
    broken = copy.deepcopy(instance)
    target = broken
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = new
    return broken


def applicable(kind: str, schema: dict[str, Any], instance: Any) -> list[tuple[Site, Any]]:
    """Every (site, broken value) of mutation ``kind`` for ``instance`` (below its root for
    ``wrong_type``: the root of a message must stay an object to name its event)."""
    out: list[tuple[Site, Any]] = []
    for site in sites(schema, instance):
        if kind == "wrong_type" and not site.path:
            continue
        out.extend((site, new) for new in _candidates(kind, site))
    return out


@st.composite
def mutated(draw: st.DrawFn, kind: str, schema: dict[str, Any], instance: Any) -> tuple[Any, str]:
    """``instance`` broken by one mutation of ``kind`` (the caller ``assume``s applicability),
    and a description of it."""
    options = applicable(kind, schema, instance)
    if not options:
        return None, ""
    # `event_name` selects the event: breaking it is refused at dispatch, before any payload
    # model runs. Break it only when nothing else can receive this kind of mutation.
    deeper = [(site, new) for site, new in options if site.path != ("event_name",)]
    options = deeper or options
    site, new = draw(st.sampled_from(options))
    where = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in site.path)
    return _replace(instance, site.path, new), f"{kind} at {where}: {new!r}"[:300]


def reachable_mutations(schema: dict[str, Any]) -> set[str]:
    """Mutation kinds the schema makes possible somewhere (for the largest instances)."""
    found: set[str] = set()

    def walk(node: dict[str, Any], depth: int, root: bool) -> None:
        if depth > MAX_DEPTH:
            return
        types = _types(node) or ()
        if types and not root and "anyOf" not in node:
            found.add("wrong_type")
        if node.get("required"):
            found.add("missing_required")
        if "object" in types and node.get("additionalProperties", True) is False:
            found.add("extra_property")
        if {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"} & set(node):
            found.add("out_of_bounds")
        if "const" in node or "enum" in node:
            found.add("bad_enum")
        if "pattern" in node and "format" not in node:
            found.add("bad_pattern")
        if node.get("minLength", 0) > 0 or "maxLength" in node:
            found.add("bad_length")
        if node.get("minItems", 0) > 0 or node.get("maxItems", math.inf) <= LARGE_ARRAY:
            found.add("bad_length")
        if node.get("maxItems", 0) > LARGE_ARRAY:
            found.add("too_many_items")
        if node.get("format") in FORMATS:
            found.add("bad_format")
        for sub in node.get("properties", {}).values():
            walk(sub, depth + 1, False)
        if isinstance(node.get("items"), dict):
            walk(node["items"], depth + 1, False)

    walk(schema, 0, True)
    return found
