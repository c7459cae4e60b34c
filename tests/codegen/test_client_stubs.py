"""Client stubs: a required ``message`` beside optional payload fields, and payloads that
inherit their fields through ``allOf``.

The ``features`` case: ``note`` requires the ``message`` text and has an optional ``level``;
``record`` is ``allOf`` two definitions (one of which is ``allOf`` a third) plus its own
properties.
"""

from __future__ import annotations

import inspect
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from datadivr_codegen.generator import plan
from datadivr_codegen.views import _classes

from .conftest import Generated, GenerateFn, copy_case
from .test_generated_package import _Recorder

POSITIONAL = inspect.Parameter.POSITIONAL_OR_KEYWORD
KEYWORD = inspect.Parameter.KEYWORD_ONLY
EMPTY = inspect.Parameter.empty


def _parameters(method: Any) -> dict[str, tuple[Any, Any]]:
    return {
        name: (p.kind, p.default)
        for name, p in inspect.signature(method).parameters.items()
        if name != "self"
    }


def _validator(package: Any) -> Draft202012Validator:
    return Draft202012Validator(package.PROTOCOL.schema)


# -- a required message text -----------------------------------------------------------------


def test_required_text_beside_optional_fields_is_keyword_only(
    shared_packages: dict[str, Generated],
) -> None:
    """It used to follow ``level=None`` positionally: the stub did not even compile."""
    client = shared_packages["features"].module.Client
    assert _parameters(client.note) == {
        "level": (POSITIONAL, None),
        "to": (KEYWORD, "others"),
        "message": (KEYWORD, EMPTY),
    }


def test_required_text_without_payload_parameters_stays_positional(
    shared_packages: dict[str, Generated],
) -> None:
    """``client.notice("hi")`` (and the project's ``client.msg("hi")``) keep working."""
    client = shared_packages["nested"].module.Client
    assert _parameters(client.notice) == {
        "message": (POSITIONAL, EMPTY),
        "to": (KEYWORD, "others"),
    }
    from datadivr.demo import Client

    assert _parameters(Client.msg)["message"] == (POSITIONAL, EMPTY)


def test_required_text_beside_required_fields_is_keyword_only(
    tmp_path: Path, generate_package: GenerateFn
) -> None:
    """The same rule whatever the fields: adding an optional field later moves nothing."""
    schema = copy_case("minimal", tmp_path / "schema")
    hello = schema / "events" / "hello.schema.json"
    data = json.loads(hello.read_text(encoding="utf-8"))
    data["x-datadivr"]["message"] = "required"
    data["properties"].pop("times")
    hello.write_text(json.dumps(data), encoding="utf-8")
    client = generate_package(schema, "text").module.Client
    assert _parameters(client.hello) == {
        "name": (POSITIONAL, EMPTY),
        "to": (KEYWORD, "server"),
        "message": (KEYWORD, EMPTY),
    }


async def test_required_text_stub_sends_the_text(shared_packages: dict[str, Generated]) -> None:
    package = shared_packages["features"].module
    client = package.Client()
    recorder = _Recorder(client, {})
    await client.note(message="hi")
    await client.note(2, message="", to="all")
    first, second = (json.loads(m.to_json()) for m in recorder.sent)
    assert first == {"event_name": "note", "payload": {}, "to": "others", "message": "hi"}
    assert second == {"event_name": "note", "payload": {"level": 2}, "to": "all", "message": ""}
    for frame in (first, second):
        _validator(package).validate(frame)
    with pytest.raises(TypeError, match="message"):
        await client.note(2)


# -- payloads composed with allOf -------------------------------------------------------------


def test_stub_takes_the_inherited_fields(shared_packages: dict[str, Generated]) -> None:
    """``RecordPayload(Stamped, Counted)``, ``Stamped(Named)``: the stub takes ``name``, ``at``
    and ``count`` from the bases (it used to take only ``kind``, ``note`` and ``tags``)."""
    client = shared_packages["features"].module.Client
    assert _parameters(client.record) == {
        "count": (POSITIONAL, EMPTY),
        "name": (POSITIONAL, EMPTY),
        "at": (POSITIONAL, EMPTY),
        "note": (POSITIONAL, EMPTY),  # optional in Stamped, required by RecordPayload
        "kind": (POSITIONAL, EMPTY),
        "tags": (POSITIONAL, None),
        "to": (KEYWORD, "server"),
        "message": (KEYWORD, None),
    }


async def test_inherited_fields_stub_sends_a_valid_message(
    shared_packages: dict[str, Generated],
) -> None:
    package = shared_packages["features"].module
    client = package.Client()
    recorder = _Recorder(client, {})
    at = datetime(2024, 5, 1, 12, tzinfo=timezone.utc)
    await client.record(3, "n", at, "a note", "b", tags={"x": 1})
    (sent,) = recorder.sent
    frame = json.loads(sent.to_json())
    assert frame == {
        "event_name": "record",
        "to": "server",
        "payload": {
            "count": 3,
            "name": "n",
            "at": "2024-05-01T12:00:00Z",
            "note": "a note",
            "kind": "b",
            "tags": {"x": 1},
        },
    }
    _validator(package).validate(frame)
    assert package.PROTOCOL.parse(sent.to_json()) == sent


def test_classes_follow_the_bases_in_the_module() -> None:
    source = (
        "class Base(Payload):\n"
        "    a: int\n"
        "    b: str | None = None\n"
        "class Other(Payload):\n"
        "    c: int\n"
        "class Child(Base, Other):\n"
        "    d: int\n"
        "    b: str\n"
    )
    classes = _classes(source)
    child = classes["Child"]
    assert [(f.name, f.annotation, f.required) for f in child] == [
        ("c", "int", True),  # the last base first, as pydantic orders them
        ("a", "int", True),
        ("b", "str", True),  # redeclared: required now, in the base's place
        ("d", "int", True),
    ]
    assert [f.name for f in classes["Base"]] == ["a", "b"]


def test_the_project_stubs_are_unchanged_by_the_base_classes() -> None:
    """The project's payloads inherit nothing: their stubs only list their own fields."""
    root = Path(__file__).parents[2]
    client = next(f.content for f in plan(root / "schema").files if f.path == "client.py")
    assert "async def ping(\n        self,\n        sent_at: AwareDatetime," in client


async def test_stub_of_a_payload_that_only_inherits(
    tmp_path: Path, generate_package: GenerateFn
) -> None:
    """``{"allOf": [{"$ref": Base}]}`` with a required base field: the stub could never
    succeed without that field."""
    schema = copy_case("minimal", tmp_path / "schema")
    (schema / "definitions.schema.json").write_text(
        json.dumps(
            {
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "$defs": {
                    "Base": {
                        "type": "object",
                        "properties": {"name": {"type": "string"}},
                        "required": ["name"],
                    }
                },
            }
        ),
        encoding="utf-8",
    )
    hello = schema / "events" / "hello.schema.json"
    data = json.loads(hello.read_text(encoding="utf-8"))
    data.pop("additionalProperties")
    data["properties"] = {"times": {"type": "integer"}}
    data["required"] = []
    data["allOf"] = [{"$ref": "../definitions.schema.json#/$defs/Base"}]
    hello.write_text(json.dumps(data), encoding="utf-8")
    package = generate_package(schema, "inherit").module
    assert list(_parameters(package.Client.hello))[:2] == ["name", "times"]
    client = package.Client()
    recorder = _Recorder(client, {})
    await client.hello("ada", times=2)
    (sent,) = recorder.sent
    assert json.loads(sent.to_json())["payload"] == {"name": "ada", "times": 2}
