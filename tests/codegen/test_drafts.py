"""Schema files of draft-04, -06, -07 and 2019-09, read as draft 2020-12 (``drafts.py``).

Each conversion rule has a small table of cases; the property test checks, on the published-
style folder ``cases/drafts/schema/``, that the original draft's validator and the draft
2020-12 validator of the normalized schema give the same verdict on every generated instance.
"""

from __future__ import annotations

import copy
import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st
from jsonschema import Draft4Validator, Draft6Validator, Draft202012Validator, validators
from jsonschema.exceptions import SchemaError as SchemaValidationError
from jsonschema.protocols import Validator
from referencing import Registry, Resource

from datadivr_codegen.drafts import DRAFTS, LATEST, detect, normalize, rewrite_ref
from datadivr_codegen.errors import SchemaError
from datadivr_codegen.misspellings import near_miss
from datadivr_codegen.schema import load_schema_folder
from tests.mutations import random_container

from .conftest import CASES_DIR

FOLDER = CASES_DIR / "drafts" / "schema"
D4 = "http://json-schema.org/draft-04/schema#"
D6 = "http://json-schema.org/draft-06/schema#"
D7 = "http://json-schema.org/draft-07/schema#"
D2019 = "https://json-schema.org/draft/2019-09/schema"
D2020 = "https://json-schema.org/draft/2020-12/schema"


def _norm(draft: str, schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` under ``$schema: draft``, normalized, without its ``$schema``."""
    out = normalize({"$schema": draft, **schema}, "f.json")
    assert out.pop("$schema") == D2020
    return out


def _problems(data: dict[str, Any]) -> str:
    with pytest.raises(SchemaError) as refused:
        normalize(data, "f.json")
    assert refused.value.file == Path("f.json")
    return refused.value.reason


# -- which draft -------------------------------------------------------------------------------

SPELLINGS = [
    (None, "draft 2020-12"),
    ("http://json-schema.org/draft-04/schema#", "draft-04"),
    ("http://json-schema.org/draft-04/schema", "draft-04"),
    ("https://json-schema.org/draft-04/schema#", "draft-04"),
    ("http://json-schema.org/draft-06/schema#", "draft-06"),
    ("https://json-schema.org/draft-06/schema", "draft-06"),
    ("http://json-schema.org/draft-07/schema#", "draft-07"),
    ("http://json-schema.org/draft-07/schema", "draft-07"),
    ("https://json-schema.org/draft-07/schema#", "draft-07"),
    (" HTTPS://JSON-SCHEMA.ORG/DRAFT-07/SCHEMA# ", "draft-07"),
    ("https://json-schema.org/draft/2019-09/schema", "draft 2019-09"),
    ("https://json-schema.org/draft/2019-09/schema#", "draft 2019-09"),
    ("http://json-schema.org/draft/2019-09/schema", "draft 2019-09"),
    ("https://json-schema.org/draft/2020-12/schema", "draft 2020-12"),
    ("https://json-schema.org/draft/2020-12/schema#", "draft 2020-12"),
    ("http://json-schema.org/draft/2020-12/schema#", "draft 2020-12"),
]


@pytest.mark.parametrize(("declared", "name"), SPELLINGS)
def test_the_draft_is_read_from_every_spelling_of_schema(declared: str | None, name: str) -> None:
    assert detect(declared).name == name


@pytest.mark.parametrize(
    "declared",
    [
        "http://json-schema.org/draft-03/schema#",
        "http://json-schema.org/schema#",
        "https://json-schema.org/draft/2021-01/schema",
        "https://spec.openapis.org/oas/3.1/dialect/base",
        "draft-07",
        7,
    ],
)
def test_an_unknown_schema_is_named(declared: Any) -> None:
    reason = _problems({"$schema": declared, "type": "string"})
    assert reason.startswith(f"$schema {declared!r} names no JSON Schema draft")
    assert "draft-04, draft-06, draft-07, draft 2019-09, draft 2020-12" in reason


def test_a_file_without_schema_is_draft_2020_12_and_keeps_none() -> None:
    assert normalize({"type": "string", "minLength": 1}, "f.json") == {
        "type": "string",
        "minLength": 1,
    }


def test_the_input_is_left_untouched() -> None:
    data = json.loads((FOLDER / "events" / "place.schema.json").read_text(encoding="utf-8"))
    before = copy.deepcopy(data)
    normalize(data, "place.schema.json")
    assert data == before


# -- the conversion rules ----------------------------------------------------------------------

#: (case, draft, schema, the draft 2020-12 schema)
CONVERSIONS: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
    # definitions → $defs, with the references into them
    (
        "definitions",
        D7,
        {"definitions": {"A": {"type": "string"}}, "$ref": "#/definitions/A"},
        {"$defs": {"A": {"type": "string"}}, "$ref": "#/$defs/A"},
    ),
    (
        "definitions in 2020-12",
        D2020,
        {"definitions": {"A": {"type": "string"}}, "items": {"$ref": "#/definitions/A"}},
        {"$defs": {"A": {"type": "string"}}, "items": {"$ref": "#/$defs/A"}},
    ),
    (
        "definitions beside $defs",
        D2019,
        {"definitions": {"A": True}, "$defs": {"B": False}},
        {"$defs": {"A": True, "B": False}},
    ),
    (
        "nested definitions",
        D6,
        {"properties": {"a": {"definitions": {"B": {"type": "integer"}}}}},
        {"properties": {"a": {"$defs": {"B": {"type": "integer"}}}}},
    ),
    (
        "a reference into another file",
        D7,
        {"$ref": "other.schema.json#/definitions/X"},
        {"$ref": "other.schema.json#/$defs/X"},
    ),
    (
        "an escaped pointer",
        D7,
        {
            "definitions": {"a/b": {"type": "string"}, "c~d": {"type": "integer"}},
            "anyOf": [{"$ref": "#/definitions/a~1b"}, {"$ref": "#/definitions/c~0d"}],
        },
        {
            "$defs": {"a/b": {"type": "string"}, "c~d": {"type": "integer"}},
            "anyOf": [{"$ref": "#/$defs/a~1b"}, {"$ref": "#/$defs/c~0d"}],
        },
    ),
    (
        "a percent-encoded pointer",
        D7,
        {"definitions": {"a b": {"type": "string"}}, "not": {"$ref": "#/definitions/a%20b"}},
        {"$defs": {"a b": {"type": "string"}}, "not": {"$ref": "#/$defs/a%20b"}},
    ),
    (
        "a definition named definitions",
        D7,
        {"definitions": {"definitions": {"type": "null"}}, "$ref": "#/definitions/definitions"},
        {"$defs": {"definitions": {"type": "null"}}, "$ref": "#/$defs/definitions"},
    ),
    (
        "$defs in draft-07",
        D7,
        {"$defs": {"A": {"dependencies": {"a": ["b"]}}}, "$ref": "#/$defs/A"},
        {"$defs": {"A": {"dependentRequired": {"a": ["b"]}}}, "$ref": "#/$defs/A"},
    ),
    ("$id in draft-04, which ignores it", D4, {"$id": "https://example.test/c.json"}, {}),
    (
        "$anchor in draft-07, which ignores it",
        D7,
        {"$anchor": "a", "type": "null"},
        {"type": "null"},
    ),
    # draft-04
    ("id", D4, {"id": "https://example.test/a.json#"}, {"$id": "https://example.test/a.json"}),
    ("id of a fragment", D4, {"id": "#here", "type": "null"}, {"$anchor": "here", "type": "null"}),
    (
        "$id of a fragment",
        D7,
        {"definitions": {"A": {"$id": "#a", "type": "null"}}, "$ref": "#a"},
        {"$defs": {"A": {"$anchor": "a", "type": "null"}}, "$ref": "#a"},
    ),
    (
        "$id of a JSON pointer",
        D7,
        {"properties": {"a": {"$id": "#/properties/a", "type": "string"}}},
        {"properties": {"a": {"type": "string"}}},
    ),
    (
        "$id with a JSON pointer",
        D6,
        {"$id": "https://example.test/a.json#/definitions/x"},
        {"$id": "https://example.test/a.json"},
    ),
    ("id in draft-07 is an annotation", D7, {"id": "x"}, {"id": "x"}),
    (
        "an annotation of 2020-12 with another shape",
        D4,
        {"deprecated": "use b", "readOnly": True, "contentSchema": 1, "examples": 3},
        {"readOnly": True},
    ),
    (
        "an annotation of 2020-12 of its shape",
        D6,
        {"deprecated": True, "$comment": "c"},
        {"deprecated": True, "$comment": "c"},
    ),
    (
        "ECMA-262 named groups",
        D7,
        {"pattern": "^(?<major>[0-9]+)$", "patternProperties": {"^(?<k>a)": {}}},
        {"pattern": "^(?<major>[0-9]+)$", "patternProperties": {"^(?<k>a)": {}}},
    ),
    (
        "exclusiveMinimum true",
        D4,
        {"minimum": 1, "exclusiveMinimum": True},
        {"exclusiveMinimum": 1},
    ),
    (
        "exclusiveMaximum true",
        D4,
        {"maximum": 2.5, "exclusiveMaximum": True},
        {"exclusiveMaximum": 2.5},
    ),
    ("exclusive bounds false", D4, {"minimum": 1, "exclusiveMinimum": False}, {"minimum": 1}),
    ("numeric exclusive bounds", D6, {"exclusiveMinimum": 1}, {"exclusiveMinimum": 1}),
    # dependencies
    (
        "dependencies, both forms",
        D7,
        {"dependencies": {"a": ["b"], "c": {"required": ["d"]}, "e": True}},
        {
            "dependentRequired": {"a": ["b"]},
            "dependentSchemas": {"c": {"required": ["d"]}, "e": True},
        },
    ),
    (
        "dependencies in draft-04",
        D4,
        {"dependencies": {"a": ["b", "c"]}},
        {"dependentRequired": {"a": ["b", "c"]}},
    ),
    # items
    (
        "tuple items and additionalItems",
        D7,
        {"items": [{"type": "string"}], "additionalItems": {"type": "integer"}},
        {"prefixItems": [{"type": "string"}], "items": {"type": "integer"}},
    ),
    ("tuple items alone", D6, {"items": [True, False]}, {"prefixItems": [True, False]}),
    (
        "tuple items in 2019-09",
        D2019,
        {"items": [{}], "additionalItems": False},
        {"prefixItems": [{}], "items": False},
    ),
    (
        "additionalItems beside one items",
        D7,
        {"items": {"type": "string"}, "additionalItems": False},
        {"items": {"type": "string"}},
    ),
    ("additionalItems alone", D4, {"additionalItems": False}, {}),
    (
        "a reference into a tuple",
        D7,
        {
            "items": [{"type": "string"}],
            "additionalItems": {},
            "contains": {"$ref": "#/items/0"},
            "not": {"$ref": "#/additionalItems"},
        },
        {
            "prefixItems": [{"type": "string"}],
            "items": {},
            "contains": {"$ref": "#/prefixItems/0"},
            "not": {"$ref": "#/items"},
        },
    ),
    # $ref siblings
    (
        "$ref siblings in draft-07",
        D7,
        {
            "definitions": {"A": {}},
            "properties": {
                "a": {
                    "$ref": "#/definitions/A",
                    "title": "t",
                    "description": "d",
                    "maxLength": 1,
                    "type": "integer",
                    "x-k": 1,
                    "javaType": "J",
                }
            },
        },
        {
            "$defs": {"A": {}},
            "properties": {
                "a": {
                    "$ref": "#/$defs/A",
                    "title": "t",
                    "description": "d",
                    "x-k": 1,
                    "javaType": "J",
                }
            },
        },
    ),
    (
        "$ref siblings in draft-04",
        D4,
        {
            "definitions": {"A": {}},
            "$ref": "#/definitions/A",
            "id": "https://example.test/b.json",
            "required": ["a"],
        },
        {"$defs": {"A": {}}, "$ref": "#/$defs/A"},
    ),
    (
        "$ref siblings in 2019-09 apply",
        D2019,
        {"$defs": {"A": {}}, "$ref": "#/$defs/A", "maxLength": 1},
        {"$defs": {"A": {}}, "$ref": "#/$defs/A", "maxLength": 1},
    ),
    # $recursiveRef
    (
        "$recursiveRef without an anchor",
        D2019,
        {"properties": {"next": {"$recursiveRef": "#"}}, "$recursiveAnchor": False},
        {"properties": {"next": {"$ref": "#"}}},
    ),
    # counts
    (
        "counts written as floats",
        D7,
        {
            "minLength": 1.0,
            "maxLength": 2.0,
            "minItems": 0.0,
            "maxItems": 3.0,
            "minProperties": 1.0,
            "maxProperties": 4.0,
        },
        {
            "minLength": 1,
            "maxLength": 2,
            "minItems": 0,
            "maxItems": 3,
            "minProperties": 1,
            "maxProperties": 4,
        },
    ),
    (
        "minContains as a float",
        D2019,
        {"contains": {}, "minContains": 2.0, "maxContains": 3.0},
        {"contains": {}, "minContains": 2, "maxContains": 3},
    ),
    (
        "bounds unchanged",
        D7,
        {"minimum": 1.0, "maximum": 2.0, "multipleOf": 2.0},
        {"minimum": 1.0, "maximum": 2.0, "multipleOf": 2.0},
    ),
    # every subschema position, and no value that is not a schema
    (
        "every applicator",
        D7,
        {
            "allOf": [{"definitions": {}}],
            "anyOf": [{"definitions": {}}],
            "oneOf": [{"definitions": {}}],
            "not": {"definitions": {}},
            "if": {"definitions": {}},
            "then": {"definitions": {}},
            "else": {"definitions": {}},
            "properties": {"p": {"definitions": {}}},
            "patternProperties": {"^p": {"definitions": {}}},
            "additionalProperties": {"definitions": {}},
            "propertyNames": {"definitions": {}},
            "contains": {"definitions": {}},
        },
        {
            "allOf": [{"$defs": {}}],
            "anyOf": [{"$defs": {}}],
            "oneOf": [{"$defs": {}}],
            "not": {"$defs": {}},
            "if": {"$defs": {}},
            "then": {"$defs": {}},
            "else": {"$defs": {}},
            "properties": {"p": {"$defs": {}}},
            "patternProperties": {"^p": {"$defs": {}}},
            "additionalProperties": {"$defs": {}},
            "propertyNames": {"$defs": {}},
            "contains": {"$defs": {}},
        },
    ),
    (
        "2019-09 applicators",
        D2019,
        {
            "dependentSchemas": {"a": {"definitions": {}}},
            "unevaluatedProperties": {"definitions": {}},
            "unevaluatedItems": {"definitions": {}},
            "contentSchema": {"definitions": {}},
        },
        {
            "dependentSchemas": {"a": {"$defs": {}}},
            "unevaluatedProperties": {"$defs": {}},
            "unevaluatedItems": {"$defs": {}},
            "contentSchema": {"$defs": {}},
        },
    ),
    (
        "values that are not schemas",
        D7,
        {
            "const": {"definitions": {"maximun": 1}, "items": [1]},
            "enum": [{"dependencies": {}}, {"$ref": "#/definitions/A"}],
            "default": {"id": "x", "items": [1], "exclusiveMinimum": True},
            "examples": [{"definitions": {}}],
            "javaType": {"definitions": {}},
            "x-vendor": {"dependencies": {"a": ["b"]}},
        },
        {
            "const": {"definitions": {"maximun": 1}, "items": [1]},
            "enum": [{"dependencies": {}}, {"$ref": "#/definitions/A"}],
            "default": {"id": "x", "items": [1], "exclusiveMinimum": True},
            "examples": [{"definitions": {}}],
            "javaType": {"definitions": {}},
            "x-vendor": {"dependencies": {"a": ["b"]}},
        },
    ),
    (
        "property names that are keywords",
        D7,
        {
            "properties": {"definitions": {}, "items": {}, "id": {}, "maximun": {}},
            "required": ["definitions"],
        },
        {
            "properties": {"definitions": {}, "items": {}, "id": {}, "maximun": {}},
            "required": ["definitions"],
        },
    ),
    (
        "boolean schemas",
        D6,
        {"properties": {"a": True, "b": False}},
        {"properties": {"a": True, "b": False}},
    ),
]


@pytest.mark.parametrize(
    ("draft", "schema", "expected"), [pytest.param(d, s, e, id=c) for c, d, s, e in CONVERSIONS]
)
def test_conversion(draft: str, schema: dict[str, Any], expected: dict[str, Any]) -> None:
    assert _norm(draft, schema) == expected


def test_a_2020_12_schema_is_unchanged() -> None:
    schema = {
        "$schema": D2020,
        "$id": "https://example.test/x.json",
        "$defs": {"A": {"$anchor": "a", "type": "string"}},
        "prefixItems": [{"$ref": "#/$defs/A"}],
        "items": False,
        "dependentRequired": {"a": ["b"]},
        "$ref": "#a",
        "maxLength": 3,
    }
    assert normalize(schema, "f.json") == schema


@pytest.mark.parametrize(
    ("ref", "rewritten"),
    [
        ("#/definitions/A", "#/$defs/A"),
        ("#/definitions/A/properties/definitions", "#/$defs/A/properties/definitions"),
        ("#/properties/items/items/0", "#/properties/items/prefixItems/0"),
        ("#/dependencies/a/additionalItems", "#/dependentSchemas/a/items"),
        ("#/enum/0/definitions", "#/enum/0/definitions"),
        ("#/x-vendor/definitions/A", "#/x-vendor/definitions/A"),
        ("other.json#/definitions/A", "other.json#/$defs/A"),
        ("other.json", "other.json"),
        ("#anchor", "#anchor"),
        ("#", "#"),
        ("#/definitions/a~1b/items", "#/$defs/a~1b/items"),
        ("#/%64efinitions/A", "#/$defs/A"),
    ],
)
def test_references_follow_the_renamed_keywords(ref: str, rewritten: str) -> None:
    assert rewrite_ref(ref) == rewritten


# -- what has no draft 2020-12 equivalent, or is a mistake -------------------------------------

#: (case, schema, fragments of the reason)
REFUSED: list[tuple[str, dict[str, Any], tuple[str, ...]]] = [
    (
        "a dynamic $recursiveRef",
        {"$schema": D2019, "$recursiveAnchor": True, "items": {"$recursiveRef": "#"}},
        (
            "at #: '$recursiveAnchor': a dynamic reference is not supported",
            "at #/items: '$recursiveRef'",
        ),
    ),
    (
        "$recursiveRef to another place",
        {"$schema": D2019, "items": {"$recursiveRef": "#/$defs/A"}},
        ("at #/items: '$recursiveRef': a dynamic reference is not supported",),
    ),
    (
        "contains and unevaluatedItems in 2019-09",
        {"$schema": D2019, "contains": {"type": "string"}, "unevaluatedItems": False},
        ("at #: 'unevaluatedItems': beside contains (in this file) is not supported",),
    ),
    (
        "a keyword of a later draft",
        {"$schema": D4, "const": 1, "properties": {"a": {"contains": {}}}},
        (
            "at #: 'const': a keyword of draft-06 to draft 2020-12, which draft-04 ignores",
            "at #/properties/a: 'contains'",
        ),
    ),
    (
        "unevaluatedProperties in draft-07",
        {"$schema": D7, "unevaluatedProperties": False},
        (
            "'unevaluatedProperties': a keyword of draft 2019-09 to draft 2020-12, which draft-07 ignores",
        ),
    ),
    (
        "dependencies in 2020-12",
        {"dependencies": {"a": ["b"]}},
        (
            "'dependencies': a keyword of draft-04 to draft-07, which draft 2020-12 ignores",
            "use dependentRequired",
        ),
    ),
    (
        "additionalItems in 2020-12",
        {"additionalItems": False},
        ("which draft 2020-12 ignores", "use items beside prefixItems"),
    ),
    (
        "a name in definitions and $defs",
        {"$schema": D2019, "definitions": {"A": {}}, "$defs": {"A": {}}},
        ("'A' is defined both in definitions and $defs",),
    ),
    (
        "a reference into an ignored sibling",
        {
            "$schema": D7,
            "properties": {
                "a": {"$ref": "#/definitions/A", "properties": {"b": {}}},
                "c": {"$ref": "#/properties/a/properties/b"},
            },
            "definitions": {"A": {}},
        },
        (
            "at #/properties/c: '$ref': '#/properties/a/properties/b' points into a subschema that the file's draft ignores",
        ),
    ),
    (
        "a reference to an additionalItems beside one items",
        {
            "$schema": D7,
            "items": {},
            "additionalItems": {"type": "string"},
            "not": {"$ref": "#/additionalItems"},
        },
        (
            "at #/not: '$ref': '#/additionalItems' points into a subschema that the file's draft ignores",
        ),
    ),
    (
        "a nested $schema of another draft",
        {"$schema": D7, "properties": {"a": {"$schema": D4}}},
        ("at #/properties/a: '$schema': a subschema of another draft is not supported",),
    ),
    (
        "invalid for its own draft",
        {"$schema": D4, "properties": {"a": True}},
        ("at #/properties: 'a': True is not of type 'object' (the draft-04 meta-schema)",),
    ),
    (
        "exclusiveMinimum true without minimum",
        {"$schema": D4, "exclusiveMinimum": True},
        ("draft-04 meta-schema",),
    ),
    (
        "a count of 2.0 in draft-04",
        {"$schema": D4, "maxLength": 2.0},
        ("at #: 'maxLength': 2.0 is not of type 'integer' (the draft-04 meta-schema)",),
    ),
    (
        "a misspelt keyword",
        {"$schema": D7, "properties": {"n": {"type": "integer", "maximun": 3}}},
        (
            "at #/properties/n: 'maximun': not a keyword of draft-07 (it would be ignored); did you mean 'maximum'?",
        ),
    ),
]


@pytest.mark.parametrize(("schema", "says"), [pytest.param(s, f, id=c) for c, s, f in REFUSED])
def test_refused(schema: dict[str, Any], says: tuple[str, ...]) -> None:
    reason = _problems(schema)
    for fragment in says:
        assert fragment in reason


def test_every_problem_of_a_file_is_reported_at_once() -> None:
    reason = _problems(
        {
            "$schema": D7,
            "properties": {
                "a": {"type": "string", "minLenght": 1, "MaxLength": 3},
                "b": {"type": "integer", "maximun": 3, "minimum": "0"},
                "c": {"type": "object", "requried": ["x"], "patternProperty": {}},
                "d": {"additionalproperties": False, "unevaluatedItems": False},
            },
        }
    )
    lines = reason.splitlines()
    assert lines[0] == "cannot read this draft-07 schema as draft 2020-12 (8 problems):"
    assert sorted(lines[1:]) == sorted(
        [
            "  at #/properties/b: 'minimum': '0' is not of type 'number' (the draft-07 meta-schema)",
            "  at #/properties/a: 'minLenght': not a keyword of draft-07 (it would be ignored); did you mean 'minLength'?",
            "  at #/properties/a: 'MaxLength': not a keyword of draft-07 (it would be ignored); did you mean 'maxLength'?",
            "  at #/properties/b: 'maximun': not a keyword of draft-07 (it would be ignored); did you mean 'maximum'?",
            "  at #/properties/c: 'requried': not a keyword of draft-07 (it would be ignored); did you mean 'required'?",
            "  at #/properties/c: 'patternProperty': not a keyword of draft-07 (it would be ignored); did you mean 'patternProperties'?",
            "  at #/properties/d: 'additionalproperties': not a keyword of draft-07 (it would be ignored); did you mean 'additionalProperties'?",
            "  at #/properties/d: 'unevaluatedItems': a keyword of draft 2019-09 to draft 2020-12, which draft-07 ignores: declare the draft it belongs to in $schema, or remove it",
        ]
    )


def test_one_problem_is_one_line() -> None:
    assert _problems({"properties": {"a": {"requried": []}}}) == (
        "at #/properties/a: 'requried': not a keyword of draft 2020-12 (it would be ignored); "
        "did you mean 'required'?"
    )


# -- did you mean ------------------------------------------------------------------------------

MISSPELT = [
    ("maximun", "maximum"),
    ("minimun", "minimum"),
    ("minLenght", "minLength"),
    ("maxLenght", "maxLength"),
    ("MaxLength", "maxLength"),
    ("maxlength", "maxLength"),
    ("additionalproperties", "additionalProperties"),
    ("AdditionalProperties", "additionalProperties"),
    ("additionalProperty", "additionalProperties"),
    ("requried", "required"),
    ("require", "required"),
    ("patternProperty", "patternProperties"),
    ("patternproperties", "patternProperties"),
    ("proprties", "properties"),
    ("propertys", "properties"),
    ("item", "items"),
    ("Items", "items"),
    ("Type", "type"),
    ("types", "type"),
    ("Enum", "enum"),
    ("enums", "enum"),
    ("uniqueitems", "uniqueItems"),
    ("multipleof", "multipleOf"),
    ("multipeOf", "multipleOf"),
    ("AnyOf", "anyOf"),
    ("one_of", "oneOf"),
    ("allof", "allOf"),
    ("Not", "not"),
    ("If", "if"),
    ("exclusiveMinium", "exclusiveMinimum"),
    ("minItem", "minItems"),
    ("maxProperty", "maxProperties"),
    ("patern", "pattern"),
    ("fromat", "format"),
    ("additonalPropertes", "additionalProperties"),
    ("exclusiveMinimun", "exclusiveMinimum"),
    ("$Ref", "$ref"),
    ("$refs", "$ref"),
]

#: Keywords of popular tools, annotations and format names: never reported, in any draft.
VENDOR = [
    # jsonschema2pojo
    "javaType", "javaName", "existingJavaType", "javaEnumNames", "javaEnums", "javaInterfaces",
    "javaJsonView", "extends", "customDateTimePattern", "customPattern", "excludedFromEqualsAndHashCode",
    "comment", "$comment", "includeGetters", "includeSetters", "initializeCollections",
    # json-schema-to-typescript, quicktype
    "tsType", "tsEnumNames", "tsExtends", "tsDocs",
    # annotations of one draft or another
    "title", "description", "default", "examples", "example", "deprecated", "readOnly",
    "writeOnly", "readonly", "contentMediaType", "contentEncoding", "contentSchema", "$anchor",
    "$vocabulary", "$id", "id", "$schema", "definitions", "$defs",
    # OpenAPI, AsyncAPI
    "nullable", "discriminator", "xml", "externalDocs",
    # json-editor, react-jsonschema-form, VS Code, Ajv extensions
    "options", "propertyOrder", "headerTemplate", "watch", "enumSource", "links", "media",
    "defaultSnippets", "markdownDescription", "enumDescriptions", "markdownEnumDescriptions",
    "errorMessage", "patternErrorMessage", "deprecationMessage", "doNotSuggest",
    "allowComments", "allowTrailingCommas", "instanceof", "typeof", "regexp", "transform",
    "uniqueItemProperties", "formatMinimum", "formatMaximum", "dynamicDefaults", "units", "unit",
    "enumNames", "ui:widget", "note", "notes", "node", "scope", "order", "tags", "requiredIf",
    # format names, which tools sometimes write as keys
    "date-time", "date", "time", "duration", "email", "idn-email", "hostname", "ipv4", "ipv6",
    "uri", "uri-reference", "iri", "uuid", "regex", "json-pointer", "byte", "binary", "int32",
    "int64", "float", "double", "password",
]  # fmt: skip


@pytest.mark.parametrize(("key", "meant"), MISSPELT)
def test_a_near_miss_of_an_assertion_is_reported(key: str, meant: str) -> None:
    assert near_miss(key, LATEST.assertions) == meant
    reason = _problems({"$schema": D7, "properties": {"a": {key: 1}}})
    assert reason.endswith(f"did you mean {meant!r}?")


@pytest.mark.parametrize("draft", DRAFTS, ids=lambda d: d.name)
def test_vendor_keywords_are_never_reported(draft: Any) -> None:
    assert {key: near_miss(key, draft.assertions) for key in VENDOR} == dict.fromkeys(VENDOR)


@pytest.mark.parametrize("draft", [D4, D6, D7, D2019, D2020])
def test_vendor_keywords_are_kept_as_annotations(draft: str) -> None:
    known = {"id", "definitions"}.union(*(d.annotations for d in DRAFTS))
    schema: dict[str, Any] = {key: {"definitions": {}} for key in VENDOR if key not in known}
    assert "javaType" in schema
    assert _norm(draft, schema) == schema


# -- the published-style folder: same verdicts before and after -------------------------------

BASE = "https://example.test/drafts/"
#: draft-04 reads ``1.0`` as no integer; every later draft (and the generator) as one: the one
#: difference the normalized schema keeps, compared away here.
Draft4With6Types = validators.extend(Draft4Validator, type_checker=Draft6Validator.TYPE_CHECKER)
FILES = sorted(p.relative_to(FOLDER).as_posix() for p in FOLDER.rglob("*.json"))


def _load(rel: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FOLDER / rel).read_text(encoding="utf-8"))
    return data


#: What the property test validates against: each file's root schema, and each of its
#: definitions (``(file, name)``).
TARGETS = [(rel, None) for rel in FILES] + [
    (rel, name) for rel in FILES for name in _load(rel).get("definitions", {})
]


def _validators(rel: str, name: str | None) -> tuple[Validator, Validator]:
    """The original draft's validator and the draft 2020-12 one of the normalized folder."""
    originals = {r: _load(r) for r in FILES}
    normalized = {r: normalize(data, r) for r, data in originals.items()}
    before: Registry[Any] = Registry().with_resources(
        (BASE + r, Resource.from_contents(d)) for r, d in originals.items()
    )
    after: Registry[Any] = Registry().with_resources(
        (BASE + r, Resource.from_contents(d)) for r, d in normalized.items()
    )
    draft = detect(originals[rel].get("$schema"))
    cls = Draft4With6Types if draft.validator is Draft4Validator else draft.validator
    if name is None:
        return cls(originals[rel], registry=before), Draft202012Validator(
            normalized[rel], registry=after
        )
    ref = f"{BASE}{rel}#/definitions/{name}"
    return cls({"$ref": ref}, registry=before), Draft202012Validator(
        {"$ref": rewrite_ref(ref)}, registry=after
    )


def _values(node: Any) -> Iterator[Any]:
    """Every scalar of a schema, and every property name: the instances' vocabulary."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from _values(value)
    elif isinstance(node, list):
        for value in node:
            yield from _values(value)
    else:
        yield node


def _vocabulary() -> tuple[list[str], list[int | float]]:
    """The folder's strings and numbers (each number also one off and a half off, as an
    integer and as a float): instances near every bound and name of the schemas."""
    texts: set[str] = {"", "a", "ab", "abc", "ABC", "Zed", "xyzxyzxyz"}
    numbers: set[tuple[str, int | float]] = set()
    for r in FILES:
        for value in _values(_load(r)):
            if isinstance(value, str) and len(value) < 24:
                texts.add(value)
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                for n in (value, value + 1, value - 1, value + 0.5, value - 0.5):
                    numbers.add(("float", float(n)))
                    if float(n).is_integer():
                        numbers.add(("int", int(n)))
    return sorted(texts), [n for _, n in sorted(numbers, key=lambda k: (k[1], k[0]))]


def _json(texts: list[str], numbers: list[int | float]) -> st.SearchStrategy[Any]:
    scalars = (
        st.none()
        | st.booleans()
        | st.sampled_from(numbers)
        | st.integers(-30, 30)
        | st.floats(allow_nan=False, allow_infinity=False, width=32)
        | st.sampled_from(texts)
        | st.text(max_size=10)
    )
    return st.recursive(
        scalars,
        lambda children: (
            st.lists(children, max_size=5)
            | st.dictionaries(st.sampled_from(texts), children, max_size=6)
        ),
        max_leaves=20,
    )


@st.composite
def _mutated(draw: st.DrawFn, example: Any, values: st.SearchStrategy[Any], keys: list[str]) -> Any:
    """``example`` with a few random changes deep inside it."""
    instance = copy.deepcopy(example)
    for _ in range(draw(st.sampled_from([0, 1, 1, 2, 3]))):
        node = random_container(draw, instance)
        if isinstance(node, dict):
            action = draw(st.sampled_from(["set", "add", "drop"]))
            if action == "drop" and node:
                del node[draw(st.sampled_from(sorted(node)))]
            elif action == "set" and node:
                node[draw(st.sampled_from(sorted(node)))] = draw(values)
            else:
                node[draw(st.sampled_from(keys))] = draw(values)
        elif isinstance(node, list):
            action = draw(st.sampled_from(["set", "append", "drop"]))
            if action == "drop" and node:
                node.pop(draw(st.integers(0, len(node) - 1)))
            elif action == "set" and node:
                node[draw(st.integers(0, len(node) - 1))] = draw(values)
            else:
                node.append(draw(values))
    return instance


def _examples(rel: str, name: str | None) -> list[Any]:
    schema = _load(rel) if name is None else _load(rel)["definitions"][name]
    examples: list[Any] = schema.get("examples", [])
    return examples


def _leaves(node: Any) -> Iterator[Any]:
    if isinstance(node, dict):
        for value in node.values():
            yield from _leaves(value)
    elif isinstance(node, list):
        for value in node:
            yield from _leaves(value)
    yield node


def _instances(rel: str, name: str | None) -> st.SearchStrategy[Any]:
    """Random JSON values made of the folder's names and numbers, and, mostly, the target's
    examples with a few random changes (some of them values taken from the examples)."""
    texts, numbers = _vocabulary()
    values = _json(texts, numbers)
    examples = _examples(rel, name)
    if not examples:
        return values
    parts = st.sampled_from([leaf for e in examples for leaf in _leaves(e)])
    replacements = values | parts.map(copy.deepcopy)
    mutated = st.sampled_from(examples).flatmap(lambda e: _mutated(e, replacements, texts))
    return st.one_of(values, mutated, mutated)


@pytest.mark.parametrize(("rel", "name"), TARGETS)
def test_the_normalized_schema_gives_the_same_verdicts(rel: str, name: str | None) -> None:
    before, after = _validators(rel, name)
    examples = _examples(rel, name)
    for example in examples:
        assert before.is_valid(example)
        assert after.is_valid(example)
    verdicts: Counter[bool] = Counter()

    @settings(
        max_examples=300,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(_instances(rel, name))
    def same_verdict(instance: Any) -> None:
        verdict = before.is_valid(instance)
        assert after.is_valid(instance) == verdict, (rel, instance)
        verdicts[verdict] += 1

    same_verdict()
    print(f"{rel} {name or ''}: {dict(verdicts)}")
    # Both verdicts are exercised: the examples are mutated into either.
    if examples:
        assert verdicts[True] >= 5, verdicts
        assert verdicts[False] >= 5, verdicts


# -- the folder through today's generator ------------------------------------------------------

_REFUSAL = re.compile(r"^at #(?P<pointer>[^:]*): (?:[\"'](?P<keyword>[^\"']+)[\"'])?")


_LOCAL_REF = re.compile(r"^\$ref '(?P<ref>#[^']*)': only references to '#/\$defs/<Name>'")


def _target(node: Any, ref: str) -> Any:
    """What the local reference ``ref`` of the file ``node`` points to."""
    if ref.startswith("#/"):
        for token in ref[2:].split("/"):
            node = node[int(token)] if isinstance(node, list) else node[token]
        return node
    found = [s for s in _subschemas(node) if s.get("$anchor") == ref[1:]]
    assert len(found) == 1, ref
    return found[0]


def _subschemas(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _subschemas(value)
    elif isinstance(node, list):
        for value in node:
            yield from _subschemas(value)


def _inline(data: dict[str, Any], ref: str) -> None:
    """Put the target of ``ref`` in place of each reference to it (or nothing, for the root or
    a target taken out already)."""
    try:
        found = {} if ref == "#" else _target(data, ref)
    except (KeyError, IndexError):
        found = {}
    target = {k: v for k, v in found.items() if k != "$anchor"}
    for node in list(_subschemas(data)):
        if node.get("$ref") == ref:
            del node["$ref"]
            node.update(copy.deepcopy(target))


def _remove(data: dict[str, Any], pointer: str, keyword: str) -> None:
    node: Any = data
    for token in pointer.split("/")[1:]:
        token = token.replace("~1", "/").replace("~0", "~")
        node = node[int(token)] if isinstance(node, list) else node[token]
    del node[keyword]


def test_the_folder_loads_as_far_as_the_generator_goes(tmp_path: Path) -> None:
    """The original folder and its normalized copy get the same answer from the generator;
    each refusal is about a keyword the generator does not take yet, never about the draft,
    and with each refused keyword taken out, the folder loads."""
    normalized = tmp_path / "normalized"
    for rel in FILES:
        (normalized / rel).parent.mkdir(parents=True, exist_ok=True)
        data = normalize(_load(rel), rel)
        assert normalize(data, rel) == data  # a second pass changes nothing
        (normalized / rel).write_text(json.dumps(data), encoding="utf-8")

    def outcome(folder: Path) -> str:
        try:
            load_schema_folder(folder)
        except SchemaError as exc:
            return f"{exc.file}: {exc.reason}"
        return "loaded"

    assert outcome(FOLDER) == outcome(normalized)
    refused: list[str] = []
    for _ in range(50):
        first = outcome(normalized)
        if first == "loaded":
            break
        file, _, reason = first.partition(": ")
        path = normalized / file
        data = json.loads(path.read_text(encoding="utf-8"))
        local = _LOCAL_REF.match(reason)
        if local is not None:
            # A reference to an anchor or into a tuple: put the target in its place.
            refused.append(f"$ref {local['ref']}")
            _inline(data, local["ref"])
        else:
            match = _REFUSAL.match(reason)
            assert match is not None, first
            assert "draft" not in reason, first
            # The keyword named, or else the subschema at the pointer, is taken out.
            pointer, keyword = match["pointer"], match["keyword"]
            if keyword is None:
                pointer, _, keyword = pointer.rpartition("/")
            refused.append(keyword)
            _remove(data, pointer, keyword)
        path.write_text(json.dumps(data), encoding="utf-8")
    else:
        pytest.fail(f"still refused after taking out {refused}")
    print("taken out:", refused)
    # Never a keyword of an old draft: the generator only sees draft 2020-12.
    assert not set(refused) & {"definitions", "dependencies", "additionalItems", "id"}, refused


# -- the table of docs/schemas.md -------------------------------------------------------------

DOCS = Path(__file__).parents[2] / "docs" / "schemas.md"


def _docs_rows() -> list[list[str]]:
    lines = DOCS.read_text(encoding="utf-8").splitlines()
    start = lines.index("| in | written | read as |")
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split(" | ")])
    return rows


def _drafts_in(cell: str) -> list[Any]:
    names = [draft.name for draft in DRAFTS]
    if cell == "every draft":
        return list(DRAFTS)
    first, _, last = cell.partition(" to ")
    return list(DRAFTS[names.index(first) : names.index(last or first) + 1])


@pytest.mark.parametrize("row", _docs_rows(), ids=lambda row: row[1])
def test_the_documented_table_holds_in_every_draft_it_names(row: list[str]) -> None:
    cell, written, read_as = row
    for draft in _drafts_in(cell):
        assert _norm(draft.uri, json.loads(written.strip("`"))) == json.loads(read_as.strip("`"))


def test_the_documented_misspellings_are_reported() -> None:
    text = DOCS.read_text(encoding="utf-8")
    section = text[text.index("### Misspelt keywords") : text.index("## What the generator")]
    listed = section[
        section.index("with the keyword it resembles:") : section.index("It resembles")
    ]
    for key in re.findall(r"`([^`]+)`", listed):
        assert near_miss(key, DRAFTS[2].assertions) is not None, key
    tools = section[section.index("`comment` and the keywords") : section.index("are never taken")]
    for key in re.findall(r"`([^`]+)`", tools):
        assert key in VENDOR, key
        assert near_miss(key, DRAFTS[2].assertions) is None, key


# -- random schemas ------------------------------------------------------------------------------

NAMES = st.sampled_from(["a", "b", "c", "items", "id"])
SMALL = st.integers(0, 3)
NUMBER = st.sampled_from([-1, 0, 0.5, 1, 2, 2.5])
INSTANCES = _json(["", "a", "b", "c", "ab", "items", "id", "x"], [-1, 0, 0.5, 1, 1.0, 2, 2.5, 3])
_SCALARS: list[Any] = [None, True, False, -1, 0, 0.5, 1, 1.0, 2, 2.5, 3, "", "a", "ab", "abc"]
#: The instances every random schema is tried on: scalars near the schemas' bounds, and arrays
#: and objects of them, with the property names the schemas use.
POOL: list[Any] = [
    *_SCALARS,
    *([value] for value in _SCALARS),
    *([value, "a", 2] for value in _SCALARS[::3]),
    [],
    ["a", "a"],
    [[], {}],
    [[1, "a"], {"a": 1}],
    *({name: value} for name in ("a", "b", "items") for value in _SCALARS[::3]),
    {},
    {"a": 1, "b": "ab"},
    {"a": [1, 2], "c": None, "items": {}},
    {"a": {"a": 1}, "b": [1, "a"], "c": True, "id": "x"},
]


def _assertions(draft: Any) -> st.SearchStrategy[dict[str, Any]]:
    """A schema of ``draft`` with a few assertions (no subschema)."""
    optional: dict[str, st.SearchStrategy[Any]] = {
        "type": st.sampled_from(["string", "integer", "number", "array", "object", "null"]),
        "minimum": NUMBER,
        "maximum": NUMBER,
        "multipleOf": st.sampled_from([0.5, 1, 2]),
        "minLength": SMALL,
        "maxLength": SMALL,
        "minItems": SMALL,
        "maxItems": SMALL,
        "minProperties": SMALL,
        "required": st.lists(NAMES, min_size=1, max_size=2, unique=True),
        "enum": st.lists(INSTANCES, min_size=1, max_size=3),
        "uniqueItems": st.booleans(),
        "description": st.just("d"),
        "javaType": st.just("J"),
    }
    if draft.order == 0:
        optional["exclusiveMinimum"] = st.booleans()
    else:
        optional |= {"exclusiveMinimum": NUMBER, "const": INSTANCES}
        optional |= {"maxLength": SMALL.map(float)}  # 2.0 is a count from draft-06 on
    # draft-04: exclusiveMinimum needs minimum beside it.
    return st.fixed_dictionaries({}, optional=optional).map(
        lambda s: {"minimum": 0, **s} if "exclusiveMinimum" in s and draft.order == 0 else s
    )


def _schemas(draft: Any, *, refs: bool = True) -> st.SearchStrategy[Any]:
    """A schema of ``draft``; with ``refs``, an object schema with two definitions, which some
    of its subschemas refer to, with assertions beside the ``$ref``."""
    leaves = _assertions(draft) if draft.order == 0 else _assertions(draft) | st.booleans()
    if refs:
        leaves |= st.tuples(
            st.sampled_from(["#/definitions/a", "#/definitions/b"]), _assertions(draft)
        ).map(lambda parts: {**parts[1], "$ref": parts[0]})

    def extend(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        optional: dict[str, st.SearchStrategy[Any]] = {
            "properties": st.dictionaries(NAMES, inner, max_size=2),
            "additionalProperties": inner,
            "items": inner | st.lists(inner, max_size=2),
            "additionalItems": inner,
            "allOf": st.lists(inner, min_size=1, max_size=2),
            "anyOf": st.lists(inner, min_size=1, max_size=2),
            "oneOf": st.lists(inner, min_size=1, max_size=2),
            "not": inner,
            "definitions": st.dictionaries(NAMES, inner, max_size=1),
        }
        if draft.order <= 2:
            optional["dependencies"] = st.dictionaries(
                NAMES, inner | st.lists(NAMES, max_size=2, unique=True), max_size=2
            )
        if draft.order >= 1:
            optional |= {"contains": inner, "propertyNames": inner}
        if draft.order >= 2:
            optional |= {"if": inner, "then": inner, "else": inner}
        if draft.order == 3:
            optional |= {
                "dependentSchemas": st.dictionaries(NAMES, inner, max_size=2),
                "unevaluatedProperties": inner,
            }
        return st.tuples(_assertions(draft), st.fixed_dictionaries({}, optional=optional)).map(
            lambda parts: {**parts[0], **parts[1]}
        )

    schemas = st.recursive(leaves, extend, max_leaves=6)
    if not refs:
        return schemas
    plain = _schemas(draft, refs=False)
    return st.tuples(schemas.filter(lambda s: isinstance(s, dict)), plain, plain).map(
        lambda parts: {**parts[0], "definitions": {"a": parts[1], "b": parts[2]}}
    )


@pytest.mark.slow
@pytest.mark.parametrize("draft", DRAFTS[:4], ids=lambda d: d.name)
def test_random_schemas_give_the_same_verdicts(draft: Any) -> None:
    cls = Draft4With6Types if draft.validator is Draft4Validator else draft.validator
    compared: Counter[bool] = Counter()

    @settings(
        max_examples=100,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(_schemas(draft))
    def same_verdicts(schema: Any) -> None:
        if not isinstance(schema, dict):
            schema = {"not": {"not": schema}}
        data = {"$schema": draft.uri, **schema}
        try:
            draft.validator.check_schema(data)
        except SchemaValidationError:
            reject()  # not a schema of its draft (an empty tuple, an enum of duplicates ...)
        out = normalize(data, "f.json")
        Draft202012Validator.check_schema(out)
        before, after = cls(data), Draft202012Validator(out)
        for instance in POOL:
            try:
                verdict = before.is_valid(instance)
            except TypeError:
                # jsonschema's own draft-06/07 additionalItems beside a boolean items crashes
                # (len(False)): that schema has no verdict to compare with.
                continue
            assert after.is_valid(instance) == verdict, (data, out, instance)
            compared[verdict] += 1

    same_verdicts()
    print(f"{draft.name}: {dict(compared)}")
    assert compared[True] > 500, compared
    assert compared[False] > 500, compared


@settings(max_examples=300, deadline=None, database=None)
@given(
    st.sampled_from([d.uri for d in DRAFTS] + [None]),
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers(-2, 2)
        | st.floats(allow_nan=False)
        | st.text(max_size=3),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(
                st.sampled_from(
                    sorted(set().union(*(d.assertions | d.annotations for d in DRAFTS)))
                )
                | st.sampled_from(["id", "maximun", "x-a", "javaType", "a"]),
                inner,
                max_size=4,
            )
        ),
        max_leaves=12,
    ),
)
def test_any_json_gives_a_2020_12_schema_or_a_schema_error(declared: str | None, body: Any) -> None:
    """Bad input gets a ``SchemaError``, never a crash; what is accepted is valid draft 2020-12."""
    data = body if isinstance(body, dict) else {"not": body}
    if declared is not None:
        data = {**data, "$schema": declared}
    try:
        out = normalize(data, "f.json")
    except SchemaError:
        return
    Draft202012Validator.check_schema(out)
