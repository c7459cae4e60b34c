"""The error vocabulary: JSON Schema keywords and the path rule, in the reference validator's
reports and in the translation of the models' errors."""

from __future__ import annotations

import json
from typing import Any

import jsonschema_rs
import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from datadivr.core._checks import _failures
from datadivr.core._reference import Draft, report_violations
from datadivr.core._violations import (
    KEYWORDS,
    MAX_REASON,
    keyword_of,
    path_order,
    validation_details,
    violations,
)
from datadivr.demo import PROTOCOL
from datadivr.validation import Validator

# -- the translation table ---------------------------------------------------------------


@pytest.mark.parametrize(("kind", "keyword"), sorted(KEYWORDS.items()))
def test_each_pydantic_type_in_the_table_is_a_keyword(kind: str, keyword: str) -> None:
    expected = "const" if kind == "literal_error" else keyword  # (one value: see below)
    assert keyword_of({"type": kind, "msg": "Input should be 'a'"}) == expected


@pytest.mark.parametrize(
    ("error", "keyword"),
    [
        ({"type": "float_type"}, "type"),
        ({"type": "list_type"}, "type"),
        ({"type": "model_attributes_type"}, "type"),
        ({"type": "int_parsing"}, "type"),
        ({"type": "literal_error", "ctx": {"expected": "'a'"}}, "const"),
        ({"type": "literal_error", "ctx": {"expected": "'a' or 'b'"}}, "enum"),
        ({"type": "literal_error", "msg": "Input should be 1, 2 or 3"}, "enum"),
        ({"type": "too_short", "ctx": {"field_type": "List"}}, "minItems"),
        ({"type": "too_long", "ctx": {"field_type": "Dictionary"}}, "maxProperties"),
        ({"type": "too_short", "ctx": {"field_type": "Dictionary"}}, "minProperties"),
        ({"type": "value_error"}, "value_error"),  # not the models': kept as it is
    ],
)
def test_the_other_pydantic_types(error: dict[str, Any], keyword: str) -> None:
    assert keyword_of({"msg": "", **error}) == keyword


class _Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    n: int = Field(ge=0)


class _Outer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    items: list[_Inner]


def _translated(data: Any) -> list[tuple[str, str | None, str]]:
    with pytest.raises(ValidationError) as caught:
        _Outer.model_validate(data)
    return [(v.path, v.kind, v.reason) for v in validation_details(caught.value, data=data)]


def test_a_missing_member_is_reported_at_its_path() -> None:
    assert _translated({"items": [{}]}) == [
        ("$.items[0].n", "required", "'n' is a required property"),
        ("$.name", "required", "'name' is a required property"),
    ]


def test_an_unexpected_member_is_reported_at_its_path() -> None:
    assert _translated({"name": "x", "items": [], "b": 1, "a": 2}) == [
        (
            "$.a",
            "additionalProperties",
            "Additional properties are not allowed ('a' was unexpected)",
        ),
        (
            "$.b",
            "additionalProperties",
            "Additional properties are not allowed ('b' was unexpected)",
        ),
    ]


def test_translated_failures_come_in_the_documented_order() -> None:
    data = {"name": "", "items": [{"n": -1}] * 11}
    found = _translated(data)
    # By path: elements by index ([2] before [10]), members by name.
    assert [path for path, _, _ in found] == [
        *(f"$.items[{i}].n" for i in range(11)),
        "$.name",
    ]
    assert {kind for _, kind, _ in found} == {"minimum", "minLength"}


def test_path_order_sorts_indexes_as_numbers() -> None:
    assert sorted([("a", 10), ("a", 2), ("a", "b")], key=path_order) == [
        ("a", 2),
        ("a", 10),
        ("a", "b"),
    ]


def test_a_long_reason_is_clipped() -> None:
    errors = [{"loc": ("x",), "msg": "m" * 5000, "type": "value_error"}]
    (found,) = violations(errors)
    assert len(found.reason) == MAX_REASON
    assert found.reason.endswith("…")


# -- the models' own checks (jsonschema-rs) ------------------------------------------------


@pytest.mark.parametrize(
    ("schema", "instance", "expected"),
    [
        (
            {"required": ["a", "b"]},
            {},
            [([], "a", "required"), ([], "b", "required")],
        ),
        (
            {"properties": {"a": {}}, "additionalProperties": False},
            {"a": 1, "x": 1, "y": 2},
            [([], "x", "additionalProperties"), ([], "y", "additionalProperties")],
        ),
        ({"unevaluatedProperties": False}, {"x": 1}, [([], "x", "unevaluatedProperties")]),
        (
            {"dependentRequired": {"a": ["b"]}},
            {"a": 1},
            [([], "b", "dependentRequired")],
        ),
    ],
)
def test_a_checks_member_failures_are_at_the_members(
    schema: dict[str, Any], instance: Any, expected: list[tuple[list[Any], str, str]]
) -> None:
    validator = jsonschema_rs.validator_for(schema)
    found = [f for error in validator.iter_errors(instance) for f in _failures(error)]
    assert [(path[:-1], path[-1], keyword) for path, keyword, _ in found] == expected
    assert all(repr(path[-1]) in reason for path, _, reason in found)


# -- the reference validator -----------------------------------------------------------------


def _reported(schema: dict[str, Any], instance: Any) -> list[tuple[str, str | None]]:
    return [(v.path, v.kind) for v in report_violations(Draft(schema).iter_errors(instance))]


@pytest.mark.parametrize(
    ("schema", "instance", "expected"),
    [
        (
            {"properties": {"o": {"required": ["b", "a"]}}},
            {"o": {}},
            [("$.o.a", "required"), ("$.o.b", "required")],
        ),
        (
            {"properties": {"k": {}}, "additionalProperties": False},
            {"k": 1, "z": 1, "y": 1},
            [("$.y", "additionalProperties"), ("$.z", "additionalProperties")],
        ),
        (
            {"patternProperties": {"^k": {}}, "additionalProperties": False},
            {"k1": 1, "z": 1},
            [("$.z", "additionalProperties")],
        ),
        (
            {"properties": {"k": {}}, "unevaluatedProperties": False},
            {"k": 1, "z": 1},
            [("$.z", "unevaluatedProperties")],
        ),
        (
            {"dependentRequired": {"a": ["b", "c"]}},
            {"a": 1, "c": 1},
            [("$.b", "dependentRequired")],
        ),
        ({"properties": {"a": False}}, {"a": 1}, [("$.a", "false")]),
        (
            {"items": {"type": "integer"}},
            [0, 0, "x", 0, 0, 0, 0, 0, 0, 0, "y"],
            [("$[2]", "type"), ("$[10]", "type")],
        ),
        (
            {"anyOf": [{"type": "object", "required": ["a"]}, {"type": "string"}]},
            {},
            [("$", "anyOf"), ("$.a", "required")],
        ),
        (
            {"oneOf": [{"type": "string"}, {"type": "integer", "maximum": 3}]},
            5,
            [("$", "oneOf"), ("$", "maximum")],
        ),
        # Valid under both branches: the oneOf alone, no branch to follow.
        ({"oneOf": [{"type": "integer"}, {"minimum": 0}]}, 1, [("$", "oneOf")]),
    ],
)
def test_the_reference_validator_follows_the_path_rule(
    schema: dict[str, Any], instance: Any, expected: list[tuple[str, str]]
) -> None:
    assert _reported(schema, instance) == expected


def test_a_huge_value_is_not_echoed() -> None:
    frame = json.dumps({"event_name": "sum_event", "payload": {"numbers": ["a" * 1_000_000]}})
    (violation,) = Validator().validate(frame).violations
    assert violation.kind == "type"
    assert len(violation.reason) < 200
    assert violation.reason.endswith("… is not of type 'number'")
    error = PROTOCOL.refusal(frame)
    assert error is not None
    assert list(error.details) == [violation]
    assert len(error.message) < 300


def test_a_huge_event_name_is_not_echoed() -> None:
    frame = json.dumps({"event_name": "x" * 1_000_000})
    error = PROTOCOL.refusal(frame)
    assert error is not None
    assert error.code == "unknown_event"
    assert error.event_name is not None
    assert len(error.event_name) == 64
    assert all(len(d.reason) <= MAX_REASON for d in error.details)
    assert list(error.details) == list(Validator().validate(frame).violations)


def test_a_huge_member_name_is_not_echoed() -> None:
    name = "k" * 100_000
    frame = json.dumps({"event_name": "sum_event", "payload": {"numbers": [], name: 1}})
    (violation,) = Validator().validate(frame).violations
    assert violation.kind == "additionalProperties"
    assert len(violation.path) == MAX_REASON
    assert violation.path.startswith("$.payload.kkk")
    assert len(violation.reason) < 200
    error = PROTOCOL.refusal(frame)
    assert error is not None
    assert list(error.details) == [violation]
    # The models' failure, translated, is bounded alike.
    translated = violations(
        [
            {
                "loc": ("payload", name),
                "msg": "Extra inputs are not permitted",
                "type": "extra_forbidden",
            }
        ]
    )
    assert [(len(v.path), v.kind) for v in translated] == [(MAX_REASON, "additionalProperties")]
    assert len(translated[0].reason) < 200
