"""Describe a :class:`~datadivr_codegen.schema.SchemaSet` as an AsyncAPI 3.0.0 document.

The document, published as ``asyncapi.json`` next to ``schema.json``, is built from the same
bundle (:func:`~datadivr_codegen.bundle.protocol_bundle`):

- one channel, ``ws`` (address ``/ws``), that carries every message;
- one message per event, keyed by the event name, whose payload is the whole message (the
  envelope with that event's ``event_name`` and payload), a ``$ref`` into
  ``components.schemas``, and the bundle's example of it;
- ``components.schemas``: every ``$defs`` entry of the bundle, with references rewritten
  from ``#/$defs/X`` to ``#/components/schemas/X``;
- operations from the server application's side: ``receive_<event>`` for what clients send,
  ``send_<event>`` for what the server sends (its own messages and those it relays), with the
  event's reply, if any, as the operation's ``reply``.

AsyncAPI Schema objects are a superset of JSON Schema draft-07; the generator accepts only
keywords that mean the same in draft-07 and draft 2020-12 (no ``prefixItems``,
``unevaluated*``, ``$dynamicRef``…, and ``$ref`` with annotations only beside it), so the
schemas are copied as they are.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from datadivr_codegen.bundle import protocol_bundle
from datadivr_codegen.schema import EventDef, SchemaSet
from datadivr_codegen.terms import Direction

__all__ = ["ASYNCAPI_VERSION", "CHANNEL", "CHANNEL_ADDRESS", "asyncapi_document", "operation_id"]

ASYNCAPI_VERSION = "3.0.0"
#: The one channel of the document: the WebSocket endpoint.
CHANNEL = "ws"
CHANNEL_ADDRESS = "/ws"
CONTENT_TYPE = "application/json"

_DEFS = "#/$defs/"
_SCHEMAS = "#/components/schemas/"
#: Keywords whose values are data, not schemas: a ``$ref`` key inside them is not a reference.
_DATA_KEYWORDS = frozenset({"const", "enum", "default", "examples"})
#: The end of a description's first sentence: a full stop, then a capital or a code span.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z`])")

_DESCRIPTION = """\
Every message of the protocol travels over one WebSocket, at `/ws`, as a JSON text frame: the \
envelope (`event_name`, `payload`, `to`, `from_id`, `message`, `id`, `reply_to`) whose \
`event_name` selects the payload's schema.

The operations are the server application's: it *receives* what clients send and *sends* its \
own messages and those it relays. A client-to-client event is received from its sender and \
sent to the recipients named in `to` (`all`, `others`, or one client id), with `from_id` set \
to the sender's id, unless a server handler takes it.

A request carries an `id`; its reply carries that id in `reply_to`. Any message the server \
refuses is answered with `error`, whose `reply_to` is the refused message's `id`."""

_RECEIVE = {
    Direction.CLIENT_TO_SERVER: "A client sends `{event}` to the server, which handles it.",
    Direction.CLIENT_TO_CLIENT: (
        "A client sends `{event}`; the server handles it, or relays it to the recipients named"
        " in `to`."
    ),
    Direction.BOTH: (
        "A client sends `{event}`; the server handles it, or relays it to the recipients named"
        " in `to`."
    ),
}
_SEND = {
    Direction.SERVER_TO_CLIENT: "The server sends `{event}` to a client.",
    Direction.CLIENT_TO_CLIENT: (
        "The server delivers `{event}` relayed from the client named in `from_id` (or sends"
        " its own)."
    ),
    Direction.BOTH: (
        "The server sends `{event}` to a client: its own, or relayed from the client named in"
        " `from_id`."
    ),
}
_CORRELATION = {
    "request": {
        "description": "The request's `id`; its reply carries it in `reply_to`.",
        "location": "$message.payload#/id",
    },
    "reply": {
        "description": "The `id` of the request this message answers.",
        "location": "$message.payload#/reply_to",
    },
}


def operation_id(action: str, event: str) -> str:
    """The key of the operation that sends or receives ``event`` (``action`` is either)."""
    return f"{action}_{event}"


def asyncapi_document(schemas: SchemaSet, bundle: dict[str, Any] | None = None) -> dict[str, Any]:
    """The protocol as an AsyncAPI 3.0.0 document.

    Args:
        schemas: The checked schema folder.
        bundle: Its :func:`~datadivr_codegen.bundle.protocol_bundle`, when already built.
    """
    if bundle is None:
        bundle = protocol_bundle(schemas)
    replies = {event.reply for event in schemas.events if event.reply is not None}
    messages = {
        event.name: _message(event, replies, bundle["$defs"][event.message_class])
        for event in schemas.events
    }
    operations: dict[str, Any] = {}
    for event in schemas.events:
        operations.update(_operations(event, schemas))
    components: dict[str, Any] = {
        "schemas": {name: _rewrite_refs(schema) for name, schema in bundle["$defs"].items()},
        "messages": messages,
    }
    used = {
        message["correlationId"]["$ref"].rpartition("/")[2]
        for message in messages.values()
        if "correlationId" in message
    }
    if used:
        components["correlationIds"] = {k: v for k, v in _CORRELATION.items() if k in used}
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "datadivr protocol",
            "version": schemas.digest,
            "description": _DESCRIPTION,
        },
        "defaultContentType": CONTENT_TYPE,
        "channels": {
            CHANNEL: {
                "address": CHANNEL_ADDRESS,
                "title": "WebSocket",
                "description": "The WebSocket connection: every message, in both directions.",
                "messages": {
                    event.name: {"$ref": f"#/components/messages/{event.name}"}
                    for event in schemas.events
                },
                "bindings": {"ws": {"method": "GET", "bindingVersion": "0.1.0"}},
            }
        },
        "operations": operations,
        "components": components,
        "x-datadivr": {"schema_hash": schemas.digest},
    }


def _message(event: EventDef, replies: set[str], schema: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = {"name": event.name, "title": event.message_class}
    if event.description:
        message["summary"] = _first_sentence(event.description)
        message["description"] = event.description
    message["payload"] = {"$ref": _SCHEMAS + event.message_class}
    message["examples"] = [
        {"name": f"{event.name}_example", "payload": copy.deepcopy(example)}
        for example in schema.get("examples", ())
    ]
    if event.reply is not None:
        message["correlationId"] = {"$ref": "#/components/correlationIds/request"}
    elif event.name in replies:
        message["correlationId"] = {"$ref": "#/components/correlationIds/reply"}
    message["x-datadivr"] = {
        "event": event.name,
        "direction": event.direction.value,
        "reply": event.reply,
        "message": event.message_text.value,
        "payload": _SCHEMAS + event.payload_class,
    }
    return message


def _operations(event: EventDef, schemas: SchemaSet) -> dict[str, Any]:
    """The server's operations on ``event``: ``receive`` if clients send it, ``send`` if the
    server sends or relays it; each with the reply the other side may answer with."""
    reply = schemas.event(event.reply) if event.reply is not None else None
    operations: dict[str, Any] = {}
    if event.direction.client_may_send:
        # The server (or, relayed, another client) answers: the reply reaches the client.
        operations[operation_id("receive", event.name)] = _operation(
            "receive",
            event,
            _RECEIVE[event.direction],
            reply if reply is not None and reply.direction.server_may_send else None,
        )
    if event.direction.server_may_send:
        operations[operation_id("send", event.name)] = _operation(
            "send",
            event,
            _SEND[event.direction],
            reply if reply is not None and reply.direction.client_may_answer else None,
        )
    return operations


def _operation(
    action: str, event: EventDef, summary: str, reply: EventDef | None
) -> dict[str, Any]:
    channel = f"#/channels/{CHANNEL}"
    operation: dict[str, Any] = {
        "action": action,
        "channel": {"$ref": channel},
        "summary": summary.format(event=event.name),
        "messages": [{"$ref": f"{channel}/messages/{event.name}"}],
    }
    if reply is not None:
        operation["reply"] = {
            "channel": {"$ref": channel},
            "messages": [{"$ref": f"{channel}/messages/{reply.name}"}],
        }
    return operation


def _first_sentence(text: str) -> str:
    return _SENTENCE_END.split(text.strip(), maxsplit=1)[0]


def _rewrite_refs(schema: Any) -> Any:
    """A copy of ``schema`` whose ``#/$defs/X`` references point to ``components.schemas``."""
    if isinstance(schema, list):
        return [_rewrite_refs(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "$ref" and isinstance(value, str) and value.startswith(_DEFS):
            out[key] = _SCHEMAS + value[len(_DEFS) :]
        elif key in _DATA_KEYWORDS or key.startswith("x-"):
            out[key] = copy.deepcopy(value)
        elif key == "properties" and isinstance(value, dict):
            # Property names are not keywords: a property called "$ref" or "const" is a schema.
            out[key] = {name: _rewrite_refs(prop) for name, prop in value.items()}
        else:
            out[key] = _rewrite_refs(value)
    return out
