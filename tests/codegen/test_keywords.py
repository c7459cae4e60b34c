"""The generator takes every JSON Schema keyword, and the models enforce each one exactly.

- the envelope, whose models the runtime relies on, is still held to the keywords the models
  type exactly, and the generator's own marks (``x-datadivr-...``) cannot be forged;
- every keyword and shape the models cannot type exactly (all of which used to be refused)
  generates: the subschema is typed loosely and checked against ``schema.json``; a table of
  property schemas with valid and invalid values, all in one generated package, holds the
  models to what ``Draft202012Validator`` says of ``schema.json``, and each refusal to its
  place in the frame and its JSON Schema keyword (a ``$ref``, resolved when the package is
  generated, is typed natively when what it points to can be: it fails as a native type does);
- the generated code types a checked subschema as loosely as the schema allows, keeps the
  natively typed rest as it was, keeps the class of an object whose other keywords only narrow
  it (the class checks them: ``__datadivr_check__``), types a ``oneOf`` of objects tagged by a
  string ``const`` as a discriminated union (the errors of the branch the tag names), and
  passes ``mypy --strict`` and ruff;
- ``null``, payloads that are checks at their root, and values with thousands of failures;
- each natively typed keyword is enforced: the ``check`` event of the ``features`` case has one
  property per keyword, and the models accept and refuse exactly what ``schema.json`` does.
"""

from __future__ import annotations

import ast
import importlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from pydantic import TypeAdapter
from pydantic import ValidationError as PydanticValidationError

import datadivr_codegen.models
from datadivr.core._violations import MAX_DETAILS, validation_details
from datadivr.exceptions import MessageValidationError, Violation
from datadivr_codegen.bundle import model_bundle
from datadivr_codegen.errors import SchemaError
from datadivr_codegen.generator import generate, plan
from datadivr_codegen.keywords import ANNOTATIONS, FORMATS, SUPPORTED

from .conftest import (
    Generated,
    GenerateFn,
    _forget,
    case_schema,
    copy_case,
    package_name,
    snapshot,
)
from .test_generated_lint import mypy_strict, ruff_check, ruff_format_check
from .test_generated_package import _Recorder

DRAFT = "https://json-schema.org/draft/2020-12/schema"
HELLO = "events/hello.schema.json"
DEFINITIONS = "definitions.schema.json"
UNSUPPORTED = "is not supported by the generator: the models could not enforce it"


def _read(schema: Path, rel: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((schema / rel).read_text(encoding="utf-8"))
    return data


def _write(schema: Path, rel: str, data: dict[str, Any]) -> None:
    (schema / rel).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def _with_property(schema: Path, prop: Any, name: str = "field") -> None:
    data = _read(schema, HELLO)
    data["properties"][name] = prop
    _write(schema, HELLO, data)


def _refused(tmp_path: Path, file: str = HELLO) -> SchemaError:
    """Generate the (broken) copy of ``minimal`` at ``tmp_path / 'schema'``: it must fail with a
    ``SchemaError`` naming ``file``, and write nothing."""
    out = tmp_path / "out"
    out.mkdir()
    before = snapshot(out)
    with pytest.raises(SchemaError) as info:
        generate(tmp_path / "schema", out)
    assert info.value.file == Path(file)
    assert str(info.value) == f"{file}: {info.value.reason}"
    assert snapshot(out) == before
    return info.value


# -- what is still refused --------------------------------------------------------------------


def test_the_envelope_is_checked_too(tmp_path: Path) -> None:
    """The runtime's own models type the envelope: a keyword they would not enforce there is
    refused as before."""
    schema = copy_case("minimal", tmp_path / "schema")
    envelope = _read(schema, "envelope.schema.json")
    envelope["properties"]["to"]["not"] = {"const": "nobody"}
    _write(schema, "envelope.schema.json", envelope)
    error = _refused(tmp_path, "envelope.schema.json")
    assert error.reason.startswith(f"at #/properties/to: 'not' {UNSUPPORTED}")


def test_the_generators_own_marks_cannot_be_forged(tmp_path: Path) -> None:
    schema = copy_case("minimal", tmp_path / "schema")
    _with_property(schema, {"type": "string", "x-datadivr-not-null": True})
    error = _refused(tmp_path)
    assert error.reason.startswith("at #/properties/field: 'x-datadivr-not-null' is reserved")


def test_what_datamodel_code_generator_leaves_out_still_fails_the_generation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The safety net under the checks: a constraint datamodel-code-generator drops (it warns)
    fails the generation, were a subschema the models cannot type ever left unchecked."""
    real = model_bundle

    def bundle(schemas: Any) -> dict[str, Any]:
        out = real(schemas)
        out["$defs"]["HelloPayload"]["properties"]["when"] = {
            "type": "string",
            "format": "date-time",
            "maxLength": 40,
        }
        return out

    monkeypatch.setattr(datadivr_codegen.models, "model_bundle", bundle)
    monkeypatch.setattr(datadivr_codegen.models, "split_checks", lambda *_a, **_k: [])
    with pytest.raises(SchemaError, match=r"datamodel-code-generator: .*max_length") as info:
        plan(case_schema("minimal"))
    assert "the models would not enforce the schema" in info.value.reason


def test_all_of_that_the_models_enforce_is_accepted(
    tmp_path: Path, generate_package: GenerateFn
) -> None:
    """Members may repeat a property identically, a closed member may list every property."""
    schema = copy_case("minimal", tmp_path / "schema")
    _write(
        schema,
        DEFINITIONS,
        {
            "$schema": DRAFT,
            "$defs": {
                "A": DEFS_A,
                "B": {
                    "type": "object",
                    "properties": {"a": {"type": "integer"}, "b": {"type": "string"}},
                    "additionalProperties": False,
                },
            },
        },
    )
    _with_property(
        schema,
        {
            "type": "object",
            "allOf": [
                {"$ref": "../definitions.schema.json#/$defs/A"},
                {"$ref": "../definitions.schema.json#/$defs/B", "description": "annotated"},
            ],
            "properties": {"b": {"type": "string"}},
            "required": ["a", "b"],
        },
    )
    package = generate_package(schema, "all_of")
    assert "_CHECKS" not in (package.path / "models.py").read_text(encoding="utf-8")
    protocol = package.module.PROTOCOL
    validator = Draft202012Validator(protocol.schema)
    rows: list[tuple[Any, bool]] = [
        ({"a": 1, "b": "x"}, True),
        ({"b": "x"}, False),  # required by this schema
        ({"a": 1}, False),
        ({"a": "1", "b": "x"}, False),  # A's type
        ({"a": 1, "b": 2}, False),  # B's and this schema's type
        ({"a": 1, "b": "x", "c": 3}, False),  # B is closed
    ]
    for value, valid in rows:
        frame = json.dumps({"event_name": "hello", "payload": {"name": "n", "field": value}})
        assert validator.is_valid(json.loads(frame)) is valid, value
        if valid:
            assert protocol.parse(frame).payload.field is not None
        else:
            with pytest.raises(MessageValidationError) as info:
                protocol.parse(frame)
            assert all(d.path.startswith("$.payload.field") for d in info.value.details), value


# -- every keyword the models cannot type is checked ------------------------------------------

DEFS_A = {"type": "object", "properties": {"a": {"type": "integer"}}}
INTEGERS = {"type": "array", "items": {"type": "integer"}}
DEFS = "../definitions.schema.json#/$defs/"
UUID_TEXT = "0b5e5c8e-2f64-4c39-9a8b-6a1f0f5d2c11"
#: The shared definitions of the ``checked`` package.
CHECKED_DEFINITIONS: dict[str, Any] = {
    "Text": {"$anchor": "text", "type": "string"},
    "A": DEFS_A,
    "AClosed": {**DEFS_A, "additionalProperties": False},
    "ATypedExtras": {**DEFS_A, "additionalProperties": {"type": "integer"}},
    "Deep": {
        "type": "object",
        "properties": {"inner": {"type": "array", "items": {**INTEGERS, "uniqueItems": True}}},
    },
    "Ids": {"description": "Distinct ids.", "type": "array", "uniqueItems": True},
    "Circle": {
        "type": "object",
        "properties": {"shape": {"const": "circle"}, "r": {"type": "number", "minimum": 0}},
        "required": ["shape", "r"],
    },
    "Square": {
        "type": "object",
        "properties": {"shape": {"const": "square"}, "side": {"type": "integer"}},
        "required": ["shape", "side"],
        "additionalProperties": False,
    },
    "Point": {
        "description": "A point, with tags.",
        "type": "object",
        "properties": {
            "x": {"type": "integer", "minimum": 0},
            "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
        },
        "required": ["x"],
    },
}


@dataclass(frozen=True)
class Row:
    """A property schema of the ``checked`` package's ``hello`` payload, and values for it.

    ``invalid`` maps each invalid value's index to the JSON Schema keywords its violations
    name (their ``kind``).
    """

    schema: Any
    valid: tuple[Any, ...]
    invalid: tuple[tuple[Any, frozenset[str]], ...]


def _row(schema: Any, valid: list[Any], invalid: list[tuple[Any, str]]) -> Row:
    return Row(
        schema,
        tuple(valid),
        tuple((value, frozenset(kinds.split())) for value, kinds in invalid),
    )


#: One property per keyword that used to be refused, and per accepted keyword in a shape the
#: models could not enforce (the keywords "drafts" normalizes or refuses are left to its tests).
CHECKED: dict[str, Row] = {
    # -- keywords --
    "unique_items": _row(
        {**INTEGERS, "uniqueItems": True},
        [[1, 2], []],
        [([1, 1], "uniqueItems"), ([1, 1.0], "uniqueItems"), ([1, "a"], "type"), ("x", "type")],
    ),
    "not_": _row(
        {"type": "integer", "not": {"const": 3}},
        [2, 4],
        [(3, "not"), (3.0, "not"), ("2", "type"), (2.5, "type")],
    ),
    "not_string": _row({"not": {"type": "string"}}, [1, {"a": "x"}, [], False], [("x", "not")]),
    "prefix_items": _row(
        {"type": "array", "prefixItems": [{"type": "integer"}]},
        [[1], [1, "x"], []],
        [(["x"], "type"), ({}, "type")],
    ),
    "contains": _row(
        {"type": "array", "contains": {"type": "integer"}},
        [[1], ["a", 2]],
        [([], "contains"), (["a"], "contains")],
    ),
    "min_contains": _row(
        {"type": "array", "minContains": 2, "contains": {"type": "integer"}},
        [[1, 2], [1, "a", 3]],
        [([1, "a"], "minContains")],
    ),
    "max_contains": _row(
        {"type": "array", "maxContains": 1, "contains": {"type": "integer"}},
        [[1, "a"]],
        [([1, 2], "maxContains")],
    ),
    "dependent_required": _row(
        {
            "type": "object",
            "dependentRequired": {"a": ["b"]},
            "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
        },
        [{"a": 1, "b": 2}, {"b": 2}, {}],
        [({"a": 1}, "dependentRequired"), ({"a": 1, "b": "x"}, "type")],
    ),
    "dependent_schemas": _row(
        {"type": "object", "dependentSchemas": {"a": {"required": ["b"]}}},
        [{"a": 1, "b": 2}, {}],
        [({"a": 1}, "required")],
    ),
    "if_then_else": _row(
        {
            "type": "integer",
            "if": {"minimum": 3},
            "then": {"maximum": 5},
            "else": {"multipleOf": 2},
        },
        [2, 4, 5],
        [(6, "maximum"), (1, "multipleOf")],
    ),
    "then_alone": _row({"type": "integer", "then": {"maximum": 5}}, [9], [("9", "type")]),
    "else_alone": _row({"type": "integer", "else": {"maximum": 5}}, [9], [("9", "type")]),
    "pattern_properties": _row(
        {"type": "object", "patternProperties": {"^a": {"type": "integer"}}},
        [{"ab": 1, "b": "x"}, {}],
        [({"ab": "x"}, "type")],
    ),
    "property_names": _row(
        {"type": "object", "propertyNames": {"maxLength": 3}},
        [{"abc": 1}],
        [({"abcd": 1}, "maxLength")],
    ),
    "unevaluated_properties": _row(
        {
            "type": "object",
            "properties": {"a": {"type": "integer"}},
            "unevaluatedProperties": False,
        },
        [{"a": 1}, {}],
        [({"a": 1, "b": 2}, "unevaluatedProperties")],
    ),
    "unevaluated_items": _row(
        {"type": "array", "prefixItems": [{"type": "integer"}], "unevaluatedItems": False},
        [[1], []],
        [([1, 2], "unevaluatedItems")],
    ),
    "min_properties": _row(
        {"type": "object", "minProperties": 1}, [{"a": 1}], [({}, "minProperties")]
    ),
    "max_properties": _row(
        {"type": "object", "maxProperties": 1},
        [{}, {"a": 1}],
        [({"a": 1, "b": 2}, "maxProperties")],
    ),
    "dynamic_ref": _row(
        {
            "$dynamicAnchor": "node",
            "type": "object",
            "properties": {"next": {"$dynamicRef": "#node"}},
        },
        [{"next": {"next": {}}}],
        [({"next": {"next": 1}}, "type")],
    ),
    # A $ref is resolved when the package is generated: what it points to is typed natively
    # when the models can type it, and fails as a native type does.
    "anchor": _row({"$anchor": "here", "type": "string"}, ["x"], [(1, "type")]),
    "dynamic_anchor": _row({"$dynamicAnchor": "there", "type": "string"}, ["x"], [(1, "type")]),
    "anchor_ref": _row({"$ref": "../definitions.schema.json#text"}, ["x"], [(1, "type")]),
    # A place that is no definition is checked where it is.
    "pointer_ref": _row({"$ref": "#/properties/name"}, ["n"], [("", "minLength"), (1, "type")]),
    "one_of": _row(
        {"oneOf": [{"type": "string"}, {"type": "integer"}]},
        ["a", 1],
        [(1.5, "oneOf"), (True, "oneOf"), ([], "oneOf")],
    ),
    "one_of_overlapping": _row(
        {"oneOf": [{"type": "integer"}, {"minimum": 0}]},
        [-1, 0.5, "x"],
        [(1, "oneOf"), (-0.5, "oneOf")],
    ),
    "content_encoding": _row(
        {"type": "string", "contentEncoding": "base64"}, ["%%%", "QQ=="], [(1, "type")]
    ),
    "content_media_type": _row(
        {"type": "string", "contentMediaType": "application/json"}, ["{"], [(1, "type")]
    ),
    "definitions": _row({"definitions": {"A": {"type": "string"}}}, [1, "x", {}], []),
    # -- accepted keywords, in shapes the models could not type --
    "format_email": _row(  # a format is an annotation in a check (draft 2020-12's default)
        {"type": "string", "format": "email"}, ["a@b.c", "no email"], [(1, "type")]
    ),
    "format_unknown": _row({"type": "string", "format": "x-color"}, ["red"], [(1, "type")]),
    "format_on_integer": _row({"type": "integer", "format": "int64"}, [1], [("1", "type")]),
    # date-time and uuid are asserted in a check too, as natively; a format only applies to
    # a string.
    "format_without_type": _row({"format": "uuid"}, [1, UUID_TEXT], [("x", "format")]),
    # datamodel-code-generator leaves a maxLength out beside a format; the check holds it.
    "format_with_max_length": _row(
        {"type": "string", "format": "date-time", "maxLength": 25},
        ["2024-05-01T12:00:00Z"],
        [
            ("2024-05-01T12:00:00.250+02:00", "maxLength"),
            ("2024-05-01", "format"),
            (1, "type"),
        ],
    ),
    "multiple_of_fraction": _row(
        {"type": "number", "multipleOf": 0.5}, [1.5, 2, 0], [(0.25, "multipleOf")]
    ),
    "multiple_of_on_number": _row(
        {"type": "number", "multipleOf": 2},
        [4, 4.0, -2],
        [(3, "multipleOf"), (2.5, "multipleOf"), ("4", "type")],
    ),
    "enum_fraction": _row({"enum": [1.5]}, [1.5], [(1, "enum"), ("1.5", "enum")]),
    "enum_object": _row(
        {"enum": [{"a": 1}]}, [{"a": 1}, {"a": 1.0}], [({"a": 2}, "enum"), ({"a": True}, "enum")]
    ),
    "const_whole_float": _row({"const": -2.0}, [-2, -2.0], [(2, "const"), ("-2", "const")]),
    "const_array": _row({"const": [1]}, [[1], [1.0]], [([True], "const"), ([], "const")]),
    "enum_of_another_type": _row(
        {"type": "string", "enum": ["a", 1]}, ["a"], [(1, "type"), ("b", "enum")]
    ),
    "const_with_constraints": _row(
        {"type": "integer", "const": 3, "minimum": 4}, [], [(3, "minimum"), (4, "const")]
    ),
    "minimum_without_type": _row({"minimum": 3}, [3, "x", [1]], [(2, "minimum")]),
    "items_without_type": _row(
        {"items": {"type": "integer"}}, [[1], {"a": "x"}, "x"], [(["x"], "type")]
    ),
    "properties_without_type": _row(
        {"properties": {"a": {"type": "integer"}}}, [{"a": 1}, 5], [({"a": "x"}, "type")]
    ),
    "max_length_on_integer": _row({"type": "integer", "maxLength": 3}, [12345], [("1", "type")]),
    "two_types": _row(
        {"type": ["string", "integer"]},
        ["a", 1],
        [(1.5, "type"), (True, "type"), ([], "type")],
    ),
    "boolean_true": _row(True, [1, "x", {}], []),
    "boolean_false": _row(False, [], [(1, "false"), ("x", "false")]),
    # Property names that are keywords are names: the failure of a false schema is "false".
    "keyword_names": _row(
        {
            "type": "object",
            "properties": {"not": False, "items": {"type": "integer"}},
            "propertyNames": {"maxLength": 5},
        },
        [{"items": 1}, {}],
        [
            ({"not": 1}, "false"),
            ({"not": None}, "false"),
            ({"items": "x"}, "type"),
            ({"longer": 1}, "maxLength"),
        ],
    ),
    "boolean_items": _row({"type": "array", "items": False}, [[]], [([1], "items"), ({}, "type")]),
    "nested_defs": _row(
        {"type": "object", "$defs": {"A": {"type": "string"}}}, [{}], [([], "type")]
    ),
    "required_undefined": _row(
        {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a", "b"]},
        [{"a": 1, "b": None}],
        [({"a": 1}, "required")],
    ),
    "required_on_a_map": _row(
        {"type": "object", "additionalProperties": {"type": "integer"}, "required": ["a"]},
        [{"a": 1}],
        [({}, "required"), ({"a": "x"}, "type")],
    ),
    "ref_with_constraint": _row(
        {"$ref": DEFS + "Text", "maxLength": 3}, ["abc"], [("abcd", "maxLength"), (1, "type")]
    ),
    "any_of_with_type": _row(
        {"type": "integer", "anyOf": [{"type": "integer", "minimum": 3}]},
        [3],
        [(2, "anyOf"), ("3", "type anyOf")],
    ),
    "pattern_look_ahead": _row({"type": "string", "pattern": "^(?=a)"}, ["ab"], [("b", "pattern")]),
    "pattern_back_reference": _row(
        {"type": "string", "pattern": "(a)\\1"}, ["aa", "xaax"], [("ab", "pattern")]
    ),
    "all_of_member_not_a_ref": _row(
        {"type": "object", "allOf": [{"required": ["a"]}]}, [{"a": 1}], [({}, "required")]
    ),
    "all_of_member_not_an_object": _row(
        {"type": "object", "allOf": [{"$ref": DEFS + "Text"}]}, [], [({}, "type"), ("x", "type")]
    ),
    "all_of_without_object_type": _row(
        {"allOf": [{"$ref": DEFS + "A"}]}, [{"a": 1}, {}], [({"a": "x"}, "type"), (5, "type")]
    ),
    "all_of_with_any_of": _row(
        {"type": "object", "allOf": [{"$ref": DEFS + "A"}], "anyOf": [{"required": ["a"]}]},
        [{"a": 1}],
        [({}, "anyOf"), ({"a": "x"}, "type")],
    ),
    "all_of_closed_member": _row(
        {
            "type": "object",
            "allOf": [{"$ref": DEFS + "AClosed"}],
            "properties": {"b": {"type": "string"}},
        },
        [{"a": 1}, {}],
        [({"b": "x"}, "additionalProperties")],
    ),
    "all_of_closed_composition": _row(
        {
            "type": "object",
            "allOf": [{"$ref": DEFS + "A"}],
            "properties": {"b": {"type": "string"}},
            "additionalProperties": False,
        },
        [{"b": "x"}],
        [({"a": 1}, "additionalProperties")],
    ),
    "all_of_redefined_property": _row(
        {
            "type": "object",
            "allOf": [{"$ref": DEFS + "A"}],
            "properties": {"a": {"type": "integer", "maximum": 3}},
        },
        [{"a": 3}],
        [({"a": 4}, "maximum"), ({"a": "x"}, "type")],
    ),
    "all_of_typed_extras": _row(
        {
            "type": "object",
            "allOf": [{"$ref": DEFS + "A"}],
            "additionalProperties": {"type": "integer"},
        },
        [{"a": 1, "z": 2}],
        [({"z": "x"}, "type")],
    ),
    "all_of_member_with_typed_extras": _row(
        {"type": "object", "allOf": [{"$ref": DEFS + "ATypedExtras"}]},
        [{"a": 1, "z": 2}],
        [({"z": "x"}, "type")],
    ),
    # -- a check deep in another file's definition, and checks inside native models --
    "deep": _row(
        {"$ref": DEFS + "Deep"},
        [{"inner": [[1, 2], [1]]}],
        [({"inner": [[1], [2, 2]]}, "uniqueItems"), ({"inner": [["x"]]}, "type")],
    ),
    "native_with_checks": _row(
        {
            "type": "object",
            "properties": {
                "n": {"type": "integer", "minimum": 0},
                "pair": {"type": ["string", "integer"]},
                "ids": {"$ref": DEFS + "Ids"},
            },
            "required": ["n"],
            "additionalProperties": False,
        },
        [{"n": 0, "pair": "a", "ids": [1, "1"]}],
        [
            ({"n": -1}, "minimum"),
            ({"n": 0, "pair": 1.5}, "type"),
            ({"n": 0, "ids": [1, 1]}, "uniqueItems"),
            ({"n": 0, "z": 1}, "additionalProperties"),
        ],
    ),
    # -- a oneOf of objects tagged by a required string const: a discriminated union, whose
    # errors are those of the branch the tag names --
    "tagged": _row(
        {"oneOf": [{"$ref": DEFS + "Circle"}, {"$ref": DEFS + "Square"}]},
        [
            {"shape": "circle", "r": 1.5},
            {"shape": "square", "side": 2},
            {"shape": "circle", "r": 0, "z": [1]},
        ],
        [
            ({"shape": "star", "r": 1}, "oneOf"),  # no branch has this tag
            ({"r": 1}, "oneOf"),  # no tag
            ({"shape": 1, "r": 1}, "oneOf"),
            ({"shape": "circle", "r": -1}, "minimum"),
            ({"shape": "circle", "side": 2}, "required"),
            ({"shape": "square", "side": 2, "r": 1}, "additionalProperties"),
            ("circle", "type"),
        ],
    ),
    "tagged_inline": _row(
        {
            "oneOf": [
                {
                    "type": "object",
                    "properties": {"op": {"const": "add"}, "n": {"type": "integer"}},
                    "required": ["op", "n"],
                },
                {
                    "type": "object",
                    "properties": {
                        "op": {"const": "clear"},
                        "ids": {"type": "array", "items": {"type": "integer"}, "uniqueItems": True},
                    },
                    "required": ["op"],
                },
            ]
        },
        [{"op": "add", "n": 1}, {"op": "clear"}, {"op": "clear", "ids": [1, 2]}],
        [
            ({"op": "mul", "n": 1}, "oneOf"),
            ({"n": 1}, "oneOf"),
            ({"op": "add", "n": "1"}, "type"),
            ({"op": "clear", "ids": [1, 1]}, "uniqueItems"),
        ],
    ),
    # -- an object whose other keywords only narrow it: a class that checks them --
    "nested_model_check": _row(
        {
            "type": "object",
            "properties": {
                "inner": {
                    "type": "object",
                    "minProperties": 1,
                    "dependentRequired": {"a": ["b"]},
                    "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
                }
            },
            "additionalProperties": False,
        },
        [{"inner": {"a": 1, "b": 2}}, {"inner": {"b": 2}}, {"inner": {"z": None}}, {}],
        [
            ({"inner": {}}, "minProperties"),
            ({"inner": {"a": 1}}, "dependentRequired"),
            ({"inner": {"a": "x", "b": 1}}, "type"),
            ({"inner": []}, "type"),
            ({"z": 1}, "additionalProperties"),
        ],
    ),
}

#: The ``checked`` package's events besides ``hello``: payloads that are checks at the root.
ROOT_EVENTS: dict[str, dict[str, Any]] = {
    "pick": {
        "description": "Pick a name or a number.",
        "oneOf": [{"type": "string"}, {"type": "integer", "minimum": 0}],
        "examples": ["a"],
    },
    "fill": {
        "type": "object",
        "minProperties": 1,
        "properties": {"a": {"type": "integer"}},
        "examples": [{"a": 1}],
    },
    "maybe": {"description": "Anything but a string.", "not": {"type": "string"}, "examples": [1]},
    "place": {
        "type": "object",
        "properties": {
            "point": {"$ref": DEFS + "Point"},
            "ids": {"$ref": DEFS + "Ids"},
            "pair": {"type": ["string", "integer"]},
        },
    },
    "tree": {
        "type": "object",
        "properties": {
            "children": {
                "type": "array",
                "uniqueItems": True,
                "items": {"oneOf": [{"type": "integer"}, {"type": "integer", "minimum": 0}]},
            },
            "others": {"type": "array", "items": {"type": "integer", "not": {"const": 0}}},
        },
        "additionalProperties": False,
    },
}


def _checked_schema(root: Path) -> Path:
    schema = copy_case("minimal", root / "schema")
    _write(schema, DEFINITIONS, {"$schema": DRAFT, "$defs": CHECKED_DEFINITIONS})
    hello = _read(schema, HELLO)
    hello["properties"].update({name: row.schema for name, row in CHECKED.items()})
    _write(schema, HELLO, hello)
    for name, body in ROOT_EVENTS.items():
        data = {
            "$schema": DRAFT,
            "title": f"{name.capitalize()}Payload",
            "x-datadivr": {"event": name, "direction": "client_to_server"},
            **body,
        }
        _write(schema, f"events/{name}.schema.json", data)
    return schema


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Generated]:
    """One package with every row of :data:`CHECKED` and every event of :data:`ROOT_EVENTS`."""
    root = tmp_path_factory.mktemp("checked")
    name = package_name("checked")
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(root))
        generate(_checked_schema(root), root / name)
        importlib.invalidate_caches()
        yield Generated(name, root / name, importlib.import_module(name))
    _forget([name])


#: The formats the models assert (``jsonschema``'s own checks of them): any other is an
#: annotation, as draft 2020-12 has it by default.
ASSERTED_FORMATS = FormatChecker(formats=("date-time", "uuid"))


def _cases() -> Iterator[Any]:
    def param(prop: str, value: Any, kinds: frozenset[str] | None, id: str) -> Any:
        return pytest.param(prop, value, kinds, id=id)

    for prop, row in CHECKED.items():
        for i, value in enumerate(row.valid):
            yield param(prop, value, None, f"{prop}-ok-{i}")
        for i, (value, kinds) in enumerate(row.invalid):
            yield param(prop, value, kinds, f"{prop}-bad-{i}")
        # Every optional property takes an explicit null exactly when its schema does.
        yield param(prop, None, frozenset(), f"{prop}-null")


@pytest.mark.parametrize(("prop", "value", "kinds"), list(_cases()))
def test_models_agree_with_the_schema(
    prop: str, value: Any, kinds: frozenset[str] | None, checked: Generated
) -> None:
    protocol = checked.module.PROTOCOL
    frame = {"event_name": "hello", "payload": {"name": "n", prop: value}}
    valid = Draft202012Validator(protocol.schema, format_checker=ASSERTED_FORMATS).is_valid(frame)
    if value is not None:
        assert valid is (kinds is None), "the row disagrees with schema.json"
    if valid:
        message = protocol.parse(json.dumps(frame))
        again = json.loads(message.to_json())["payload"][prop]
        assert again == value
        assert protocol.parse(message.to_json()) == message
        return
    with pytest.raises(MessageValidationError):
        protocol.parse(json.dumps(frame))
    details = _models_details(protocol, json.dumps(frame))
    assert details
    assert all(d.path.startswith(f"$.payload.{prop}") for d in details), details
    if value is None:
        assert [(d.path, d.kind) for d in details] == [(f"$.payload.{prop}", "type")]
        return
    assert {d.kind for d in details} == kinds, details
    # The places the reference validator names in the event's own schema, or places inside
    # them (it names the array of an "items": false, or the object of an extra property).
    reference = Draft202012Validator(
        protocol.event_schema("hello"), format_checker=ASSERTED_FORMATS
    )
    errors = reference.iter_errors(frame)
    places = {error.json_path for error in errors}
    assert all(any(_within(d.path, place) for place in places) for d in details), details
    assert all(any(_within(d.path, place) for d in details) for place in places), places


def _models_details(protocol: Any, frame: str) -> tuple[Violation, ...]:
    """The models' own failures of ``frame``, translated into JSON Schema's words: what the
    server reports for a frame too large for the reference validator (for a smaller one, it
    reports the reference validator's)."""
    with pytest.raises(PydanticValidationError) as info:
        protocol.adapter.validate_json(frame, by_alias=True, by_name=False)
    return tuple(validation_details(info.value, skip=1, data=json.loads(frame)))


def _within(path: str, place: str) -> bool:
    return path == place or path.startswith((place + ".", place + "["))


def test_a_relative_id_inside_a_schema_does_not_break_the_checks(
    tmp_path: Path, generate_package: GenerateFn
) -> None:
    schema = copy_case("minimal", tmp_path / "schema")
    _with_property(schema, {"$id": "other.json", "type": "string"}, "named")
    _with_property(schema, {**INTEGERS, "uniqueItems": True}, "ids")
    protocol = generate_package(schema, "nested_id").module.PROTOCOL
    frame = {"event_name": "hello", "payload": {"name": "n", "named": "x", "ids": [1, 2]}}
    assert Draft202012Validator(protocol.schema).is_valid(frame)
    assert protocol.parse(json.dumps(frame)).payload.ids == [1, 2]


#: The rows whose property is a class that checks the keywords its fields cannot say.
MODEL_CHECKED = {
    "dependent_required": "DependentRequired",
    "keyword_names": "KeywordNames",
    "unevaluated_properties": "UnevaluatedProperties",
}
#: The rows whose property the models type natively: a resolved ``$ref`` to what they can
#: type, and native models with checks inside.
NATIVE = {
    # Annotations (content*) and keywords of a type the schema excludes change nothing.
    "content_encoding",
    "content_media_type",
    "format_on_integer",
    "max_length_on_integer",
    "anchor",
    "dynamic_anchor",
    "anchor_ref",
    "dynamic_ref",
    "deep",
    "native_with_checks",
    "tagged",
    "tagged_inline",
    "nested_model_check",
}


def test_every_row_is_a_check_or_holds_one(checked: Generated) -> None:
    """The table tests checks: each row's property is typed by a check, by a class with a
    model check, or (a few rows) natively, with checks inside."""
    source = (checked.path / "models.py").read_text(encoding="utf-8")
    pointers = {check.pointer for check in _aliases(source).values()}
    hello = "/$defs/HelloPayload/properties/"
    assert {prop for prop in CHECKED if hello + prop in pointers} == (
        set(CHECKED) - set(MODEL_CHECKED) - NATIVE
    )
    model_checks = _model_checks(source)
    fields = _fields(source, "HelloPayload")
    for prop, cls in MODEL_CHECKED.items():
        assert model_checks[cls] == hello + prop
        assert fields[prop] == f"Annotated[{cls} | None, NotNull]"
    assert set(model_checks.values()) >= {hello + prop for prop in MODEL_CHECKED}
    # The checks inside the natively typed rows.
    assert {
        "/$defs/Deep/properties/inner/items",
        "/$defs/Ids",
        hello + "dynamic_ref/properties/next",
        hello + "tagged_inline/oneOf/1/properties/ids",
    } <= pointers
    assert model_checks["Inner"] == hello + "nested_model_check/properties/inner"
    assert fields["anchor_ref"] == "Annotated[str | None, NotNull]"
    assert fields["tagged"] == (
        "Annotated[Circle | Square | None, Field(discriminator='shape'), NotNull]"
    )


def test_a_model_check_is_a_validator_of_its_class(checked: Generated) -> None:
    """``__datadivr_check__`` is a ``model_validator`` (mode ``before``) of the class it is
    written in, and checks the object before its fields are."""
    models = checked.submodule("models")
    for cls in [*MODEL_CHECKED.values(), "Inner", "FillPayload"]:
        decorators = getattr(models, cls).__pydantic_decorators__.model_validators
        assert decorators["__datadivr_check__"].info.mode == "before", cls
    protocol = checked.module.PROTOCOL
    frame = {"event_name": "hello", "payload": {"name": "n", "dependent_required": {"a": "x"}}}
    with pytest.raises(MessageValidationError) as info:
        protocol.parse(json.dumps(frame))
    assert sorted((d.path, d.kind) for d in info.value.details) == [
        ("$.payload.dependent_required.a", "type"),
        ("$.payload.dependent_required.b", "dependentRequired"),
    ]


def test_a_refusal_is_located_in_the_frame(checked: Generated) -> None:
    protocol = checked.module.PROTOCOL
    cases: list[tuple[str, Any, list[tuple[str, str]]]] = [
        (
            "unique_items",
            [1, "a", 1],
            [("$.payload.unique_items", "uniqueItems"), ("$.payload.unique_items[1]", "type")],
        ),
        ("deep", {"inner": [[1], [2, 2]]}, [("$.payload.deep.inner[1]", "uniqueItems")]),
        ("pattern_properties", {"a": 1, "ab": "x"}, [("$.payload.pattern_properties.ab", "type")]),
        (
            "native_with_checks",
            {"n": 0, "ids": [3, 3]},
            [("$.payload.native_with_checks.ids", "uniqueItems")],
        ),
        ("dynamic_ref", {"next": {"next": 1}}, [("$.payload.dynamic_ref.next.next", "type")]),
        # A discriminated union's failures are those of the branch the tag names.
        ("tagged", {"shape": "circle", "r": -1}, [("$.payload.tagged.r", "minimum")]),
        (
            "tagged",
            {"shape": "square", "r": 1},
            [
                ("$.payload.tagged.r", "additionalProperties"),
                ("$.payload.tagged.side", "required"),
            ],
        ),
        ("tagged", {"shape": "star"}, [("$.payload.tagged", "oneOf")]),
        ("tagged", {"side": 1}, [("$.payload.tagged", "oneOf")]),
        (
            "tagged_inline",
            {"op": "clear", "ids": [1, 1]},
            [("$.payload.tagged_inline.ids", "uniqueItems")],
        ),
        # A class's check is of the object it is at.
        (
            "nested_model_check",
            {"inner": {"a": 1}},
            [("$.payload.nested_model_check.inner.b", "dependentRequired")],
        ),
        (
            "nested_model_check",
            {"inner": {}},
            [("$.payload.nested_model_check.inner", "minProperties")],
        ),
    ]
    for prop, value, expected in cases:
        frame = json.dumps({"event_name": "hello", "payload": {"name": "n", prop: value}})
        with pytest.raises(MessageValidationError):
            protocol.parse(frame)
        details = _models_details(protocol, frame)
        assert sorted((d.path, d.kind) for d in details) == sorted(expected), prop
        assert all(d.reason for d in details)


# -- the generated code's types ---------------------------------------------------------------


@dataclass(frozen=True)
class _Alias:
    type: str
    pointer: str


def _aliases(source: str) -> dict[str, _Alias]:
    """Every check alias of ``models.py``: ``Name: TypeAlias = Annotated[T, _CHECKS.at(p)]``."""
    out = {}
    for node in ast.parse(source).body:
        if not (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(node.value, ast.Subscript)
            and isinstance(node.value.slice, ast.Tuple)
        ):
            continue
        python, check = node.value.slice.elts
        if isinstance(check, ast.Call) and ast.unparse(check.func) == "_CHECKS.at":
            assert isinstance(check.args[0], ast.Constant)
            out[node.target.id] = _Alias(ast.unparse(python), str(check.args[0].value))
    return out


def _model_checks(source: str) -> dict[str, str]:
    """The pointer of each class's model check: ``__datadivr_check__ = _CHECKS.model(p)``."""
    out = {}
    for node in ast.parse(source).body:
        if not isinstance(node, ast.ClassDef):
            continue
        for item in node.body:
            if (
                isinstance(item, ast.Assign)
                and [ast.unparse(t) for t in item.targets] == ["__datadivr_check__"]
                and isinstance(item.value, ast.Call)
                and ast.unparse(item.value.func) == "_CHECKS.model"
            ):
                assert isinstance(item.value.args[0], ast.Constant)
                out[node.name] = str(item.value.args[0].value)
    return out


def _fields(source: str, cls: str) -> dict[str, str]:
    for node in ast.parse(source).body:
        if isinstance(node, ast.ClassDef) and node.name == cls:
            return {
                item.target.id: ast.unparse(item.annotation)
                for item in node.body
                if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)
            }
    raise AssertionError(f"no class {cls}")


def _type_of(aliases: dict[str, _Alias], pointer: str) -> str:
    return next(alias.type for alias in aliases.values() if alias.pointer == pointer)


def test_a_check_is_typed_as_loosely_as_the_schema_allows(checked: Generated) -> None:
    source = (checked.path / "models.py").read_text(encoding="utf-8")
    aliases = _aliases(source)
    hello = "/$defs/HelloPayload/properties/"
    expected = {
        "two_types": "str | int",
        "unique_items": "list[Any]",
        "one_of": "str | int",
        "one_of_overlapping": "Any",
        "not_": "int",
        "min_properties": "dict[str, Any]",
        "multiple_of_fraction": "int | float",
        "enum_fraction": "int | float",  # 1.5's type: a number
        "const_whole_float": "int | float",  # -2.0 is -2 too
        "const_array": "list[Any]",
        "boolean_true": "Any",
        "minimum_without_type": "Any",
    }
    assert {prop: _type_of(aliases, hello + prop) for prop in expected} == expected
    assert _type_of(aliases, "/$defs/PickPayload") == "str | int"
    # An object with properties whose other keywords only narrow it keeps its class, which
    # checks them.
    model_checks = _model_checks(source)
    assert model_checks["FillPayload"] == "/$defs/FillPayload"
    assert _fields(source, "FillPayload") == {"a": "Annotated[int | None, NotNull]"}
    for prop, cls in MODEL_CHECKED.items():
        assert model_checks[cls] == hello + prop
        assert hello + prop not in {alias.pointer for alias in aliases.values()}


def test_a_check_of_a_ref_is_typed_by_what_it_points_to(checked: Generated) -> None:
    aliases = _aliases((checked.path / "models.py").read_text(encoding="utf-8"))
    assert _type_of(aliases, "/$defs/HelloPayload/properties/pointer_ref") == "str"


def test_a_definition_that_needs_a_check_keeps_its_name(checked: Generated) -> None:
    source = (checked.path / "models.py").read_text(encoding="utf-8")
    aliases = _aliases(source)
    assert aliases["Ids"] == _Alias("list[Any]", "/$defs/Ids")
    assert "Ids" in checked.submodule("models").__all__
    assert "Ids" in checked.module.__all__
    assert checked.module.Ids is checked.submodule("models").Ids
    # Its description is the alias's docstring.
    assert (
        'Ids: TypeAlias = Annotated[list[Any], _CHECKS.at("/$defs/Ids")]\n"""Distinct ids."""'
        in source
    )
    # The private aliases of anonymous subschemas are not exported.
    assert not [name for name in checked.submodule("models").__all__ if name.startswith("_")]


def test_natively_typed_siblings_stay_native(checked: Generated) -> None:
    source = (checked.path / "models.py").read_text(encoding="utf-8")
    point = _fields(source, "Point")
    assert point["x"] == "Annotated[int, Field(ge=0)]"
    tags = point["tags"]
    assert _aliases(source)[tags.removeprefix("Annotated[").split(" | ")[0]].pointer == (
        "/$defs/Point/properties/tags"
    )
    hello = _fields(source, "HelloPayload")
    assert hello["name"] == "Annotated[str, Field(max_length=32, min_length=1)]"
    assert hello["deep"] == "Annotated[Deep | None, NotNull]"
    assert _fields(source, "Deep")["inner"].startswith("Annotated[list[_Check")


@pytest.mark.slow
def test_the_checked_package_passes_mypy_strict_and_ruff(
    checked: Generated, tmp_path: Path
) -> None:
    mypy = mypy_strict(checked.path, cache_dir=tmp_path / "mypy-cache")
    assert mypy.returncode == 0, mypy.stdout + mypy.stderr
    ruff = ruff_check(checked.path)
    assert ruff.returncode == 0, ruff.stdout + ruff.stderr
    formatted = ruff_format_check(checked.path)
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr


# -- null, payloads that are checks, many failures --------------------------------------------


def test_null_is_refused_or_taken_as_the_schema_says(checked: Generated) -> None:
    source = (checked.path / "models.py").read_text(encoding="utf-8")
    hello = _fields(source, "HelloPayload")
    # The check refuses null: the field may be left out, not set to null.
    assert hello["unique_items"].endswith("| None, NotNull]")
    # The check takes null (a ``not`` of a string): null is a value like any other.
    assert "NotNull" not in hello["not_string"]
    protocol = checked.module.PROTOCOL
    taken = protocol.parse('{"event_name": "hello", "payload": {"name": "n", "not_string": null}}')
    assert json.loads(taken.to_json())["payload"] == {"name": "n", "not_string": None}
    with pytest.raises(MessageValidationError) as info:
        protocol.parse('{"event_name": "hello", "payload": {"name": "n", "unique_items": null}}')
    assert [(d.path, d.kind) for d in info.value.details] == [("$.payload.unique_items", "type")]


@pytest.mark.parametrize(
    ("event", "payload", "valid"),
    [
        ("pick", "a", True),
        ("pick", 0, True),
        ("pick", -1, False),
        ("pick", 1.5, False),
        ("pick", None, False),
        ("fill", {"a": 1}, True),
        ("fill", {"z": [1]}, True),
        ("fill", {}, False),
        ("fill", {"a": "x"}, False),
        ("fill", {"a": None}, False),
        ("fill", [], False),
        ("maybe", 1, True),
        ("maybe", {"a": "x"}, True),
        ("maybe", None, True),
        ("maybe", "x", False),
    ],
)
def test_a_payload_that_is_a_check_at_its_root_parses(
    event: str, payload: Any, valid: bool, checked: Generated
) -> None:
    protocol = checked.module.PROTOCOL
    frame = {"event_name": event, "payload": payload}
    assert Draft202012Validator(protocol.schema).is_valid(frame) is valid
    if valid:
        message = protocol.parse(json.dumps(frame))
        if event == "fill":  # an object with properties: its class, which checks the rest
            assert isinstance(message.payload, checked.module.FillPayload)
        else:
            assert message.payload == payload
        assert json.loads(message.to_json()) == frame
        return
    with pytest.raises(MessageValidationError) as info:
        protocol.parse(json.dumps(frame))
    assert all(d.path.startswith("$.payload") for d in info.value.details)


async def test_the_client_sends_a_payload_that_is_a_check(checked: Generated) -> None:
    package = checked.module
    client = package.Client("ws://127.0.0.1:9/ws")
    recorder = _Recorder(client, {})
    await client.pick(3)
    await client.fill(a=1)
    await client.place(point={"x": 1, "tags": ["a", "b"]}, ids=[1, "1"], pair="p")
    # A payload that may be null, and be other things: the stub takes it, None by default.
    await client.maybe([1])
    await client.maybe()
    assert [json.loads(m.to_json()) for m in recorder.sent] == [
        {"event_name": "pick", "payload": 3, "to": "server"},
        {"event_name": "fill", "payload": {"a": 1}, "to": "server"},
        {
            "event_name": "place",
            "payload": {"point": {"x": 1, "tags": ["a", "b"]}, "ids": [1, "1"], "pair": "p"},
            "to": "server",
        },
        {"event_name": "maybe", "payload": [1], "to": "server"},
        {"event_name": "maybe", "to": "server"},
    ]
    for call, path in [
        (client.pick(-1), "$.payload"),
        (client.fill(), "$.payload"),
        (client.place(ids=[1, 1]), "$.payload.ids"),
        (client.maybe("x"), "$.payload"),
    ]:
        with pytest.raises(MessageValidationError) as info:
            await call
        assert [d.path for d in info.value.details] == [path]
    assert len(recorder.sent) == 5


def test_thousands_of_failures_are_reported_as_a_few(checked: Generated) -> None:
    """A 5,000-element value that fails everywhere, in two checked properties: at most
    ``MAX_DETAILS`` violations, each a path into the frame."""
    protocol = checked.module.PROTOCOL
    payload = {"children": [-1] * 5000 + ["x"], "others": [0] * 5000}
    with pytest.raises(MessageValidationError) as info:
        protocol.parse(json.dumps({"event_name": "tree", "payload": payload}))
    details = info.value.details
    assert 0 < len(details) <= MAX_DETAILS
    assert details[0].path == "$.payload.children"
    assert details[0].kind == "uniqueItems"
    assert len(details[0].reason) <= 300
    for detail in details[1:]:
        assert detail.path.startswith(("$.payload.children[", "$.payload.others["))
        assert detail.kind in ("oneOf", "not", "uniqueItems")


def test_failures_of_several_checks_are_reported_as_a_few_too(
    tmp_path: Path, generate_package: GenerateFn
) -> None:
    """The same in a protocol without unions (whose failures are not sorted by branch): two
    checks with a hundred failures each are still ``MAX_DETAILS`` violations at most."""
    schema = copy_case("minimal", tmp_path / "schema")
    # One check of each whole array (uniqueItems), not one per item.
    nonzero = {"type": "array", "uniqueItems": True, "items": {"not": {"const": 0}}}
    _with_property(schema, nonzero, "a")
    _with_property(schema, nonzero, "b")
    protocol = generate_package(schema, "many").module.PROTOCOL
    assert not protocol._has_unions
    payload = {"name": "n", "a": [0] * 5000, "b": [0] * 5000}
    with pytest.raises(MessageValidationError) as info:
        protocol.parse(json.dumps({"event_name": "hello", "payload": payload}))
    details = info.value.details
    assert len(details) == MAX_DETAILS
    assert [(d.path, d.kind) for d in details[:2]] == [
        ("$.payload.a", "uniqueItems"),
        ("$.payload.a[0]", "not"),
    ]


# -- the natively typed keywords are enforced -------------------------------------------------


def _walk(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield key
            if key not in ("enum", "const", "default", "examples") and not key.startswith("x-"):
                yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


FEATURES = case_schema("features")


def test_the_check_event_uses_every_accepted_keyword() -> None:
    """An allowlisted keyword without a row below is untested: keep them in step."""
    used: set[str] = set()
    for path in FEATURES.rglob("*.json"):
        used |= set(_walk(json.loads(path.read_text(encoding="utf-8"))))
    assert SUPPORTED - used == set()
    assert used >= ANNOTATIONS
    formats = {
        node["format"]
        for path in FEATURES.rglob("*.json")
        for node in _nodes(json.loads(path.read_text(encoding="utf-8")))
        if "format" in node
    }
    assert formats == FORMATS


def _nodes(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _nodes(value)
    elif isinstance(node, list):
        for item in node:
            yield from _nodes(item)


def _rows(prop: str, valid: list[Any], invalid: list[Any]) -> list[Any]:
    return [pytest.param(prop, v, True, id=f"{prop}-ok-{i}") for i, v in enumerate(valid)] + [
        pytest.param(prop, v, False, id=f"{prop}-bad-{i}") for i, v in enumerate(invalid)
    ]


DATE_TIMES_OK = ["2024-05-01T12:00:00Z", "2024-05-01T12:00:00.250+02:00", "2024-05-01t12:00:00z"]
DATE_TIMES_BAD = [
    "1700000000",  # a Unix time: pydantic alone takes it
    1700000000,
    "2024-05-01 12:00:00Z",  # RFC 3339's date-time has a "T"
    "2024-05-01T12:00:00",  # no offset
    "2024-05-01T12:00Z",  # no seconds
    "2024-05-01T12:00:00+0200",
    "2024-05-01",
    "2024-13-01T12:00:00Z",
]
UUIDS_BAD = [
    UUID_TEXT.replace("-", ""),  # pydantic alone takes these three
    "{" + UUID_TEXT + "}",
    "urn:uuid:" + UUID_TEXT,
    UUID_TEXT[:-1],
    5,
]

ENFORCED = [
    *_rows("t_string", ["x", ""], [1, None, True]),
    *_rows("t_integer", [3, -7], [3.5, "3", True, None]),
    *_rows("t_number", [2.5, 2], ["2", True]),
    *_rows("t_boolean", [True, False], [1, "true", None]),
    *_rows("t_null", [None], [0, "", False]),
    *_rows("t_array", [[1, "a"], []], [{}, "ab"]),
    *_rows("t_object", [{"a": 1}, {}], [[], "x"]),
    *_rows("t_nullable", [None, 2], ["2", 2.5]),
    *_rows("closed", [{"a": 1}, {"a": 1, "b": "x"}], [{}, {"a": 1, "c": 2}, {"a": "1"}]),
    *_rows("open", [{"a": 1, "z": [1, None]}, {}], [{"a": "x"}, {"a": None}]),
    *_rows("typed_extra", [{"n": 2}, {"a": "s", "n": 0}], [{"n": -1}, {"n": "x"}, {"a": 5}]),
    *_rows("map", [{"k": True}, {}], [{"k": 1}, {"k": None}, []]),
    *_rows("empty_object", [{}], [{"a": 1}]),
    *_rows("items", [[1], [1, 2]], [[], [1, 2, 3], ["a"], [1.5]]),
    *_rows("minimum", [3, 4], [2]),
    *_rows("maximum", [2.5, -1], [2.6]),
    *_rows("exclusive_minimum", [0.1], [0, -1]),
    *_rows("exclusive_maximum", [9], [10]),
    *_rows("multiple_of", [9, -3, 0], [10, 1]),
    *_rows("min_length", ["ab", "😀😀"], ["a", "😀"]),
    *_rows("max_length", ["ab", "😀😀"], ["abc"]),
    *_rows("pattern", ["abc"], ["abd", ""]),
    *_rows("unanchored", ["a1b"], ["ab"]),
    *_rows("enum_text", ["red", "green"], ["blue", "Red"]),
    *_rows("enum_numbers", [0, 1, 5, 1.0], [False, True, 2, "1"]),
    *_rows("enum_mixed", ["a", 1, None], [True, "b", 0]),
    *_rows("enum_flags", [True], [1, 1.0, False]),
    *_rows("const_one", [1, 1.0], [True, 2, "1"]),
    *_rows("const_false", [False], [0, 0.0, True, None]),
    *_rows("const_text", ["x"], ["y", None]),
    *_rows("date_time", DATE_TIMES_OK, DATE_TIMES_BAD),
    *_rows("uuid", [UUID_TEXT, UUID_TEXT.upper()], UUIDS_BAD),
    *_rows("any_of", [10, "a"], [9, "ab", True, None]),
    *_rows("ref", [{"name": "n"}, {"name": "n", "z": 1}], [{}, {"name": ""}]),
    *_rows(
        "composed",
        [{"count": 1, "extra": True}],
        [{"extra": True}, {"count": -1, "extra": True}, {"count": 1}],
    ),
    *_rows("annotated", ["q"], [5, None]),
]
#: The format checker of ``jsonschema`` has no ``date-time`` without an extra package: those
#: rows are checked against RFC 3339, as written above.
NOT_CHECKED_BY_JSONSCHEMA = {"date_time"}


@pytest.mark.parametrize(("prop", "value", "valid"), ENFORCED)
def test_models_enforce_each_accepted_keyword(
    prop: str, value: Any, valid: bool, shared_packages: dict[str, Generated]
) -> None:
    package = shared_packages["features"].module
    frame = {"event_name": "check", "payload": {prop: value}}
    if prop not in NOT_CHECKED_BY_JSONSCHEMA:
        validator = Draft202012Validator(
            package.PROTOCOL.schema, format_checker=Draft202012Validator.FORMAT_CHECKER
        )
        assert validator.is_valid(frame) is valid, "the row disagrees with schema.json"
    if not valid:
        with pytest.raises(MessageValidationError) as info:
            package.PROTOCOL.parse(json.dumps(frame))
        assert info.value.details
        assert all(d.path.startswith(f"$.payload.{prop}") for d in info.value.details)
        return
    message = package.PROTOCOL.parse(json.dumps(frame))
    wire = message.to_json()
    assert package.PROTOCOL.parse(wire) == message
    # Nothing is lost on the way through: the same JSON value, up to 1.0 == 1, the spelling of
    # a date-time (the same instant and offset) or the case of a UUID's hex digits.
    again = json.loads(wire)["payload"][prop]
    if prop == "date_time":
        as_datetime = TypeAdapter(datetime)
        original = as_datetime.validate_python(value.upper())
        assert as_datetime.validate_python(again) == original
        assert as_datetime.validate_python(again).utcoffset() == original.utcoffset()
    elif prop == "uuid":
        assert again == value.lower()
    else:
        assert again == value
        assert type(again) is type(value) or {type(again), type(value)} == {int, float}
