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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

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
    [
        "Array",
        "any",
        "bigint",
        "boolean",
        "break",
        "case",
        "catch",
        "class",
        "const",
        "continue",
        "debugger",
        "default",
        "delete",
        "do",
        "else",
        "enum",
        "export",
        "extends",
        "false",
        "finally",
        "for",
        "function",
        "if",
        "implements",
        "import",
        "in",
        "infer",
        "instanceof",
        "interface",
        "keyof",
        "let",
        "never",
        "new",
        "null",
        "number",
        "object",
        "package",
        "private",
        "protected",
        "public",
        "readonly",
        "return",
        "static",
        "string",
        "super",
        "switch",
        "symbol",
        "this",
        "throw",
        "true",
        "try",
        "type",
        "typeof",
        "undefined",
        "unique",
        "unknown",
        "var",
        "void",
        "while",
        "with",
        "yield",
    ]
)
_IDENTIFIER = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")
_CLIENT_SENDS = frozenset({"client_to_server", "client_to_client", "both", "client_reply"})
_CLIENT_RECEIVES = frozenset({"server_to_client", "client_to_client", "both"})
_DEFS = "#/$defs/"
#: A union longer than this is written one member a line.
_WIDTH = 80
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


# The types, as a small tree that :func:`_render` writes out.


@dataclass(frozen=True)
class _Unknown:
    pass


@dataclass(frozen=True)
class _Never:
    pass


@dataclass(frozen=True)
class _Primitive:
    name: str  # string, number, boolean, null


@dataclass(frozen=True)
class _Literal:
    value: Any  # a JSON scalar


@dataclass(frozen=True)
class _Ref:
    name: str


@dataclass(frozen=True)
class _Array:
    item: _Type


@dataclass(frozen=True)
class _Tuple:
    items: tuple[_Type, ...]
    required: int
    rest: _Type | None


@dataclass(frozen=True)
class _Prop:
    name: str
    type: _Type
    optional: bool
    doc: str = ""


@dataclass(frozen=True)
class _Object:
    props: tuple[_Prop, ...]
    index: _Type | None  # None: closed, no other property
    doc: str = field(default="", compare=False)


@dataclass(frozen=True)
class _Union:
    members: tuple[_Type, ...]


@dataclass(frozen=True)
class _Intersection:
    members: tuple[_Type, ...]


@dataclass(frozen=True)
class _Soft:
    """What a schema without ``type`` says of the values its keywords apply to: beside other
    schemas (``allOf``, ``$ref``…) it narrows only the values of its kinds (``properties``
    beside a string leaves the string as it is)."""

    inner: _Type


_Type = (
    _Unknown
    | _Never
    | _Primitive
    | _Literal
    | _Ref
    | _Array
    | _Tuple
    | _Object
    | _Union
    | _Intersection
    | _Soft
)
_UNKNOWN = _Unknown()
_NEVER = _Never()


def _union(members: Iterable[_Type]) -> _Type:
    flat: list[_Type] = []
    for member in members:
        for m in member.members if isinstance(member, _Union) else (member,):
            if isinstance(m, _Unknown):
                return _UNKNOWN
            if not isinstance(m, _Never) and m not in flat:
                flat.append(m)
    if not flat:
        return _NEVER
    return flat[0] if len(flat) == 1 else _Union(tuple(flat))


def _closed(t: _Type) -> _Type:
    """``t`` with no property but those it names."""
    if isinstance(t, _Soft):
        return _Soft(_closed(t.inner))
    if isinstance(t, _Object):
        return _Object(t.props, None)
    if isinstance(t, _Union):
        return _union(_closed(m) for m in t.members)
    return t


def _hard(t: _Type) -> _Type:
    """``t`` with what schemas without ``type`` say taken as it is, once nothing else is left to
    narrow."""
    if isinstance(t, _Soft):
        return t.inner
    if isinstance(t, _Union):
        return _union(_hard(m) for m in t.members)
    return t


def _literal_type(value: Any) -> str | None:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return None


class _Translator:
    """Turns the schemas of one bundle into :data:`_Type` trees."""

    def __init__(self, bundle: Mapping[str, Any]) -> None:
        self.bundle = bundle
        self.defs: Mapping[str, Any] = bundle.get("$defs", {})
        self.names = _type_names(self.defs)
        self._resolving: list[str] = []
        self._def_types: dict[str, _Type] = {}
        self.keys = {name: key for key, name in self.names.items()}
        self._expanding: set[str] = set()

    def definition(self, name: str) -> _Type:
        """The type of ``$defs/<name>`` itself (not a reference to it)."""
        if name not in self._def_types:
            if name in self._resolving:
                return _UNKNOWN
            self._resolving.append(name)
            try:
                self._def_types[name] = self.type(self.defs[name])
            finally:
                self._resolving.pop()
        return self._def_types[name]

    def type(self, schema: Any) -> _Type:
        """The TypeScript type of ``schema``."""
        return _hard(self._type(schema))

    def _type(self, schema: Any) -> _Type:
        if schema is True:
            return _UNKNOWN
        if schema is False or not isinstance(schema, Mapping):
            return _NEVER if schema is False else _UNKNOWN
        own = self._own(schema)
        if not ({"type", "const", "enum"} & schema.keys() or isinstance(own, _Unknown)):
            own = _Soft(own)
        parts: list[_Type] = [own]
        if "$ref" in schema:
            parts.append(self._ref(schema["$ref"]))
        for sub in schema.get("allOf", ()):
            parts.append(self._type(sub))
        for keyword in ("anyOf", "oneOf"):
            if isinstance(schema.get(keyword), list):
                parts.append(_union(self._type(sub) for sub in schema[keyword]))
        if "then" in schema and "else" in schema:
            # Whatever `if` says, a valid value is valid against one of them.
            parts.append(_union((self._type(schema["then"]), self._type(schema["else"]))))
        result = self.intersect(parts)
        if schema.get("unevaluatedProperties") is False and "additionalProperties" not in schema:
            # No property but those of the schema and its subschemas (all merged by now).
            result = _closed(result)
        return result

    def _ref(self, ref: Any) -> _Type:
        if not isinstance(ref, str):
            return _UNKNOWN
        if ref.startswith(_DEFS) and ref[len(_DEFS) :] in self.names:
            return _Ref(self.names[ref[len(_DEFS) :]])
        if ref == "#":
            return _Ref("AnyMessage")
        if not ref.startswith("#/"):
            return _UNKNOWN
        if ref in self._resolving:
            return _UNKNOWN  # a pointer into itself: not worth a name of its own
        target: Any = self.bundle
        for step in ref[2:].split("/"):
            step = step.replace("~1", "/").replace("~0", "~")
            if isinstance(target, Mapping) and step in target:
                target = target[step]
            elif isinstance(target, list) and step.isdigit() and int(step) < len(target):
                target = target[int(step)]
            else:
                return _UNKNOWN
        self._resolving.append(ref)
        try:
            return self.type(target)
        finally:
            self._resolving.pop()

    def _own(self, schema: Mapping[str, Any]) -> _Type:
        """The type the schema's own keywords say (not those of ``$ref``, ``allOf``…)."""
        if "const" in schema:
            return _Literal(schema["const"]) if _literal_type(schema["const"]) else _UNKNOWN
        if isinstance(schema.get("enum"), list):
            if all(_literal_type(v) for v in schema["enum"]):
                return _union(_Literal(v) for v in schema["enum"])
            return _UNKNOWN
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
                return _UNKNOWN
        members: list[_Type] = []
        for kind in kinds:
            if kind in ("string", "boolean", "null", "number"):
                members.append(_Primitive(kind))
            elif kind == "integer":
                members.append(_Primitive("number"))
            elif kind == "object":
                members.append(self._object(schema))
            elif kind == "array":
                members.append(self._array(schema))
        return _union(members)

    def _object(self, schema: Mapping[str, Any]) -> _Object:
        properties = schema.get("properties")
        properties = properties if isinstance(properties, Mapping) else {}
        required = [r for r in schema.get("required", ()) if isinstance(r, str)]
        extra: list[_Type] = []
        closed = schema.get("additionalProperties") is False
        if not closed:
            extra.append(self.type(schema.get("additionalProperties", True)))
        patterns = schema.get("patternProperties")
        if isinstance(patterns, Mapping):
            extra.extend(self.type(sub) for sub in patterns.values())
        index = _union(extra) if extra else None
        props = [
            _Prop(name, self.type(sub), name not in required, _doc(sub))
            for name, sub in properties.items()
        ]
        props += [
            _Prop(name, _UNKNOWN if index is None else index, False)
            for name in required
            if name not in properties
        ]
        return _Object(tuple(props), index)

    def _array(self, schema: Mapping[str, Any]) -> _Type:
        prefix = schema.get("prefixItems")
        items = schema.get("items", True)
        if isinstance(items, list):  # draft 2019-09 and before: items as the tuple
            prefix, items = items, schema.get("additionalItems", True)
        if not isinstance(prefix, list):
            return _Array(self.type(items))
        minimum = schema.get("minItems", 0)
        minimum = minimum if isinstance(minimum, int) else 0
        rest = None if items is False else self.type(items)
        return _Tuple(tuple(self.type(sub) for sub in prefix), min(minimum, len(prefix)), rest)

    def resolve(self, t: _Type) -> _Type:
        """A reference's definition, when it is an object (to be merged with another)."""
        if isinstance(t, _Ref) and t.name in self.keys:
            target = self.definition(self.keys[t.name])
            if isinstance(target, _Object):
                return target
        return t

    def intersect(self, parts: Sequence[_Type]) -> _Type:
        result: _Type = _UNKNOWN
        for part in parts:
            result = self._both(result, part)
        return result

    def _both(self, a: _Type, b: _Type) -> _Type:
        if isinstance(a, _Unknown):
            return b
        if isinstance(b, _Unknown):
            return a
        if isinstance(a, _Never) or isinstance(b, _Never):
            return _NEVER
        if a == b:
            return a
        for x, y in ((a, b), (b, a)):
            if isinstance(x, _Soft):
                if isinstance(y, _Soft):
                    both = self._both(x.inner, y.inner)
                    return _UNKNOWN if isinstance(both, _Never) else _Soft(both)
                return _union(
                    self._narrowed(x.inner, m)
                    for m in (y.members if isinstance(y, _Union) else (y,))
                )
        for x, y in ((a, b), (b, a)):
            if isinstance(x, _Union):
                others = y.members if isinstance(y, _Union) else (y,)
                if len(x.members) * len(others) <= _MAX_DISTRIBUTED:
                    return _union(self._both(m, o) for m in x.members for o in others)
                return _Intersection((a, b))
        return self._distinct(self.resolve(a), self.resolve(b))

    def _narrowed(self, soft: _Type, t: _Type) -> _Type:
        """``t`` narrowed by what a schema without ``type`` says, where that applies."""
        both = self._both(t, soft)
        return t if isinstance(both, _Never) else both

    def _distinct(self, a: _Type, b: _Type) -> _Type:
        """The intersection of two types that are neither unions nor equal."""
        if isinstance(a, _Object) and isinstance(b, _Object):
            return self._merge(a, b)
        for x, y in ((a, b), (b, a)):
            if (
                isinstance(x, _Ref)
                and not isinstance(y, _Ref)
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
            if isinstance(x, _Literal):
                if isinstance(y, _Literal):
                    return _NEVER
                if isinstance(y, _Primitive):
                    return x if _literal_type(x.value) == y.name else _NEVER
                if isinstance(y, _Ref):
                    return _Intersection((y, x))
                return _NEVER
        kinds = (_Primitive, _Object, _Array, _Tuple)
        if isinstance(a, kinds) and isinstance(b, kinds):
            if isinstance(a, _Primitive) or isinstance(b, _Primitive):
                return _NEVER  # two different primitives, or a primitive and a container
            if isinstance(a, _Object) or isinstance(b, _Object):
                return _NEVER  # an object and an array
            return self._arrays(a, b)
        return _Intersection((a, b))

    def _arrays(self, a: _Array | _Tuple, b: _Array | _Tuple) -> _Type:
        if isinstance(a, _Array) and isinstance(b, _Array):
            return _Array(self._both(a.item, b.item))
        if isinstance(a, _Array):
            a, b = b, a
        assert isinstance(a, _Tuple)
        if isinstance(b, _Array):
            rest = None if a.rest is None else self._both(a.rest, b.item)
            return _Tuple(tuple(self._both(t, b.item) for t in a.items), a.required, rest)
        return _Intersection((a, b))

    def _merge(self, a: _Object, b: _Object) -> _Type:
        props: dict[str, _Prop] = {p.name: p for p in a.props}
        for p in b.props:
            q = props.get(p.name)
            if q is None:
                other = a.index
                if other is None:
                    if not p.optional:
                        return _NEVER  # required here, not allowed there
                    continue
                props[p.name] = _Prop(p.name, self._both(p.type, other), p.optional, p.doc)
            else:
                props[p.name] = _Prop(
                    p.name, self._both(q.type, p.type), q.optional and p.optional, p.doc or q.doc
                )
        for name, q in list(props.items()):
            if name not in {p.name for p in b.props}:
                if b.index is None:
                    if not q.optional:
                        return _NEVER
                    del props[name]
                else:
                    props[name] = _Prop(name, self._both(q.type, b.index), q.optional, q.doc)
        index = None if a.index is None or b.index is None else self._both(a.index, b.index)
        return _Object(tuple(props.values()), index)


def _aliases_in_cycles(types: Mapping[str, _Type]) -> set[str]:
    """The type aliases that name themselves with no object or array between (``A = B``,
    ``B = A | null``): TypeScript refuses them."""

    def named(t: _Type) -> set[str]:
        if isinstance(t, _Ref):
            return {t.name}
        if isinstance(t, _Union | _Intersection):
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
    if _IDENTIFIER.match(name):
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


def _jsdoc(text: str, indent: str = "") -> str:
    if not text:
        return ""
    lines = text.replace("*/", "*\\/").splitlines()
    if len(lines) == 1:
        return f"{indent}/** {lines[0]} */\n"
    body = "".join(f"{indent} *{' ' + line if line else ''}\n" for line in lines)
    return f"{indent}/**\n{body}{indent} */\n"


def _key(name: str) -> str:
    return name if _IDENTIFIER.match(name) else json.dumps(name, ensure_ascii=False)


def _render(t: _Type, indent: str = "", *, top: bool = True) -> str:
    if isinstance(t, _Unknown):
        return "unknown"
    if isinstance(t, _Never):
        return "never"
    if isinstance(t, _Primitive):
        return t.name
    if isinstance(t, _Literal):
        return json.dumps(t.value, ensure_ascii=False)
    if isinstance(t, _Ref):
        return t.name
    if isinstance(t, _Array):
        item = _render(t.item, indent, top=False)
        simple = isinstance(t.item, _Primitive | _Ref | _Unknown | _Never | _Array)
        return f"{item}[]" if simple else f"Array<{_render(t.item, indent)}>"
    if isinstance(t, _Tuple):
        items = [
            _render(item, indent) + ("" if i < t.required else "?")
            for i, item in enumerate(t.items)
        ]
        if t.rest is not None:
            items.append(f"...{_render(_Array(t.rest), indent, top=False)}")
        return f"[{', '.join(items)}]"
    if isinstance(t, _Object):
        return "{\n" + _members(t, indent + "  ") + indent + "}"
    if isinstance(t, _Soft):
        return _render(t.inner, indent, top=top)
    if isinstance(t, _Union):
        members = [_render(m, indent, top=False) for m in t.members]
        text = " | ".join(members)
        if top and (len(text) > _WIDTH or "\n" in text):
            members = [_render(m, indent + "    ", top=False) for m in t.members]
            return "".join(f"\n{indent}  | {m}" for m in members)
        return text if top else f"({text})"
    text = " & ".join(_render(m, indent, top=False) for m in t.members)
    return text if top else f"({text})"


def _members(t: _Object, indent: str) -> str:
    lines = [
        f"{_jsdoc(p.doc, indent)}{indent}{_key(p.name)}{'?' if p.optional else ''}:"
        f"{_spaced(_render(p.type, indent))};\n"
        for p in t.props
    ]
    if t.index is not None:
        index = _union([t.index, *(p.type for p in t.props)])
        if any(p.optional for p in t.props) and not isinstance(index, _Unknown):
            index = _union([index, _Primitive("undefined")])
        lines.append(f"{indent}[key: string]:{_spaced(_render(index, indent))};\n")
    elif not t.props:
        lines.append(f"{indent}[key: string]: never;\n")
    return "".join(lines)


def _declaration(name: str, t: _Type, doc: str) -> str:
    if isinstance(t, _Object):
        return f"{_jsdoc(doc)}export interface {name} {{\n{_members(t, '  ')}}}\n"
    return f"{_jsdoc(doc)}export type {name} ={_spaced(_render(t))};\n"


def _spaced(rendered: str) -> str:
    """A type after ``:`` or ``=``: on the same line, or starting on the next."""
    return rendered if rendered.startswith("\n") else f" {rendered}"


def _union_of(names: Sequence[str]) -> str:
    if not names:
        return " never"
    return "".join(f"\n  | {name}" for name in names)


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
    out.append(_jsdoc(f"TypeScript declarations of the protocol (types only).\n\n{title}".rstrip()))
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
        out.append(_declaration(name, _UNKNOWN if name in cyclic else types[name], doc))
        out.append("\n")
    client = [m for e, m in messages.items() if events[e].get("direction") in _CLIENT_SENDS]
    server = [m for e, m in messages.items() if events[e].get("direction") in _CLIENT_RECEIVES]
    out.append(
        "/** Every message of the protocol, discriminated by `event_name`. */\n"
        f"export type AnyMessage ={_union_of(list(messages.values()))};\n\n"
        "/** What a client may send: its own messages and its answers to the server's "
        "requests. */\n"
        f"export type ClientFrame ={_union_of(client)};\n\n"
        "/** What a client may receive: from the server, or relayed from other clients. */\n"
        f"export type ServerFrame ={_union_of(server)};\n\n"
        "/** The message type of each event, by name. */\n"
        "export interface EventMap {\n"
        + "".join(f"  {_key(e)}: {name};\n" for e, name in messages.items())
        + "}\n\n"
        "/** The name of every event. */\n"
        "export type EventName = keyof EventMap;\n\n"
        "/** The event table, as the bundle's `x-datadivr.events` holds it: who sends each "
        "event, the event that answers it, and whether its `message` text is required. */\n"
        "export interface Events {\n"
    )
    for event, spec in events.items():
        out.append(f"  {_key(event)}: {{\n")
        out.extend(
            f"    {_key(k)}: "
            f"{json.dumps(v, ensure_ascii=False) if _literal_type(v) else 'unknown'};\n"
            for k, v in spec.items()
        )
        out.append("  };\n")
    out.append("}\n")
    return "".join(out)
