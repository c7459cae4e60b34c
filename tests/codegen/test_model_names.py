"""Class names datamodel-code-generator chooses that would break the generated package.

An inline object schema becomes a class named after its ``title`` or its property
(``"client": {"type": "object"}`` → ``class Client``): it must not collide with a name the
package defines or imports (``Client``, ``Servicer``, ``NotNull``, ...), and datamodel-code-
generator must not have renamed a class the package relies on (``Vector3`` → ``Vector31``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from datadivr_codegen.errors import SchemaError
from datadivr_codegen.generator import generate, plan

from .conftest import copy_case, snapshot

DRAFT = "https://json-schema.org/draft/2020-12/schema"
HELLO = "events/hello.schema.json"
FIX = "give the inline object schema a 'title'"


def _inline(**extra: Any) -> dict[str, Any]:
    return {"type": "object", "properties": {"k": {"type": "string"}}, **extra}


OTHER = {"type": "object", "properties": {"j": {"type": "integer"}}}


def _schema(tmp_path: Path, properties: dict[str, Any], defs: dict[str, Any] | None = None) -> Path:
    schema = copy_case("minimal", tmp_path / "schema")
    path = schema / HELLO
    data = json.loads(path.read_text(encoding="utf-8"))
    data["properties"].update(properties)
    path.write_text(json.dumps(data), encoding="utf-8")
    if defs is not None:
        (schema / "definitions.schema.json").write_text(
            json.dumps({"$schema": DRAFT, "$defs": defs}), encoding="utf-8"
        )
    return schema


COLLISIONS = {
    "client": ({"client": _inline()}, "'Client' that the generated client.py defines"),
    "servicer-title": (
        {"x": _inline(title="Servicer")},
        "'Servicer' that the generated handlers.py defines",
    ),
    "handler-alias": (
        {"w": _inline(properties={"hello_handler": _inline()})},
        "'HelloHandler' that the generated handlers.py defines",
    ),
    "any-message": ({"any_message": _inline()}, "'AnyMessage' that the generated events.py"),
    "runtime-import-in-models": (
        {"not_null": _inline()},
        "'NotNull' that the generated client.py imports from datadivr.runtime",
    ),
    "template-import": (
        {"protocol": _inline()},
        "'Protocol' that the generated client.py imports from datadivr.runtime",
    ),
    "envelope-import": (
        {"direction": _inline()},
        "'Direction' that the generated events.py imports from datadivr.runtime",
    ),
}


@pytest.mark.parametrize(
    ("properties", "says"), [pytest.param(*v, id=k) for k, v in COLLISIONS.items()]
)
def test_model_that_collides_with_a_package_name_is_refused(
    properties: dict[str, Any], says: str, tmp_path: Path
) -> None:
    schema = _schema(tmp_path, properties)
    out = tmp_path / "out"
    with pytest.raises(SchemaError) as info:
        generate(schema, out)
    assert info.value.file == Path(HELLO)
    assert "the generated model" in info.value.reason
    assert says in info.value.reason
    assert FIX in info.value.reason
    assert not out.exists() or snapshot(out) == {}


def test_the_error_points_at_the_inline_schema(tmp_path: Path) -> None:
    schema = _schema(tmp_path, {"client": _inline()})
    with pytest.raises(SchemaError) as info:
        plan(schema)
    assert info.value.reason == (
        "the generated model 'Client' collides with the 'Client' that the generated client.py "
        f"defines: the schema at #/properties/client; {FIX} that names its class differently"
    )


def test_a_title_resolves_the_collision(tmp_path: Path) -> None:
    schema = _schema(tmp_path, {"client": _inline(title="ClientInfo")})
    models = next(f.content for f in plan(schema).files if f.path == "models.py")
    assert "class ClientInfo(Payload):" in models


def test_renamed_definition_is_refused(tmp_path: Path) -> None:
    """An inline ``vector3`` object and the definition ``Vector3``: one becomes ``Vector31``."""
    schema = _schema(
        tmp_path,
        {"vector3": _inline(), "at": {"$ref": "../definitions.schema.json#/$defs/Vector3"}},
        {"Vector3": {"type": "object", "properties": {"x": {"type": "number"}}}},
    )
    with pytest.raises(SchemaError) as info:
        plan(schema)
    assert info.value.file == Path(HELLO)
    assert "two schemas make a class named 'Vector3'" in info.value.reason
    assert "renamed one of them 'Vector31'" in info.value.reason
    assert "#/properties/vector3 (and definitions.schema.json#/$defs/Vector3)" in info.value.reason


def test_renamed_payload_class_is_refused(tmp_path: Path) -> None:
    schema = _schema(tmp_path, {"hello_payload": _inline()})
    with pytest.raises(SchemaError, match="two schemas make a class named 'HelloPayload'"):
        plan(schema)


def test_inline_object_named_like_a_definition_without_class_is_refused(tmp_path: Path) -> None:
    """The enum definition ``Color`` gets no class of its own: a class ``Color`` is another
    schema's, which the package must not export as the definition."""
    schema = _schema(
        tmp_path,
        {"color": _inline(), "c": {"$ref": "../definitions.schema.json#/$defs/Color"}},
        {"Color": {"type": "string", "enum": ["red"]}},
    )
    with pytest.raises(SchemaError, match="'Color'") as info:
        plan(schema)
    assert info.value.file == Path(HELLO)


def test_numbered_classes_nobody_relies_on_are_fine(tmp_path: Path) -> None:
    """anyOf branches and two inline objects of one name get numbers: harmless."""
    schema = _schema(
        tmp_path,
        {
            "u": {"anyOf": [_inline(), OTHER]},
            "a": {"type": "object", "properties": {"config": _inline()}},
            "b": {"type": "object", "properties": {"config": OTHER}},
        },
    )
    models = next(f.content for f in plan(schema).files if f.path == "models.py")
    assert "class U1(" in models
    assert "class Config1(" in models
