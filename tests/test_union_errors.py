"""Failures of union (``anyOf``) values name places in the frame, not pydantic's branch classes.

No sockets: frames are parsed by the protocol core, messages and payloads built locally, and
the paths compared with the reference validator's (``/validate``'s).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from datadivr.core._factories import create_message
from datadivr.core._protocol import EXHAUSTIVE_ITEMS
from datadivr.core._violations import MAX_DETAILS, NO_BRANCH, violations
from datadivr.exceptions import MessageValidationError, ProtocolError
from datadivr.validation import Validator
from tests.agreement.strategies import (
    MUTATIONS,
    applicable,
    event_schema,
    from_schema,
    mutated,
)
from tests.unions import union_package


@pytest.fixture(scope="module")
def unions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    with union_package(tmp_path_factory.mktemp("unions")) as package:
        yield package


def _refusal(unions: ModuleType, payload: Any) -> MessageValidationError:
    frame = json.dumps({"event_name": "act", "payload": payload})
    with pytest.raises(MessageValidationError) as caught:
        unions.PROTOCOL.parse(frame)
    return caught.value


def _places(error: MessageValidationError) -> list[tuple[str, str | None]]:
    return [(d.path, d.kind) for d in error.details]


def _in_frame(frame: Any, path: str, kind: str | None) -> bool:
    """Whether ``path`` names a value of ``frame`` (or, for ``required``, a key of one)."""
    parts = [p for p in path[1:].replace("[", ".").replace("]", "").split(".") if p]
    value = frame
    for index, part in enumerate(parts):
        if isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            return index == len(parts) - 1 and kind == "required"
    return True


BROKEN = [
    # Shoot's own failure; Build would need other properties altogether.
    ({"target": ""}, [("$.payload.target", "minLength")]),
    # Build's enum, not Shoot's two complaints about the properties.
    ({"kind": "moat"}, [("$.payload.kind", "enum")]),
    ({"kind": "wall", "at": [1, "a", 3]}, [("$.payload.at[1]", "type")]),
    ({"kind": "wall", "at": [1, 2, 3, 4]}, [("$.payload.at", "maxItems")]),
    (
        {"target": "t", "power": 0, "from": 5},
        [
            ("$.payload.from", "type"),
            ("$.payload.power", "minimum"),
        ],
    ),
    # As close to one as to the other: the first listed.
    ({"target": "x", "kind": "wall"}, [("$.payload.kind", "additionalProperties")]),
    ({}, [("$.payload.target", "required")]),
    (7, [("$.payload", "type")]),
    # A union within the closest branch: the same rule, one level down.
    (
        {"kind": "wall", "spot": {"row": 1}},
        [
            ("$.payload.spot", NO_BRANCH),
            ("$.payload.spot.col", "required"),
        ],
    ),
    # The string branch: the integer one refuses the value's type.
    (
        {"target": "t", "aim": "ab"},
        [("$.payload.aim", NO_BRANCH), ("$.payload.aim", "maxLength")],
    ),
    # The integer branch: the Cell one refuses the value's type.
    (
        {"kind": "wall", "spot": -1},
        [
            ("$.payload.spot", NO_BRANCH),
            ("$.payload.spot", "minimum"),
        ],
    ),
]


@pytest.mark.parametrize(("payload", "expected"), BROKEN)
def test_a_union_that_fails_is_named_at_its_place_with_its_closest_branch(
    unions: ModuleType, payload: Any, expected: list[tuple[str, str]]
) -> None:
    error = _refusal(unions, payload)
    assert _places(error) == [("$.payload", NO_BRANCH), *expected]
    frame = {"event_name": "act", "payload": payload}
    assert all(_in_frame(frame, d.path, d.kind) for d in error.details)
    assert "Shoot" not in str(error)
    assert "Build" not in str(error)
    assert str(error).startswith("invalid 'act' message: $.payload: ")


@pytest.mark.parametrize(("payload", "expected"), BROKEN)
def test_the_reference_validator_and_the_translation_agree(
    unions: ModuleType, payload: Any, expected: list[tuple[str, str]]
) -> None:
    """The server's details are the reference validator's report; the models' errors,
    translated (a message built locally, a frame too large for the reference), name the same
    places and keywords in the same order."""
    frame = {"event_name": "act", "payload": payload}
    report = Validator(unions.PROTOCOL).validate(frame)
    assert [(v.path, v.kind) for v in report.violations] == [("$.payload", NO_BRANCH), *expected]
    assert list(_refusal(unions, payload).details) == list(report.violations)
    with pytest.raises(MessageValidationError) as built:
        create_message(unions.PROTOCOL, "act", payload)
    assert _places(built.value) == [("$.payload", NO_BRANCH), *expected]


def test_failures_outside_unions_keep_their_paths(unions: ModuleType) -> None:
    frame = json.dumps({"event_name": "act", "payload": {"target": "t"}, "to": 5})
    with pytest.raises(MessageValidationError) as caught:
        unions.PROTOCOL.parse(frame)
    assert _places(caught.value) == [("$.to", "type")]
    assert str(caught.value) == "invalid 'act' message: $.to: 5 is not of type 'string'"


def test_a_large_frame_gets_a_bounded_answer(unions: ModuleType) -> None:
    """Checked fail-fast (more items than EXHAUSTIVE_ITEMS), with at most MAX_DETAILS
    violations however many values fail in however many branches."""
    payload = {"kind": "wall", "at": ["x"] * (EXHAUSTIVE_ITEMS * 2)}
    error = _refusal(unions, payload)
    assert _places(error)[:2] == [("$.payload", NO_BRANCH), ("$.payload.at[0]", "type")]
    assert len(error.details) <= MAX_DETAILS
    assert "maybe more" in str(error) or "at least" in str(error)


def test_many_failures_in_a_small_frame_stay_within_the_cap(unions: ModuleType) -> None:
    payload = {"kind": "wall", **{f"x{i}": i for i in range(MAX_DETAILS * 3)}}
    error = _refusal(unions, payload)
    assert len(error.details) == MAX_DETAILS
    assert _places(error)[0] == ("$.payload", NO_BRANCH)
    frame = {"event_name": "act", "payload": payload}
    assert all(_in_frame(frame, d.path, d.kind) for d in error.details)
    assert str(error).endswith(f"(and at least {MAX_DETAILS - 3} more)")


def test_a_message_built_locally_is_refused_with_paths_into_its_data(unions: ModuleType) -> None:
    with pytest.raises(MessageValidationError) as caught:
        create_message(unions.PROTOCOL, "act", {"kind": "wall", "at": ["a"]})
    assert _places(caught.value) == [("$.payload", NO_BRANCH), ("$.payload.at[0]", "type")]


def test_a_model_instance_of_no_branch_is_refused_at_its_place(unions: ModuleType) -> None:
    with pytest.raises(MessageValidationError) as caught:
        create_message(unions.PROTOCOL, "act", unions.Cell(row=1, col=2))
    assert _places(caught.value) == [("$.payload", NO_BRANCH), ("$.payload", "type")]


def test_without_the_input_paths_are_pydantics() -> None:
    errors = [{"loc": ("act", "payload", "Shoot", "target"), "msg": "m", "type": "missing"}]
    assert [v.kind for v in violations(errors, skip=1)] == ["required"]
    assert [v.path for v in violations(errors, skip=1)] == ["$.payload.Shoot.target"]
    data = {"event_name": "act", "payload": {}}
    assert [v.path for v in violations(errors, skip=1, data=data)] == [
        "$.payload",
        "$.payload.target",
    ]


def test_wire_names_and_unset_fields_in_union_payloads(unions: ModuleType) -> None:
    shoot = unions.ActMessage(payload=unions.Shoot(target="t", **{"from": "north"}))
    assert shoot.model_dump_json() == (
        '{"event_name":"act","payload":{"target":"t","from":"north"}}'
    )
    build = unions.ActMessage(payload=unions.Build(kind="wall", label=None))
    assert build.model_dump() == {"event_name": "act", "payload": {"kind": "wall", "label": None}}
    assert Validator(unions.PROTOCOL).validate(build.model_dump_json()).valid


def test_the_demo_protocol_has_no_unions_to_resolve(tmp_path: Path) -> None:
    from datadivr.demo import PROTOCOL

    assert not PROTOCOL._has_unions


def test_a_keys_own_failure_is_not_taken_for_a_union() -> None:
    errors = [{"loc": ("payload", "map", 1, "[key]"), "msg": "m", "type": "string_type"}]
    data = {"payload": {"map": {1: True}}}
    assert [v.path for v in violations(errors, data=data)] == ["$.payload.map[1].[key]"]


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(data=st.data())
def test_every_broken_act_message_is_refused_at_places_in_the_frame(
    unions: ModuleType, data: st.DataObject
) -> None:
    """Any valid ``act`` message, broken once: each violation names a place in the frame, and
    each union the reference validator reports is reported at the same path."""
    bundle = unions.PROTOCOL.schema
    schema = event_schema(bundle, "act")
    instance = data.draw(from_schema(schema, bundle), label="instance")
    # The strategies do not break a value inside an anyOf (they do not know which branch it
    # matched): the payload is broken here, against the branch it matches.
    payload = instance["payload"]
    branch = next(
        b
        for b in schema["properties"]["payload"]["anyOf"]
        if Draft202012Validator(b).is_valid(payload)
    )
    inside = data.draw(st.booleans(), label="inside the payload")
    where, value = (branch, payload) if inside else (schema, instance)
    kinds = [kind for kind in MUTATIONS if applicable(kind, where, value)]
    assume(kinds)
    kind = data.draw(st.sampled_from(kinds), label="kind")
    changed, description = data.draw(mutated(kind, where, value), label="mutation")
    broken = {**instance, "payload": changed} if inside else changed
    note(description)
    report = Validator(unions.PROTOCOL).validate(broken)
    assume(not report.valid)  # (a change that another branch accepts is no mutation)
    with pytest.raises(ProtocolError) as caught:  # (event_name broken: not a validation error)
        unions.PROTOCOL.validate(broken)
    error = caught.value
    for detail in error.details:
        assert _in_frame(broken, detail.path, detail.kind), (detail, broken)
    expected = {v.path for v in report.violations if v.kind == NO_BRANCH}
    assert expected <= {d.path for d in error.details if d.kind == NO_BRANCH}


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_valid_act_message_dumps_valid_json(unions: ModuleType, data: st.DataObject) -> None:
    bundle = unions.PROTOCOL.schema
    instance = data.draw(from_schema(event_schema(bundle, "act"), bundle), label="instance")
    message = unions.PROTOCOL.validate(instance)
    dumped = message.model_dump_json()
    assert Validator(unions.PROTOCOL).validate(dumped).valid
    assert json.loads(dumped).keys() == instance.keys()
    assert json.loads(dumped)["payload"].keys() == instance["payload"].keys()
    assert dumped == message.to_json()
