"""Message factories: create_message and create_error_message."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from pydantic import ValidationError

from datadivr import MessageValidationError, ProtocolError, Violation, create_error_message
from datadivr.demo import (
    PROTOCOL,
    ErrorMessage,
    MsgMessage,
    PingMessage,
    PingPayload,
    SumEventMessage,
    SumEventPayload,
    create_message,
)


def test_create_message_with_a_payload_model() -> None:
    message = create_message("sum_event", SumEventPayload(numbers=[1, 2]), "server", id="q1")
    assert isinstance(message, SumEventMessage)
    assert json.loads(message.to_json()) == {
        "event_name": "sum_event",
        "payload": {"numbers": [1.0, 2.0]},
        "to": "server",
        "id": "q1",
    }


def test_create_message_with_plain_data_validates_as_json_does() -> None:
    message = create_message("ping", {"sent_at": "2026-01-01T00:00:00Z"})
    assert isinstance(message, PingMessage)
    assert message.payload.sent_at == datetime(2026, 1, 1, tzinfo=timezone.utc)
    with pytest.raises(MessageValidationError) as info:
        create_message("sum_event", {"numbers": ["1"]})
    assert info.value.details[0].path == "$.payload.numbers[0]"


def test_create_message_text_events() -> None:
    message = create_message("msg", message="hello", to="all")
    assert isinstance(message, MsgMessage)
    assert message.to_json() == '{"event_name":"msg","to":"all","message":"hello"}'
    with pytest.raises(MessageValidationError):
        create_message("msg")


def test_create_message_unknown_event() -> None:
    with pytest.raises(ProtocolError) as info:
        create_message("nope", None)  # type: ignore[call-overload]
    assert info.value.code == "unknown_event"


def test_unset_fields_stay_off_the_wire_and_event_name_always_on() -> None:
    ping = PingMessage(payload=PingPayload(sent_at=datetime(2026, 1, 1, tzinfo=timezone.utc)))
    assert json.loads(ping.to_json()) == {
        "event_name": "ping",
        "payload": {"sent_at": "2026-01-01T00:00:00Z"},
    }
    assert PROTOCOL.parse(ping.to_json()) == ping


def test_create_error_message() -> None:
    error = create_error_message(
        "bad input",
        "client-1",
        code="validation_error",
        event_name="sum_event",
        details=[Violation("$.payload.numbers[0]", "not a number", "type")],
        reply_to="q1",
    )
    assert isinstance(error, ErrorMessage)
    data = json.loads(error.to_json())
    assert data["payload"] == {
        "code": "validation_error",
        "event_name": "sum_event",
        "details": [{"path": "$.payload.numbers[0]", "reason": "not a number", "kind": "type"}],
    }
    assert (data["to"], data["reply_to"], data["message"]) == ("client-1", "q1", "bad input")
    assert PROTOCOL.parse(error.to_json()) == error
    with pytest.raises(ValidationError):
        create_error_message("x", code="not_a_code")


def test_models_are_strict() -> None:
    with pytest.raises(ValidationError):
        SumEventPayload.model_validate({"numbers": ["1"]})
    with pytest.raises(ValidationError):
        SumEventPayload.model_validate({"numbers": [True]})
    with pytest.raises(ValidationError):
        SumEventPayload.model_validate({"numbers": [float("inf")]})
    with pytest.raises(ValidationError):
        SumEventPayload.model_validate({"numbers": [1], "extra": 1})


def test_build_message_is_a_deprecated_name_of_create_message() -> None:
    from datadivr import runtime

    with pytest.warns(DeprecationWarning, match="build_message is deprecated: use create_message"):
        message = runtime.build_message(PROTOCOL, "msg", message="hi", to="all")
    assert message == runtime.create_message(PROTOCOL, "msg", message="hi", to="all")
    assert runtime.build_message.__name__ == "build_message"
