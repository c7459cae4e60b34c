"""Generate each case folder, import the package, and exercise what it exports.

The cases (``cases/<case>/schema``):

- ``minimal``: one ``client_to_server`` event with an object payload;
- ``nested``: nested objects, arrays of objects, enums, optional and nullable fields, numeric
  bounds, a pattern, ``date-time`` and ``uuid`` formats, ``$ref`` into a definitions file and
  into the event file's own ``$defs``, a bare-number payload, and a ``"type": "null"`` payload
  with ``"message": "required"``;
- ``reply``: requests with replies, in the ``client_to_server`` and ``both`` directions;
- ``echo``: one request and its reply (a bare-string payload): exactly one event a client
  receives;
- ``features``: payloads composed with ``allOf`` (inherited stub parameters), a required
  ``message`` beside optional payload fields, one property per keyword the generator accepts
  (``check``, see ``test_keywords.py``), open objects, maps, and a payload that is a ``$ref`` to a
  nullable definition;
- ``game``: payloads with properties named like the client stub's options (``message``, ``to``,
  ``timeout``, ``payload``), a union (``anyOf``) payload of two titled object schemas, and enum
  definitions (with and without a title, of strings and of numbers) used directly, in a union
  with ``null`` and as array items.
"""

from __future__ import annotations

import ast
import inspect
import json
import typing
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import ModuleType
from typing import Any
from uuid import UUID

import pytest
from jsonschema import Draft202012Validator
from pydantic import ValidationError

from datadivr import BaseClient, HandlerType, MessageBase, Registry
from datadivr.core._registry import ServicerBase
from datadivr.exceptions import MessageValidationError, ProtocolError, RegistrationError
from datadivr_codegen.schema import handler_names

from .conftest import CASES, GENERATED_FILES, PROJECT_SCHEMA, Generated, GenerateFn, case_schema

BASE_EXPORTS = frozenset(
    {
        "PROTOCOL",
        "AnyMessage",
        "Client",
        "Envelope",
        "EventName",
        "Servicer",
        "create_message",
        "websocket_handler",
    }
)
SHAPE_ID = "0b5e5c8e-2f64-4c39-9a8b-6a1f0f5d2c11"
UPDATED_AT = "2024-05-01T12:00:00+02:00"


@dataclass(frozen=True)
class EventCase:
    """What one event of a case must look like in the generated package."""

    direction: str
    reply: str | None
    message_class: str
    #: Frames (decoded) that are valid messages of the event.
    valid: tuple[dict[str, Any], ...]
    message_text: str = "optional"


@dataclass(frozen=True)
class Case:
    events: dict[str, EventCase]
    #: The classes and type aliases ``models.py`` defines: the package exports every one.
    models: frozenset[str]


SHAPE_MINIMAL = {
    "shape_id": SHAPE_ID,
    "updated_at": UPDATED_AT,
    "name": "tri",
    "kind": "polygon",
    "points": [{"x": 0.0, "y": 1.5}],
    "style": {"color": "red", "stroke": {"width": 1}},
}
SHAPE_FULL = {
    **SHAPE_MINIMAL,
    "kind": "circle",
    "sides": 12,
    "ratio": 1.0,
    "numbers": [1.0, -2.5, 3.0],
    "points": [{"x": 0.0, "y": 0.0}, {"x": 1.0, "y": 0.0}, {"x": 0.5, "y": 0.75}],
    "style": {"color": "blue", "stroke": {"width": 0, "dashed": True}, "opacity": 0.5},
    "label": "a triangle",
    "layers": [
        {"name": "base", "visible": True, "anchors": [{"x": 1.0, "y": 2.0}]},
        {"name": "overlay", "visible": False},
    ],
    "parent": {"name": "root", "visible": True, "anchors": []},
}
RECORD = {
    "count": 0,
    "name": "n",
    "at": "2024-05-01T12:00:00Z",
    "note": "x",
    "kind": "a",
}
SHAPE_NULLS = {
    **SHAPE_MINIMAL,
    "label": None,
    "parent": None,
    "style": {"color": "green", "stroke": {"width": 3}, "opacity": None},
}

CASE_SPECS: dict[str, Case] = {
    "minimal": Case(
        events={
            "hello": EventCase(
                "client_to_server",
                None,
                "HelloMessage",
                (
                    {"event_name": "hello", "payload": {"name": "ada"}},
                    {
                        "event_name": "hello",
                        "payload": {"name": "ada", "times": 3},
                        "to": "server",
                        "message": "hi",
                        "id": "m-1",
                    },
                ),
            )
        },
        models=frozenset({"Envelope", "HelloMessage", "HelloPayload"}),
    ),
    "nested": Case(
        events={
            "notice": EventCase(
                "client_to_client",
                None,
                "NoticeMessage",
                (
                    {"event_name": "notice", "message": "the meeting starts"},
                    {"event_name": "notice", "message": "", "payload": None, "to": "all"},
                    {"event_name": "notice", "message": "x", "from_id": "c-1", "to": "c-2"},
                ),
                message_text="required",
            ),
            "reading": EventCase(
                "server_to_client",
                None,
                "ReadingMessage",
                (
                    {"event_name": "reading", "payload": 0.0},
                    {"event_name": "reading", "payload": 2.5, "reply_to": "r-1"},
                    {"event_name": "reading", "payload": 7},
                ),
            ),
            "shape_update": EventCase(
                "client_to_client",
                None,
                "ShapeUpdateMessage",
                (
                    {"event_name": "shape_update", "payload": SHAPE_MINIMAL},
                    {"event_name": "shape_update", "payload": SHAPE_FULL, "to": "others"},
                    {"event_name": "shape_update", "payload": SHAPE_NULLS},
                ),
            ),
        },
        models=frozenset(
            {
                "Color",
                "Envelope",
                "Layer",
                "NoticeMessage",
                "Point",
                "ReadingMessage",
                "ShapeUpdateMessage",
                "ShapeUpdatePayload",
                "Stroke",
                "Style",
            }
        ),
    ),
    "reply": Case(
        events={
            "add": EventCase(
                "client_to_server",
                "add_result",
                "AddMessage",
                (
                    {"event_name": "add", "payload": {"a": 1, "b": -2}},
                    {"event_name": "add", "payload": {"a": 0, "b": 0}, "id": "req-7"},
                ),
            ),
            "add_result": EventCase(
                "server_to_client",
                None,
                "AddResultMessage",
                ({"event_name": "add_result", "payload": {"total": -1}, "reply_to": "req-7"},),
            ),
            "probe": EventCase(
                "both",
                "probe_ack",
                "ProbeMessage",
                (
                    {"event_name": "probe", "payload": {}},
                    {"event_name": "probe", "payload": {"token": "abc123"}, "id": "p-1"},
                ),
            ),
            "probe_ack": EventCase(
                "both",
                None,
                "ProbeAckMessage",
                (
                    {"event_name": "probe_ack", "payload": {"token": None}},
                    {"event_name": "probe_ack", "payload": {}, "reply_to": "p-1"},
                ),
            ),
        },
        models=frozenset(
            {
                "Envelope",
                "AddMessage",
                "AddPayload",
                "AddResultMessage",
                "AddResultPayload",
                "ProbeAckMessage",
                "ProbeAckPayload",
                "ProbeMessage",
                "ProbePayload",
            }
        ),
    ),
    "echo": Case(
        events={
            "echo": EventCase(
                "client_to_server",
                "echo_back",
                "EchoMessage",
                ({"event_name": "echo", "payload": {"text": "hi"}, "id": "e-1"},),
            ),
            "echo_back": EventCase(
                "server_to_client",
                None,
                "EchoBackMessage",
                (
                    {"event_name": "echo_back", "payload": "hi", "reply_to": "e-1"},
                    {"event_name": "echo_back", "payload": ""},
                ),
            ),
        },
        models=frozenset({"Envelope", "EchoBackMessage", "EchoMessage", "EchoPayload"}),
    ),
    "features": Case(
        events={
            "check": EventCase(
                "client_to_server",
                None,
                "CheckMessage",
                (
                    {"event_name": "check", "payload": {}},
                    {
                        "event_name": "check",
                        "payload": {
                            "t_nullable": None,
                            "open": {"a": 1, "kept": {"deep": [1, None]}},
                            "typed_extra": {"a": "x", "n": 3},
                            "map": {"k": True},
                            "enum_numbers": 0,
                            "enum_mixed": None,
                            "const_one": 1,
                            "const_false": False,
                            "date_time": "2024-05-01T12:00:00Z",
                            "uuid": "0b5e5c8e-2f64-4c39-9a8b-6a1f0f5d2c11",
                            "ref": {"name": "n", "other": 1},
                            "composed": {"count": 1, "extra": True},
                        },
                    },
                ),
            ),
            "maybe": EventCase(
                "server_to_client",
                None,
                "MaybeMessage",
                (
                    {"event_name": "maybe"},
                    {"event_name": "maybe", "payload": "abc"},
                    {"event_name": "maybe", "payload": None},
                ),
            ),
            "note": EventCase(
                "client_to_client",
                None,
                "NoteMessage",
                (
                    {"event_name": "note", "payload": {}, "message": "hi"},
                    {"event_name": "note", "payload": {"level": 2}, "message": ""},
                ),
                message_text="required",
            ),
            "record": EventCase(
                "client_to_server",
                None,
                "RecordMessage",
                (
                    {"event_name": "record", "payload": RECORD},
                    {
                        "event_name": "record",
                        "payload": {**RECORD, "tags": {"a": 1}, "unknown": [1, {"x": None}]},
                    },
                ),
            ),
        },
        models=frozenset(
            {
                "AnyOf",
                "AnyOf1",
                "CheckMessage",
                "CheckPayload",
                "Closed",
                "Composed",
                "Counted",
                "Envelope",
                "MaybeMessage",
                "Named",
                "NoteMessage",
                "NotePayload",
                "Open",
                "RecordMessage",
                "RecordPayload",
                "Stamped",
                "TagsAdditionalProperty",
                "TypedExtra",
                "TypedExtraAdditionalProperty",
            }
        ),
    ),
    "game": Case(
        events={
            "act": EventCase(
                "client_to_server",
                None,
                "ActMessage",
                (
                    {"event_name": "act", "payload": {"target": {"x": 1, "y": 2}}},
                    {"event_name": "act", "payload": {"kind": "wall", "at": {"x": 0, "y": 0}}},
                ),
            ),
            "join": EventCase(
                "client_to_server",
                None,
                "JoinMessage",
                (
                    {"event_name": "join", "payload": {"team": "red", "level": 1}},
                    {
                        "event_name": "join",
                        "payload": {
                            "team": "blue",
                            "level": 3,
                            "backup": None,
                            "teams": ["red", "blue"],
                        },
                    },
                ),
            ),
            "say": EventCase(
                "client_to_client",
                None,
                "SayMessage",
                (
                    {"event_name": "say", "payload": {"message": "hi", "to": "bob"}},
                    {
                        "event_name": "say",
                        "payload": {"message": "", "to": "x", "team": "red"},
                        "to": "all",
                        "message": "envelope text",
                    },
                ),
            ),
            "wait": EventCase(
                "client_to_server",
                "waited",
                "WaitMessage",
                (
                    {"event_name": "wait", "payload": {"timeout": 0}, "id": "w-1"},
                    {"event_name": "wait", "payload": {"timeout": 1.5, "payload": "p"}},
                ),
            ),
            "waited": EventCase(
                "server_to_client",
                None,
                "WaitedMessage",
                ({"event_name": "waited", "payload": {"level": 2}, "reply_to": "w-1"},),
            ),
        },
        models=frozenset(
            {
                "ActMessage",
                "ActPayload",
                "Build",
                "Building",
                "Envelope",
                "JoinMessage",
                "JoinPayload",
                "Level",
                "Position",
                "SayMessage",
                "SayPayload",
                "Shoot",
                "Team",
                "WaitMessage",
                "WaitPayload",
                "WaitedMessage",
                "WaitedPayload",
            }
        ),
    ),
}

VALID_FRAMES = [
    pytest.param(case, event, frame, id=f"{case}-{event}-{i}")
    for case, spec in CASE_SPECS.items()
    for event, expected in spec.events.items()
    for i, frame in enumerate(expected.valid)
]


def _frame(event: str, payload: Any, **envelope: Any) -> dict[str, Any]:
    return {"event_name": event, "payload": payload, **envelope}


def _shape(**changes: Any) -> dict[str, Any]:
    return _frame("shape_update", {**SHAPE_MINIMAL, **changes})


#: (case, frame, the JSON paths of the failures, whether schema.json rejects it as well).
#: ``schema.json`` is checked with jsonschema's format checker (``date-time`` through
#: rfc3339-validator, a dependency of datadivr).
INVALID_FRAMES = [
    pytest.param("minimal", _frame("hello", {}), ["$.payload.name"], True, id="missing-field"),
    pytest.param("minimal", {"event_name": "hello"}, ["$.payload"], True, id="missing-payload"),
    pytest.param("minimal", _frame("hello", {"name": ""}), ["$.payload.name"], True, id="empty"),
    pytest.param(
        "minimal", _frame("hello", {"name": "x" * 33}), ["$.payload.name"], True, id="too-long"
    ),
    pytest.param(
        "minimal", _frame("hello", {"name": "a", "times": 0}), ["$.payload.times"], True, id="min"
    ),
    pytest.param(
        "minimal", _frame("hello", {"name": 1}), ["$.payload.name"], True, id="number-for-string"
    ),
    pytest.param(
        "minimal", _frame("hello", [{"name": "a"}]), ["$.payload"], True, id="array-payload"
    ),
    pytest.param(
        "minimal",
        _frame("hello", {"name": "a"}, to=""),
        ["$.to"],
        True,
        id="envelope-constraint",
    ),
    pytest.param(
        "minimal",
        _frame("hello", {"name": "a"}, id=5),
        ["$.id"],
        True,
        id="envelope-type",
    ),
    pytest.param("nested", _shape(name="Tri"), ["$.payload.name"], True, id="pattern-mismatch"),
    pytest.param("nested", _shape(kind="square"), ["$.payload.kind"], True, id="enum"),
    pytest.param("nested", _shape(sides=2), ["$.payload.sides"], True, id="below-minimum"),
    pytest.param("nested", _shape(sides=13), ["$.payload.sides"], True, id="above-maximum"),
    pytest.param("nested", _shape(ratio=0), ["$.payload.ratio"], True, id="exclusive-minimum"),
    pytest.param("nested", _shape(numbers=[0.0] * 9), ["$.payload.numbers"], True, id="max-items"),
    pytest.param("nested", _shape(points=[]), ["$.payload.points"], True, id="min-items"),
    pytest.param(
        "nested",
        _shape(points=[{"x": 0, "y": 0}, {"x": 1}]),
        ["$.payload.points[1].y"],
        True,
        id="array-of-objects",
    ),
    pytest.param(
        "nested",
        _shape(style={"color": "pink", "stroke": {"width": 1}}),
        ["$.payload.style.color"],
        True,
        id="ref-enum",
    ),
    pytest.param(
        "nested",
        _shape(style={"color": "red", "stroke": {"width": -1}}),
        ["$.payload.style.stroke.width"],
        True,
        id="nested-object",
    ),
    pytest.param(
        "nested",
        _shape(style={"color": "red", "stroke": {"width": 1}, "opacity": 1.5}),
        ["$.payload.style.opacity"],
        True,
        id="nullable-bounds",
    ),
    pytest.param(
        "nested",
        _shape(layers=[{"name": "a", "visible": True, "anchors": [{"x": 1, "y": "2"}]}]),
        ["$.payload.layers[0].anchors[0].y"],
        True,
        id="deep-path",
    ),
    pytest.param(
        "nested",
        _shape(layers=[{"name": "a", "visible": 1}]),
        ["$.payload.layers[0].visible"],
        True,
        id="integer-for-boolean",
    ),
    pytest.param("nested", _shape(label="x" * 65), ["$.payload.label"], True, id="max-length"),
    pytest.param("nested", _shape(shape_id="not-a-uuid"), ["$.payload.shape_id"], True, id="uuid"),
    pytest.param(
        "nested", _shape(updated_at="yesterday"), ["$.payload.updated_at"], True, id="date-time"
    ),
    pytest.param(
        "nested",
        _shape(updated_at="2024-05-01T12:00:00"),
        ["$.payload.updated_at"],
        True,
        id="date-time-without-offset",
    ),
    pytest.param(
        "nested",
        {"event_name": "shape_update", "payload": {}},
        # Each at its own path, in the documented order (by path).
        [
            "$.payload.kind",
            "$.payload.name",
            "$.payload.points",
            "$.payload.shape_id",
            "$.payload.style",
            "$.payload.updated_at",
        ],
        True,
        id="every-required-field",
    ),
    pytest.param("nested", _frame("reading", -0.5), ["$.payload"], True, id="number-minimum"),
    pytest.param("nested", {"event_name": "reading"}, ["$.payload"], True, id="number-missing"),
    pytest.param("nested", _frame("reading", None), ["$.payload"], True, id="number-null"),
    pytest.param("nested", {"event_name": "notice"}, ["$.message"], True, id="message-required"),
    pytest.param(
        "nested",
        {"event_name": "notice", "message": None},
        ["$.message"],
        True,
        id="message-null",
    ),
    pytest.param(
        "nested",
        {"event_name": "notice", "message": "x", "payload": {}},
        ["$.payload"],
        True,
        id="null-payload",
    ),
    pytest.param("reply", _frame("add", {"a": 1}), ["$.payload.b"], True, id="missing-operand"),
    pytest.param(
        "reply", _frame("probe", {"token": "ABC"}), ["$.payload.token"], True, id="probe-pattern"
    ),
    pytest.param(
        "reply", _frame("add_result", {"total": None}), ["$.payload.total"], True, id="not-null"
    ),
    pytest.param("echo", _frame("echo_back", 5), ["$.payload"], True, id="string-payload"),
    pytest.param("echo", _frame("echo_back", "x" * 257), ["$.payload"], True, id="string-bound"),
]

#: The strictness the runtime promises: never laxer than the schema.
STRICTNESS = [
    pytest.param(
        "nested", _shape(numbers=[1, "2"]), "$.payload.numbers[1]", id="string-for-number"
    ),
    pytest.param("nested", _shape(numbers=[1, True]), "$.payload.numbers[1]", id="true-for-number"),
    pytest.param("nested", _frame("reading", "1"), "$.payload", id="string-for-bare-number"),
    pytest.param("nested", _frame("reading", True), "$.payload", id="true-for-bare-number"),
    pytest.param("nested", _shape(sides=4.5), "$.payload.sides", id="float-for-integer"),
    pytest.param("reply", _frame("add", {"a": 1.5, "b": 1}), "$.payload.a", id="1.5-for-integer"),
    pytest.param(
        "reply", _frame("add", {"a": 1, "b": "2"}), "$.payload.b", id="string-for-integer"
    ),
    pytest.param("reply", _frame("add", {"a": True, "b": 2}), "$.payload.a", id="true-for-integer"),
    pytest.param(
        "minimal", _frame("hello", {"name": "a", "x": 1}), "$.payload.x", id="extra-payload"
    ),
    pytest.param("minimal", {**_frame("hello", {"name": "a"}), "x": 1}, "$.x", id="extra-envelope"),
    pytest.param(
        "nested",
        _shape(style={"color": "red", "stroke": {"width": 1, "x": 2}}),
        "$.payload.style.stroke.x",
        id="extra-nested",
    ),
    pytest.param(
        "nested",
        _shape(points=[{"x": 0, "y": 0, "z": 0}]),
        "$.payload.points[0].z",
        id="extra-in-ref",
    ),
    pytest.param(
        "nested",
        _shape(layers=[{"name": "a", "visible": True, "hidden": False}]),
        "$.payload.layers[0].hidden",
        id="extra-in-local-ref",
    ),
]


def _public_names(module: ModuleType) -> set[str]:
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and not isinstance(value, ModuleType)
    }


def _defined_models(module: ModuleType) -> set[str]:
    """The classes and type aliases (``Team: TypeAlias = Literal[...]``, ``X = TypeAliasType(...)``)
    ``module``'s source defines at its top level; not the parametrized generics pydantic registers
    in it at run time (``RootModel[int]``)."""
    names = set()
    for node in ast.parse(inspect.getsource(module)).body:
        if isinstance(node, ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    names.discard("__all__")
    return names


def _schema_validator(module: ModuleType) -> Draft202012Validator:
    return Draft202012Validator(
        module.PROTOCOL.schema, format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def _assert_rejected(exc: ProtocolError, paths: list[str]) -> None:
    assert isinstance(exc, MessageValidationError)
    assert exc.code == "validation_error"
    assert [d.path for d in exc.details] == paths
    assert all(d.reason for d in exc.details)


# -- one generation per test ------------------------------------------------------------------


def test_every_case_folder_is_complete() -> None:
    """Each case is a whole schema folder with the project's own envelope."""
    envelope = (PROJECT_SCHEMA / "envelope.schema.json").read_bytes()
    for case in CASES:
        assert (case_schema(case) / "envelope.schema.json").read_bytes() == envelope
    assert set(CASE_SPECS) == set(CASES)


@pytest.mark.parametrize("case", CASES)
def test_package_exports_exactly_its_public_names(case: str, generate_package: GenerateFn) -> None:
    spec = CASE_SPECS[case]
    gen = generate_package(case_schema(case), case)

    # __pycache__ is the importer's (unless PYTHONDONTWRITEBYTECODE is set), not the generator's.
    written = sorted(p.name for p in gen.path.iterdir() if p.name != "__pycache__")
    assert written == sorted(GENERATED_FILES)
    package = gen.module
    assert len(package.__all__) == len(set(package.__all__)), "duplicate names in __all__"
    aliases = {name for event in spec.events for name in handler_names(event)}
    assert set(package.__all__) == BASE_EXPORTS | aliases | spec.models
    assert _public_names(package) == set(package.__all__)
    for name in package.__all__:
        assert getattr(package, name) is not None

    models = gen.submodule("models")
    assert set(models.__all__) == _defined_models(models) == spec.models
    assert gen.submodule("events").__all__ == [
        "PROTOCOL",
        "AnyMessage",
        "EventName",
        "create_message",
    ]
    assert gen.submodule("client").__all__ == ["Client"]
    handlers = gen.submodule("handlers")
    assert set(handlers.__all__) == aliases | {"Servicer", "websocket_handler"}
    # The package re-exports, it does not copy.
    assert package.Client is gen.submodule("client").Client
    assert package.PROTOCOL is gen.submodule("events").PROTOCOL


@pytest.mark.parametrize("case", CASES)
def test_protocol_describes_every_event(case: str, generate_package: GenerateFn) -> None:
    spec = CASE_SPECS[case]
    package = generate_package(case_schema(case), case).module
    protocol = package.PROTOCOL

    assert protocol.package == package.__name__
    assert sorted(protocol.events) == sorted(spec.events)
    assert typing.get_args(package.EventName) == tuple(sorted(spec.events))
    bundled = protocol.schema["x-datadivr"]
    assert bundled["schema_hash"] == protocol.schema_hash
    assert protocol.schema_hash.startswith("sha256:")
    for name, expected in spec.events.items():
        event = protocol.events[name]
        assert event.name == name
        assert event.direction.value == expected.direction
        assert event.reply == expected.reply
        assert event.message_type is getattr(package, expected.message_class)
        assert event.message_type.model_fields["event_name"].default == name
        assert event.description
        assert bundled["events"][name]["direction"] == expected.direction
        assert bundled["events"][name]["reply"] == expected.reply
        assert bundled["events"][name]["message"] == expected.message_text
        if expected.reply is not None:
            assert protocol.events[expected.reply].direction.client_may_receive


@pytest.mark.parametrize("case", CASES)
def test_every_message_model_round_trips(case: str, generate_package: GenerateFn) -> None:
    """Every generated message model, instantiated with valid data, survives the wire."""
    spec = CASE_SPECS[case]
    package = generate_package(case_schema(case), case).module
    validator = _schema_validator(package)
    covered = set()
    for name, expected in spec.events.items():
        cls = getattr(package, expected.message_class)
        for frame in expected.valid:
            message = cls.model_validate_json(json.dumps(frame))
            assert type(message) is cls
            wire = message.to_json()
            again = package.PROTOCOL.parse(wire)
            assert type(again) is cls
            assert again == message
            assert again.model_fields_set == message.model_fields_set
            assert json.loads(wire) == frame
            validator.validate(json.loads(wire))
            covered.add(cls.__name__)
        assert package.PROTOCOL.events[name].message_type is cls
    models = {n for n in CASE_SPECS[case].models if n.endswith("Message")}
    assert covered == models


# -- read-only tables against one package per case -------------------------------------------


@pytest.mark.parametrize(("case", "event", "frame"), VALID_FRAMES)
def test_valid_frame_parses_and_builds(
    case: str, event: str, frame: dict[str, Any], shared_packages: dict[str, Generated]
) -> None:
    package = shared_packages[case].module
    message = package.PROTOCOL.parse(json.dumps(frame))
    assert message.event_name == event
    assert type(message) is package.PROTOCOL.events[event].message_type
    assert package.PROTOCOL.validate(frame) == message
    assert package.PROTOCOL.parse(message.to_json().encode()) == message
    if "from_id" not in frame:
        built = package.create_message(
            event,
            frame.get("payload"),
            frame.get("to"),
            message=frame.get("message"),
            id=frame.get("id"),
            reply_to=frame.get("reply_to"),
        )
        assert built == message
        if frame.get("payload", ...) is not None:  # an explicit null payload is not sent
            assert json.loads(built.to_json()) == frame


@pytest.mark.parametrize(("case", "frame", "paths", "schema_rejects"), INVALID_FRAMES)
def test_invalid_frame_is_rejected_with_its_json_path(
    case: str,
    frame: dict[str, Any],
    paths: list[str],
    schema_rejects: bool,
    shared_packages: dict[str, Generated],
) -> None:
    package = shared_packages[case].module
    with pytest.raises(MessageValidationError) as info:
        package.PROTOCOL.parse(json.dumps(frame))
    _assert_rejected(info.value, paths)
    assert info.value.event_name == frame["event_name"]
    # The published schema agrees with the models.
    assert _schema_validator(package).is_valid(frame) is not schema_rejects


@pytest.mark.parametrize(("case", "frame", "path"), STRICTNESS)
def test_strictness(
    case: str, frame: dict[str, Any], path: str, shared_packages: dict[str, Generated]
) -> None:
    """No coercion: the models refuse exactly what the schema refuses."""
    package = shared_packages[case].module
    with pytest.raises(MessageValidationError) as info:
        package.PROTOCOL.parse(json.dumps(frame))
    _assert_rejected(info.value, [path])
    assert not _schema_validator(package).is_valid(frame)
    if set(frame) <= {"event_name", "payload"}:
        # The message factory validates plain data exactly as the wire does.
        with pytest.raises(MessageValidationError) as built:
            package.create_message(frame["event_name"], frame["payload"])
        _assert_rejected(built.value, [path])


@pytest.mark.parametrize(
    ("case", "frame", "code", "paths"),
    [
        pytest.param("nested", "{", "invalid_json", [], id="not-json"),
        pytest.param("nested", "[]", "invalid_message", ["$"], id="not-an-object"),
        pytest.param(
            "nested", '{"payload": {}}', "invalid_message", ["$.event_name"], id="no-event-name"
        ),
        pytest.param(
            "nested", '{"event_name": "nope"}', "unknown_event", ["$.event_name"], id="unknown"
        ),
        pytest.param(
            "nested", '{"event_name": 5}', "invalid_message", ["$.event_name"], id="not-a-name"
        ),
        pytest.param(
            "nested",
            '{"event_name": "reading", "payload": NaN}',
            "invalid_json",
            [],
            id="nan",
        ),
        pytest.param(
            "nested",
            '{"event_name": "reading", "payload": -Infinity}',
            "invalid_json",
            [],
            id="infinity",
        ),
        # A protocol of one event still needs the event named: no default event.
        pytest.param(
            "minimal",
            '{"payload": {"name": "a"}}',
            "invalid_message",
            ["$.event_name"],
            id="one-event-no-event-name",
        ),
        pytest.param(
            "minimal",
            '{"event_name": "hullo", "payload": {"name": "a"}}',
            "unknown_event",
            ["$.event_name"],
            id="one-event-unknown",
        ),
    ],
)
def test_malformed_frames(
    case: str, frame: str, code: str, paths: list[str], shared_packages: dict[str, Generated]
) -> None:
    with pytest.raises(ProtocolError) as info:
        shared_packages[case].module.PROTOCOL.parse(frame)
    assert info.value.code == code
    assert [d.path for d in info.value.details] == paths


def test_nested_models_are_typed(shared_packages: dict[str, Generated]) -> None:
    """Formats, enums and references become real types, not strings or dicts."""
    package = shared_packages["nested"].module
    message = package.PROTOCOL.parse(json.dumps(_frame("shape_update", SHAPE_FULL)))
    payload = message.payload
    assert isinstance(payload, package.ShapeUpdatePayload)
    assert payload.shape_id == UUID(SHAPE_ID)
    assert payload.updated_at == datetime(2024, 5, 1, 10, tzinfo=timezone.utc)
    assert payload.updated_at.utcoffset() == timedelta(hours=2)
    assert all(isinstance(p, package.Point) for p in payload.points)
    assert isinstance(payload.layers[0], package.Layer)
    assert isinstance(payload.layers[0].anchors[0], package.Point)
    assert isinstance(payload.parent, package.Layer)
    models = shared_packages["nested"].submodule("models")
    assert isinstance(payload.style, models.Style)
    assert isinstance(payload.style.stroke, models.Stroke)
    assert payload.style.color == "blue"
    assert payload.sides == 12
    assert type(package.PROTOCOL.parse(json.dumps(_frame("reading", 7))).payload) is float


# -- the client, the servicer and handler registration ----------------------------------------


class _Recorder:
    """Stands in for a connection: records what a client sends, answers requests."""

    def __init__(self, client: BaseClient, answers: dict[type[MessageBase], MessageBase]) -> None:
        self.sent: list[MessageBase] = []
        self.requests: list[tuple[MessageBase, type[MessageBase], float | None]] = []
        self.answers = answers
        client.send = self.send  # type: ignore[method-assign]
        client.request = self.request  # type: ignore[method-assign]

    async def send(self, message: MessageBase) -> None:
        self.sent.append(message)

    async def request(
        self, message: MessageBase, reply_type: type[MessageBase], *, timeout: float | None = None
    ) -> MessageBase:
        self.requests.append((message, reply_type, timeout))
        return self.answers[reply_type]


@pytest.mark.parametrize("case", CASES)
def test_client_has_a_method_per_event_it_may_send(
    case: str, shared_packages: dict[str, Generated]
) -> None:
    package = shared_packages[case].module
    spec = CASE_SPECS[case]
    own = {name for name in vars(package.Client) if not name.startswith("_")}
    sendable = {n for n, e in spec.events.items() if e.direction != "server_to_client"}
    assert own == sendable | {"on", "protocol"}
    assert package.Client.protocol is package.PROTOCOL
    for name in sendable:
        assert inspect.iscoroutinefunction(getattr(package.Client, name))
    servicer = package.Servicer
    assert issubclass(servicer, ServicerBase)
    assert set(servicer().__mapping__()) == sendable
    assert len(servicer().registry()) == 0


async def test_client_stubs_minimal(shared_packages: dict[str, Generated]) -> None:
    package = shared_packages["minimal"].module
    client = package.Client("ws://127.0.0.1:9/ws")
    recorder = _Recorder(client, {})
    assert await client.hello("ada") is None
    await client.hello("bob", times=2, to="all", message="hey")
    first, second = recorder.sent
    assert json.loads(first.to_json()) == _frame("hello", {"name": "ada"}, to="server")
    assert json.loads(second.to_json()) == _frame(
        "hello", {"name": "bob", "times": 2}, to="all", message="hey"
    )
    # Refused before anything is sent (pydantic's error, or datadivr's wrapping of it).
    with pytest.raises((ValidationError, MessageValidationError), match="times"):
        await client.hello("ada", times=0)
    assert len(recorder.sent) == 2


async def test_client_stubs_nested(shared_packages: dict[str, Generated]) -> None:
    package = shared_packages["nested"].module
    models = shared_packages["nested"].submodule("models")
    client = package.Client()
    recorder = _Recorder(client, {})
    await client.notice("the meeting starts")
    await client.shape_update(
        UUID(SHAPE_ID),
        datetime(2024, 5, 1, 12, tzinfo=timezone(timedelta(hours=2))),
        "tri",
        "polygon",
        [package.Point(x=0.0, y=1.5)],
        models.Style(color="red", stroke=models.Stroke(width=1)),
        label=None,
    )
    notice, shape = recorder.sent
    assert json.loads(notice.to_json()) == {
        "event_name": "notice",
        "to": "others",
        "message": "the meeting starts",
    }
    assert json.loads(shape.to_json()) == _frame("shape_update", SHAPE_MINIMAL, to="others")
    assert not hasattr(package.Client, "reading")


async def test_client_stubs_with_replies(shared_packages: dict[str, Generated]) -> None:
    package = shared_packages["reply"].module
    result = package.create_message("add_result", {"total": 3})
    ack = package.create_message("probe_ack", {})
    client = package.Client()
    recorder = _Recorder(client, {package.AddResultMessage: result, package.ProbeAckMessage: ack})

    assert await client.add(1, 2, timeout=2.5) is result
    assert await client.probe() is ack
    await client.probe_ack(token="abc")

    (add, add_reply, add_timeout), (probe, probe_reply, _) = recorder.requests
    assert (add_reply, add_timeout) == (package.AddResultMessage, 2.5)
    assert json.loads(add.to_json()) == _frame("add", {"a": 1, "b": 2}, to="server")
    assert probe_reply is package.ProbeAckMessage
    assert json.loads(probe.to_json()) == _frame("probe", {}, to="server")
    (sent,) = recorder.sent
    # A `both` event goes to the server unless told otherwise.
    assert json.loads(sent.to_json()) == _frame("probe_ack", {"token": "abc"}, to="server")

    echo = shared_packages["echo"].module
    back = echo.create_message("echo_back", "hi")
    echo_client = echo.Client()
    echo_recorder = _Recorder(echo_client, {echo.EchoBackMessage: back})
    assert await echo_client.echo("hi") is back
    assert json.loads(echo_recorder.requests[0][0].to_json()) == _frame(
        "echo", {"text": "hi"}, to="server"
    )


@pytest.mark.parametrize("case", CASES)
def test_handlers_register_on_the_side_that_receives_the_event(
    case: str, shared_packages: dict[str, Generated]
) -> None:
    package = shared_packages[case].module

    async def handler(message: Any) -> None:
        return None

    for name, expected in CASE_SPECS[case].events.items():
        for side, allowed in (
            (HandlerType.SERVER, expected.direction != "server_to_client"),
            (HandlerType.CLIENT, expected.direction != "client_to_server"),
        ):
            registry = Registry()
            if allowed:
                package.websocket_handler(name, side, registry=registry)(handler)
                assert list(registry) == [(name, side)]
            else:
                with pytest.raises(RegistrationError, match=name):
                    package.websocket_handler(name, side, registry=registry)
                assert len(registry) == 0


def test_servicer_registers_what_it_overrides(shared_packages: dict[str, Generated]) -> None:
    package = shared_packages["reply"].module

    class Adder(package.Servicer):  # type: ignore[name-defined,misc]
        async def add(self, message: Any, ctx: Any) -> Any:
            return None

    registry = Adder().registry()
    assert list(registry) == [("add", HandlerType.SERVER)]


# -- where models and schema could drift apart: null for an optional field, wire names -------


def test_optional_property_that_is_not_nullable_refuses_null(
    shared_packages: dict[str, Generated],
) -> None:
    package = shared_packages["nested"].module
    frame = _shape(sides=None)
    assert not _schema_validator(package).is_valid(frame)
    with pytest.raises(MessageValidationError) as info:
        package.PROTOCOL.parse(json.dumps(frame))
    _assert_rejected(info.value, ["$.payload.sides"])


def test_property_that_is_not_an_identifier_round_trips(
    tmp_path: Path, generate_package: GenerateFn
) -> None:
    schema = tmp_path / "schema"
    (schema / "events").mkdir(parents=True)
    (schema / "envelope.schema.json").write_bytes(
        (PROJECT_SCHEMA / "envelope.schema.json").read_bytes()
    )
    (schema / "events" / "move.schema.json").write_text(
        json.dumps(
            {
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "x-datadivr": {"event": "move", "direction": "client_to_server"},
                "type": "object",
                "properties": {"from": {"type": "string"}, "scene-id": {"type": "string"}},
                "required": ["from"],
                "additionalProperties": False,
            }
        )
    )
    package = generate_package(schema, "alias").module
    frame = _frame("move", {"from": "a", "scene-id": "s"})
    message = package.PROTOCOL.parse(json.dumps(frame))
    assert json.loads(message.to_json()) == frame
    assert package.PROTOCOL.parse(message.to_json()) == message
