"""The server's HTTP side for third parties: the events, the schema, per-event schemas, and
validation."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import Headers
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from datadivr.core._asyncapi import asyncapi_for
from datadivr.core._protocol import FINGERPRINT_HEADER, Direction, MessageText, Protocol
from datadivr.validation import Report, Validator

__all__ = [
    "MAX_BATCH",
    "TYPESCRIPT_PATH",
    "BodyLimit",
    "EventModel",
    "HealthModel",
    "ReportModel",
    "ValidationResponse",
    "ViolationModel",
    "event_models",
    "schema_router",
]

#: Where the server serves the protocol's TypeScript declarations.
TYPESCRIPT_PATH = "/protocol.d.ts"
#: Their media type: plain text, which browsers show and TypeScript tools (Deno included, by
#: the ``.d.ts`` of the path) read as declarations.
TYPESCRIPT_MEDIA_TYPE = "text/plain"

#: At most this many messages in one ``POST /validate``.
MAX_BATCH = 1000


_EXAMPLE = {"event_name": "sum_event", "payload": {"numbers": [1, 2, 3]}}


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class ViolationModel(_Strict):
    """One reason a message is invalid."""

    path: str = Field(
        description="JSON path of the failing value.", examples=["$.payload.numbers[0]"]
    )
    reason: str = Field(description="What is wrong, in words.")
    kind: str | None = Field(None, description="The failing JSON Schema keyword, e.g. `type`.")


class ReportModel(_Strict):
    """The verdict on one message."""

    valid: bool
    event_name: str | None = Field(description="The message's event, when it names a known one.")
    violations: list[ViolationModel] = Field(
        description="Its violations, at most 100 (the message is not checked past them)."
    )
    truncated: bool = Field(
        False,
        description="Present, and true, when there were more violations than those listed.",
        exclude_if=lambda truncated: not truncated,
    )


class ValidationResponse(_Strict):
    """The verdicts on the messages sent, in order."""

    valid: bool = Field(description="Whether every message is valid.")
    reports: list[ReportModel]


class HealthModel(_Strict):
    """The server is up."""

    status: str = Field(examples=["ok"])
    clients: int = Field(ge=0, description="Connected WebSocket clients.")
    schema_hash: str = Field(description="Hash of the schema files the protocol came from.")
    fingerprint: str = Field(
        description="The protocol's compatibility fingerprint: equal for protocols that accept "
        "the same messages in the same directions.",
        examples=["fp1-e7accfe60a82c90051bcbed30f1c96c5"],
    )
    broker: dict[str, Any] = Field(
        default_factory=lambda: {"kind": "memory"},
        description="The backplane: `kind` (`memory` or `redis`); for Redis also `available`, "
        "this `node`'s id, the other `nodes` with clients and their `remote_clients`.",
    )


class EventModel(_Strict):
    """One event of the protocol, as a client needs to know it."""

    name: str = Field(
        description="The wire name, the message's `event_name`.", examples=["sum_event"]
    )
    direction: Direction = Field(description="Who may send it.")
    reply: str | None = Field(description="The event that answers it, if any.")
    description: str = Field(description="What it is for, from its schema.")
    message_text: MessageText = Field(
        description="Whether the envelope's `message` text is `required` or `optional`."
    )
    schema_path: str = Field(
        serialization_alias="schema",
        description="Where its message's JSON Schema is served.",
        examples=["/schema/events/sum_event"],
    )
    example: dict[str, Any] | None = Field(
        description="A complete valid message of the event (null when the schema has no "
        "examples and none could be made from it).",
        examples=[_EXAMPLE],
    )


class ErrorModel(_Strict):
    """An HTTP error."""

    detail: str


def _report(report: Report) -> ReportModel:
    return ReportModel(
        valid=report.valid,
        event_name=report.event_name,
        violations=[
            ViolationModel(path=v.path, reason=v.reason, kind=v.kind) for v in report.violations
        ],
        truncated=report.truncated,
    )


def event_models(protocol: Protocol) -> list[EventModel]:
    """Every event of ``protocol`` as ``GET /events`` lists it, by name."""
    return [
        EventModel(
            name=spec.name,
            direction=spec.direction,
            reply=spec.reply,
            description=spec.description,
            message_text=spec.message_text,
            schema_path=f"/schema/events/{spec.name}",
            example=None if spec.example is None else dict(spec.example),
        )
        for spec in sorted(protocol.events.values(), key=lambda spec: spec.name)
    ]


#: The OpenAPI description of a response that names the protocol's fingerprint.
_FINGERPRINTED: dict[str, Any] = {
    "headers": {
        FINGERPRINT_HEADER: {
            "description": "The protocol's compatibility fingerprint (as in GET /health).",
            "schema": {"type": "string"},
        }
    }
}


def schema_router(protocol: Protocol, *, token: bool = False) -> APIRouter:
    """Routes: ``GET /events``, ``GET /schema``, ``GET /asyncapi.json``, ``GET /protocol.d.ts``,
    ``GET /schema/events/{event_name}``, ``POST /validate``; ``token``: whether clients must
    present the shared token (the AsyncAPI document then declares how)."""
    router = APIRouter(tags=["schema"])
    validator = Validator(protocol)
    events = event_models(protocol)

    @router.get(
        "/events",
        summary="Every event: who sends it, its reply, its schema and a valid example message",
        response_model=list[EventModel],
        responses={200: _FINGERPRINTED},
    )
    async def get_events(response: Response) -> list[EventModel]:
        response.headers[FINGERPRINT_HEADER] = protocol.fingerprint
        return events

    @router.get(
        "/schema",
        summary="The whole protocol as one self-contained JSON Schema (draft 2020-12)",
        response_model=dict[str, Any],
        responses={200: _FINGERPRINTED},
    )
    async def get_schema(response: Response) -> dict[str, Any]:
        response.headers[FINGERPRINT_HEADER] = protocol.fingerprint
        return protocol.schema

    @router.get(
        "/asyncapi.json",
        summary="The protocol as an AsyncAPI 3.0 document (this server, the /ws channel and its "
        "messages)",
        response_model=dict[str, Any],
    )
    async def get_asyncapi(request: Request) -> dict[str, Any]:
        # The server as this client reached it: the Host it asked for, wss behind https, and
        # the prefix the app is mounted below.
        root = request.scope.get("root_path", "").rstrip("/")
        try:
            scheme = "wss" if request.url.scheme == "https" else "ws"
            url = f"{scheme}://{request.url.netloc}{root}/ws"
            return asyncapi_for(protocol.asyncapi, url, token=token)
        except ValueError:
            # A Host header that makes no URL: the document names no server, rather than
            # a wrong one.
            return protocol.asyncapi

    @router.get(
        TYPESCRIPT_PATH,
        summary="TypeScript declarations of the protocol: a type per message, and the "
        "ClientFrame and ServerFrame unions",
        response_class=PlainTextResponse,
        responses={
            200: {"content": {TYPESCRIPT_MEDIA_TYPE: {"schema": {"type": "string"}}}},
            404: {"model": ErrorModel, "description": "The package has no declarations."},
        },
    )
    async def get_typescript() -> Response:
        try:
            text = protocol.typescript
        except FileNotFoundError:
            raise HTTPException(
                404,
                f"the protocol package {protocol.package!r} has no protocol.d.ts: "
                "regenerate it with a newer datadivr generate",
            ) from None
        return PlainTextResponse(
            text,
            media_type=TYPESCRIPT_MEDIA_TYPE,
            headers={"Content-Disposition": 'inline; filename="protocol.d.ts"'},
        )

    @router.get(
        "/schema/events/{event_name}",
        summary="The self-contained JSON Schema of one event's message",
        response_model=dict[str, Any],
        responses={404: {"model": ErrorModel, "description": "No such event."}},
    )
    async def get_event_schema(event_name: str) -> dict[str, Any]:
        if event_name not in protocol.events:
            raise HTTPException(404, protocol.unknown_event(event_name))
        return protocol.event_schema(event_name)

    @router.post(
        "/validate",
        summary="Validate one message, or a list of messages, against the schema",
        response_model=ValidationResponse,
        responses={400: {"model": ErrorModel, "description": "The body is not UTF-8 text."}},
    )
    async def validate(
        messages: Annotated[
            dict[str, Any] | Annotated[list[Any], Field(max_length=MAX_BATCH)],
            Body(
                description=f"A message (a JSON object), or a list of at most {MAX_BATCH} messages.",
                examples=[_EXAMPLE, [_EXAMPLE, {"event_name": "msg"}]],
            ),
        ],
    ) -> ValidationResponse:
        batch = messages if isinstance(messages, list) else [messages]
        reports = [
            _report(validator.validate(m if isinstance(m, dict) else json.dumps(m))) for m in batch
        ]
        return ValidationResponse(valid=all(r.valid for r in reports), reports=reports)

    return router


class BodyLimit:
    """ASGI middleware: an HTTP request body over ``limit`` bytes gets 413 before the app
    reads any of it, so that no endpoint buffers more (WebSocket traffic passes untouched).

    Args:
        app: The ASGI app to protect.
        limit: The largest body accepted, in bytes.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break  # the client left: let the app see it
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self._refuse(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                message = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return message
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = JSONResponse(
            {"detail": f"the request body is larger than {self.limit} bytes"}, status_code=413
        )
        await response(scope, receive, send)
