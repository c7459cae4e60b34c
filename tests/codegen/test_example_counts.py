"""Counts written as whole floats (``"maxLength": 2.0``, ``"minItems": 1.0``), which draft
2020-12 counts as integers: the example maker used to crash on them with a ``TypeError``.

Both schemas are generated end to end: the example is valid, and the models enforce the count
as the schema does. Any failure of the example maker is a ``SchemaError`` that names the event
file and the subschema, never a traceback.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from datadivr.exceptions import MessageValidationError
from datadivr_codegen import examples
from datadivr_codegen.generator import plan

from .conftest import GenerateFn, copy_case

HELLO = "events/hello.schema.json"


def _schema(tmp_path: Path, properties: dict[str, Any], **more: Any) -> Path:
    schema = copy_case("minimal", tmp_path / "schema")
    path = schema / HELLO
    data = json.loads(path.read_text(encoding="utf-8"))
    data.update(properties=properties, required=list(properties), **more)
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return schema


COUNTS = {
    "maxLength": (
        {"code": {"type": "string", "maxLength": 2.0}},
        {"code": "ex"},
        [{"code": ""}, {"code": "ab"}],
        [{"code": "abc"}],
    ),
    "minItems": (
        {"tags": {"type": "array", "minItems": 1.0, "items": {"type": "string"}}},
        {"tags": ["example"]},
        [{"tags": ["a"]}, {"tags": ["a", "b"]}],
        [{"tags": []}],
    ),
    "all of them": (
        {
            "tags": {
                "type": "array",
                "minItems": 2.0,
                "maxItems": 3.0,
                "items": {"type": "string", "minLength": 3.0, "maxLength": 4.0},
            }
        },
        {"tags": ["example"[:4], "example"[:4]]},
        [{"tags": ["abc", "abcd"]}, {"tags": ["abc", "abc", "abc"]}],
        [
            {"tags": ["abc"]},
            {"tags": ["abc"] * 4},
            {"tags": ["ab", "abc"]},
            {"tags": ["abcde"] * 2},
        ],
    ),
}


@pytest.mark.parametrize("case", sorted(COUNTS))
def test_whole_float_counts_generate_models_that_enforce_them(
    case: str, tmp_path: Path, generate_package: GenerateFn
) -> None:
    properties, example, valid, invalid = COUNTS[case]
    package = generate_package(_schema(tmp_path, properties)).module
    spec = package.PROTOCOL.events["hello"]
    assert spec.example == {"event_name": "hello", "payload": example}
    package.PROTOCOL.validate(spec.example)
    bundle = Draft202012Validator(package.PROTOCOL.schema)
    for payload in valid:
        frame = {"event_name": "hello", "payload": payload}
        assert package.PROTOCOL.validate(frame).payload.model_dump() == payload
        assert bundle.is_valid(frame)
    for payload in invalid:
        frame = {"event_name": "hello", "payload": payload}
        with pytest.raises(MessageValidationError):
            package.PROTOCOL.validate(frame)
        assert not bundle.is_valid(frame)


def test_the_models_hold_the_counts_as_integers(tmp_path: Path) -> None:
    """pydantic refuses ``max_length=2.0`` when it builds the model; datamodel-code-generator
    reads the schema's ``2.0`` as the integer 2."""
    properties, *_ = COUNTS["all of them"]
    models = next(f for f in plan(_schema(tmp_path, properties)).files if f.path == "models.py")
    lengths = re.findall(r"\b(m(?:ax|in)_length)=([0-9.]+)", models.content)
    assert {("max_length", "3"), ("max_length", "4"), ("min_length", "2")} <= set(lengths)
    assert all("." not in value for _, value in lengths)


def test_a_maker_that_fails_leaves_the_event_without_an_example(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever the maker raises (here a ValueError from a string, through an ``anyOf``
    branch, a ``$ref`` and an array's items) is no crash: the event has no example."""

    def fail(schema: Any) -> str:
        raise ValueError("no string for you")

    monkeypatch.setattr(examples, "_string", fail)
    properties = {
        "outer": {"anyOf": [{"type": "null"}, {"$ref": "#/$defs/Inner"}]},
    }
    inner = {
        "type": "object",
        "properties": {"a/b~": {"type": "array", "items": {"type": "string"}}},
        "required": ["a/b~"],
    }
    schema = _schema(tmp_path, properties, **{"$defs": {"Inner": inner}})
    bundle = json.loads(next(f.content for f in plan(schema).files if f.path == "schema.json"))
    assert "examples" not in bundle["$defs"]["HelloMessage"]


def test_a_count_that_is_no_whole_number_is_a_schema_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The schema check refuses ``2.5`` before; the maker refuses it all the same."""
    maker = examples._Maker({})
    with pytest.raises(examples._NoExample, match=r"maxLength is 2\.5"):
        maker.value({"type": "string", "maxLength": 2.5}, 0)
    with pytest.raises(examples._NoExample, match="minItems is True"):
        maker.value({"type": "array", "minItems": True}, 0)
