"""The protocol reference: one Markdown page, ``protocol.md``, generated with the code.

One section per event (its direction, reply, ``message`` text, payload table and a valid
example message), then the envelope and every shared definition. Headings are prefixed
(``Event `sum_event```, ``Definition `Vector3```) so that an event and a definition never share
an anchor; the page renders the same in MkDocs and on a code host.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterator, Mapping
from typing import Any

from datadivr_codegen.keywords import json_type
from datadivr_codegen.schema import EventDef, SchemaSet
from datadivr_codegen.terms import Direction, MessageText

__all__ = ["event_anchor", "protocol_reference"]

_DEFS = "#/$defs/"

_DIRECTIONS = {
    Direction.CLIENT_TO_SERVER: (
        "client → server",
        "clients send it; the server handles it and never relays it.",
    ),
    Direction.SERVER_TO_CLIENT: (
        "server → client",
        "the server sends it; a client that sends it is refused with `wrong_direction`.",
    ),
    Direction.CLIENT_TO_CLIENT: (
        "client → client",
        "clients send it to the recipients named in `to` (`all`, `others` or a client id); "
        "the server relays it with `from_id` set, unless a server handler takes it.",
    ),
    Direction.BOTH: (
        "both ways",
        "clients and the server send it; from a client, the server handles it or relays it "
        "to the recipients named in `to`.",
    ),
    Direction.CLIENT_REPLY: (
        "client → server, as a reply",
        "a client sends it only to answer the server's request (its `reply_to` is the "
        "request's `id`); sent otherwise, it is refused with `wrong_direction`.",
    ),
}


def event_anchor(name: str) -> str:
    """The anchor of an event's section (``sum_event`` → ``event-sum_event``)."""
    return f"event-{name}"


def _definition_anchor(name: str) -> str:
    return f"definition-{name.lower()}"


def protocol_reference(
    schemas: SchemaSet, examples: Mapping[str, Mapping[str, Any] | None], header: str
) -> str:
    """The reference page of ``schemas``.

    Args:
        schemas: The checked schema folder.
        examples: A valid example message by event name (``None``: the event has none).
        header: The generated-file header, as a Markdown comment.
    """
    lines = [header.rstrip("\n"), "", "# Protocol reference", ""]
    lines += [
        f"The {len(schemas.events)} events of the protocol, generated from its schema files "
        f"(schema hash `{schemas.digest}`). Every message is a JSON object, the "
        "[envelope](#envelope), whose `event_name` names the event and selects the schema of "
        "its `payload`.",
        "",
        "| Event | Direction | Reply | `message` text |",
        "| --- | --- | --- | --- |",
    ]
    for event in schemas.events:
        lines.append(
            f"| {_event_link(event.name)} | {_DIRECTIONS[event.direction][0]} | "
            f"{_event_link(event.reply) if event.reply else '—'} | {event.message_text.value} |"
        )
    replied: dict[str, list[str]] = {}
    for e in schemas.events:
        if e.reply is not None:
            replied.setdefault(e.reply, []).append(e.name)
    for event in schemas.events:
        lines += ["", *_event_section(event, schemas, examples[event.name], replied)]
    lines += ["", "## Envelope", ""]
    lines += _paragraph(schemas.envelope.get("description"))
    lines += _table(_Fields(schemas).rows(schemas.envelope))
    if schemas.definitions:
        lines += ["", "## Definitions", ""]
        lines += ["The shared schemas that payloads refer to."]
        for name, schema in schemas.definitions.items():
            lines += ["", f"### Definition `{name}`", ""]
            lines += _paragraph(schema.get("description"))
            lines += _body(schema, schemas)
    return "\n".join(lines) + "\n"


def _event_link(name: str) -> str:
    return f"[`{name}`](#{event_anchor(name)})"


def _event_section(
    event: EventDef,
    schemas: SchemaSet,
    example: Mapping[str, Any] | None,
    replied: Mapping[str, list[str]],
) -> list[str]:
    short, long = _DIRECTIONS[event.direction]
    lines = [f"## Event `{event.name}`", ""]
    lines += _paragraph(event.description)
    facts = [
        f"- **Direction:** {short}: {long}",
        f"- **Reply:** {_event_link(event.reply) if event.reply else 'none'}",
    ]
    if event.name in replied:
        facts.append(f"- **Answers:** {', '.join(map(_event_link, replied[event.name]))}")
    facts.append(
        "- **`message` text:** "
        + ("required" if event.message_text is MessageText.REQUIRED else "optional")
    )
    facts.append(
        f"- **Schema:** `{event.file}`; the whole message is `#/$defs/{event.message_class}` "
        "of the bundled schema"
    )
    lines += [*facts, "", f"### Payload `{event.payload_class}`", ""]
    if event.payload_schema.get("type") == "null":
        lines.append("None: the payload is `null` or left out.")
    else:
        if event.payload_nullable:
            lines += ["The payload may be left out or `null`.", ""]
        lines += _body(event.payload_schema, schemas)
    if example is None:
        return lines
    return [*lines, "", "### Example", "", "```json", _pretty(example), "```"]


def _pretty(value: Any, indent: str = "") -> str:
    """JSON, indented, with arrays and objects of scalars on one line when they are short."""
    flat = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    scalars = isinstance(value, list) and not any(isinstance(v, (list, dict)) for v in value)
    scalars = scalars or (
        isinstance(value, dict) and not any(isinstance(v, (list, dict)) for v in value.values())
    )
    short = scalars and indent and len(indent) + len(flat) <= 72
    if not isinstance(value, (list, dict)) or short:
        if isinstance(value, dict) and value:
            return "{ " + flat[1:-1] + " }"
        return flat
    inner = indent + "  "
    if isinstance(value, list):
        items = [inner + _pretty(v, inner) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + indent + "]"
    members = [f"{inner}{_json(k)}: {_pretty(v, inner)}" for k, v in value.items()]
    return "{\n" + ",\n".join(members) + "\n" + indent + "}"


def _paragraph(text: Any) -> list[str]:
    return [" ".join(str(text).split()), ""] if text else []


def _body(schema: Mapping[str, Any], schemas: SchemaSet) -> list[str]:
    """The table of an object schema's fields, or a sentence for any other schema."""
    fields = _Fields(schemas)
    if _is_object(schema):
        lines = _table(fields.rows(schema))
        extra = schema.get("additionalProperties", True)
        if extra is False:
            lines += ["", "No other fields."]
        elif isinstance(extra, Mapping):
            lines += ["", f"Other fields: {fields.describe(extra)}."]
        else:
            lines += ["", "Other fields are allowed."]
        return lines
    return [f"A {fields.describe(schema)}."]


def _types(schema: Mapping[str, Any]) -> list[Any]:
    kind = schema.get("type")
    return kind if isinstance(kind, list) else [kind]


def _is_object(schema: Mapping[str, Any]) -> bool:
    """Whether the schema has fields to tabulate (an object, maybe nullable)."""
    return "object" in _types(schema) and ("properties" in schema or "allOf" in schema)


def _table(rows: list[tuple[str, str, str, str, str]]) -> list[str]:
    if not rows:
        return ["No fields."]
    lines = [
        "| Field | Type | Required | Constraints | Description |",
        "| --- | --- | --- | --- | --- |",
    ]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|") or "—"


def _code(text: str) -> str:
    """``text`` as inline code that reads the same on the docs site and on a code host, in a
    table cell too: a pipe or a backtick inside it is written as HTML, where a Markdown code
    span would show the escape or end early."""
    if "|" not in text and "`" not in text:
        return f"`{text}`"
    escaped = html.escape(text, quote=False).replace("|", "&#124;").replace("`", "&#96;")
    return f"<code>{escaped}</code>"


def _property_name(name: str) -> str:
    """A property's name as the reference shows it: as it is, or as a JSON string when its
    text would not show it (a control character such as a newline or a tab, which Markdown
    turns into a space; spaces around it; no text at all)."""
    if name and name.isprintable() and name == name.strip():
        return name
    return json.dumps(name)


class _Fields:
    """Turns schemas into table rows and phrases."""

    def __init__(self, schemas: SchemaSet) -> None:
        self.definitions = schemas.definitions

    def rows(
        self, schema: Mapping[str, Any], prefix: str = ""
    ) -> list[tuple[str, str, str, str, str]]:
        properties, required = self.merged(schema)
        rows = []
        for name, prop in properties.items():
            field = f"{prefix}{_property_name(name)}"
            rows.append(
                (
                    _code(field),
                    self.type(prop),
                    "yes" if name in required else "no",
                    "; ".join(self.constraints(prop)),
                    str(prop.get("description", "")) if isinstance(prop, Mapping) else "",
                )
            )
            if not isinstance(prop, Mapping):
                continue  # a boolean schema
            inner = prop.get("items") if "array" in _types(prop) else prop
            if isinstance(inner, Mapping) and _is_object(inner) and "$ref" not in inner:
                rows += self.rows(inner, f"{field}{'[].' if inner is not prop else '.'}")
        return rows

    def merged(self, schema: Mapping[str, Any]) -> tuple[dict[str, Any], set[str]]:
        """An object schema's properties and required names, its ``allOf`` members' included."""
        properties: dict[str, Any] = {}
        required: set[str] = set()
        for member in schema.get("allOf", ()):
            target = self.definitions.get(str(member.get("$ref", "")).removeprefix(_DEFS), {})
            more, needed = self.merged(target)
            properties.update(more)
            required |= needed
        properties.update(schema.get("properties", {}))
        required |= set(schema.get("required", ()))
        return properties, required

    def type(self, schema: Any) -> str:
        if not isinstance(schema, Mapping):
            return "any"
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith(_DEFS):
            name = ref.removeprefix(_DEFS)
            return f"[`{name}`](#{_definition_anchor(name)})"
        if "anyOf" in schema:
            return " or ".join(self.type(branch) for branch in schema["anyOf"])
        kinds = schema.get("type")
        if kinds is None:
            if "const" in schema:
                return json_type(schema["const"])
            if "enum" in schema:
                return " or ".join(dict.fromkeys(json_type(v) for v in schema["enum"]))
            return "object" if "allOf" in schema else "any"
        names = []
        for kind in kinds if isinstance(kinds, list) else [kinds]:
            if kind == "array":
                names.append(f"array of {self.type(schema.get('items'))}")
            elif kind == "object" and isinstance(schema.get("additionalProperties"), Mapping):
                if "properties" not in schema:
                    names.append(f"object of {self.type(schema['additionalProperties'])}")
                else:
                    names.append("object")
            else:
                names.append(str(kind))
        return " or ".join(names)

    def describe(self, schema: Mapping[str, Any]) -> str:
        """A phrase for a non-object schema: its type and constraints."""
        constraints = self.constraints(schema)
        return self.type(schema) + (f" ({'; '.join(constraints)})" if constraints else "")

    def constraints(self, schema: Any) -> list[str]:
        if not isinstance(schema, Mapping):
            return []
        out = list(_constraints(schema))
        items = schema.get("items")
        if "array" in _types(schema) and isinstance(items, Mapping):
            out += [f"each item {c}" for c in _constraints(items)]
        return out


def _constraints(schema: Mapping[str, Any]) -> Iterator[str]:
    if "const" in schema:
        yield f"always {_code(_json(schema['const']))}"
    if "enum" in schema:
        yield "one of " + ", ".join(_code(_json(v)) for v in schema["enum"])
    for key, sign in (
        ("minimum", "≥"),
        ("exclusiveMinimum", ">"),
        ("maximum", "≤"),
        ("exclusiveMaximum", "<"),
    ):
        if key in schema:
            yield f"{sign} {_json(schema[key])}"
    if "multipleOf" in schema:
        yield f"multiple of {_json(schema['multipleOf'])}"
    yield from _range(schema, "minLength", "maxLength", "character")
    yield from _range(schema, "minItems", "maxItems", "item")
    if "pattern" in schema:
        yield f"matches {_code(schema['pattern'])}"
    if "format" in schema:
        yield f"format {_code(schema['format'])}"
    if "default" in schema:
        yield f"default {_code(_json(schema['default']))}"
    if schema.get("deprecated") is True:
        yield "deprecated"


def _range(schema: Mapping[str, Any], low_key: str, high_key: str, unit: str) -> Iterator[str]:
    low, high = schema.get(low_key), schema.get(high_key)
    if low is not None and high is not None:
        yield (
            f"{low}\N{EN DASH}{high} {unit}s"
            if low != high
            else f"exactly {low} {_plural(unit, low)}"
        )
    elif low is not None:
        yield f"at least {low} {_plural(unit, low)}"
    elif high is not None:
        yield f"at most {high} {_plural(unit, high)}"


def _plural(unit: str, count: int) -> str:
    return unit if count == 1 else unit + "s"


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
