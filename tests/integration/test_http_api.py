"""The server's HTTP side: the schema endpoints and POST /validate, by hand and by schemathesis
(in process, over ASGI, with its default checks and negative cases)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from jsonschema import Draft202012Validator

from datadivr import Limits, create_app
from datadivr.core._asyncapi import asyncapi_for
from datadivr.demo import PROTOCOL

app = create_app()
schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_openapi_conformance(case: Any) -> None:
    """No 5xx, every response matches its declared schema, bad requests are refused."""
    case.call_and_validate()


@pytest.fixture
async def http() -> Any:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def test_schema_endpoints(http: httpx.AsyncClient) -> None:
    response = await http.get("/schema")
    assert response.json() == PROTOCOL.schema
    assert response.headers["Datadivr-Fingerprint"] == PROTOCOL.fingerprint
    assert PROTOCOL.fingerprint == PROTOCOL.schema["x-datadivr"]["fingerprint"]
    event = (await http.get("/schema/events/sum_event")).json()
    validator = Draft202012Validator(event)
    assert validator.is_valid({"event_name": "sum_event", "payload": {"numbers": [1]}})
    assert not validator.is_valid({"event_name": "sum_event", "payload": {"numbers": ["1"]}})
    asyncapi = (await http.get("/asyncapi.json")).json()
    assert asyncapi == asyncapi_for(PROTOCOL.asyncapi, "ws://testserver/ws")
    assert asyncapi["asyncapi"].startswith("3.")
    missing = await http.get("/schema/events/nope")
    assert missing.status_code == 404
    assert missing.json()["detail"].startswith(
        "unknown event 'nope' in protocol 'datadivr.demo'; known: error, msg, "
    )


async def test_health_names_the_fingerprint(http: httpx.AsyncClient) -> None:
    health = (await http.get("/health")).json()
    assert health["fingerprint"] == PROTOCOL.fingerprint
    assert health["fingerprint"].startswith("fp1-")


async def test_events(http: httpx.AsyncClient) -> None:
    response = await http.get("/events")
    assert response.headers["Datadivr-Fingerprint"] == PROTOCOL.fingerprint
    events = response.json()
    assert [event["name"] for event in events] == sorted(PROTOCOL.events)
    by_name = {event["name"]: event for event in events}
    assert by_name["sum_event"] == {
        "name": "sum_event",
        "direction": "client_to_server",
        "reply": "sum_handler_result",
        "description": PROTOCOL.events["sum_event"].description,
        "message_text": "optional",
        "schema": "/schema/events/sum_event",
        "example": PROTOCOL.events["sum_event"].example,
    }
    assert by_name["msg"]["direction"] == "client_to_client"
    assert by_name["msg"]["message_text"] == "required"
    assert by_name["ping"]["direction"] == "both"
    assert by_name["welcome"]["direction"] == "server_to_client"
    for event in events:
        # Each example is valid: by the event's own schema, as served, and by the server.
        schema = (await http.get(event["schema"])).json()
        Draft202012Validator(schema).validate(event["example"])
        assert event["example"]["event_name"] == event["name"]
        report = (await http.post("/validate", json=event["example"])).json()
        assert report["valid"], report


async def test_validate_one_and_many(http: httpx.AsyncClient) -> None:
    one = await http.post("/validate", json={"event_name": "msg", "message": "hi"})
    assert one.json() == {
        "valid": True,
        "reports": [{"valid": True, "event_name": "msg", "violations": []}],
    }
    many = await http.post(
        "/validate",
        json=[{"event_name": "sum_event", "payload": {"numbers": ["1"]}}, 5, {"event_name": "msg"}],
    )
    data = many.json()
    assert data["valid"] is False
    assert [r["valid"] for r in data["reports"]] == [False, False, False]
    assert data["reports"][0]["violations"][0]["path"] == "$.payload.numbers[0]"
    assert data["reports"][1]["violations"][0]["kind"] == "type"
    bad = await http.post(
        "/validate", content=b'"just a string"', headers={"content-type": "application/json"}
    )
    assert bad.status_code == 422
    too_many = await http.post("/validate", json=[{}] * 1001)
    assert too_many.status_code == 422


async def test_request_bodies_are_bounded() -> None:
    small = create_app(limits=Limits(max_frame_size=1000))  # bodies up to 4 frames: 4000 bytes
    transport = httpx.ASGITransport(app=small)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        message = {"event_name": "msg", "message": "x" * 3000, "payload": None}
        ok = await client.post("/validate", json=message)
        assert ok.status_code == 200
        assert ok.json()["valid"] is True
        big = {"event_name": "msg", "message": "x" * 5000, "payload": None}
        refused = await client.post("/validate", json=big)
        assert refused.status_code == 413
        assert "4000 bytes" in refused.json()["detail"]

        async def chunks() -> Any:  # no Content-Length: counted as it arrives
            for _ in range(10):
                yield b"x" * 1000

        streamed = await client.post("/validate", content=chunks())
        assert streamed.status_code == 413
