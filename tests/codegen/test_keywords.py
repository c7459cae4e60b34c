"""The generator accepts only the JSON Schema keywords the generated models enforce.

- every keyword datamodel-code-generator would drop (``uniqueItems``, ``not``, ``oneOf``'s
  exclusivity, ...) is refused with a ``SchemaError`` naming the file, the JSON pointer and the
  keyword;
- the accepted keywords are only accepted in the shapes the models enforce;
- each accepted keyword is enforced: the ``check`` event of the ``features`` case has one
  property per keyword, and the models accept and refuse exactly what ``schema.json`` does.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from pydantic import TypeAdapter

import datadivr_codegen.models
from datadivr.exceptions import MessageValidationError
from datadivr_codegen.bundle import model_bundle
from datadivr_codegen.errors import SchemaError
from datadivr_codegen.generator import generate, plan
from datadivr_codegen.keywords import ANNOTATIONS, FORMATS, SUPPORTED

from .conftest import Generated, GenerateFn, case_schema, copy_case, snapshot

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


# -- keywords the models could not enforce ---------------------------------------------------

INTEGERS = {"type": "array", "items": {"type": "integer"}}

#: (keyword, a property schema that uses it where it is the first unsupported key).
REFUSED_KEYWORDS = [
    ("uniqueItems", {**INTEGERS, "uniqueItems": True}),
    ("not", {"type": "integer", "not": {"const": 3}}),
    ("prefixItems", {"type": "array", "prefixItems": [{"type": "integer"}]}),
    ("contains", {"type": "array", "contains": {"type": "integer"}}),
    ("minContains", {"type": "array", "minContains": 2, "contains": {"type": "integer"}}),
    ("maxContains", {"type": "array", "maxContains": 2, "contains": {"type": "integer"}}),
    (
        "dependentRequired",
        {
            "type": "object",
            "dependentRequired": {"a": ["b"]},
            "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
        },
    ),
    ("dependentSchemas", {"type": "object", "dependentSchemas": {"a": {"required": ["b"]}}}),
    ("if", {"type": "integer", "if": {"minimum": 3}, "then": {"maximum": 5}}),
    ("then", {"type": "integer", "then": {"maximum": 5}}),
    ("else", {"type": "integer", "else": {"maximum": 5}}),
    ("patternProperties", {"type": "object", "patternProperties": {"^a": {"type": "integer"}}}),
    ("propertyNames", {"type": "object", "propertyNames": {"maxLength": 3}}),
    ("unevaluatedProperties", {"type": "object", "unevaluatedProperties": False}),
    ("unevaluatedItems", {"type": "array", "unevaluatedItems": False}),
    ("minProperties", {"type": "object", "minProperties": 1}),
    ("maxProperties", {"type": "object", "maxProperties": 1}),
    ("$dynamicRef", {"$dynamicRef": "#meta"}),
    ("$anchor", {"$anchor": "here", "type": "string"}),
    ("$dynamicAnchor", {"$dynamicAnchor": "here", "type": "string"}),
    ("oneOf", {"oneOf": [{"type": "string"}, {"type": "integer"}]}),
    ("contentEncoding", {"type": "string", "contentEncoding": "base64"}),
    ("contentMediaType", {"type": "string", "contentMediaType": "application/json"}),
    ("nullable", {"type": "string", "nullable": True}),
]
# ``definitions`` is read as ``$defs``, and a typo such as ``minimun`` is reported with the
# keyword it stands for: tests/codegen/test_drafts.py.


@pytest.mark.parametrize(
    ("keyword", "prop"), [pytest.param(k, p, id=k) for k, p in REFUSED_KEYWORDS]
)
def test_keyword_the_models_cannot_enforce_is_refused(
    keyword: str, prop: dict[str, Any], tmp_path: Path
) -> None:
    schema = copy_case("minimal", tmp_path / "schema")
    _with_property(schema, prop)
    error = _refused(tmp_path)
    assert error.reason.startswith(f"at #/properties/field: {keyword!r} {UNSUPPORTED}")


def test_one_of_is_refused_with_a_hint(tmp_path: Path) -> None:
    schema = copy_case("minimal", tmp_path / "schema")
    _with_property(schema, dict(REFUSED_KEYWORDS)["oneOf"])
    assert "use anyOf" in _refused(tmp_path).reason


def test_the_pointer_locates_the_keyword_deep_in_another_file(tmp_path: Path) -> None:
    schema = copy_case("minimal", tmp_path / "schema")
    thing = {
        "type": "object",
        "properties": {"a/b": {"type": "array", "items": {**INTEGERS, "uniqueItems": True}}},
    }
    _write(schema, DEFINITIONS, {"$schema": DRAFT, "$defs": {"Thing": thing}})
    _with_property(schema, {"$ref": "../definitions.schema.json#/$defs/Thing"})
    error = _refused(tmp_path, DEFINITIONS)
    assert error.reason == (f"at #/$defs/Thing/properties/a~1b/items: 'uniqueItems' {UNSUPPORTED}")


def test_the_envelope_is_checked_too(tmp_path: Path) -> None:
    schema = copy_case("minimal", tmp_path / "schema")
    envelope = _read(schema, "envelope.schema.json")
    envelope["properties"]["to"]["not"] = {"const": "nobody"}
    _write(schema, "envelope.schema.json", envelope)
    error = _refused(tmp_path, "envelope.schema.json")
    assert error.reason.startswith(f"at #/properties/to: 'not' {UNSUPPORTED}")


# -- accepted keywords, in shapes the models could not enforce --------------------------------

DEFS_A = {"type": "object", "properties": {"a": {"type": "integer"}}}
#: (property schema, definitions of definitions.schema.json, fragments of the reason).
REFUSED_SHAPES = {
    "format-email": ({"type": "string", "format": "email"}, None, ('"format": "email"',)),
    "format-unknown": ({"type": "string", "format": "x-color"}, None, ("date-time, uuid",)),
    "format-on-integer": (
        {"type": "integer", "format": "int64"},
        None,
        ('\'format\' has no effect beside "type": "integer"',),
    ),
    "format-without-type": ({"format": "uuid"}, None, ('\'format\' needs "type": "string"',)),
    "format-with-max-length": (
        {"type": "string", "format": "date-time", "maxLength": 30},
        None,
        ("with 'maxLength' beside it",),
    ),
    "multiple-of-fraction": (
        {"type": "number", "multipleOf": 0.1},
        None,
        ('"multipleOf" is only supported with "type": "integer"',),
    ),
    "multiple-of-on-number": ({"type": "number", "multipleOf": 2}, None, ("round differently",)),
    "enum-fraction": ({"enum": [1.5]}, None, ("enum value 1.5",)),
    "enum-object": ({"enum": [{"a": 1}]}, None, ('enum value {"a": 1}',)),
    "const-array": ({"const": [1]}, None, ("const value [1]",)),
    "enum-of-another-type": (
        {"type": "string", "enum": ["a", 1]},
        None,
        ('enum value 1 is not of the declared type "string"',),
    ),
    "const-with-constraints": (
        {"type": "integer", "const": 3, "minimum": 4},
        None,
        ("'const' with 'minimum' beside it",),
    ),
    "minimum-without-type": ({"minimum": 3}, None, ('\'minimum\' needs "type": "number"',)),
    "items-without-type": ({"items": {"type": "integer"}}, None, ("'items' needs",)),
    "properties-without-type": ({"properties": {}}, None, ("'properties' needs",)),
    "max-length-on-integer": (
        {"type": "integer", "maxLength": 3},
        None,
        ("'maxLength' has no effect",),
    ),
    "two-types": (
        {"type": ["string", "integer"]},
        None,
        ('one type at most besides "null"',),
    ),
    "reserved-extension": (
        {"type": "string", "x-datadivr-not-null": True},
        None,
        ("'x-datadivr-not-null' is reserved",),
    ),
    "boolean-schema": (True, None, ("a boolean schema",)),
    "boolean-items": ({"type": "array", "items": False}, None, ("a boolean schema",)),
    "nested-defs": (
        {"type": "object", "$defs": {"A": {"type": "string"}}},
        None,
        ("'$defs' is only supported at the root of a file",),
    ),
    "nested-id": ({"$id": "other.json", "type": "string"}, None, ("'$id' is only supported",)),
    "required-undefined": (
        {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a", "b"]},
        None,
        ("required names 'b', which no properties define",),
    ),
    "required-on-a-map": (
        {"type": "object", "additionalProperties": {"type": "integer"}, "required": ["a"]},
        None,
        ("required names 'a'",),
    ),
    "ref-with-constraint": (
        {"$ref": "../definitions.schema.json#/$defs/Text", "maxLength": 3},
        {"Text": {"type": "string"}},
        ("'$ref' with 'maxLength' beside it",),
    ),
    "any-of-with-type": (
        {"type": "integer", "anyOf": [{"type": "integer", "minimum": 3}]},
        None,
        ("'anyOf' with 'type' beside it",),
    ),
    "pattern-look-ahead": (
        {"type": "string", "pattern": "^(?=a)"},
        None,
        ('pattern "^(?=a)" is not supported by the models\' regular-expression engine',),
    ),
    "pattern-back-reference": (
        {"type": "string", "pattern": "(a)\\1"},
        None,
        ("regular-expression engine",),
    ),
    "all-of-member-not-a-ref": (
        {"type": "object", "allOf": [{"required": ["a"]}]},
        None,
        ("an allOf member must be a $ref",),
    ),
    "all-of-member-not-an-object": (
        {"type": "object", "allOf": [{"$ref": "../definitions.schema.json#/$defs/Text"}]},
        {"Text": {"type": "string"}},
        ("must be an object schema",),
    ),
    "all-of-without-object-type": (
        {"allOf": [{"$ref": "../definitions.schema.json#/$defs/A"}]},
        {"A": DEFS_A},
        ("allOf is only supported to combine object schemas",),
    ),
    "all-of-with-any-of": (
        {
            "type": "object",
            "allOf": [{"$ref": "../definitions.schema.json#/$defs/A"}],
            "anyOf": [{"$ref": "../definitions.schema.json#/$defs/A"}],
        },
        {"A": DEFS_A},
        ("'anyOf' with",),
    ),
    "all-of-closed-member": (
        {
            "type": "object",
            "allOf": [{"$ref": "../definitions.schema.json#/$defs/A"}],
            "properties": {"b": {"type": "string"}},
        },
        {"A": {**DEFS_A, "additionalProperties": False}},
        (
            'definitions.schema.json#/$defs/A sets "additionalProperties": false but does not '
            "list 'b'",
        ),
    ),
    "all-of-closed-composition": (
        {
            "type": "object",
            "allOf": [{"$ref": "../definitions.schema.json#/$defs/A"}],
            "properties": {"b": {"type": "string"}},
            "additionalProperties": False,
        },
        {"A": DEFS_A},
        ("this schema sets \"additionalProperties\": false but does not list 'a'",),
    ),
    "all-of-redefined-property": (
        {
            "type": "object",
            "allOf": [{"$ref": "../definitions.schema.json#/$defs/A"}],
            "properties": {"a": {"type": "integer", "maximum": 3}},
        },
        {"A": DEFS_A},
        ("property 'a' is defined both in this schema and in definitions.schema.json",),
    ),
    "all-of-typed-extras": (
        {
            "type": "object",
            "allOf": [{"$ref": "../definitions.schema.json#/$defs/A"}],
            "additionalProperties": {"type": "integer"},
        },
        {"A": DEFS_A},
        ("a schema for additionalProperties is not supported beside allOf",),
    ),
    "all-of-member-with-typed-extras": (
        {"type": "object", "allOf": [{"$ref": "../definitions.schema.json#/$defs/A"}]},
        {"A": {**DEFS_A, "additionalProperties": {"type": "integer"}}},
        ("has a schema for additionalProperties",),
    ),
}


@pytest.mark.parametrize(
    ("prop", "defs", "says"), [pytest.param(*v, id=k) for k, v in REFUSED_SHAPES.items()]
)
def test_accepted_keyword_in_a_shape_the_models_cannot_enforce_is_refused(
    prop: Any, defs: dict[str, Any] | None, says: tuple[str, ...], tmp_path: Path
) -> None:
    schema = copy_case("minimal", tmp_path / "schema")
    if defs is not None:
        _write(schema, DEFINITIONS, {"$schema": DRAFT, "$defs": defs})
    _with_property(schema, prop)
    error = _refused(tmp_path)
    assert error.reason.startswith("at #/properties/field")
    for fragment in says:
        assert fragment in error.reason


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
    protocol = generate_package(schema, "all_of").module.PROTOCOL
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


def test_what_datamodel_code_generator_leaves_out_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A constraint datamodel-code-generator drops (it warns) fails the generation, even one
    that got past the keyword checks."""
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
    with pytest.raises(SchemaError, match=r"datamodel-code-generator: .*max_length") as info:
        plan(case_schema("minimal"))
    assert "the models would not enforce the schema" in info.value.reason


# -- the accepted keywords are enforced -------------------------------------------------------


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
UUID_TEXT = "0b5e5c8e-2f64-4c39-9a8b-6a1f0f5d2c11"
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
