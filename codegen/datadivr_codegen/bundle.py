"""Turn a :class:`~datadivr_codegen.schema.SchemaSet` into self-contained JSON Schema documents.

Two bundles come out of one schema set:

- :func:`model_bundle`, the input of datamodel-code-generator: the envelope at the root, and
  under ``$defs`` every shared definition, payload and message (each message ``allOf`` the root).
- :func:`protocol_bundle`, the published ``schema.json``: one draft 2020-12 schema that accepts
  exactly the protocol's messages, discriminated by ``event_name``, with no external ``$ref``.
"""

from __future__ import annotations

import copy
from typing import Any

from datadivr_codegen.errors import MessageText
from datadivr_codegen.schema import EventDef, SchemaSet

__all__ = ["DRAFT", "MESSAGE_BASE", "model_bundle", "protocol_bundle"]

DRAFT = "https://json-schema.org/draft/2020-12/schema"
#: The runtime class every generated message inherits, through the generated ``Envelope``.
MESSAGE_BASE = "datadivr._message.MessageBase"


def _message_properties(event: EventDef) -> tuple[dict[str, Any], list[str]]:
    properties: dict[str, Any] = {
        "event_name": {"const": event.name},
        "payload": {"$ref": f"#/$defs/{event.payload_class}"},
    }
    required = ["event_name"]
    if not event.payload_nullable:
        required.append("payload")
    if event.message_text is MessageText.REQUIRED:
        properties["message"] = {"type": "string"}
        required.append("message")
    return properties, required


def model_bundle(schemas: SchemaSet) -> dict[str, Any]:
    """The single document datamodel-code-generator reads."""
    root = copy.deepcopy(schemas.envelope)
    root["title"] = "Envelope"
    # Each message narrows event_name to a literal; the envelope's own constraints on it would
    # be merged into that literal, where pydantic cannot discriminate on it.
    event_name = root["properties"]["event_name"]
    root["properties"]["event_name"] = {
        key: event_name[key] for key in ("type", "description") if key in event_name
    }
    root["customBasePath"] = MESSAGE_BASE
    defs: dict[str, Any] = copy.deepcopy(schemas.definitions)
    for event in schemas.events:
        defs[event.payload_class] = copy.deepcopy(event.payload_schema)
        properties, required = _message_properties(event)
        defs[event.message_class] = {
            "title": event.message_class,
            "description": event.description,
            "allOf": [{"$ref": "#"}],
            "type": "object",
            "properties": properties,
            "required": required,
        }
    root["$defs"] = defs
    return root


def protocol_bundle(schemas: SchemaSet) -> dict[str, Any]:
    """The whole protocol as one self-contained schema, as published in ``schema.json``."""
    defs: dict[str, Any] = {"Envelope": copy.deepcopy(schemas.envelope)}
    defs["Envelope"]["title"] = "Envelope"
    defs.update(copy.deepcopy(schemas.definitions))
    for event in schemas.events:
        defs[event.payload_class] = copy.deepcopy(event.payload_schema)
        properties, required = _message_properties(event)
        defs[event.message_class] = {
            "title": event.message_class,
            "description": event.description,
            "allOf": [
                {"$ref": "#/$defs/Envelope"},
                {"properties": properties, "required": required},
            ],
        }
    return {
        "$schema": DRAFT,
        "title": "Protocol",
        "description": "Every message of the protocol, selected by its 'event_name'.",
        "type": "object",
        "required": ["event_name"],
        "properties": {"event_name": {"enum": [event.name for event in schemas.events]}},
        "oneOf": [{"$ref": f"#/$defs/{event.message_class}"} for event in schemas.events],
        "x-datadivr": {
            "schema_hash": schemas.digest,
            "events": {
                event.name: {
                    "direction": event.direction.value,
                    "reply": event.reply,
                    "message": event.message_text.value,
                    "schema": f"#/$defs/{event.message_class}",
                    "payload": f"#/$defs/{event.payload_class}",
                }
                for event in schemas.events
            },
        },
        "$defs": defs,
    }
