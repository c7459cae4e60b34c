"""The diff engine's own guarantees, beside the table of changes: recursion, renames, the
envelope compared once, precision on the usual shapes, and the diff's summaries."""

from __future__ import annotations

import copy
import json
from importlib import resources
from typing import Any

import pytest

from datadivr.compat import Side, diff_protocols, fingerprint

_ENVELOPE: dict[str, Any] = {
    "type": "object",
    "properties": {"event_name": {"type": "string"}, "payload": {}, "to": {"type": "string"}},
    "required": ["event_name"],
    "additionalProperties": False,
}


def bundle(
    payloads: dict[str, Any],
    defs: dict[str, Any] | None = None,
    *,
    direction: str = "client_to_server",
    envelope: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A bundled protocol of one event per payload, in the shape of ``schema.json``."""
    all_defs: dict[str, Any] = {"Envelope": envelope or _ENVELOPE, **(defs or {})}
    events = {}
    for name, payload in payloads.items():
        all_defs[f"{name}_payload"] = payload
        all_defs[f"{name}_message"] = {
            "type": "object",
            "allOf": [
                {"$ref": "#/$defs/Envelope"},
                {
                    "type": "object",
                    "properties": {
                        "event_name": {"const": name},
                        "payload": {"$ref": f"#/$defs/{name}_payload"},
                    },
                    "required": ["event_name", "payload"],
                },
            ],
        }
        events[name] = {
            "direction": direction,
            "reply": None,
            "message": "optional",
            "schema": f"#/$defs/{name}_message",
            "payload": f"#/$defs/{name}_payload",
        }
    return {"$defs": all_defs, "x-datadivr": {"events": events}}


def _tree(name: str, value_type: str = "integer") -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "value": {"type": value_type},
            "children": {"type": "array", "items": {"$ref": f"#/$defs/{name}"}},
        },
        "required": ["value"],
        "additionalProperties": False,
    }


def test_a_recursive_definition_is_compared_to_its_end() -> None:
    old = bundle({"e": {"$ref": "#/$defs/Tree"}}, {"Tree": _tree("Tree")})
    new = bundle({"e": {"$ref": "#/$defs/Tree"}}, {"Tree": _tree("Tree", "number")})
    diff = diff_protocols(old, new)
    assert [(c.kind, c.path, c.breaks) for c in diff.changes] == [
        ("type-widened", "$.payload.value", frozenset({Side.SERVERS}))
    ]
    assert diff_protocols(old, old).changes == ()


def test_a_renamed_definition_changes_nothing_nor_the_fingerprint() -> None:
    old = bundle({"e": {"$ref": "#/$defs/Tree"}}, {"Tree": _tree("Tree")})
    new = bundle({"e": {"$ref": "#/$defs/Node"}}, {"Node": _tree("Node")})
    assert diff_protocols(old, new).changes == ()
    assert fingerprint(old) == fingerprint(new)


def test_annotations_keep_the_fingerprint_and_a_wire_change_does_not() -> None:
    old = bundle({"e": {"type": "string", "maxLength": 3}})
    reworded = copy.deepcopy(old)
    reworded["$defs"]["e_payload"].update(
        description="A name.", title="Name", examples=["abc"], default="x"
    )
    reworded["$defs"]["e_payload"]["format"] = "email"  # an annotation in datadivr
    assert fingerprint(old) == fingerprint(reworded)
    assert diff_protocols(old, reworded).changes == ()
    tightened = bundle({"e": {"type": "string", "maxLength": 2}})
    assert fingerprint(old) != fingerprint(tightened)
    assert fingerprint(old).startswith("fp1-")


def test_an_envelope_change_is_one_change_for_every_message() -> None:
    envelope: dict[str, Any] = copy.deepcopy(_ENVELOPE)
    envelope["properties"]["to"]["maxLength"] = 10
    old = bundle({"a": {"type": "string"}, "b": {"type": "string"}}, direction="both")
    new = bundle(
        {"a": {"type": "string"}, "b": {"type": "string"}}, direction="both", envelope=envelope
    )
    diff = diff_protocols(old, new)
    assert [(c.event, c.kind, c.path) for c in diff.changes] == [(None, "max-length-added", "$.to")]
    assert diff.breaks == {Side.CLIENTS, Side.SERVERS}
    assert diff.headline().startswith("breaks clients and servers: every message: ")


def test_dropping_null_from_an_any_of_is_stricter_only() -> None:
    old = bundle({"e": {"anyOf": [{"type": "string"}, {"type": "null"}]}})
    new = bundle({"e": {"type": "string"}})
    diff = diff_protocols(old, new)
    assert [(c.kind, c.stricter, c.looser) for c in diff.changes] == [
        ("anyof-branch-removed", True, False)
    ]
    assert diff.breaks == {Side.CLIENTS}
    back = diff_protocols(new, old)
    assert back.breaks == {Side.SERVERS}


def test_one_of_is_an_any_of_only_while_its_branches_cannot_overlap() -> None:
    tagged = [
        {"type": "object", "properties": {"k": {"const": "a"}}, "required": ["k"]},
        {"type": "object", "properties": {"k": {"const": "b"}}, "required": ["k"]},
    ]
    extra = {"type": "object", "properties": {"k": {"const": "c"}}, "required": ["k"]}
    disjoint = diff_protocols(
        bundle({"e": {"oneOf": tagged}}), bundle({"e": {"oneOf": [*tagged, extra]}})
    )
    assert disjoint.breaks == {Side.SERVERS}
    overlapping = diff_protocols(
        bundle({"e": {"oneOf": tagged}}), bundle({"e": {"oneOf": [*tagged, {"type": "object"}]}})
    )
    # {"k": "a"} matched one branch and now matches two: refused.
    assert overlapping.breaks == {Side.CLIENTS, Side.SERVERS}


def test_many_branches_are_reported_without_comparing_every_pair() -> None:
    old = bundle({"e": {"anyOf": [{"const": i} for i in range(30)]}})
    new = bundle({"e": {"anyOf": [{"const": i} for i in range(1, 31)]}})
    diff = diff_protocols(old, new)
    assert [(c.kind, c.stricter, c.looser) for c in diff.changes] == [("anyof-changed", True, True)]


@pytest.mark.parametrize(
    "document",
    [{}, {"x-datadivr": {}}, {"x-datadivr": {"events": {"e": {"direction": "sideways"}}}}],
)
def test_a_document_that_is_no_protocol_is_refused(document: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="OLD"):
        diff_protocols(document, bundle({"e": {}}))
    with pytest.raises(ValueError, match=r"protocol|direction"):
        fingerprint(document)


def test_a_dangling_reference_is_refused() -> None:
    broken = bundle({"e": {"type": "string"}})
    broken["x-datadivr"]["events"]["e"]["schema"] = "#/$defs/Missing"
    with pytest.raises(ValueError, match=r"NEW: event 'e'.*leads nowhere"):
        diff_protocols(bundle({"e": {}}), broken)


def test_allowed_changes_are_set_aside() -> None:
    old = bundle({"e": {"enum": ["a", "b"]}, "f": {"type": "string"}})
    new = bundle({"e": {"enum": ["a"]}, "f": {"type": "integer"}})
    diff = diff_protocols(old, new)
    assert diff.headline(Side.CLIENTS) == (
        'breaks clients: e: value "b" removed at $.payload (and 1 more change)'
    )
    assert diff.headline(Side.SERVERS).startswith("breaks servers: f: type string → integer")
    kept = diff.without(["e:enum-value-removed:$.payload"])
    assert [c.id for c in kept.allowed] == ["e:enum-value-removed:$.payload"]
    assert [c.event for c in kept.changes] == ["f"]
    assert kept.without([c.id for c in kept.changes]).breaks == frozenset()
    assert kept.without([c.id for c in kept.changes]).headline() == ""


def test_the_demo_protocol_compares_equal_to_itself() -> None:
    text = resources.files("datadivr.demo").joinpath("schema.json").read_text(encoding="utf-8")
    demo = json.loads(text)
    assert diff_protocols(demo, copy.deepcopy(demo)).changes == ()
    assert fingerprint(demo) == fingerprint(copy.deepcopy(demo))


def test_thousands_of_enum_values_are_one_change_each_way() -> None:
    old = bundle({"e": {"enum": [f"v{i}" for i in range(5000)]}})
    new = bundle({"e": {"enum": [f"v{i}" for i in range(2500, 7500)]}})
    diff = diff_protocols(old, new)
    assert [(c.kind, c.summary) for c in diff.changes] == [
        (
            "enum-value-removed",
            'values "v0", "v1", "v2", "v3", "v4" and 2495 more removed',
        ),
        (
            "enum-value-added",
            'values "v5000", "v5001", "v5002", "v5003", "v5004" and 2495 more added',
        ),
    ]


def test_a_schema_nested_too_deeply_is_refused_not_crashed() -> None:
    deep: dict[str, Any] = {"type": "string"}
    for _ in range(5000):
        deep = {"type": "array", "items": deep}
    with pytest.raises(ValueError, match="nested too deeply"):
        diff_protocols(bundle({"e": {"type": "string"}}), bundle({"e": deep}))
    with pytest.raises(ValueError, match="nested too deeply"):
        fingerprint(bundle({"e": deep}))


def test_a_comparison_too_large_is_refused_within_its_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Nested unions whose pairs multiply, as a hostile server could publish: the comparison
    stops at its budget with an error, instead of running for minutes."""
    from datadivr.compat import _schemas

    branches: dict[str, Any] = {"type": "string"}
    for _ in range(6):
        branches = {
            "anyOf": [{"type": "object", "properties": {f"k{i}": branches}} for i in range(6)]
        }
    changed = json.loads(json.dumps(branches).replace('"string"', '"integer"'))
    for budget in ("MAX_COMPARISONS", "MAX_VISITS"):
        with monkeypatch.context() as patch:
            patch.setattr(_schemas, budget, 2000)
            with pytest.raises(ValueError, match="too large to compare"):
                diff_protocols(bundle({"a": branches}), bundle({"a": changed}))
