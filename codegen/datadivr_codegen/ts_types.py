"""The TypeScript types that ``protocol.d.ts`` is made of, as a small tree, and how they are
written out (:func:`render`, :func:`declaration`).

The tree is built by :mod:`datadivr_codegen.typescript` from JSON Schema; :func:`union`
flattens and simplifies unions as they are made.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "IDENTIFIER",
    "NEVER",
    "UNKNOWN",
    "ArrayType",
    "Intersection",
    "Literal",
    "Never",
    "ObjectType",
    "Primitive",
    "Prop",
    "Ref",
    "Soft",
    "TsType",
    "Tuple",
    "Union",
    "Unknown",
    "closed",
    "declaration",
    "hard",
    "jsdoc",
    "literal_type",
    "property_key",
    "render",
    "union",
    "union_of",
]

IDENTIFIER = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")
"""What TypeScript takes as a name as it is (others are quoted, as property names)."""

#: A union longer than this is written one member a line.
_WIDTH = 80


@dataclass(frozen=True)
class Unknown:
    """``unknown``: any value."""


@dataclass(frozen=True)
class Never:
    """``never``: no value."""


@dataclass(frozen=True)
class Primitive:
    """``string``, ``number``, ``boolean`` or ``null``."""

    name: str


@dataclass(frozen=True)
class Literal:
    """One JSON scalar: ``"a"``, ``1``, ``true``, ``null``."""

    value: Any


@dataclass(frozen=True)
class Ref:
    """A named type of the declarations."""

    name: str


@dataclass(frozen=True)
class ArrayType:
    """``T[]``."""

    item: TsType


@dataclass(frozen=True)
class Tuple:
    """``[A, B?, ...R[]]``: ``required`` items first, then optional ones, then ``rest``."""

    items: tuple[TsType, ...]
    required: int
    rest: TsType | None


@dataclass(frozen=True)
class Prop:
    """A property of an object type."""

    name: str
    type: TsType
    optional: bool
    doc: str = ""


@dataclass(frozen=True)
class ObjectType:
    """An object: its properties, and the type of the others (``None``: no other)."""

    props: tuple[Prop, ...]
    index: TsType | None


@dataclass(frozen=True)
class Union:
    """``A | B``: made by :func:`union`."""

    members: tuple[TsType, ...]


@dataclass(frozen=True)
class Intersection:
    """``A & B``, where the two could not be merged into one type."""

    members: tuple[TsType, ...]


@dataclass(frozen=True)
class Soft:
    """What a schema without ``type`` says of the values its keywords apply to: beside other
    schemas (``allOf``, ``$ref``…) it narrows only the values of its kinds (``properties``
    beside a string leaves the string as it is)."""

    inner: TsType


#: Every kind of type.
TsType = (
    Unknown
    | Never
    | Primitive
    | Literal
    | Ref
    | ArrayType
    | Tuple
    | ObjectType
    | Union
    | Intersection
    | Soft
)
UNKNOWN = Unknown()
NEVER = Never()


def union(members: Iterable[TsType]) -> TsType:
    """The union of ``members``: flat, without repeats or ``never``; ``unknown`` if one is."""
    flat: list[TsType] = []
    for member in members:
        for m in member.members if isinstance(member, Union) else (member,):
            if isinstance(m, Unknown):
                return UNKNOWN
            if not isinstance(m, Never) and m not in flat:
                flat.append(m)
    if not flat:
        return NEVER
    return flat[0] if len(flat) == 1 else Union(tuple(flat))


def closed(t: TsType) -> TsType:
    """``t`` with no property but those it names."""
    if isinstance(t, Soft):
        return Soft(closed(t.inner))
    if isinstance(t, ObjectType):
        return ObjectType(t.props, None)
    if isinstance(t, Union):
        return union(closed(m) for m in t.members)
    return t


def hard(t: TsType) -> TsType:
    """``t`` with what schemas without ``type`` say taken as it is, once nothing else is left to
    narrow."""
    if isinstance(t, Soft):
        return t.inner
    if isinstance(t, Union):
        return union(hard(m) for m in t.members)
    return t


def literal_type(value: Any) -> str | None:
    """The primitive type of a JSON scalar; ``None`` for an array or an object."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return None


def jsdoc(text: str, indent: str = "") -> str:
    """``text`` as a JSDoc comment (none when it is empty), each line indented."""
    if not text:
        return ""
    lines = text.replace("*/", "*\\/").splitlines()
    if len(lines) == 1:
        return f"{indent}/** {lines[0]} */\n"
    body = "".join(f"{indent} *{' ' + line if line else ''}\n" for line in lines)
    return f"{indent}/**\n{body}{indent} */\n"


def property_key(name: str) -> str:
    """A property's name as TypeScript writes it: quoted unless it is an identifier."""
    return name if IDENTIFIER.match(name) else json.dumps(name, ensure_ascii=False)


def render(t: TsType, indent: str = "", *, top: bool = True) -> str:
    """``t`` as TypeScript, at ``indent``; ``top`` when it stands alone (else a union or an
    intersection is parenthesized)."""
    if isinstance(t, Unknown):
        return "unknown"
    if isinstance(t, Never):
        return "never"
    if isinstance(t, Primitive):
        return t.name
    if isinstance(t, Literal):
        return json.dumps(t.value, ensure_ascii=False)
    if isinstance(t, Ref):
        return t.name
    if isinstance(t, ArrayType):
        item = render(t.item, indent, top=False)
        simple = isinstance(t.item, Primitive | Ref | Unknown | Never | ArrayType)
        return f"{item}[]" if simple else f"Array<{render(t.item, indent)}>"
    if isinstance(t, Tuple):
        items = [
            render(item, indent) + ("" if i < t.required else "?") for i, item in enumerate(t.items)
        ]
        if t.rest is not None:
            items.append(f"...{render(ArrayType(t.rest), indent, top=False)}")
        return f"[{', '.join(items)}]"
    if isinstance(t, ObjectType):
        return "{\n" + _object_members(t, indent + "  ") + indent + "}"
    if isinstance(t, Soft):
        return render(t.inner, indent, top=top)
    if isinstance(t, Union):
        members = [render(m, indent, top=False) for m in t.members]
        text = " | ".join(members)
        if top and (len(text) > _WIDTH or "\n" in text):
            members = [render(m, indent + "    ", top=False) for m in t.members]
            return "".join(f"\n{indent}  | {m}" for m in members)
        return text if top else f"({text})"
    text = " & ".join(render(m, indent, top=False) for m in t.members)
    return text if top else f"({text})"


def _object_members(t: ObjectType, indent: str) -> str:
    lines = [
        f"{jsdoc(p.doc, indent)}{indent}{property_key(p.name)}{'?' if p.optional else ''}:"
        f"{_spaced(render(p.type, indent))};\n"
        for p in t.props
    ]
    if t.index is not None:
        index = union([t.index, *(p.type for p in t.props)])
        if any(p.optional for p in t.props) and not isinstance(index, Unknown):
            index = union([index, Primitive("undefined")])
        lines.append(f"{indent}[key: string]:{_spaced(render(index, indent))};\n")
    elif not t.props:
        lines.append(f"{indent}[key: string]: never;\n")
    return "".join(lines)


def declaration(name: str, t: TsType, doc: str) -> str:
    """``export interface name {…}`` for an object, else ``export type name = …``."""
    if isinstance(t, ObjectType):
        return f"{jsdoc(doc)}export interface {name} {{\n{_object_members(t, '  ')}}}\n"
    return f"{jsdoc(doc)}export type {name} ={_spaced(render(t))};\n"


def _spaced(rendered: str) -> str:
    """A type after ``:`` or ``=``: on the same line, or starting on the next."""
    return rendered if rendered.startswith("\n") else f" {rendered}"


def union_of(names: Sequence[str]) -> str:
    """A union of named types, one a line, after ``=``."""
    if not names:
        return " never"
    return "".join(f"\n  | {name}" for name in names)
