"""Every event gets one valid example message: the schema's ``examples``, or one made from it.

The made examples are checked here against the bundle with :mod:`jsonschema` (as the generator
does) and against the generated models (as the runtime parses them).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from datadivr.demo import PROTOCOL
from datadivr_codegen.__main__ import main
from datadivr_codegen.bundle import protocol_bundle
from datadivr_codegen.errors import SchemaError
from datadivr_codegen.examples import EXAMPLE_TEXT, example_messages
from datadivr_codegen.generator import plan
from datadivr_codegen.schema import load_schema_folder

from .conftest import CASES, PROJECT_SCHEMA, Generated, copy_case

HELLO = "events/hello.schema.json"


def _hello(schema: Path, payload: dict[str, Any], **extension: Any) -> None:
    """Make ``events/hello.schema.json`` of a copied ``minimal`` case hold ``payload``."""
    path = schema / HELLO
    data = json.loads(path.read_text(encoding="utf-8"))
    kept = {k: data[k] for k in ("$schema", "$id", "title", "description")}
    data = {**kept, "x-datadivr": {**data["x-datadivr"], **extension}, **payload}
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def _example(tmp_path: Path, payload: dict[str, Any], **extension: Any) -> dict[str, Any]:
    schema = copy_case("minimal", tmp_path / "schema")
    _hello(schema, payload, **extension)
    schemas = load_schema_folder(schema)
    return example_messages(schemas, protocol_bundle(schemas))["hello"]


@pytest.mark.parametrize("name", sorted(PROTOCOL.events))
def test_every_event_of_the_protocol_has_a_valid_example(name: str) -> None:
    spec = PROTOCOL.events[name]
    message = PROTOCOL.validate(spec.example)
    assert message.event_name == name
    source = json.loads((PROJECT_SCHEMA / "events" / f"{name}.schema.json").read_text())
    if "examples" in source:
        assert spec.example["payload"] == source["examples"][0]


@pytest.mark.parametrize("case", CASES)
def test_every_case_gets_examples_the_models_accept(
    case: str, shared_packages: dict[str, Generated]
) -> None:
    generated = shared_packages[case]
    protocol = generated.submodule("events").PROTOCOL
    bundle = json.loads((generated.path / "schema.json").read_text(encoding="utf-8"))
    validator = Draft202012Validator(bundle, format_checker=Draft202012Validator.FORMAT_CHECKER)
    for name, spec in protocol.events.items():
        assert list(validator.iter_errors(spec.example)) == [], name
        assert protocol.validate(spec.example).event_name == name


def test_the_bundle_and_the_asyncapi_document_carry_each_example() -> None:
    result = plan(PROJECT_SCHEMA)
    files = {f.path: json.loads(f.content) for f in result.files if f.path.endswith(".json")}
    for name, spec in PROTOCOL.events.items():
        cls = spec.message_type.__name__
        assert files["schema.json"]["$defs"][cls]["examples"] == [spec.example]
        message = files["asyncapi.json"]["components"]["messages"][name]
        assert message["examples"] == [{"name": f"{name}_example", "payload": spec.example}]


def test_a_made_example_has_the_required_fields_and_the_optional_ones_with_examples(
    tmp_path: Path,
) -> None:
    payload = {
        "type": "object",
        "properties": {
            "when": {"type": "string", "format": "date-time"},
            "id": {"type": "string", "format": "uuid"},
            "code": {"type": "string", "pattern": "^[A-Z]{1,3}$"},
            "name": {"type": "string", "minLength": 10, "maxLength": 12},
            "level": {"type": "integer", "minimum": 3, "maximum": 9, "multipleOf": 3},
            "ratio": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 0.5},
            "kind": {"enum": ["b", "a"]},
            "fixed": {"const": 42},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2},
            "empty": {"type": "array", "items": {"type": "integer"}, "maxItems": 0},
            "maybe": {"type": ["boolean", "null"]},
            "either": {"anyOf": [{"type": "null"}, {"type": "integer", "minimum": 5}]},
            "note": {"type": "string", "examples": ["shown"]},
            "hidden": {"type": "string"},
        },
        "required": [
            "when",
            "id",
            "code",
            "name",
            "level",
            "ratio",
            "kind",
            "fixed",
            "tags",
            "empty",
            "maybe",
            "either",
        ],
        "additionalProperties": False,
    }
    example = _example(tmp_path, payload)
    assert example == {
        "event_name": "hello",
        "payload": {
            "when": "2026-01-01T12:00:00Z",
            "id": "3f2b8c1e-5a4d-4e6f-9b7a-0c1d2e3f4a5b",
            "code": "A",
            "name": "examplexxx",
            "level": 3,
            "ratio": 0.25,
            "kind": "b",
            "fixed": 42,
            "tags": ["example", "example"],
            "empty": [],
            "maybe": True,
            "either": 5,
            "note": "shown",
        },
    }


def test_an_event_that_requires_text_gets_the_example_text(tmp_path: Path) -> None:
    example = _example(tmp_path, {"type": "null"}, message="required")
    assert example == {"event_name": "hello", "payload": None, "message": EXAMPLE_TEXT}


def test_the_schema_examples_come_first_and_all_must_be_valid(tmp_path: Path) -> None:
    payload = {
        "type": "object",
        "properties": {"n": {"type": "integer", "maximum": 5}},
        "required": ["n"],
        "additionalProperties": False,
        "examples": [{"n": 4}, {"n": 5}],
    }
    assert _example(tmp_path / "a", payload)["payload"] == {"n": 4}
    payload["examples"] = [{"n": 4}, {"n": 6}]
    with pytest.raises(SchemaError) as caught:
        _example(tmp_path / "b", payload)
    assert caught.value.file == Path(HELLO)
    assert caught.value.reason == (
        "examples[1] is not a valid payload: at $.payload.n: 6 is greater than the maximum of 5"
    )


def test_a_schema_no_candidate_satisfies_has_no_example(tmp_path: Path) -> None:
    payload = {
        "type": "object",
        "properties": {"code": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"}},
        "required": ["code"],
    }
    schema = copy_case("minimal", tmp_path / "schema")
    _hello(schema, payload)
    schemas = load_schema_folder(schema)
    assert "hello" not in example_messages(schemas, protocol_bundle(schemas))


def test_the_command_line_refuses_an_invalid_example(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    schema = copy_case("minimal", tmp_path / "schema")
    _hello(schema, {"type": "string", "maxLength": 2, "examples": ["long"]})
    out = tmp_path / "out"
    assert main(["--schema", str(schema), "--out", str(out)]) == 1
    assert capsys.readouterr().err == (
        f"schema error: {HELLO}: examples[0] is not a valid payload: at $.payload: "
        "'long' is too long\n"
    )
    assert not out.exists()


def test_a_definition_that_contains_itself_ends_where_it_may(tmp_path: Path) -> None:
    node = {
        "type": "object",
        "properties": {
            "next": {"anyOf": [{"$ref": "#/$defs/Node"}, {"type": "null"}]},
            "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
        },
        "required": ["next", "children"],
        "additionalProperties": False,
    }
    payload = {"$ref": "#/$defs/Node", "$defs": {"Node": node}}
    assert _example(tmp_path, payload)["payload"] == {"next": None, "children": []}


def test_a_multiple_below_zero(tmp_path: Path) -> None:
    payload = {"type": "integer", "maximum": -1, "multipleOf": 2}
    assert _example(tmp_path, payload)["payload"] == -2
