"""The runtime bases of the generated models: what they dump is what goes on the wire."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Annotated, Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from datadivr.core._factories import create_message
from datadivr.core._violations import keyword_of
from datadivr.demo import (
    PROTOCOL,
    ErrorDetail,
    PingMessage,
    PingPayload,
    SceneUpdateMessage,
    SceneUpdatePayload,
    WelcomeMessage,
    WelcomePayload,
)
from datadivr.demo.models import Quaternion, SceneObject, Transform, Vector3
from datadivr.runtime import NotNull, Payload
from datadivr.validation import Validator

from .agreement.strategies import event_schema, from_schema

EVENTS = sorted(PROTOCOL.events)
VALIDATOR = Validator()
STRATEGIES = {
    event: from_schema(event_schema(PROTOCOL.schema, event), PROTOCOL.schema) for event in EVENTS
}


def _shape(value: Any) -> Any:
    """The keys of every object in ``value``, nested, without the values."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shape(item) for item in value]
    return None


def _scene_object(**fields: Any) -> SceneObject:
    return SceneObject(
        id="cube-1",
        kind="cube",
        transform=Transform(
            position=Vector3(x=1, y=2, z=3), rotation=Quaternion(x=0, y=0, z=0, w=1)
        ),
        **fields,
    )


def test_unset_optional_fields_are_left_out() -> None:
    message = WelcomeMessage(payload=WelcomePayload(client_id="c1"))
    wire = '{"event_name":"welcome","payload":{"client_id":"c1"}}'
    assert message.model_dump_json() == wire
    assert message.to_json() == wire
    assert message.model_dump(mode="json") == json.loads(wire)
    assert message.model_dump() == json.loads(wire)
    assert message.payload.model_dump_json() == '{"client_id":"c1"}'
    assert message.payload.model_dump() == {"client_id": "c1"}
    assert VALIDATOR.validate(message.model_dump_json()).valid


def test_nested_models_leave_unset_fields_out_and_keep_python_types() -> None:
    sent_at = datetime(2024, 5, 1, 12, tzinfo=timezone.utc)
    ping = PingMessage(payload=PingPayload(sent_at=sent_at), id="p1")
    assert ping.model_dump() == {"event_name": "ping", "id": "p1", "payload": {"sent_at": sent_at}}
    assert ping.model_dump(mode="json") == {
        "event_name": "ping",
        "id": "p1",
        "payload": {"sent_at": "2024-05-01T12:00:00Z"},
    }


def test_a_field_set_to_null_where_the_schema_allows_it_is_written() -> None:
    update = SceneUpdateMessage(
        payload=SceneUpdatePayload(
            scene_id=UUID(int=1), revision=1, objects=[_scene_object(color=None)]
        )
    )
    data = json.loads(update.model_dump_json())
    assert data["payload"]["objects"][0] == {
        "id": "cube-1",
        "kind": "cube",
        "transform": {
            "position": {"x": 1.0, "y": 2.0, "z": 3.0},
            "rotation": {"x": 0.0, "y": 0.0, "z": 0.0, "w": 1.0},
        },
        "color": None,
    }
    assert VALIDATOR.validate(data).valid
    assert update.model_dump_json() == update.to_json()


def _calls_into_python(schema: Any) -> list[Any]:
    """The Python functions a core schema calls."""
    found = []
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if callable(node.get("function")):
                found.append(node["function"])
            stack.extend(v for k, v in node.items() if k not in ("metadata", "serialization"))
        elif isinstance(node, list):
            stack.extend(node)
    return found


def test_null_for_a_field_that_refuses_it_is_refused_without_python() -> None:
    # label (a string), opacity (a number), scale (a model): each refuses null as its type
    # does, in pydantic-core; the scene's objects call no Python function.
    assert _calls_into_python(SceneObject.__pydantic_core_schema__) == []
    frame = {
        "id": "a",
        "kind": "cube",
        "transform": {
            "position": {"x": 0, "y": 0, "z": 0},
            "rotation": {"x": 0, "y": 0, "z": 0, "w": 1},
            "scale": None,
        },
        "label": None,
        "opacity": None,
    }
    with pytest.raises(ValidationError) as caught:
        SceneObject.model_validate_json(json.dumps(frame))
    assert [(e["loc"], keyword_of(e)) for e in caught.value.errors()] == [
        (("transform", "scale"), "type"),
        (("label",), "type"),
        (("opacity",), "type"),
    ]
    with pytest.raises(ValidationError):
        SceneObject.model_validate({**frame, "transform": _scene_object().transform})


def test_null_refused_by_a_check_where_the_type_would_name_another_keyword() -> None:
    class Node(Payload):
        child: Annotated[Node | None, NotNull] = None  # not built yet: its type is unknown
        either: Annotated[int | str | None, NotNull] = None  # a union: oneOf, not type
        anything: Annotated[Any | None, NotNull] = None  # not nullable: any value is Any

    for name in ("child", "either", "anything"):
        with pytest.raises(ValidationError) as caught:
            Node.model_validate_json(json.dumps({name: None}))
        assert [(e["type"], e["loc"]) for e in caught.value.errors()] == [("not_null", (name,))]
    assert Node.model_validate_json('{"child": {"either": 1}}').child == Node(either=1)
    assert Node().model_dump_json(exclude_unset=False) == (
        '{"child":null,"either":null,"anything":null}'
    )


def test_every_field_on_request() -> None:
    detail = ErrorDetail(path="$", reason="r")
    assert detail.model_dump_json(exclude_unset=False) == '{"path":"$","reason":"r","kind":null}'
    assert detail.model_dump(exclude_unset=False) == {"path": "$", "reason": "r", "kind": None}
    # Other options pass through.
    assert detail.model_dump(include={"path"}) == {"path": "$"}
    assert detail.model_dump_json(indent=1) == '{\n "path": "$",\n "reason": "r"\n}'


@pytest.mark.parametrize("event", EVENTS)
def test_the_examples_dump_as_they_are_sent(event: str) -> None:
    example = PROTOCOL.events[event].example
    message = create_message(
        PROTOCOL,
        event,
        example.get("payload"),
        to=example.get("to"),
        message=example.get("message"),
    )
    assert message.model_dump_json() == message.to_json()
    assert json.loads(message.model_dump_json()) == message.model_dump(mode="json")
    assert VALIDATOR.validate(message.model_dump_json()).valid


@pytest.mark.parametrize("event", EVENTS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_valid_message_dumps_valid_json(event: str, data: st.DataObject) -> None:
    """A message parsed from any valid frame dumps a valid frame with the same keys."""
    instance = data.draw(STRATEGIES[event], label="instance")
    message = PROTOCOL.parse(json.dumps(instance))
    dumped = message.model_dump_json()
    report = VALIDATOR.validate(dumped)
    assert report.valid, [f"{v.path}: {v.reason}" for v in report.violations]
    assert _shape(json.loads(dumped)) == _shape(instance)
    assert json.loads(dumped) == message.model_dump(mode="json")
    assert dumped == message.to_json()
    assert PROTOCOL.parse(dumped) == message
