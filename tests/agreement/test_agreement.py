"""The generated models and the reference validator agree, event by event.

``PROTOCOL.parse`` (the generated Pydantic models) and ``Validator().validate`` (jsonschema,
draft 2020-12, formats asserted, over the bundled ``PROTOCOL.schema``) must accept the same
valid instances and refuse the same broken ones. Instances come from each event's message
schema (``$defs[<MessageClass>]``) through :mod:`tests.agreement.strategies`, which covers
exactly the keywords the generator supports: ``type`` (with a ``"null"`` pair),
``properties``/``required``/``additionalProperties``, ``items``/``minItems``/``maxItems``,
``minimum``/``maximum``/``exclusiveMinimum``/``exclusiveMaximum``/``multipleOf`` (integers),
``minLength``/``maxLength``/``pattern``, ``enum``/``const``, ``format`` ``date-time`` and
``uuid``, ``anyOf``, ``allOf`` of object ``$ref``s, and ``$ref`` to ``#/$defs/<Name>``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st

from datadivr.demo import PROTOCOL
from datadivr.exceptions import ProtocolError
from datadivr.validation import Validator

from .strategies import (
    MUTATIONS,
    UnsupportedKeyword,
    applicable,
    event_schema,
    from_schema,
    mutated,
    reachable_mutations,
)

BUNDLE: dict[str, Any] = PROTOCOL.schema
EVENTS = sorted(PROTOCOL.events)
VALIDATOR = Validator()
SCHEMAS = {event: event_schema(BUNDLE, event) for event in EVENTS}
STRATEGIES = {event: from_schema(SCHEMAS[event], BUNDLE) for event in EVENTS}
CASES = [
    (event, kind)
    for event in EVENTS
    for kind in MUTATIONS
    if kind in reachable_mutations(SCHEMAS[event])
]
LARGE_ARRAY_EVENTS = [e for e in EVENTS if "too_many_items" in reachable_mutations(SCHEMAS[e])]


def _models_accept(text: str) -> tuple[bool, str]:
    try:
        message = PROTOCOL.parse(text)
    except ProtocolError as exc:
        return False, f"{type(exc).__name__}: {exc}"
    return True, repr(message)[:500]


def _validator_verdict(text: str) -> tuple[bool, str]:
    report = VALIDATOR.validate(text)
    return report.valid, "; ".join(
        f"{v.path} {v.kind}: {v.reason}"[:200] for v in report.violations
    )


def test_every_event_has_a_message_schema() -> None:
    assert EVENTS, "the protocol has no events"
    for event in EVENTS:
        schema = SCHEMAS[event]
        assert schema["properties"]["event_name"]["const"] == event
        assert "event_name" in schema["required"]
        assert schema["additionalProperties"] is False


def test_every_mutation_kind_is_exercised_somewhere() -> None:
    # A mutation kind that no event can receive would be a silent hole in the agreement.
    kinds = {kind for _, kind in CASES}
    assert kinds == set(MUTATIONS), f"never exercised: {sorted(set(MUTATIONS) - kinds)}"


@pytest.mark.parametrize(
    "schema",
    [
        {"oneOf": [{"type": "string"}]},
        {"type": "array", "uniqueItems": True},
        {"type": "string", "format": "email"},
        {"not": {"type": "null"}},
        {"type": "object", "patternProperties": {"^a": {"type": "string"}}},
        {"$ref": "https://example.com/schema"},
        {"type": "string", "minLenght": 1},
        {
            "allOf": [
                {"type": "object", "properties": {"a": {}}, "additionalProperties": False},
                {"type": "object", "properties": {"b": {}}},
            ]
        },
    ],
)
def test_unsupported_keywords_fail_loudly(schema: dict[str, Any]) -> None:
    with pytest.raises(UnsupportedKeyword):
        from_schema(schema, {"$defs": {}})


@pytest.mark.parametrize("event", EVENTS)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_valid_instances_are_accepted_by_both(event: str, data: st.DataObject) -> None:
    instance = data.draw(STRATEGIES[event], label="instance")
    assert instance["event_name"] == event
    text = json.dumps(instance)
    valid, why = _validator_verdict(text)
    assert valid, f"the reference validator refused a valid instance: {why}\n{text[:2000]}"
    accepted, parsed = _models_accept(text)
    assert accepted, f"the models refused a valid instance: {parsed}\n{text[:2000]}"
    assert PROTOCOL.parse(text).event_name == event


@pytest.mark.parametrize(("event", "kind"), CASES)
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(data=st.data())
def test_broken_instances_are_refused_by_both(event: str, kind: str, data: st.DataObject) -> None:
    schema = SCHEMAS[event]
    instance = data.draw(STRATEGIES[event], label="instance")
    assume(applicable(kind, schema, instance))
    broken, description = data.draw(mutated(kind, schema, instance), label="mutation")
    note(description)
    text = json.dumps(broken)
    assert text != json.dumps(instance), "the mutation changed nothing"
    valid, why = _validator_verdict(text)
    accepted, parsed = _models_accept(text)
    shown = text if len(text) <= 2000 else text[:2000] + "…"
    assert not valid, f"reference validator accepted {description}\n{shown}"
    assert not accepted, f"models accepted {description} ({parsed})\n{shown}"
    assert why, "an invalid report names no violation"


@pytest.mark.parametrize("event", LARGE_ARRAY_EVENTS)
@settings(
    max_examples=5,  # each example carries an array over a large maxItems (e.g. 100001 numbers)
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(data=st.data())
def test_arrays_over_a_large_max_items_are_refused_by_both(event: str, data: st.DataObject) -> None:
    schema = SCHEMAS[event]
    instance = data.draw(STRATEGIES[event], label="instance")
    assume(applicable("too_many_items", schema, instance))
    broken, description = data.draw(mutated("too_many_items", schema, instance), label="mutation")
    note(description)
    text = json.dumps(broken)
    valid, why = _validator_verdict(text)
    accepted, parsed = _models_accept(text)
    assert not valid, f"reference validator accepted {description}"
    assert "maxItems" in why, why
    assert not accepted, f"models accepted {description} ({parsed})"


# The protocol uses only part of the subset; this synthetic bundle reaches the rest of the
# builder (exclusive bounds, multipleOf, minItems, anyOf, typed additionalProperties,
# integer/boolean enums) so its output is checked against jsonschema too.
SYNTHETIC: dict[str, Any] = {
    "$defs": {
        "Base": {
            "type": "object",
            "properties": {"a": {"type": "integer", "exclusiveMinimum": 0, "multipleOf": 3}},
            "required": ["a"],
        },
        "Thing": {
            "type": "object",
            "allOf": [{"$ref": "#/$defs/Base"}],
            "properties": {
                "b": {"type": "number", "exclusiveMinimum": -1, "exclusiveMaximum": 1},
                "c": {"type": "array", "items": {"type": "boolean"}, "minItems": 4, "maxItems": 6},
                "d": {"anyOf": [{"type": "string", "maxLength": 2}, {"type": "integer"}]},
                "e": {"type": ["integer", "null"], "enum": [1, 2, None]},
                "f": {"type": "object", "additionalProperties": {"type": "string", "minLength": 1}},
                "g": {"type": "integer", "maximum": -5_000_000},
            },
            "required": ["b", "c"],
        },
    }
}


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_the_builder_agrees_with_jsonschema_on_the_rest_of_the_subset(
    data: st.DataObject,
) -> None:
    from jsonschema import Draft202012Validator

    schema = {"$ref": "#/$defs/Thing", "$defs": SYNTHETIC["$defs"]}
    checker = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    normalized = event_schema(
        {**SYNTHETIC, "x-datadivr": {"events": {"t": {"schema": "#/$defs/Thing"}}}}, "t"
    )
    instance = data.draw(from_schema(normalized, SYNTHETIC), label="instance")
    errors = [e.message for e in checker.iter_errors(instance)]
    assert not errors, errors
    kind = data.draw(st.sampled_from([k for k in MUTATIONS if applicable(k, normalized, instance)]))
    broken, description = data.draw(mutated(kind, normalized, instance), label="mutation")
    note(description)
    assert not checker.is_valid(broken), f"jsonschema accepted {description}"
