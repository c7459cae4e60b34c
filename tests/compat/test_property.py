"""The diff's soundness, tested with random schemas and random edits of them.

A payload schema is drawn from a small grammar of the keywords the generator accepts, then
edited once (a type changed, an enum value added or removed, a bound moved, a property or a
``required`` name added or removed, ``additionalProperties`` toggled, a pattern changed, the
items replaced, the node wrapped in ``anyOf``/``oneOf``/``not`` or given an ``if``/``then``,
a definition renamed, an annotation reworded, or nothing at all). Messages are then drawn from
OLD's payload schema and from NEW's (hypothesis-jsonschema) and validated under the other
(jsonschema, with the formats datadivr asserts): a payload valid under OLD and refused by NEW
must come with a change marked stricter that breaks the event's senders, and one valid under
NEW and refused by OLD with a change marked looser that breaks its receivers.
"""

from __future__ import annotations

import contextlib
import copy
import json
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import hypothesis.strategies as st
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis_jsonschema import from_schema
from jsonschema import Draft202012Validator, FormatChecker

from datadivr.compat import Side, diff_protocols

C, S = Side.CLIENTS, Side.SERVERS
SENDERS: Mapping[str, frozenset[Side]] = {
    "client_to_server": frozenset({C}),
    "server_to_client": frozenset({S}),
    "client_to_client": frozenset({C}),
    "both": frozenset({C, S}),
}
RECEIVERS: Mapping[str, frozenset[Side]] = {
    "client_to_server": frozenset({S}),
    "server_to_client": frozenset({C}),
    "client_to_client": frozenset({C, S}),
    "both": frozenset({C, S}),
}
FORMATS = FormatChecker(formats=("date-time", "uuid"))
#: hypothesis-jsonschema draws date-times on its own; uuids it is told how.
CUSTOM_FORMATS = {"uuid": st.uuids().map(str)}
NAMES = ("a", "b", "c")
PATTERNS = ("^[a-z]*$", "^[0-9]+$", "^x", "[A-Z]")
#: How many payloads each example draws from OLD and from NEW (at most).
DRAWS = 4

_ENVELOPE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "event_name": {"type": "string"},
        "payload": {},
        "to": {"type": "string"},
        "message": {"type": ["string", "null"]},
    },
    "required": ["event_name"],
    "additionalProperties": False,
}


def bundle(payload: Any, defs: Mapping[str, Any], direction: str) -> dict[str, Any]:
    """A bundled protocol of the one event ``e``, in the shape of ``schema.json``."""
    all_defs: dict[str, Any] = {"Envelope": _ENVELOPE, **defs, "EPayload": payload}
    all_defs["EMessage"] = {
        "type": "object",
        "allOf": [
            {"$ref": "#/$defs/Envelope"},
            {
                "type": "object",
                "properties": {
                    "event_name": {"const": "e"},
                    "payload": {"$ref": "#/$defs/EPayload"},
                },
                "required": ["event_name", "payload"],
            },
        ],
    }
    event = {
        "direction": direction,
        "reply": None,
        "message": "optional",
        "schema": "#/$defs/EMessage",
        "payload": "#/$defs/EPayload",
    }
    return {"$defs": all_defs, "x-datadivr": {"events": {"e": event}}}


# -- the grammar -------------------------------------------------------------------------------

_small = st.integers(0, 4)


def _optional(**keywords: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional=keywords)


strings = st.one_of(
    _optional(minLength=_small, maxLength=st.integers(2, 6)),
    _optional(pattern=st.sampled_from(PATTERNS)),
    _optional(format=st.sampled_from(("date-time", "uuid"))),
).map(lambda kw: {"type": "string", **kw})
integers = _optional(
    minimum=st.integers(-3, 3),
    maximum=st.integers(2, 9),
    exclusiveMinimum=st.integers(-5, 0),
    multipleOf=st.integers(1, 3),
).map(lambda kw: {"type": "integer", **kw})
numbers = _optional(
    minimum=st.sampled_from((-1, 0, 0.5)),
    exclusiveMaximum=st.sampled_from((1, 2.5, 10)),
).map(lambda kw: {"type": "number", **kw})
enums = st.lists(
    st.one_of(st.sampled_from(("x", "y", "z")), st.integers(0, 3), st.none()),
    min_size=1,
    max_size=3,
    unique=True,
).map(lambda values: {"enum": values})


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "type": [schema["type"], "null"]}


leaves = st.one_of(
    strings,
    integers,
    numbers,
    st.one_of(strings, integers, numbers).map(_nullable),
    enums,
    st.sampled_from(("boolean", "null")).map(lambda t: {"type": t}),
    st.sampled_from(("x", 1, True)).map(lambda v: {"const": v}),
)


def _arrays(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.tuples(
        children, _optional(minItems=st.integers(0, 2), maxItems=st.integers(2, 4))
    ).map(lambda t: {"type": "array", "items": t[0], **t[1]})


def _objects(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.tuples(
        st.dictionaries(st.sampled_from(NAMES), children, min_size=1, max_size=3),
        st.booleans(),
    ).flatmap(
        lambda t: st.lists(st.sampled_from(sorted(t[0])), unique=True).map(
            lambda required: _object(t[0], required, closed=t[1])
        )
    )


def _object(props: Mapping[str, Any], required: list[str], *, closed: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "properties": dict(props)}
    if required:
        out["required"] = sorted(required)
    if closed:
        out["additionalProperties"] = False
    return out


schemas = st.recursive(
    leaves,
    lambda children: st.one_of(
        _arrays(children),
        _objects(children),
        st.lists(children, min_size=2, max_size=2).map(lambda b: {"anyOf": b}),
    ),
    max_leaves=4,
)
payloads = _objects(schemas)


# -- the edits ---------------------------------------------------------------------------------

Path = tuple[str | int, ...]


def _nodes(node: Any, path: Path = ()) -> list[Path]:
    """The paths of every subschema of ``node`` (itself first)."""
    if not isinstance(node, dict):
        return [path]
    out = [path]
    for key in ("items", "not", "if", "then", "else", "additionalProperties"):
        if isinstance(node.get(key), dict):
            out += _nodes(node[key], (*path, key))
    for key in ("anyOf", "oneOf"):
        for i, branch in enumerate(node.get(key, [])):
            out += _nodes(branch, (*path, key, i))
    for name, prop in node.get("properties", {}).items():
        out += _nodes(prop, (*path, "properties", name))
    return out


def _get(node: Any, path: Path) -> Any:
    for key in path:
        node = node[key]
    return node


def _set(root: Any, path: Path, value: Any) -> Any:
    if not path:
        return value
    _get(root, path[:-1])[path[-1]] = value
    return root


Edit = Callable[[dict[str, Any]], Any]


def _bump(key: str, delta: int | float) -> Edit:
    def edit(node: dict[str, Any]) -> Any:
        if key in node:
            node[key] = node[key] + delta
        else:
            node[key] = 1 if delta > 0 else 0
        return node

    return edit


def _drop(key: str) -> Edit:
    def edit(node: dict[str, Any]) -> Any:
        node.pop(key, None)
        return node

    return edit


def _put(key: str, value: Any) -> Edit:
    def edit(node: dict[str, Any]) -> Any:
        node[key] = copy.deepcopy(value)
        return node

    return edit


@dataclass
class Tally:
    """What the examples met, so that the test can tell it tested something."""

    silent: int = 0
    stricter_witnesses: int = 0
    looser_witnesses: int = 0
    one_way: int = 0
    edits: dict[str, int] = field(default_factory=dict)


def _edits(node: dict[str, Any], other: Any) -> dict[str, Edit]:
    """The edits that apply to ``node``, by name; ``other`` is a schema to bring in."""
    edits: dict[str, Edit] = {
        "replace": lambda n: copy.deepcopy(other),
        "wrap-any-of": lambda n: {"anyOf": [n, copy.deepcopy(other)]},
        "wrap-one-of": lambda n: {"oneOf": [n, copy.deepcopy(other)]},
        "add-not": lambda n: {**n, "not": copy.deepcopy(other)},
        "add-if-then": lambda n: {**n, "if": copy.deepcopy(other), "then": {"type": "string"}},
        "add-if-else": lambda n: {**n, "if": copy.deepcopy(other), "else": {"const": 1}},
    }
    kind = node.get("type")
    if isinstance(kind, list):
        edits["type-narrowed"] = _put("type", kind[0])
        kind = kind[0]
    elif kind is not None:
        for new_type in ("string", "integer", "number", "null", "object"):
            if new_type != kind:
                edits[f"type-{new_type}"] = _put("type", new_type)
        edits["type-list"] = _put("type", [kind, "null"] if kind != "null" else ["null", "string"])
    if "enum" in node:
        edits["enum-add"] = lambda n: {**n, "enum": [*n["enum"], "w"]}
        if len(node["enum"]) > 1:
            edits["enum-remove"] = lambda n: {**n, "enum": n["enum"][1:]}
    if "const" in node:
        edits["const-change"] = _put("const", "other")
        edits["const-to-enum"] = lambda n: {"enum": [n["const"], 2]}
    if kind in ("integer", "number"):
        for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            edits[f"{key}-up"] = _bump(key, 1)
            edits[f"{key}-down"] = _bump(key, -1)
            edits[f"{key}-drop"] = _drop(key)
        edits["multiple-of"] = _put("multipleOf", 2)
        edits["multiple-of-drop"] = _drop("multipleOf")
    if kind == "string":
        for key in ("minLength", "maxLength"):
            edits[f"{key}-up"] = _bump(key, 1)
            edits[f"{key}-down"] = _bump(key, -1) if node.get(key, 0) > 0 else _drop(key)
            edits[f"{key}-drop"] = _drop(key)
        edits["pattern-change"] = _put("pattern", "^[a-c]*$")
        edits["pattern-drop"] = _drop("pattern")
        edits["format-date-time"] = _put("format", "date-time")
        edits["format-drop"] = _drop("format")
    if kind == "array":
        edits["items-change"] = _put("items", other)
        edits["items-drop"] = _drop("items")
        edits["min-items-up"] = _bump("minItems", 1)
        edits["max-items-down"] = (
            _bump("maxItems", -1) if node.get("maxItems", 0) > 0 else _drop("maxItems")
        )
        edits["unique-items"] = _put("uniqueItems", True)
        edits["prefix-items-add"] = _put("prefixItems", [other])
    if kind == "object":
        props = node.get("properties", {})
        required = node.get("required", [])
        free = [n for n in NAMES if n not in props]
        if free:
            edits["property-add"] = lambda n: {
                **n,
                "properties": {**n["properties"], free[0]: copy.deepcopy(other)},
            }
        if props:
            gone = sorted(props)[0]
            edits["property-remove"] = lambda n: {
                **n,
                "properties": {k: v for k, v in n["properties"].items() if k != gone},
                **(
                    {"required": [r for r in n["required"] if r != gone]} if "required" in n else {}
                ),
            }
        optional = [p for p in props if p not in required]
        if optional:
            edits["required-add"] = lambda n: {**n, "required": sorted([*required, optional[0]])}
        if required:
            edits["required-remove"] = lambda n: {**n, "required": required[1:]}
        if node.get("additionalProperties") is False:
            edits["additional-open"] = _drop("additionalProperties")
        else:
            edits["additional-close"] = _put("additionalProperties", False)
        edits["additional-schema"] = _put("additionalProperties", other)
        edits["property-names"] = _put("propertyNames", {"maxLength": 1})
        edits["max-properties"] = _put("maxProperties", 1)
        edits["min-properties"] = _put("minProperties", 1)
        if len(props) > 1:
            first, second = sorted(props)[:2]
            edits["dependent-required"] = _put("dependentRequired", {first: [second]})
    return edits


_BOUND_EDITS = ("min", "max", "exclusive", "multiple")


def _family(edit: str) -> str:
    """The family of an edit: its first word, every bound's edit in one family."""
    word = edit.split("-")[0]
    return "bound" if word.startswith(_BOUND_EDITS) else word


#: Edits after which nothing may change.
SILENT = ("none", "annotate", "rename-definition")


@st.composite
def cases(draw: st.DrawFn) -> tuple[str, Any, Any, dict[str, Any], dict[str, Any], str]:
    """(edit, OLD payload, NEW payload, OLD defs, NEW defs, direction)."""
    old = draw(payloads)
    direction = draw(st.sampled_from(sorted(SENDERS)))
    # Sometimes a property's schema is a shared definition, reached by $ref.
    shared = draw(st.booleans())
    how = draw(st.sampled_from(("edit",) * 16 + SILENT))
    new = copy.deepcopy(old)
    # Edits picked evenly (sampled_from leans towards the first choices).
    # Seeded by the schema too: hypothesis draws the same few seeds over and over.
    rnd = random.Random(json.dumps([old, draw(st.integers(0, 2**16))], sort_keys=True))
    if how == "edit":
        other = draw(leaves)
        # A family of edits first (the type, a bound, a property …), then a node it applies to:
        # else the edits every node has would crowd out the others.
        families: dict[str, list[tuple[Path, str]]] = {}
        for path in _nodes(new):
            for name in _edits(_get(new, path), other):
                families.setdefault(_family(name), []).append((path, name))
        path, how = rnd.choice(families[rnd.choice(sorted(families))])
        node = _get(new, path)
        new = _set(new, path, _edits(node, other)[how](copy.deepcopy(node)))
    elif how == "annotate":
        path = rnd.choice(_nodes(new))
        node = _get(new, path)
        if isinstance(node, dict):
            node.update(title="Renamed", description="Reworded.", examples=[], default=None)
    old_defs: dict[str, Any] = {}
    new_defs: dict[str, Any] = {}
    if shared or how == "rename-definition":
        name = sorted(old["properties"])[0]
        if name in new.get("properties", {}):
            old_defs = {"Shared": old["properties"][name]}
            old["properties"][name] = {"$ref": "#/$defs/Shared"}
            target = "Renamed" if how == "rename-definition" else "Shared"
            new_defs = {target: new["properties"][name]}
            new["properties"][name] = {"$ref": f"#/$defs/{target}"}
    return how, old, new, old_defs, new_defs, direction


_BOUNDS = (
    ("minLength", "maxLength"),
    ("minItems", "maxItems"),
    ("minProperties", "maxProperties"),
    ("minimum", "maximum"),
)


def _crossed(node: Any) -> bool:
    """Whether some subschema has a lower bound above its upper bound: hypothesis-jsonschema
    passes those to hypothesis, whose strategies then fail once, and not again (they are
    cached), which hypothesis takes for a test that draws differently each run."""
    if isinstance(node, list):
        return any(_crossed(n) for n in node)
    if not isinstance(node, dict):
        return False
    for low, high in _BOUNDS:
        if low in node and high in node and node[low] > node[high]:
            return True
    return any(_crossed(v) for k, v in node.items() if k not in ("enum", "const"))


def _sample(schema: Any, defs: Mapping[str, Any]) -> list[Any]:
    """Payloads drawn from ``schema`` by hypothesis-jsonschema (none when it accepts nothing or
    hypothesis-jsonschema cannot draw from it).

    They are drawn by a test of their own, derandomized, so that the same schema always gives
    the same payloads: hypothesis-jsonschema fails on some schemas (an ``AssertionError`` of
    its own, an ``InvalidArgument`` from hypothesis), and only once per schema (hypothesis
    caches its strategies), which, drawn from the outer test's data, would make the outer test
    draw differently each run.
    """
    # hypothesis-jsonschema may rewrite what it is given: it gets a copy.
    whole = copy.deepcopy({**schema, "$defs": dict(defs)} if defs else schema)
    if _crossed(whole):
        return []
    drawn: list[Any] = []

    @settings(
        max_examples=DRAWS,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(from_schema(whole, custom_formats=CUSTOM_FORMATS))
    def draw(payload: Any) -> None:
        drawn.append(payload)

    with contextlib.suppress(Exception):  # nothing to draw, or hypothesis-jsonschema failed
        draw()
    return drawn


def _validator(schema: Any, defs: Mapping[str, Any]) -> Draft202012Validator:
    whole = {**schema, "$defs": dict(defs)} if defs else schema
    return Draft202012Validator(whole, format_checker=FORMATS)


def test_every_payload_that_changes_validity_is_reported_for_the_right_side() -> None:
    tally = Tally()

    @settings(
        max_examples=500,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.nested_given],
        database=None,
    )
    @given(case=cases())
    def check(case: tuple[str, Any, Any, Any, Any, str]) -> None:
        how, old, new, old_defs, new_defs, direction = case
        tally.edits[how] = tally.edits.get(how, 0) + 1
        diff = diff_protocols(bundle(old, old_defs, direction), bundle(new, new_defs, direction))
        seen = [(c.kind, c.path, c.stricter, c.looser) for c in diff.changes]
        if how in SILENT:
            assert diff.changes == (), (how, old, new, seen)
            tally.silent += 1
            return
        old_check = _validator(old, old_defs)
        new_check = _validator(new, new_defs)
        for payload in _sample(old, old_defs):
            if old_check.is_valid(payload) and not new_check.is_valid(payload):
                tally.stricter_witnesses += 1
                assert any(c.stricter for c in diff.changes), (payload, old, new, seen)
                assert SENDERS[direction] <= diff.breaks, (payload, direction, seen)
        for payload in _sample(new, new_defs):
            if new_check.is_valid(payload) and not old_check.is_valid(payload):
                tally.looser_witnesses += 1
                assert any(c.looser for c in diff.changes), (payload, old, new, seen)
                assert RECEIVERS[direction] <= diff.breaks, (payload, direction, seen)
        stricter = any(c.stricter for c in diff.changes)
        looser = any(c.looser for c in diff.changes)
        tally.one_way += stricter != looser

    check()
    # The property held on something: payloads changed validity both ways, and the diff was
    # silent where it must be, and not "both ways" everywhere else.
    assert tally.stricter_witnesses > 0, tally
    assert tally.looser_witnesses > 0, tally
    assert tally.silent > 0, tally
    assert tally.one_way > 0, tally
