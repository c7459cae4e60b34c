"""Property names of every kind: quotes, a backslash, control characters, non-ASCII letters
(some of which Python reads as other letters), Python keywords, names that differ in case only
or that map to one Python identifier, and the ``_`` and ``model_`` prefixes.

Each one, as a payload property and in a definition, must reach the wire exactly as the schema
spells it: through the models, through the client stub, and through a real server; the
generated package passes ``mypy --strict`` and ruff, and the reference shows every name.
A name with ``"`` or a newline used to make the client stub a syntax error, and one with a
backslash went out as another key.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import shutil
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from jsonschema import Draft202012Validator
from pydantic import ValidationError

from datadivr import HandlerContext, Registry, create_app
from datadivr_codegen.errors import SchemaError
from datadivr_codegen.generator import generate, plan
from tests.conftest import LiveServer

from .conftest import Generated, _forget, case_schema, package_name
from .test_generated_lint import mypy_strict, ruff_check, ruff_format_check
from .test_generated_package import _Recorder

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 10.0

NAMES = (
    'q"uote',
    "new\nline",
    "back\\slash",
    "single'quote",
    "tab\there",
    "café",
    "naïve",
    "\ufb01le",  # the "fi" ligature: Python reads the identifier as "file"
    "file",
    "micro\u00b5",  # the micro sign: Python reads it as the Greek mu
    "dollar$",
    "1st",
    "class",
    "from",
    "a",
    "A",
    "a-b",
    "a_b",
    "a b",
    "_private",
    "__dunder__",
    "model_config",
    "model_dump",
    "model_x",
    # Names of what models.py imports or adds: datamodel-code-generator imports its own under
    # another name (``Annotated as Annotated_aliased``), the runtime's checks are renamed.
    "list",
    "str",
    "int",
    "float",
    "Any",
    "Annotated",
    "Field",
    "Literal",
    "AwareDatetime",
    "UUID",
    "NotNull",
    "ExactLiteral",
)
REQUIRED = NAMES[:4]
#: Properties whose types use those imports and the runtime's checks, with a valid value.
TYPED = {
    "when": ({"type": "string", "format": "date-time"}, "2026-01-01T12:00:00Z"),
    "sid": ({"type": "string", "format": "uuid"}, "3f2b8c1e-5a4d-4e6f-9b7a-0c1d2e3f4a5b"),
    "numbers": ({"type": "array", "items": {"type": "number"}}, [1.5]),
    "counts": ({"type": "object", "additionalProperties": {"type": "integer"}}, {"k": 1}),
    "kind": ({"enum": ["x", "y"]}, "x"),
    "one": ({"const": 1}, 1),
}


def _properties() -> dict[str, Any]:
    return {
        **{name: {"type": "string", "description": f"The {name!r} field."} for name in NAMES},
        **{name: schema for name, (schema, _) in TYPED.items()},
    }


def _write_schema(folder: Path) -> Path:
    shutil.copytree(case_schema("minimal"), folder)
    (folder / "events" / "hello.schema.json").unlink()
    definitions = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://example.test/names/definitions.schema.json",
        "title": "Definitions",
        "$defs": {
            "Odd": {
                "title": "Odd",
                "type": "object",
                "properties": _properties(),
                "required": list(REQUIRED),
                "additionalProperties": False,
            }
        },
    }
    odd = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://example.test/names/events/odd.schema.json",
        "title": "OddPayload",
        "description": "Every kind of property name.",
        "x-datadivr": {"event": "odd", "direction": "both"},
        "type": "object",
        "properties": {
            **_properties(),
            "inner": {"$ref": "../definitions.schema.json#/$defs/Odd"},
        },
        "required": list(REQUIRED),
        "additionalProperties": False,
    }
    # A property named like a class the stub uses: the stub takes the payload model instead.
    shadow = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://example.test/names/events/shadow.schema.json",
        "title": "ShadowPayload",
        "x-datadivr": {"event": "shadow", "direction": "client_to_server"},
        "type": "object",
        "properties": {"ShadowPayload": {"type": "string"}, "ShadowMessage": {"type": "string"}},
        "additionalProperties": False,
    }
    for path, document in (
        (folder / "definitions.schema.json", definitions),
        (folder / "events" / "odd.schema.json", odd),
        (folder / "events" / "shadow.schema.json", shadow),
    ):
        path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def names_package(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Generated]:
    root = tmp_path_factory.mktemp("names")
    schema = _write_schema(root / "schema")
    name = package_name("names")
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(root))
        generate(schema, root / name)
        importlib.invalidate_caches()
        yield Generated(name, root / name, importlib.import_module(name))
    _forget([name])


def _wire(prefix: str) -> dict[str, Any]:
    """A payload with every property set: each string to a value that names it."""
    return {
        **{name: f"{prefix}{index}" for index, name in enumerate(NAMES)},
        **{name: value for name, (_, value) in TYPED.items()},
    }


def _payload() -> dict[str, Any]:
    return {**_wire("p"), "inner": _wire("i")}


def test_models_read_and_write_exactly_the_property_names(names_package: Generated) -> None:
    package = names_package.module
    data = _payload()
    payload = package.OddPayload.model_validate(data)
    assert json.loads(payload.model_dump_json()) == data
    assert payload.model_dump(mode="json") == data
    assert package.Odd.model_validate(data["inner"]).model_dump(mode="json") == data["inner"]
    message = package.create_message("odd", payload, "others")
    frame = json.loads(message.to_json())
    assert frame["payload"] == data
    Draft202012Validator(package.PROTOCOL.schema).validate(frame)
    assert package.PROTOCOL.parse(json.dumps(frame)).payload == payload


def test_each_property_is_its_own_field(names_package: Generated) -> None:
    """No two properties share a field, and each field's wire name is its property's."""
    package = names_package.module
    for model in (package.OddPayload, package.Odd):
        fields = model.model_fields
        wire = [field.alias or name for name, field in fields.items() if name != "inner"]
        assert sorted(wire) == sorted([*NAMES, *TYPED])


def test_the_runtime_checks_hold_beside_fields_named_like_them(names_package: Generated) -> None:
    """``null`` for an optional property and ``true`` for ``const: 1`` are still refused."""
    package = names_package.module
    for model in (package.OddPayload, package.Odd):
        for wrong in ({"Annotated": None}, {"NotNull": None}, {"one": True}, {"kind": "z"}):
            with pytest.raises(ValidationError):
                model.model_validate({**_wire("p"), **wrong})


def test_models_refuse_a_key_spelled_as_python_reads_it(names_package: Generated) -> None:
    """``file`` is a property of its own; ``microμ`` (mu) is not ``microµ`` (micro sign)."""
    package = names_package.module
    data = {**_payload(), "micro\u03bc": "x"}
    with pytest.raises(ValueError, match="micro"):
        package.OddPayload.model_validate(data)


def _stub_arguments(package: Any, data: dict[str, Any]) -> dict[str, Any]:
    fields = package.OddPayload.model_fields
    arguments = {}
    for parameter in inspect.signature(package.Client.odd).parameters:
        if parameter in ("self", "to", "message"):
            continue
        field = fields[parameter]
        key = field.alias or parameter
        arguments[parameter] = (
            package.Odd.model_validate(data[key]) if key == "inner" else data[key]
        )
    return arguments


async def test_client_stub_sends_exactly_the_property_names(names_package: Generated) -> None:
    package = names_package.module
    data = _payload()
    client = package.Client()
    recorder = _Recorder(client, {})
    arguments = _stub_arguments(package, data)
    assert len(arguments) == len(NAMES) + len(TYPED) + 1
    await client.odd(**arguments, to="others")
    (sent,) = recorder.sent
    frame = json.loads(sent.to_json())
    assert frame == {"event_name": "odd", "to": "others", "payload": data}
    Draft202012Validator(package.PROTOCOL.schema).validate(frame)


async def test_a_stub_whose_field_would_hide_a_class_takes_the_payload(
    names_package: Generated,
) -> None:
    package = names_package.module
    assert list(inspect.signature(package.Client.shadow).parameters)[:2] == ["self", "payload"]
    client = package.Client()
    recorder = _Recorder(client, {})
    await client.shadow(package.ShadowPayload(ShadowPayload="x", ShadowMessage="y"))
    (sent,) = recorder.sent
    assert json.loads(sent.to_json())["payload"] == {"ShadowPayload": "x", "ShadowMessage": "y"}


async def test_property_names_survive_a_real_server(
    names_package: Generated,
    serve_app: Callable[[FastAPI], AbstractContextManager[LiveServer]],
) -> None:
    """The stub's frame is parsed by the server's models, and their answer by the client's."""
    package = names_package.module
    data = _payload()
    registry = Registry()
    on_server: list[str] = []

    @package.websocket_handler("odd", registry=registry)
    async def echo(message: Any, ctx: HandlerContext) -> Any:
        on_server.append(message.to_json())
        return package.create_message("odd", message.payload, ctx.client_id)

    app = create_app(protocol=package.PROTOCOL, registry=registry, explorer=False)
    with serve_app(app) as server:
        async with package.Client(server.url) as client:
            answered: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

            @client.on("odd")
            async def answer(message: Any) -> None:
                answered.set_result(message)

            await client.odd(**_stub_arguments(package, data), to="server")
            answer_message = await asyncio.wait_for(answered, TIMEOUT)
    (frame,) = on_server
    assert json.loads(frame)["payload"] == data
    assert json.loads(answer_message.to_json())["payload"] == data


def test_reference_shows_every_name(names_package: Generated) -> None:
    reference = (names_package.path / "protocol.md").read_text(encoding="utf-8")
    assert "\0" not in reference
    for name in NAMES:
        shown = name if name.isprintable() and name.strip() == name else json.dumps(name)
        assert f"| `{shown}` |" in reference
        assert f"| `inner.{shown}` |" not in reference  # a $ref is linked, not inlined


def test_two_properties_python_reads_as_one_name_are_refused(tmp_path: Path) -> None:
    """``ﬁle-x`` and ``file-x`` both become ``file_x``: one would be lost without a word."""
    schema = _write_schema(tmp_path / "schema")
    odd = schema / "events" / "odd.schema.json"
    document = json.loads(odd.read_text(encoding="utf-8"))
    document["properties"] = {"\ufb01le-x": {"type": "string"}, "file-x": {"type": "string"}}
    document["required"] = []
    odd.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(SchemaError, match="file_x"):
        plan(schema)


# -- the generated package passes the project's linters ---------------------------------------


@pytest.mark.slow
def test_mypy_strict(names_package: Generated, tmp_path: Path) -> None:
    result = mypy_strict(names_package.path, cache_dir=tmp_path / "mypy-cache")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff(names_package: Generated) -> None:
    check = ruff_check(names_package.path)
    assert check.returncode == 0, check.stdout + check.stderr
    formatted = ruff_format_check(names_package.path)
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr
