"""Load a folder of JSON Schema files, check it, and describe it as a :class:`SchemaSet`.

A schema folder holds:

- ``envelope.schema.json``: the envelope every message travels in;
- event files: any ``*.json`` with the ``x-datadivr`` extension keyword, whose root schema is
  the event's payload; every file under ``events/`` must be one;
- definition files: any other ``*.json`` outside ``events/``, whose ``$defs`` event files may
  ``$ref``.

Every failure is a :class:`~datadivr.exceptions.SchemaError` naming the file. Keywords the
generated models could not enforce are refused (:mod:`datadivr_codegen.keywords`).
"""

from __future__ import annotations

import json
import keyword
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datadivr_codegen.checks import accepts_null_exactly
from datadivr_codegen.drafts import normalize
from datadivr_codegen.errors import SchemaError, collect
from datadivr_codegen.freshness import digest as _digest
from datadivr_codegen.freshness import schema_digest
from datadivr_codegen.keywords import check_file, check_reserved
from datadivr_codegen.refs import Index, Place, rewrite
from datadivr_codegen.terms import Direction, MessageText

__all__ = [
    "ENVELOPE_FIELDS",
    "ENVELOPE_FILE",
    "EVENTS_FOLDER",
    "EXTENSION",
    "PACKAGE_NAMES",
    "RESERVED_EVENT_NAMES",
    "EventDef",
    "SchemaSet",
    "accepts_null",
    "handler_names",
    "load_schema_folder",
    "pascal_case",
    "schema_digest",
]

#: The extension keyword that marks a file as an event and describes it.
EXTENSION = "x-datadivr"
#: File name of the envelope schema inside a schema folder.
ENVELOPE_FILE = "envelope.schema.json"
#: The folder (directly under the schema folder) whose every file is an event.
EVENTS_FOLDER = "events"
#: The envelope properties the runtime relies on.
ENVELOPE_FIELDS = ("event_name", "payload", "to", "from_id", "message", "id", "reply_to")
#: Names an event may not take: they would shadow the client's own methods and attributes
#: (``datadivr.runtime.BaseClient``) or the servicer's (``datadivr.runtime.ServicerBase``).
RESERVED_EVENT_NAMES = frozenset(
    {
        "build",
        "build_payload",
        "client_id",
        "close",
        "connect",
        "messages",
        "on",
        "on_connect",
        "on_disconnect",
        "on_incompatible",
        "on_presence",
        "open_timeout",
        "protocol",
        "receive",
        "register_on",
        "registry",
        "request",
        "request_timeout",
        "send",
        "send_raw",
        "state",
        "url",
        "wait_closed",
    }
)
#: Names the generated package defines besides the models; no model may take them.
PACKAGE_NAMES = frozenset(
    {
        "AnyMessage",
        "Client",
        "Envelope",
        "EventName",
        "PROTOCOL",
        "Servicer",
        "create_message",
        "websocket_handler",
    }
)

_EVENT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_DEF_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_EXTENSION_KEYS = frozenset({"event", "direction", "reply", "message"})


def pascal_case(name: str) -> str:
    """``sum_event`` → ``SumEvent``."""
    return "".join(part[:1].upper() + part[1:] for part in name.split("_") if part)


def handler_names(event_name: str) -> tuple[str, str, str]:
    """The handler protocols and the decorator protocol the generated package defines for an
    event: ``MoveHandler``, ``MoveHandlerWithContext``, ``MoveHandlerDecorator`` (their suffixes
    differ, so no two events' names collide)."""
    handler = f"{pascal_case(event_name)}Handler"
    return handler, handler + "WithContext", handler + "Decorator"


@dataclass(frozen=True)
class EventDef:
    """One event, as its schema file declares it.

    Attributes:
        name: The wire name (``event_name``).
        direction: Who may send it.
        reply: The event that answers it, if any.
        message_text: Whether the envelope's ``message`` text is required.
        description: The schema's ``description``.
        file: Path of the schema file, relative to the schema folder.
        payload_schema: The payload schema, with every ``$ref`` pointing into the bundle.
        payload_class: Name of the generated payload model.
        message_class: Name of the generated message model.
        payload_nullable: Whether ``null`` is a valid payload (the payload is then optional).
    """

    name: str
    direction: Direction
    reply: str | None
    message_text: MessageText
    description: str
    file: str
    payload_schema: dict[str, Any]
    payload_class: str
    message_class: str
    payload_nullable: bool


@dataclass(frozen=True)
class SchemaSet:
    """A checked schema folder, ready to generate code from.

    Attributes:
        envelope: The envelope schema, references rewritten.
        definitions: Every shared definition by name, references rewritten to ``#/$defs/…``.
        events: The events, in event-name order.
        digest: ``sha256:`` hash of every file's path and bytes.
        definition_files: The file each definition comes from, by name.
    """

    envelope: dict[str, Any]
    definitions: dict[str, dict[str, Any]]
    events: tuple[EventDef, ...]
    digest: str
    definition_files: dict[str, str] = field(default_factory=dict)

    def event(self, name: str) -> EventDef:
        """The event called ``name``."""
        for event in self.events:
            if event.name == name:
                return event
        raise KeyError(name)


@dataclass
class _File:
    rel: str
    path: Path
    data: dict[str, Any]


def load_schema_folder(root: Path) -> SchemaSet:
    """Read and check every ``*.json`` file below ``root``.

    Raises:
        SchemaError: a file is not JSON, not a valid schema of its draft
            (:mod:`datadivr_codegen.drafts`, which reads every draft as 2020-12), has a bad
            ``x-datadivr`` block or ``$ref``, or names collide.
    """
    root = Path(root)
    if not root.is_dir():
        raise SchemaError("not a directory", root)
    # Every problem of every file is reported at once: each file is read and checked on its
    # own, then each event on its own, and the run stops only where a step needs the last.
    problems = collect()
    files: list[_File] = []
    # The files refused as read, as JSON: what refers to them still finds them.
    refused: list[_File] = []
    for path in sorted(root.rglob("*.json")):
        with problems.each():
            try:
                files.append(_read(root, path))
            except SchemaError:
                raw = _raw(root, path)
                if raw is not None:
                    refused.append(raw)
                raise
    by_path = {f.path.resolve(): f for f in files}
    by_rel = {f.rel: f for f in files}
    envelope_files = [f for f in [*files, *refused] if f.path.name == ENVELOPE_FILE]
    if len(envelope_files) != 1:
        problems.check()
        found = ", ".join(f.rel for f in envelope_files) or "none"
        raise SchemaError(f"exactly one {ENVELOPE_FILE} is needed (found: {found})", root)
    envelope_file = envelope_files[0]
    if envelope_file in refused:
        problems.check()
    with problems.each():
        _check_envelope(envelope_file)
        # The envelope is the runtime's: its models must type it exactly. Any other schema
        # may use every keyword: what the models cannot type, they check (datadivr_codegen.checks).
        check_file(
            envelope_file.data,
            envelope_file.rel,
            lambda ref, rel: _ref_target(ref, by_rel[rel], by_path),
        )
    for f in files:
        with problems.each():
            check_reserved(f.data, f.rel)

    with problems.each():
        rewritten, definitions, origins = _definitions(files, refused)
    problems.check()

    events: dict[str, EventDef] = {}
    for f in files:
        with problems.each():
            _add_event(f, rewritten, definitions, events)
    problems.check()

    if not events:
        raise SchemaError(f"no event schema (a file with an {EXTENSION!r} block)", root)
    _check_replies(events)

    _check_class_names(events.values(), definitions, origins)
    envelope = {
        k: v
        for k, v in rewritten[envelope_file.rel].items()
        if k not in ("$schema", "$id", "$defs")
    }
    return SchemaSet(
        envelope=envelope,
        definitions=dict(sorted(definitions.items())),
        events=tuple(sorted(events.values(), key=lambda e: e.name)),
        digest=_digest(root, [f.path for f in files]),
        definition_files=dict(sorted(origins.items())),
    )


def _add_event(
    f: _File,
    rewritten: Mapping[str, Any],
    definitions: Mapping[str, Any],
    events: dict[str, EventDef],
) -> None:
    """Add the event of ``f`` to ``events``, if ``f`` is an event file.

    Raises:
        SchemaError: a file under ``events/`` is no event, the event is not well defined,
            or its name is taken.
    """
    if EXTENSION not in f.data:
        if f.rel.startswith(EVENTS_FOLDER + "/"):
            raise SchemaError(
                f"a file under {EVENTS_FOLDER}/ must be an event, with an {EXTENSION!r} "
                f'block (e.g. "{EXTENSION}": {{"event": "move", "direction": '
                '"client_to_server"}); shared definitions belong outside '
                f"{EVENTS_FOLDER}/, e.g. in definitions.schema.json next to "
                f"{ENVELOPE_FILE}",
                f.rel,
            )
        return
    event = _event(f, rewritten[f.rel], definitions)
    if event.name in events:
        raise SchemaError(
            f"duplicate event name {event.name!r} (also in {events[event.name].file})", f.rel
        )
    events[event.name] = event


def _payload_class(data: Mapping[str, Any]) -> str | None:
    """The class name of an event file's payload: its ``title``, or the event's name in
    PascalCase followed by ``Payload`` (``None`` for a file that is no event, or whose event
    name is not a name: :func:`_event` refuses it)."""
    ext = data.get(EXTENSION)
    if not isinstance(ext, Mapping):
        return None
    title = data.get("title")
    if isinstance(title, str) and title:
        return title
    name = ext.get("event")
    return f"{pascal_case(name)}Payload" if isinstance(name, str) and name else None


def _class_name(key: str) -> str:
    """A definition's name in the bundle and the models: ``key`` itself when it is an
    identifier, else its words joined in PascalCase (``is-string`` → ``IsString``)."""
    if _DEF_NAME.match(key):
        return key
    words = [w for w in re.split(r"[^A-Za-z0-9]+", key) if w]
    name = "".join(w[:1].upper() + w[1:] for w in words) or "Definition"
    return f"D{name}" if name[0].isdigit() else name


def _stem(rel: str) -> str:
    name = rel.rsplit("/", 1)[-1]
    for suffix in (".schema.json", ".json"):
        name = name.removesuffix(suffix)
    return pascal_case(re.sub(r"[^A-Za-z0-9]+", "_", name))


def _annotations_out(schema: Any) -> Any:
    """``schema`` without its annotations: two definitions that differ only in those are one."""
    if isinstance(schema, list):
        return [_annotations_out(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    return {
        key: value if key in ("const", "enum") else _annotations_out(value)
        for key, value in schema.items()
        if key not in _ANNOTATION_KEYS
    }


_ANNOTATION_KEYS = frozenset(
    {
        "$comment",
        "description",
        "examples",
        "title",
        "default",
        "deprecated",
        "readOnly",
        "writeOnly",
    }
)


def _definitions(
    files: list[_File],
    refused: Sequence[_File] = (),
) -> tuple[dict[str, Any], dict[str, dict[str, Any]], dict[str, str]]:
    """Every file with its ``$ref`` s rewritten as pointers into the bundle, and the shared
    definitions (every file's ``$defs``) and the file of each, by name. The ``refused`` files
    (refused as read, as JSON) are found by what refers to them, and read no further.

    A definition keeps its name, made an identifier if it is not one; two files that define
    one name alike (annotations aside) share it; two that define it differently each get it
    qualified by their file's name (``Hello`` + ``Point``) unless it stays unique.

    Raises:
        SchemaError: a ``$ref`` points to nothing in the folder, or outside what the bundle
            holds (a definition, or an event's payload).
    """
    index = Index({f.rel: f.data for f in [*files, *refused]})
    unread = {f.rel for f in refused}
    payloads = {f.rel: c for f in files if (c := _payload_class(f.data)) is not None}
    keys = [
        (f.rel, key)
        for f in files
        if isinstance(f.data.get("$defs"), dict)
        for key in f.data["$defs"]
    ]
    names = {(rel, key): _class_name(key) for rel, key in keys}
    for _attempt in range(2):
        problems = collect()
        rewritten: dict[str, Any] = {}
        for f in files:
            with problems.each():
                rewritten[f.rel] = rewrite(
                    f.rel, f.data, index, _locator(f.rel, names, payloads, unread)
                )
        problems.check()
        definitions: dict[str, dict[str, Any]] = {}
        origins: dict[str, str] = {}
        clashes: list[tuple[str, str]] = []
        for rel, key in keys:
            name = names[(rel, key)]
            schema = rewritten[rel]["$defs"][key]
            if isinstance(schema, bool):  # the same, as an object schema (which has a title)
                schema = {} if schema else {"not": {}}
            if name in definitions and _annotations_out(definitions[name]) != _annotations_out(
                schema
            ):
                clashes.append((rel, key))
                continue
            definitions.setdefault(name, schema)
            origins.setdefault(name, rel)
        if not clashes:
            return rewritten, definitions, origins
        for rel, key in clashes:
            names[(rel, key)] = _stem(rel) + names[(rel, key)]
    rel, key = clashes[0]
    raise SchemaError(
        f"definition {key!r} is also defined, differently, in {origins[names[(rel, key)]]}",
        rel,
    )


def _locator(
    rel: str,
    names: Mapping[tuple[str, str], str],
    payloads: Mapping[str, str],
    unread: frozenset[str] | set[str] = frozenset(),
) -> Callable[[Place, str], str]:
    def locate(place: Place, ref: str) -> str:
        if place.file in unread:
            return "#"  # a file refused already: its own error says what is wrong
        tokens = place.pointer.split("/")[1:]
        if len(tokens) >= 2 and tokens[0] == "$defs":
            key = tokens[1].replace("~1", "/").replace("~0", "~")
            name = names.get((place.file, key))
            if name is not None:
                rest = "".join(f"/{t}" for t in tokens[2:])
                return f"#/$defs/{name}{rest}"
        payload = payloads.get(place.file)
        if payload is not None:
            return f"#/$defs/{payload}{place.pointer}"
        raise SchemaError(
            f"$ref {ref!r} points into {place.file} at #{place.pointer}, outside its $defs: "
            "only definitions and event payloads can be referred to",
            rel,
        )

    return locate


def _check_replies(events: Mapping[str, EventDef]) -> None:
    """Check each ``reply``: it is defined, and it travels the other way than its request.

    The reply to a request clients send reaches a client; the reply to the server's request
    (an event only the server sends) is a client's answer, best declared ``client_reply``.
    A ``client_reply`` event must answer a request the server sends.

    Raises:
        SchemaError: a reply is undefined or cannot travel back, or a ``client_reply`` event
            answers nothing the server sends.
    """
    answered: set[str] = set()
    for event in events.values():
        if event.reply is None:
            continue
        reply = events.get(event.reply)
        if reply is None:
            raise SchemaError(f"reply event {event.reply!r} is not defined", event.file)
        if event.direction is Direction.SERVER_TO_CLIENT:
            if not reply.direction.client_may_answer:
                raise SchemaError(
                    f"reply event {event.reply!r} is {reply.direction.value}: clients never "
                    f"send it, so they cannot answer {event.name!r} (the server's request) "
                    f"with it; declare it {Direction.CLIENT_REPLY.value!r}",
                    event.file,
                )
            answered.add(reply.name)
        elif not reply.direction.client_may_receive:
            raise SchemaError(
                f"reply event {event.reply!r} is {reply.direction.value}: clients never receive it",
                event.file,
            )
        elif event.direction.server_may_send and reply.direction.client_may_answer:
            answered.add(reply.name)
    for event in events.values():
        if event.direction is Direction.CLIENT_REPLY and event.name not in answered:
            raise SchemaError(
                f"{event.name!r} is {Direction.CLIENT_REPLY.value}: a client sends it only to "
                "answer the server's request, but no event the server sends names it as its "
                'reply (add "reply": "' + event.name + '" to a server_to_client event)',
                event.file,
            )


def _raw(root: Path, path: Path) -> _File | None:
    """The file as JSON, if it is a JSON object, however wrong a schema it is."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return None
    return _File(path.relative_to(root).as_posix(), path, data) if isinstance(data, dict) else None


def _read(root: Path, path: Path) -> _File:
    rel = path.relative_to(root).as_posix()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SchemaError(f"cannot read: {exc}", rel) from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SchemaError(
            f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}", rel
        ) from exc
    if not isinstance(data, dict):
        raise SchemaError("a schema file must hold a JSON object", rel)
    return _File(rel, path, normalize(data, rel))


def _check_envelope(f: _File) -> None:
    properties = f.data.get("properties", {})
    missing = [name for name in ENVELOPE_FIELDS if name not in properties]
    if f.data.get("type") != "object" or missing:
        raise SchemaError(
            "the envelope must be an object schema with the properties "
            + ", ".join(ENVELOPE_FIELDS)
            + (f" (missing: {', '.join(missing)})" if missing else ""),
            f.rel,
        )
    if f.data.get("required") != ["event_name"]:
        raise SchemaError("the envelope must require exactly ['event_name']", f.rel)


def _event(f: _File, data: Mapping[str, Any], definitions: Mapping[str, Any]) -> EventDef:
    ext = f.data[EXTENSION]
    if not isinstance(ext, dict):
        raise SchemaError(f"{EXTENSION} must be an object", f.rel)
    unknown = sorted(set(ext) - _EXTENSION_KEYS)
    if unknown:
        raise SchemaError(
            f"unknown {EXTENSION} key(s) {', '.join(unknown)}; known: "
            + ", ".join(sorted(_EXTENSION_KEYS)),
            f.rel,
        )
    name = ext.get("event")
    if not isinstance(name, str) or not _EVENT_NAME.match(name):
        raise SchemaError(
            f"{EXTENSION}.event must be a name like 'sum_event' (lower case, digits, '_'), got {name!r}",
            f.rel,
        )
    if keyword.iskeyword(name):
        raise SchemaError(
            f"event name {name!r} is reserved: it is a Python keyword, and the generated "
            "client and servicer have a method per event",
            f.rel,
        )
    if name in RESERVED_EVENT_NAMES:
        raise SchemaError(
            f"event name {name!r} is reserved: the generated client and servicer have a method "
            "per event, and one of this name would shadow their own methods and attributes "
            f"(reserved: {', '.join(sorted(RESERVED_EVENT_NAMES))})",
            f.rel,
        )
    raw_direction = ext.get("direction")
    try:
        direction = Direction(raw_direction)
    except ValueError:
        known = ", ".join(d.value for d in Direction)
        raise SchemaError(
            f"unknown direction {raw_direction!r}; use one of: {known}", f.rel
        ) from None
    reply = ext.get("reply")
    if reply is not None and (not isinstance(reply, str) or not _EVENT_NAME.match(reply)):
        raise SchemaError(f"{EXTENSION}.reply must be an event name, got {reply!r}", f.rel)
    raw_text = ext.get("message", MessageText.OPTIONAL.value)
    try:
        message_text = MessageText(raw_text)
    except ValueError:
        known = ", ".join(m.value for m in MessageText)
        raise SchemaError(
            f"{EXTENSION}.message must be one of: {known}, got {raw_text!r}", f.rel
        ) from None

    payload = {k: v for k, v in data.items() if k not in ("$schema", "$id", "$defs", EXTENSION)}
    payload_class = _payload_class(f.data) or f"{pascal_case(name)}Payload"
    payload["title"] = payload_class
    return EventDef(
        name=name,
        direction=direction,
        reply=reply,
        message_text=message_text,
        description=str(f.data.get("description", "")).strip(),
        file=f.rel,
        payload_schema=payload,
        payload_class=payload_class,
        message_class=f"{pascal_case(name)}Message",
        payload_nullable=accepts_null(payload, definitions)
        and accepts_null_exactly(payload, definitions),
    )


def accepts_null(
    schema: Any, definitions: Mapping[str, Any], seen: frozenset[str] = frozenset()
) -> bool:
    """Whether ``schema`` may accept ``null``, following each ``#/$defs/<Name>`` reference into
    ``definitions``: the one rule for a nullable payload and for a nullable property.

    Only ``type``, ``const``, ``enum``, ``$ref``, ``allOf`` and ``anyOf`` (or ``oneOf``) can
    refuse ``null`` among the keywords the generator accepts; the answer is "yes" when unsure (a
    reference that loops, or that is not to a definition).
    """
    if isinstance(schema, bool):
        return schema
    if not isinstance(schema, Mapping):
        return True
    kind = schema.get("type")
    if kind is not None and kind != "null" and not (isinstance(kind, list) and "null" in kind):
        return False
    if "const" in schema and schema["const"] is not None:
        return False
    if "enum" in schema and not any(value is None for value in schema["enum"]):
        return False
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        name = ref.removeprefix("#/$defs/")
        if (
            name not in seen
            and name in definitions
            and not accepts_null(definitions[name], definitions, seen | {name})
        ):
            return False
    if not all(accepts_null(part, definitions, seen) for part in schema.get("allOf", ())):
        return False
    return all(
        any(accepts_null(branch, definitions, seen) for branch in schema[key])
        for key in ("anyOf", "oneOf")
        if key in schema
    )


def _ref_target(ref: str, f: _File, by_path: Mapping[Path, _File]) -> tuple[str, str, Any]:
    """Where ``ref``, written in ``f``, points: (file, definition name, schema)."""
    target_name, _, fragment = ref.partition("#")
    if target_name:
        if "://" in target_name:
            raise SchemaError(f"$ref {ref!r}: only relative file references are supported", f.rel)
        target = by_path.get((f.path.parent / target_name).resolve())
        if target is None:
            raise SchemaError(f"$ref {ref!r}: no such schema file in the folder", f.rel)
    else:
        target = f
    match = re.fullmatch(r"/\$defs/([A-Za-z_][A-Za-z0-9_]*)", fragment)
    if match is None:
        raise SchemaError(
            f"$ref {ref!r}: only references to '#/$defs/<Name>' (in this or another file) are supported",
            f.rel,
        )
    name = match.group(1)
    defs = target.data.get("$defs", {})
    if name not in defs:
        raise SchemaError(f"$ref {ref!r}: {target.rel} has no $defs/{name}", f.rel)
    return target.rel, name, defs[name]


def _check_class_names(
    events: Iterator[EventDef] | Any, definitions: Mapping[str, Any], origins: Mapping[str, str]
) -> None:
    owners: dict[str, str] = dict.fromkeys(PACKAGE_NAMES, "the generated package")
    for name in definitions:
        if name in owners:
            raise SchemaError(
                f"definition name {name!r} collides with {owners[name]}", origins[name]
            )
        owners[name] = origins[name]
    for event in events:
        for cls in (event.payload_class, event.message_class, *handler_names(event.name)):
            if not _DEF_NAME.match(cls):
                raise SchemaError(f"class name {cls!r} is not a valid identifier", event.file)
            if cls in owners:
                raise SchemaError(
                    f"generated class name {cls!r} collides with a name from {owners[cls]}",
                    event.file,
                )
            owners[cls] = event.file
