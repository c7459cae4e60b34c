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

The payloads are AsyncAPI Schema objects, the document's default schema format, which the
official parser reads: a superset of JSON Schema draft-07. The bundle is draft 2020-12, so
each schema is rewritten by :func:`draft7` into the draft-07 schema that accepts the same
messages: ``prefixItems`` and ``items`` → ``items`` (a list) and ``additionalItems``;
``dependentRequired`` and ``dependentSchemas`` → ``dependencies``; a ``$ref`` with assertions
beside it (which draft-07 ignores) → an ``allOf`` that holds it; ``unevaluatedProperties`` and
``unevaluatedItems`` where nothing but the schema's own keywords evaluates → the
``additional…`` keyword they then mean; ``minContains`` 0 or 1 → what it then means. What has
no draft-07 equivalent (``unevaluated…`` beside applicators, other ``minContains`` and
``maxContains``) is kept: a draft-07 reader ignores it, and accepts more than the protocol.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import Any

from datadivr_codegen.bundle import protocol_bundle
from datadivr_codegen.drafts import LATEST
from datadivr_codegen.schema import EventDef, SchemaSet
from datadivr_codegen.terms import Direction

__all__ = [
    "ASYNCAPI_VERSION",
    "CHANNEL",
    "CHANNEL_ADDRESS",
    "asyncapi_document",
    "draft7",
    "operation_id",
]

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
        "schemas": _component_schemas(bundle["$defs"]),
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
            # What tells two versions of the protocol apart on the wire: equal for protocols
            # that accept the same messages (see datadivr.compat.fingerprint).
            "version": bundle["x-datadivr"]["fingerprint"],
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
        "x-datadivr": {
            "schema_hash": schemas.digest,
            "fingerprint": bundle["x-datadivr"]["fingerprint"],
        },
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


#: Keywords whose value is one subschema, a list of them, or a map of names to them.
_ONE = frozenset(
    {"additionalProperties", "contains", "else", "if", "items", "not", "propertyNames", "then"}
    | {"unevaluatedItems", "unevaluatedProperties", "contentSchema", "additionalItems"}
)
_LIST = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
_MAP = frozenset({"$defs", "definitions", "dependentSchemas", "patternProperties", "properties"})
#: What draft-07 ignores beside a ``$ref``, and which changes what a schema accepts.
_ASSERTIONS = LATEST.assertions - {"$ref"}
#: Keywords that evaluate properties or items of the instance in place, besides a schema's
#: own ``properties``/``items``: with one, ``unevaluated…`` depends on what they evaluate.
_IN_PLACE = frozenset(
    {"$ref", "$dynamicRef", "allOf", "anyOf", "oneOf", "not", "if", "then", "else"}
    | {"dependentSchemas"}
)


def _component_schemas(defs: dict[str, Any]) -> dict[str, Any]:
    """The bundle's definitions as draft-07 ``components.schemas``; a reference into a
    subschema that :func:`draft7` moved (``prefixItems/0`` → ``items/0``) follows it."""
    before = {name: _rewrite_refs(schema) for name, schema in defs.items()}
    moved: dict[int, dict[str, Any]] = {}
    after = {name: draft7(schema, moved) for name, schema in before.items()}
    where = {id(node): pointer for pointer, node in _subschemas(after, _SCHEMAS[:-1])}
    for _, node in _subschemas(after, _SCHEMAS[:-1]):
        ref = node.get("$ref")
        if not (isinstance(ref, str) and ref.startswith(_SCHEMAS)):
            continue
        target: Any = before
        for token in ref[len(_SCHEMAS) :].split("/"):
            token = token.replace("~1", "/").replace("~0", "~")
            if isinstance(target, dict) and token in target:
                target = target[token]
            elif isinstance(target, list) and token.isdigit() and int(token) < len(target):
                target = target[int(token)]
            else:
                break
        else:
            new = moved.get(id(target))
            if new is not None and id(new) in where:
                node["$ref"] = where[id(new)]
    return after


def _subschemas(node: Any, pointer: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every object below ``node`` (data keywords and extensions left out), with its JSON
    pointer below ``pointer``."""
    if isinstance(node, list):
        for i, item in enumerate(node):
            yield from _subschemas(item, f"{pointer}/{i}")
    elif isinstance(node, dict):
        yield pointer, node
        for key, value in node.items():
            if key not in _DATA_KEYWORDS and not key.startswith("x-"):
                token = key.replace("~", "~0").replace("/", "~1")
                yield from _subschemas(value, f"{pointer}/{token}")


def draft7(schema: Any, moved: dict[int, dict[str, Any]] | None = None) -> Any:
    """A draft-07 schema that accepts what the draft 2020-12 ``schema`` accepts, as far as
    draft-07 can say it (see the module's docstring); ``schema`` is not changed.

    Args:
        schema: A draft 2020-12 schema (its references local to the document).
        moved: Filled with each subschema object's ``id`` → the object that replaces it.
    """
    if not isinstance(schema, dict):
        return copy.deepcopy(schema)
    node: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _ONE:
            node[key] = draft7(value, moved)
        elif key in _LIST and isinstance(value, list):
            node[key] = [draft7(item, moved) for item in value]
        elif key in _MAP and isinstance(value, dict):
            node[key] = {name: draft7(item, moved) for name, item in value.items()}
        else:
            node[key] = copy.deepcopy(value)
    node = _converted(node)
    if moved is not None:
        moved[id(schema)] = node
    return node


def _converted(node: dict[str, Any]) -> dict[str, Any]:
    """``node``, whose subschemas are draft-07 already, with its own keywords in draft-07."""
    in_place = bool(_IN_PLACE & node.keys())
    _unevaluated(node, in_place)
    _contains(node)
    if "prefixItems" in node:
        rest = node.pop("items", None)
        node = _renamed(node, "prefixItems", "items")
        if rest is not None:
            node["additionalItems"] = rest
    if "dependentRequired" in node or "dependentSchemas" in node:
        dependencies: dict[str, Any] = {}
        for name, names in node.get("dependentRequired", {}).items():
            dependencies[name] = names
        for name, sub in node.get("dependentSchemas", {}).items():
            # Both for one name: the required names as a schema, beside the schema.
            dependencies[name] = (
                {"allOf": [{"required": dependencies[name]}, sub]} if name in dependencies else sub
            )
        first = "dependentRequired" if "dependentRequired" in node else "dependentSchemas"
        node = _renamed(node, first, "dependencies", dependencies)
        node.pop("dependentRequired", None)
        node.pop("dependentSchemas", None)
    if "$ref" in node and _ASSERTIONS & node.keys():
        ref = {"$ref": node["$ref"]}
        node = _renamed(node, "$ref", "allOf", [ref, *node.get("allOf", [])])
    return node


def _renamed(node: dict[str, Any], old: str, new: str, value: Any = None) -> dict[str, Any]:
    """``node`` with ``old`` replaced by ``new`` in its place (holding ``value``, else the
    old value); a ``new`` that was there already is replaced."""
    out: dict[str, Any] = {}
    for key, item in node.items():
        if key == old:
            out[new] = item if value is None else value
        elif key != new:
            out[key] = item
    return out


def _unevaluated(node: dict[str, Any], in_place: bool) -> None:
    """``unevaluatedProperties``/``unevaluatedItems`` of a schema whose own keywords are all
    that evaluate (``in_place`` false) as the draft-07 keyword they mean, in place."""
    if in_place:
        return
    if "unevaluatedProperties" in node:
        value = node.pop("unevaluatedProperties")
        # additionalProperties evaluates every property that properties and
        # patternProperties leave: nothing is left for unevaluatedProperties then.
        node.setdefault("additionalProperties", value)
    if "unevaluatedItems" in node and "contains" not in node:
        value = node.pop("unevaluatedItems")
        # items (in 2020-12, what follows prefixItems) evaluates every item left.
        node.setdefault("items", value)


def _contains(node: dict[str, Any]) -> None:
    """``minContains`` 1 (what ``contains`` means alone) or 0 (``contains`` asks nothing)
    without ``maxContains``, as draft-07 says it, in place."""
    if "maxContains" in node or node.get("minContains") not in (0, 1):
        return
    if node.pop("minContains") == 0:
        node.pop("contains", None)
