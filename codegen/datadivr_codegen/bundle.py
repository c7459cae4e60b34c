"""Turn a :class:`~datadivr_codegen.schema.SchemaSet` into self-contained JSON Schema documents.

Two bundles come out of one schema set:

- :func:`model_bundle`, the input of datamodel-code-generator: the envelope at the root, and
  under ``$defs`` every shared definition, payload and message (each message ``allOf`` the root).
- :func:`protocol_bundle`, the published ``schema.json``: one draft 2020-12 schema that accepts
  exactly the protocol's messages, discriminated by ``event_name``, with no external ``$ref``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from datadivr.compat._fingerprint import fingerprint
from datadivr_codegen.checks import accepts_null_exactly
from datadivr_codegen.examples import example_messages
from datadivr_codegen.runtime_api import runtime_name
from datadivr_codegen.schema import EventDef, SchemaSet, accepts_null
from datadivr_codegen.terms import MessageText

__all__ = ["DRAFT", "MESSAGE_BASE", "NOT_NULL", "model_bundle", "protocol_bundle"]

DRAFT = "https://json-schema.org/draft/2020-12/schema"
#: The runtime class every generated message inherits, through the generated ``Envelope``.
MESSAGE_BASE = runtime_name("MessageBase")
#: Marks, for datamodel-code-generator, an optional property whose schema refuses ``null``: the
#: model types it ``T | None = None`` (absent), and the generator makes it refuse an explicit null.
NOT_NULL = "x-datadivr-not-null"


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


def _add_event_defs(
    defs: dict[str, Any],
    schemas: SchemaSet,
    message_schema: Callable[[dict[str, Any], list[str]], dict[str, Any]],
) -> None:
    """Add each event's payload and message definitions to ``defs``; ``message_schema`` makes
    a message's schema (after its title and description) from its properties and required
    names, which each bundle joins to the envelope its own way."""
    for event in schemas.events:
        defs[event.payload_class] = copy.deepcopy(event.payload_schema)
        properties, required = _message_properties(event)
        defs[event.message_class] = {
            "title": event.message_class,
            "description": event.description,
            **message_schema(properties, required),
        }


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
    # The envelope's properties are repeated beside it, so that each model has them as fields.
    _add_event_defs(
        defs,
        schemas,
        lambda properties, required: {
            "allOf": [{"$ref": "#"}],
            "type": "object",
            "properties": properties,
            "required": required,
        },
    )
    root["$defs"] = defs
    _mark_not_null(root, defs)
    return root


def _mark_not_null(schema: Any, defs: dict[str, Any]) -> None:
    """Mark every optional property that refuses ``null`` with :data:`NOT_NULL`, in place (a
    ``false`` one replaced by ``{"not": {}}``, which can carry the mark)."""
    if isinstance(schema, list):
        for item in schema:
            _mark_not_null(item, defs)
        return
    if not isinstance(schema, dict):
        return
    properties = schema.get("properties")
    if isinstance(properties, dict):
        required = set(schema.get("required", ()))
        for name, prop in properties.items():
            if prop is False and name not in required:
                # A boolean takes no mark: the schema that means the same does (the check's
                # pointer is still that of the published false).
                properties[name] = {"not": {}, NOT_NULL: True}
            elif (
                name not in required
                and isinstance(prop, dict)
                and prop.get("default") is None  # with a default, the field is typed T already
                and not (accepts_null(prop, defs) and accepts_null_exactly(prop, defs))
            ):
                prop[NOT_NULL] = True
    for key, value in schema.items():
        if key != "const":
            _mark_not_null(value, defs)


def protocol_bundle(schemas: SchemaSet) -> dict[str, Any]:
    """The whole protocol as one self-contained schema, as published in ``schema.json``; each
    message's ``examples`` holds its :func:`~datadivr_codegen.examples.example_messages` entry.

    Raises:
        SchemaError: an event's example is not valid, or none can be made.
    """
    defs: dict[str, Any] = {"Envelope": copy.deepcopy(schemas.envelope)}
    defs["Envelope"]["title"] = "Envelope"
    defs.update(copy.deepcopy(schemas.definitions))
    _add_event_defs(
        defs,
        schemas,
        lambda properties, required: {
            # The message and its branch repeat the envelope's type: strict validators (Ajv's
            # strictTypes) refuse properties and required where no type says they apply to
            # objects, and tools that walk typed schemas only (AsyncAPI's) see an object.
            "type": "object",
            "allOf": [
                {"$ref": "#/$defs/Envelope"},
                {"type": "object", "properties": properties, "required": required},
            ],
        },
    )
    info: dict[str, Any] = {
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
    }
    bundle = {
        "$schema": DRAFT,
        "title": "Protocol",
        "description": "Every message of the protocol, selected by its 'event_name'.",
        "type": "object",
        "required": ["event_name"],
        "properties": {"event_name": {"enum": [event.name for event in schemas.events]}},
        "oneOf": [{"$ref": f"#/$defs/{event.message_class}"} for event in schemas.events],
        "x-datadivr": info,
        "$defs": defs,
    }
    # Each message's example, checked against the bundle it joins.
    for name, example in example_messages(schemas, bundle).items():
        defs[schemas.event(name).message_class]["examples"] = [example]
    # What peers compare to tell whether they still understand each other (the server's
    # welcome carries it); it reads only the events and their schemas.
    info["fingerprint"] = fingerprint(bundle)
    return bundle
