"""TypeScript declarations of a protocol, from its bundle: the package's ``protocol.d.ts``.

Read from :func:`~datadivr_codegen.bundle.protocol_bundle` (the published ``schema.json``), so
that the declarations say what the schema says:

- every ``$defs`` entry as a named type (an ``interface`` when it is an object), each message
  flattened into one interface with the envelope's wire names (``event_name`` a string literal);
- ``AnyMessage``, every message; ``ClientFrame``, what a client may send (``client_reply``
  events included); ``ServerFrame``, what a client may receive: unions discriminated by
  ``event_name``;
- ``Events``, the type of the bundle's ``x-datadivr.events`` table (direction, reply, message
  text, pointers), ``EventMap`` from event name to message type, and ``EventName``.

JSON Schema is translated to the TypeScript type that accepts at least every valid value:
``enum`` and ``const`` become literals, type lists and ``anyOf``/``oneOf`` unions, ``allOf``
intersections (objects merged property by property), ``prefixItems`` tuples,
``additionalProperties`` and ``patternProperties`` index signatures (a closed object has none);
a schema without ``type`` takes the types its keywords apply to. Constraints TypeScript cannot
state (``pattern``, ``minimum``, ``not``, ``if``…) widen to the plain type, and a schema that
says nothing becomes ``unknown`` (never ``any``). Descriptions become JSDoc comments.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from datadivr_codegen.terms import Direction
from datadivr_codegen.ts_types import (
    IDENTIFIER,
    NEVER,
    UNKNOWN,
    ArrayType,
    Intersection,
    Literal,
    Never,
    ObjectType,
    Primitive,
    Prop,
    Ref,
    Soft,
    TsType,
    Tuple,
    Union,
    Unknown,
    closed,
    declaration,
    hard,
    jsdoc,
    literal_type,
    property_key,
    union,
    union_of,
)

__all__ = ["RESERVED_NAMES", "typescript_declarations"]

#: The names the declarations define besides the definitions; a definition with one of them is
#: renamed (with a trailing ``_``, and its JSDoc says so).
RESERVED_NAMES = (
    "AnyMessage",
    "ClientFrame",
    "EventMap",
    "EventName",
    "Events",
    "ServerFrame",
)
#: Words TypeScript does not take as a type's name, and ``Array``, which the declarations use.
_KEYWORDS = frozenset(
    re.findall(
        r"\S+",
        """
        Array any bigint boolean break case catch class const continue debugger default delete
        do else enum export extends false finally for function if implements import in infer
        instanceof interface keyof let never new null number object package private protected
        public readonly return static string super switch symbol this throw true try type typeof
        undefined unique unknown var void while with yield
        """,
    )
)
#: The directions of the events in ``ClientFrame`` (a client's answers to the server's requests
#: included) and in ``ServerFrame``.
_CLIENT_SENDS = frozenset(d.value for d in Direction if d.client_may_answer)
_CLIENT_RECEIVES = frozenset(d.value for d in Direction if d.client_may_receive)
_DEFS = "#/$defs/"
#: A union of more members than this is not distributed over an intersection.
_MAX_DISTRIBUTED = 64

_OBJECT_KEYWORDS = frozenset(
    {
        "properties",
        "required",
        "additionalProperties",
        "patternProperties",
        "unevaluatedProperties",
        "propertyNames",
        "minProperties",
        "maxProperties",
        "dependentRequired",
        "dependentSchemas",
    }
)
_ARRAY_KEYWORDS = frozenset(
    {"items", "prefixItems", "additionalItems", "minItems", "maxItems", "uniqueItems", "contains"}
)
_STRING_KEYWORDS = frozenset({"minLength", "maxLength", "pattern", "format"})
_NUMBER_KEYWORDS = frozenset(
    {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"}
)


class _Translator:
    """Turns the schemas of one bundle into :data:`TsType` trees."""

    def __init__(self, bundle: Mapping[str, Any]) -> None:
        self.bundle = bundle
        self.defs: Mapping[str, Any] = bundle.get("$defs", {})
        self.names = _type_names(self.defs)
        self._resolving: list[str] = []
        self._def_types: dict[str, TsType] = {}
        self.keys = {name: key for key, name in self.names.items()}
        self._expanding: set[str] = set()

    def definition(self, name: str) -> TsType:
        """The type of ``$defs/<name>`` itself (not a reference to it)."""
        if name not in self._def_types:
            if name in self._resolving:
                return UNKNOWN
            self._resolving.append(name)
            try:
                self._def_types[name] = self.type(self.defs[name])
            finally:
                self._resolving.pop()
        return self._def_types[name]

    def type(self, schema: Any) -> TsType:
        """The TypeScript type of ``schema``."""
        return hard(self._type(schema))

    def _type(self, schema: Any) -> TsType:
        if schema is True:
            return UNKNOWN
        if schema is False or not isinstance(schema, Mapping):
            return NEVER if schema is False else UNKNOWN
        own = self._own(schema)
        if not ({"type", "const", "enum"} & schema.keys() or isinstance(own, Unknown)):
            own = Soft(own)
        parts: list[TsType] = [own]
        if "$ref" in schema:
            parts.append(self._ref(schema["$ref"]))
        for sub in schema.get("allOf", ()):
            parts.append(self._type(sub))
        for keyword in ("anyOf", "oneOf"):
            if isinstance(schema.get(keyword), list):
                parts.append(union(self._type(sub) for sub in schema[keyword]))
        if "then" in schema and "else" in schema:
            # Whatever `if` says, a valid value is valid against one of them.
            parts.append(union((self._type(schema["then"]), self._type(schema["else"]))))
        result = self.intersect(parts)
        if schema.get("unevaluatedProperties") is False and "additionalProperties" not in schema:
            # No property but those of the schema and its subschemas (all merged by now).
            result = closed(result)
        return result

    def _ref(self, ref: Any) -> TsType:
        if not isinstance(ref, str):
            return UNKNOWN
        if ref.startswith(_DEFS) and ref[len(_DEFS) :] in self.names:
            return Ref(self.names[ref[len(_DEFS) :]])
        if ref == "#":
            return Ref("AnyMessage")
        if not ref.startswith("#/"):
            return UNKNOWN
        if ref in self._resolving:
            return UNKNOWN  # a pointer into itself: not worth a name of its own
        target: Any = self.bundle
        for step in ref[2:].split("/"):
            step = step.replace("~1", "/").replace("~0", "~")
            if isinstance(target, Mapping) and step in target:
                target = target[step]
            elif isinstance(target, list) and step.isdigit() and int(step) < len(target):
                target = target[int(step)]
            else:
                return UNKNOWN
        self._resolving.append(ref)
        try:
            return self.type(target)
        finally:
            self._resolving.pop()

    def _own(self, schema: Mapping[str, Any]) -> TsType:
        """The type the schema's own keywords say (not those of ``$ref``, ``allOf``…)."""
        if "const" in schema:
            return Literal(schema["const"]) if literal_type(schema["const"]) else UNKNOWN
        if isinstance(schema.get("enum"), list):
            if all(literal_type(v) for v in schema["enum"]):
                return union(Literal(v) for v in schema["enum"])
            return UNKNOWN
        declared = schema.get("type")
        if isinstance(declared, str):
            kinds: list[str] = [declared]
        elif isinstance(declared, list):
            kinds = [k for k in declared if isinstance(k, str)]
        else:
            keys = schema.keys()
            kinds = [
                kind
                for kind, keywords in (
                    ("object", _OBJECT_KEYWORDS),
                    ("array", _ARRAY_KEYWORDS),
                    ("string", _STRING_KEYWORDS),
                    ("number", _NUMBER_KEYWORDS),
                )
                if keywords & keys
            ]
            if not kinds:
                return UNKNOWN
        members: list[TsType] = []
        for kind in kinds:
            if kind in ("string", "boolean", "null", "number"):
                members.append(Primitive(kind))
            elif kind == "integer":
                members.append(Primitive("number"))
            elif kind == "object":
                members.append(self._object(schema))
            elif kind == "array":
                members.append(self._array(schema))
        return union(members)

    def _object(self, schema: Mapping[str, Any]) -> ObjectType:
        properties = schema.get("properties")
        properties = properties if isinstance(properties, Mapping) else {}
        required = [r for r in schema.get("required", ()) if isinstance(r, str)]
        extra: list[TsType] = []
        closed = schema.get("additionalProperties") is False
        if not closed:
            extra.append(self.type(schema.get("additionalProperties", True)))
        patterns = schema.get("patternProperties")
        if isinstance(patterns, Mapping):
            extra.extend(self.type(sub) for sub in patterns.values())
        index = union(extra) if extra else None
        props = [
            Prop(name, self.type(sub), name not in required, _doc(sub))
            for name, sub in properties.items()
        ]
        props += [
            Prop(name, UNKNOWN if index is None else index, False)
            for name in required
            if name not in properties
        ]
        return ObjectType(tuple(props), index)

    def _array(self, schema: Mapping[str, Any]) -> TsType:
        prefix = schema.get("prefixItems")
        items = schema.get("items", True)
        if isinstance(items, list):  # draft 2019-09 and before: items as the tuple
            prefix, items = items, schema.get("additionalItems", True)
        if not isinstance(prefix, list):
            return ArrayType(self.type(items))
        minimum = schema.get("minItems", 0)
        minimum = minimum if isinstance(minimum, int) else 0
        rest = None if items is False else self.type(items)
        return Tuple(tuple(self.type(sub) for sub in prefix), min(minimum, len(prefix)), rest)

    def resolve(self, t: TsType) -> TsType:
        """A reference's definition, when it is an object (to be merged with another)."""
        if isinstance(t, Ref) and t.name in self.keys:
            target = self.definition(self.keys[t.name])
            if isinstance(target, ObjectType):
                return target
        return t

    def intersect(self, parts: Sequence[TsType]) -> TsType:
        result: TsType = UNKNOWN
        for part in parts:
            result = self._both(result, part)
        return result

    def _both(self, a: TsType, b: TsType) -> TsType:
        if isinstance(a, Unknown):
            return b
        if isinstance(b, Unknown):
            return a
        if isinstance(a, Never) or isinstance(b, Never):
            return NEVER
        if a == b:
            return a
        for x, y in ((a, b), (b, a)):
            if isinstance(x, Soft):
                if isinstance(y, Soft):
                    both = self._both(x.inner, y.inner)
                    return UNKNOWN if isinstance(both, Never) else Soft(both)
                return union(
                    self._narrowed(x.inner, m)
                    for m in (y.members if isinstance(y, Union) else (y,))
                )
        for x, y in ((a, b), (b, a)):
            if isinstance(x, Union):
                others = y.members if isinstance(y, Union) else (y,)
                if len(x.members) * len(others) <= _MAX_DISTRIBUTED:
                    return union(self._both(m, o) for m in x.members for o in others)
                return Intersection((a, b))
        return self._distinct(self.resolve(a), self.resolve(b))

    def _narrowed(self, soft: TsType, t: TsType) -> TsType:
        """``t`` narrowed by what a schema without ``type`` says, where that applies."""
        both = self._both(t, soft)
        return t if isinstance(both, Never) else both

    def _distinct(self, a: TsType, b: TsType) -> TsType:
        """The intersection of two types that are neither unions nor equal."""
        if isinstance(a, ObjectType) and isinstance(b, ObjectType):
            return self._merge(a, b)
        for x, y in ((a, b), (b, a)):
            if (
                isinstance(x, Ref)
                and not isinstance(y, Ref)
                and x.name in self.keys
                and x.name not in self._expanding
            ):
                # A named scalar type narrowed by a sibling: the name, when it says it all.
                self._expanding.add(x.name)
                try:
                    own = self.definition(self.keys[x.name])
                    both = self._both(own, y)
                finally:
                    self._expanding.discard(x.name)
                return x if both == own else both
        for x, y in ((a, b), (b, a)):
            if isinstance(x, Literal):
                if isinstance(y, Literal):
                    return NEVER
                if isinstance(y, Primitive):
                    return x if literal_type(x.value) == y.name else NEVER
                if isinstance(y, Ref):
                    return Intersection((y, x))
                return NEVER
        kinds = (Primitive, ObjectType, ArrayType, Tuple)
        if isinstance(a, kinds) and isinstance(b, kinds):
            if isinstance(a, Primitive) or isinstance(b, Primitive):
                return NEVER  # two different primitives, or a primitive and a container
            if isinstance(a, ObjectType) or isinstance(b, ObjectType):
                return NEVER  # an object and an array
            return self._arrays(a, b)
        return Intersection((a, b))

    def _arrays(self, a: ArrayType | Tuple, b: ArrayType | Tuple) -> TsType:
        if isinstance(a, ArrayType) and isinstance(b, ArrayType):
            return ArrayType(self._both(a.item, b.item))
        if isinstance(a, ArrayType):
            a, b = b, a
        assert isinstance(a, Tuple)
        if isinstance(b, ArrayType):
            rest = None if a.rest is None else self._both(a.rest, b.item)
            return Tuple(tuple(self._both(t, b.item) for t in a.items), a.required, rest)
        return Intersection((a, b))

    def _merge(self, a: ObjectType, b: ObjectType) -> TsType:
        props: dict[str, Prop] = {p.name: p for p in a.props}
        for p in b.props:
            q = props.get(p.name)
            if q is None:
                other = a.index
                if other is None:
                    if not p.optional:
                        return NEVER  # required here, not allowed there
                    continue
                props[p.name] = Prop(p.name, self._both(p.type, other), p.optional, p.doc)
            else:
                props[p.name] = Prop(
                    p.name, self._both(q.type, p.type), q.optional and p.optional, p.doc or q.doc
                )
        for name, q in list(props.items()):
            if name not in {p.name for p in b.props}:
                if b.index is None:
                    if not q.optional:
                        return NEVER
                    del props[name]
                else:
                    props[name] = Prop(name, self._both(q.type, b.index), q.optional, q.doc)
        index = None if a.index is None or b.index is None else self._both(a.index, b.index)
        return ObjectType(tuple(props.values()), index)


def _aliases_in_cycles(types: Mapping[str, TsType]) -> set[str]:
    """The type aliases that name themselves with no object or array between (``A = B``,
    ``B = A | null``): TypeScript refuses them."""

    def named(t: TsType) -> set[str]:
        if isinstance(t, Ref):
            return {t.name}
        if isinstance(t, Union | Intersection):
            return set().union(*(named(m) for m in t.members))
        return set()

    edges = {name: named(t) & types.keys() for name, t in types.items()}
    cyclic: set[str] = set()
    for start in edges:
        seen: set[str] = set()
        todo = list(edges[start])
        while todo:
            name = todo.pop()
            if name == start:
                cyclic.add(start)
                break
            if name not in seen:
                seen.add(name)
                todo.extend(edges[name])
    return cyclic


def _type_names(defs: Mapping[str, Any]) -> dict[str, str]:
    """The TypeScript name of each definition: its own when it can be, else with ``_`` added
    until it is free."""
    taken = set(RESERVED_NAMES)
    names: dict[str, str] = {}
    wanted = {name: _identifier(name) for name in defs}
    taken |= {n for key, n in wanted.items() if n == key and n not in _KEYWORDS} - set(
        RESERVED_NAMES
    )
    for key, name in wanted.items():
        if name == key and name not in RESERVED_NAMES and name not in _KEYWORDS:
            names[key] = name
            continue
        while name in taken or name in _KEYWORDS:
            name += "_"
        taken.add(name)
        names[key] = name
    return names


def _identifier(name: str) -> str:
    if IDENTIFIER.match(name):
        return name
    cleaned = re.sub(r"[^A-Za-z0-9_$]", "_", name) or "_"
    return f"_{cleaned}" if cleaned[0].isdigit() else cleaned


def _doc(schema: Any) -> str:
    """The JSDoc text of a schema: its description, and what TypeScript cannot say of it."""
    if not isinstance(schema, Mapping):
        return ""
    lines: list[str] = []
    description = schema.get("description")
    if isinstance(description, str) and description.strip():
        lines.extend(description.strip().splitlines())
    if "default" in schema:
        lines.append(f"@default {json.dumps(schema['default'], ensure_ascii=False)}")
    if schema.get("deprecated") is True:
        lines.append("@deprecated")
    return "\n".join(lines)


def typescript_declarations(bundle: Mapping[str, Any], header: str = "") -> str:
    """The ``protocol.d.ts`` of a protocol.

    Args:
        bundle: The protocol's :func:`~datadivr_codegen.bundle.protocol_bundle`.
        header: Text to start with (the generated-file header, as ``//`` comments).
    """
    translator = _Translator(bundle)
    names = translator.names
    events: Mapping[str, Any] = bundle.get("x-datadivr", {}).get("events", {})
    messages = {
        event: names[str(spec["schema"])[len(_DEFS) :]]
        for event, spec in events.items()
        if str(spec.get("schema")).startswith(_DEFS) and str(spec["schema"])[len(_DEFS) :] in names
    }
    out = [header, "\n" if header else ""]
    title = bundle.get("description", "")
    out.append(jsdoc(f"TypeScript declarations of the protocol (types only).\n\n{title}".rstrip()))
    out.append("\n")
    types = {name: translator.definition(key) for key, name in names.items()}
    cyclic = _aliases_in_cycles(types)
    for key, name in names.items():
        doc = _doc(translator.defs[key])
        notes = []
        if name != key:
            notes.append(f"`$defs/{key}` in the schema, renamed: {key!r} is taken in TypeScript.")
        if name in cyclic:
            notes.append("`unknown`: the schema defines it by itself.")
        doc = "\n\n".join(filter(None, [doc, *notes]))
        out.append(declaration(name, UNKNOWN if name in cyclic else types[name], doc))
        out.append("\n")
    client = [m for e, m in messages.items() if events[e].get("direction") in _CLIENT_SENDS]
    server = [m for e, m in messages.items() if events[e].get("direction") in _CLIENT_RECEIVES]
    out.append(
        "/** Every message of the protocol, discriminated by `event_name`. */\n"
        f"export type AnyMessage ={union_of(list(messages.values()))};\n\n"
        "/** What a client may send: its own messages and its answers to the server's "
        "requests. */\n"
        f"export type ClientFrame ={union_of(client)};\n\n"
        "/** What a client may receive: from the server, or relayed from other clients. */\n"
        f"export type ServerFrame ={union_of(server)};\n\n"
        "/** The message type of each event, by name. */\n"
        "export interface EventMap {\n"
        + "".join(f"  {property_key(e)}: {name};\n" for e, name in messages.items())
        + "}\n\n"
        "/** The name of every event. */\n"
        "export type EventName = keyof EventMap;\n\n"
        "/** The event table, as the bundle's `x-datadivr.events` holds it: who sends each "
        "event, the event that answers it, and whether its `message` text is required. */\n"
        "export interface Events {\n"
    )
    for event, spec in events.items():
        out.append(f"  {property_key(event)}: {{\n")
        out.extend(
            f"    {property_key(k)}: "
            f"{json.dumps(v, ensure_ascii=False) if literal_type(v) else 'unknown'};\n"
            for k, v in spec.items()
        )
        out.append("  };\n")
    out.append("}\n")
    return "".join(out)
