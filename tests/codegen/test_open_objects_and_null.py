"""Two places where the models could quietly differ from the schema.

- An object schema without ``"additionalProperties": false`` allows other properties: the
  models keep them (they used to drop them, so a relayed message lost data).
- Whether a schema accepts ``null`` decides whether a payload may be left out and whether an
  optional property refuses an explicit null: one rule (``schema.accepts_null``) for both.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

import datadivr_codegen.bundle as bundle
import datadivr_codegen.schema as schema_module
from datadivr.exceptions import MessageValidationError
from datadivr_codegen.schema import accepts_null, load_schema_folder

from .conftest import Generated, GenerateFn, case_schema, copy_case

RECORD = {"count": 0, "name": "n", "at": "2024-05-01T12:00:00Z", "note": "x", "kind": "a"}

# -- open objects keep what they do not declare -----------------------------------------------

EXTRAS = [
    pytest.param(
        {"event_name": "record", "payload": {**RECORD, "unknown": [1, {"x": None}]}},
        id="payload",
    ),
    pytest.param(
        {"event_name": "check", "payload": {"open": {"a": 1, "more": {"deep": True}}}},
        id="nested-object",
    ),
    pytest.param(
        {"event_name": "check", "payload": {"ref": {"name": "n", "more": "x"}}},
        id="definition",
    ),
    pytest.param(
        {"event_name": "check", "payload": {"composed": {"count": 1, "extra": True, "z": 1}}},
        id="composed",
    ),
    pytest.param(
        {"event_name": "check", "payload": {"typed_extra": {"a": "x", "n": 1}}},
        id="typed-extra",
    ),
]


@pytest.mark.parametrize("frame", EXTRAS)
def test_extra_property_survives_parse_and_relay(
    frame: dict[str, Any], shared_packages: dict[str, Generated]
) -> None:
    package = shared_packages["features"].module
    assert Draft202012Validator(package.PROTOCOL.schema).is_valid(frame)
    message = package.PROTOCOL.parse(json.dumps(frame))
    assert json.loads(message.to_json()) == frame
    relayed = message.with_sender("c-1")
    assert json.loads(relayed.to_json()) == {**frame, "from_id": "c-1"}
    built = package.create_message(frame["event_name"], frame["payload"])
    assert json.loads(built.to_json()) == frame


def test_closed_objects_still_refuse_extra_properties(
    shared_packages: dict[str, Generated],
) -> None:
    package = shared_packages["features"].module
    frame = {"event_name": "check", "payload": {"closed": {"a": 1, "z": 2}}}
    with pytest.raises(MessageValidationError) as info:
        package.PROTOCOL.parse(json.dumps(frame))
    assert [d.path for d in info.value.details] == ["$.payload.closed.z"]
    with pytest.raises(MessageValidationError) as info:
        package.PROTOCOL.parse(json.dumps({"event_name": "check", "payload": {"zz": 1}}))
    assert [d.path for d in info.value.details] == ["$.payload.zz"]


def test_typed_extra_properties_are_checked(shared_packages: dict[str, Generated]) -> None:
    package = shared_packages["features"].module
    frame = {"event_name": "check", "payload": {"typed_extra": {"n": -1}}}
    with pytest.raises(MessageValidationError) as info:
        package.PROTOCOL.parse(json.dumps(frame))
    assert [d.path for d in info.value.details] == ["$.payload.typed_extra.n"]


# -- one rule for null ------------------------------------------------------------------------

DEFINITIONS = {
    "Text": {"type": "string"},
    "MaybeText": {"type": ["string", "null"]},
    "ToMaybe": {"$ref": "#/$defs/MaybeText"},
    "Loop": {"$ref": "#/$defs/Loop"},
}


@pytest.mark.parametrize(
    ("schema", "nullable"),
    [
        ({"type": "null"}, True),
        ({"type": ["integer", "null"]}, True),
        ({"type": "integer"}, False),
        ({}, True),
        ({"description": "anything"}, True),
        ({"const": None}, True),
        ({"const": 0}, False),
        ({"enum": ["a", None]}, True),
        ({"enum": ["a", False]}, False),
        ({"type": ["string", "null"], "enum": ["a"]}, False),
        ({"$ref": "#/$defs/Text"}, False),
        ({"$ref": "#/$defs/MaybeText"}, True),
        ({"$ref": "#/$defs/ToMaybe"}, True),
        ({"$ref": "#/$defs/Loop"}, True),  # unsure: yes
        ({"anyOf": [{"$ref": "#/$defs/Text"}, {"type": "null"}]}, True),
        ({"anyOf": [{"$ref": "#/$defs/Text"}, {"type": "integer"}]}, False),
        ({"allOf": [{"$ref": "#/$defs/MaybeText"}, {"type": ["integer", "null"]}]}, True),
        ({"allOf": [{"$ref": "#/$defs/MaybeText"}, {"$ref": "#/$defs/Text"}]}, False),
        (True, True),
        (False, False),
    ],
)
def test_accepts_null(schema: Any, nullable: bool) -> None:
    assert accepts_null(schema, DEFINITIONS) is nullable
    # It agrees with a validator.
    if schema is not True and schema is not False and "Loop" not in json.dumps(schema):
        document = {**schema, "$defs": DEFINITIONS} if isinstance(schema, dict) else schema
        assert Draft202012Validator(document).is_valid(None) is nullable


def test_the_bundle_uses_the_same_rule() -> None:
    assert vars(bundle)["accepts_null"] is schema_module.accepts_null
    assert not hasattr(bundle, "_nullable")
    assert not hasattr(schema_module, "_accepts_null")


def test_payload_that_is_a_reference_to_a_nullable_definition_may_be_left_out(
    shared_packages: dict[str, Generated],
) -> None:
    """``maybe``'s payload is a ``$ref`` to ``["string", "null"]``: like a ``"type": "null"``
    payload, the message may leave it out (it used to require it: only ``type`` was read)."""
    schemas = load_schema_folder(case_schema("features"))
    assert schemas.event("maybe").payload_nullable
    package = shared_packages["features"].module
    frame = {"event_name": "maybe"}
    assert Draft202012Validator(package.PROTOCOL.schema).is_valid(frame)
    assert package.PROTOCOL.parse(json.dumps(frame)).payload is None
    assert package.create_message("maybe").to_json() == json.dumps(frame, separators=(",", ":"))


def test_payload_enum_without_null_is_required(
    tmp_path: Path, generate_package: GenerateFn
) -> None:
    """An enum payload refuses null: the message requires it (it used to be optional: a
    schema without ``type`` counted as nullable)."""
    schema = copy_case("minimal", tmp_path / "schema")
    hello = schema / "events" / "hello.schema.json"
    data = json.loads(hello.read_text(encoding="utf-8"))
    for key in ("type", "properties", "required", "additionalProperties"):
        data.pop(key)
    data["enum"] = ["hi", "bye"]
    hello.write_text(json.dumps(data), encoding="utf-8")
    assert not load_schema_folder(schema).event("hello").payload_nullable
    package = generate_package(schema, "enum").module
    with pytest.raises(MessageValidationError) as info:
        package.PROTOCOL.parse('{"event_name": "hello"}')
    assert [d.path for d in info.value.details] == ["$.payload"]
    assert not Draft202012Validator(package.PROTOCOL.schema).is_valid({"event_name": "hello"})
    assert package.PROTOCOL.parse('{"event_name": "hello", "payload": "hi"}').payload == "hi"
