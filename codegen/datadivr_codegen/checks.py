"""Split the model bundle into what the models type exactly and what they leave to a check.

datamodel-code-generator types a subschema as exactly as pydantic can, and silently leaves
out what pydantic cannot say (``oneOf``'s "exactly one", ``not``, ``if``/``then``/``else``,
``uniqueItems``, ``patternProperties``, keywords without a ``type`` beside them, ...).
:func:`split_checks` therefore walks every payload and shared definition, deepest first, and
asks :mod:`datadivr_codegen.keywords` whether each subschema, its own keywords only, is one
the models enforce exactly. A subschema that is not is replaced, for datamodel-code-generator,
by a *placeholder*: a ``customTypePath`` naming a type alias that :mod:`datadivr_codegen.models`
writes into ``models.py``::

    _Check3: TypeAlias = Annotated[int | float, _CHECKS.at("/$defs/MovePayload/properties/x")]

typed as loosely as the schema allows (:func:`python_type`: the JSON types it may accept, in
their Python form), and checked at run time against that very place of the published
``schema.json`` (``datadivr.runtime.SchemaChecks``). The rest of the schema, every place a
Python type can say, stays typed: the classes, literals and constraints around a check are
the generator's usual ones.

A definition that is not typed exactly keeps its name (``Tree: TypeAlias = Annotated[...]``);
so does a payload (``MovePayload``). Only the places the schema names can be checked: the
check of a subschema is the check of its pointer in the bundle, which the model bundle and
``schema.json`` share (``/$defs/<Name>/...``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator

from datadivr_codegen.drafts import LATEST
from datadivr_codegen.errors import SchemaError
from datadivr_codegen.keywords import SUPPORTED, check_node, json_type

__all__ = [
    "CHECKS_MODULE",
    "PLACEHOLDER",
    "Check",
    "accepts_null_exactly",
    "json_types",
    "python_type",
    "split_checks",
]

#: Every keyword of draft 2020-12.
_KEYWORDS = LATEST.assertions | LATEST.annotations
#: The keyword of a placeholder (datamodel-code-generator's own: the type of a subschema).
PLACEHOLDER = "customTypePath"
#: The made-up module placeholders name their alias in; its import is taken out of the models.
CHECKS_MODULE = "__datadivr_checks__"
#: Annotations a placeholder keeps, for the field datamodel-code-generator writes.
_KEPT = ("title", "description", "x-datadivr-not-null")
_ALL_TYPES = frozenset({"array", "boolean", "integer", "null", "number", "object", "string"})
#: Each JSON type's Python type, in the order a union lists them.
_PYTHON = {
    "string": "str",
    "integer": "int",
    "number": "float",  # after int: a number is int | float
    "boolean": "bool",
    "array": "list[Any]",
    "object": "dict[str, Any]",
    "null": "None",
}


@dataclass(frozen=True)
class Check:
    """One subschema the models leave to a run-time check.

    Attributes:
        alias: The type alias ``models.py`` defines for it; for a model's check, the name of
            the base its class is generated with, which becomes the check.
        pointer: Its JSON pointer in the bundle (and in ``schema.json``).
        python_type: The source of the alias's type, before the check.
        model: Whether the check is a model's: an object schema whose properties the
            model types, and whose other keywords the check enforces.
    """

    alias: str
    pointer: str
    python_type: str
    model: bool = False


def split_checks(defs: dict[str, Any], skip: frozenset[str] = frozenset()) -> list[Check]:
    """Replace, in place, every subschema of ``defs`` (the model bundle's ``$defs``; those
    named in ``skip``, the messages, are left as they are) the models cannot type exactly by
    a placeholder; the checks of the placeholders that remain, in bundle order."""
    splitter = _Splitter(defs)
    for name in list(defs):
        if name in skip:
            continue
        defs[name] = splitter.visit(defs[name], f"/$defs/{_token(name)}", alias=name)
    # A definition that became a check is written out where it is used: a definition of
    # its own would make datamodel-code-generator write a RootModel class of it.
    replaced = {
        f"#/$defs/{name}": schema
        for name, schema in defs.items()
        if name not in skip and PLACEHOLDER in schema
    }
    for ref in replaced:
        del defs[ref.removeprefix("#/$defs/")]
    for name in list(defs):
        defs[name] = _inline(defs[name], replaced)
    used = set(_placeholders(defs))
    return [check for check in splitter.checks if check.alias in used]


def _inline(node: Any, replaced: Mapping[str, dict[str, Any]]) -> Any:
    """``node`` with each ``$ref`` to a replaced definition replaced by its placeholder (the
    annotations beside the ``$ref`` kept)."""
    if isinstance(node, list):
        return [_inline(item, replaced) for item in node]
    if not isinstance(node, dict) or PLACEHOLDER in node:
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref in replaced:
        out = {PLACEHOLDER: replaced[ref][PLACEHOLDER]}
        out.update({key: node[key] for key in _KEPT if key in node})
        return out
    return {
        key: value if key in ("const", "enum", "default", "examples") else _inline(value, replaced)
        for key, value in node.items()
    }


#: Keywords of draft 2020-12 that only annotate, besides those the models write as docs.
_CONTENT = frozenset({"contentEncoding", "contentMediaType", "contentSchema"})


def _read_by_validators(key: str) -> bool:
    """Whether ``key`` is an ``x-`` extension or a keyword of draft 2020-12 other than the
    ``content`` annotations (every file is read as draft 2020-12 by then)."""
    if key.startswith("x-"):
        return True
    return key in _KEYWORDS and key not in _CONTENT


#: Keywords that apply to one type of value only, by that type (``number`` for both).
_TYPED = {
    "string": frozenset({"format", "maxLength", "minLength", "pattern", *_CONTENT}),
    "number": frozenset(
        {"exclusiveMaximum", "exclusiveMinimum", "maximum", "minimum", "multipleOf"}
    ),
    "array": frozenset(
        {"contains", "items", "maxContains", "maxItems", "minContains", "minItems"}
        | {"prefixItems", "unevaluatedItems", "uniqueItems"}
    ),
    "object": frozenset(
        {"additionalProperties", "dependentRequired", "dependentSchemas", "maxProperties"}
        | {"minProperties", "patternProperties", "properties", "propertyNames", "required"}
        | {"unevaluatedProperties"}
    ),
}


def _without_no_ops(node: dict[str, Any]) -> dict[str, Any]:
    """``node`` without what changes nothing: a keyword for a type its ``type`` excludes
    (``additionalProperties`` beside ``"type": "string"``), ``"uniqueItems": false``."""
    declared = node.get("type")
    types = {declared} if isinstance(declared, str) else set(declared or ())
    if "integer" in types:
        types.add("number")
    drop = {"uniqueItems"} if node.get("uniqueItems") is False else set()
    if types:
        for kind, keywords in _TYPED.items():
            if kind not in types:
                drop |= keywords & node.keys()
    return {k: v for k, v in node.items() if k not in drop} if drop else node


def _token(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")


def _placeholders(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        path = node.get(PLACEHOLDER)
        if isinstance(path, str) and path.startswith(CHECKS_MODULE + "."):
            yield path.removeprefix(CHECKS_MODULE + ".")
            return
        base = node.get("customBasePath")
        if isinstance(base, str) and base.startswith(CHECKS_MODULE + "."):
            yield base.removeprefix(CHECKS_MODULE + ".")
        for key, value in node.items():
            if key not in ("const", "enum", "default", "examples"):
                yield from _placeholders(value)
    elif isinstance(node, list):
        for item in node:
            yield from _placeholders(item)


class _Splitter:
    def __init__(self, defs: dict[str, Any]) -> None:
        self.defs = defs
        # What the checks see: the schemas as written (placeholders replace copies).
        self.original = {name: schema for name, schema in defs.items()}
        self.checks: list[Check] = []
        self.count = 0

    def visit(self, node: Any, pointer: str, *, alias: str | None = None) -> Any:
        if isinstance(node, dict) and PLACEHOLDER not in node:
            # What no validator reads (a tool's keyword: comment, javaType; contentMediaType
            # and its kin) is an annotation: schema.json keeps it, the models need not see it.
            node = _without_no_ops({k: v for k, v in node.items() if _read_by_validators(k)})
            properties = node.get("properties")
            if isinstance(properties, dict):
                node["properties"] = {
                    name: self.visit(prop, f"{pointer}/properties/{_token(name)}")
                    for name, prop in properties.items()
                }
            for key in ("items", "additionalProperties"):
                if isinstance(node.get(key), dict):
                    node[key] = self.visit(node[key], f"{pointer}/{key}")
            if isinstance(node.get("anyOf"), list):
                node["anyOf"] = [
                    self.visit(branch, f"{pointer}/anyOf/{i}")
                    for i, branch in enumerate(node["anyOf"])
                ]
            if isinstance(node.get("oneOf"), list) and "anyOf" not in node:
                tagged = self.tagged(node, pointer)
                if tagged is not None:
                    node = tagged
            if self.native(node):
                return node
            typed = self.typed_part(node)
            if typed is not None:
                return self.model_check(typed, pointer)
        return self.placeholder(node, pointer, alias)

    def tagged(self, node: dict[str, Any], pointer: str) -> dict[str, Any] | None:
        """A ``oneOf`` of object schemas that each require one property to be a different
        string ``const`` (a tagged union, as people write one) as a discriminated union: an
        ``anyOf`` with a ``discriminator``, which pydantic checks against the one branch the
        tag names. With distinct tags, a value matches one branch at most, so "exactly one"
        is "at least one". ``None`` when it is no such ``oneOf``, or a branch is no class."""
        branches = [
            self.visit(branch, f"{pointer}/oneOf/{i}") for i, branch in enumerate(node["oneOf"])
        ]
        shapes = []
        for branch in branches:
            shape = self.class_schema(branch)
            if shape is None:
                return None
            shapes.append(shape)
        for tag in shapes[0]["properties"]:
            values = [_tag_value(shape, tag) for shape in shapes]
            if all(isinstance(v, str) for v in values) and len(set(values)) == len(values):
                rest = {k: v for k, v in node.items() if k != "oneOf"}
                return {**rest, "anyOf": branches, "discriminator": {"propertyName": tag}}
        return None

    def class_schema(self, branch: Any) -> dict[str, Any] | None:
        """The object schema a ``oneOf`` branch (already visited) becomes a class of."""
        if not isinstance(branch, dict) or PLACEHOLDER in branch:
            return None
        ref = branch.get("$ref")
        if isinstance(ref, str):
            name = ref.removeprefix("#/$defs/")
            target = self.original.get(name) if ref.startswith("#/$defs/") else None
            if not isinstance(target, dict) or not (
                self.native(target) or self.typed_part(target) is not None
            ):
                return None
            branch = target
        if branch.get("type") != "object" or not isinstance(branch.get("properties"), dict):
            return None
        shape: dict[str, Any] = branch
        return shape

    def typed_part(self, node: Mapping[str, Any]) -> dict[str, Any] | None:
        """The keywords of an object schema with properties that its model can type, when
        the others only narrow what it accepts (a check enforces them); else ``None``."""
        if node.get("type") != "object" or not isinstance(node.get("properties"), dict):
            return None
        if node.get("additionalProperties") is False and "patternProperties" in node:
            return None  # patternProperties then widens what the model's class would accept
        typed = {k: v for k, v in node.items() if k in SUPPORTED or k.startswith("x-")}
        return typed if self.native(typed) else None

    def model_check(self, node: dict[str, Any], pointer: str) -> dict[str, Any]:
        self.count += 1
        base = f"_Check{self.count}"
        self.checks.append(Check(base, pointer, "", model=True))
        return {**node, "customBasePath": f"{CHECKS_MODULE}.{base}"}

    def native(self, node: Mapping[str, Any]) -> bool:
        try:
            check_node(node, self.resolve)
        except SchemaError:
            return False
        return True

    def resolve(self, ref: str) -> tuple[str, Any]:
        prefix = "#/$defs/"
        name = ref.removeprefix(prefix)
        if not ref.startswith(prefix) or "/" in name or name not in self.defs:
            raise SchemaError(f"$ref {ref!r} is not to a definition")
        return name, self.defs[name]

    def placeholder(self, node: Any, pointer: str, alias: str | None) -> dict[str, Any]:
        if alias is None:
            self.count += 1
            alias = f"_Check{self.count}"
        original = _at(self.original, pointer)
        types = json_types(original, self.original)
        annotation = _tuple_type(original, types, self.original) or python_type(types)
        self.checks.append(Check(alias, pointer, annotation))
        out: dict[str, Any] = {PLACEHOLDER: f"{CHECKS_MODULE}.{alias}"}
        if isinstance(node, dict):
            out.update({key: node[key] for key in _KEPT if key in node})
        return out


def _tuple_type(schema: Any, types: frozenset[str], defs: Mapping[str, Any]) -> str | None:
    """``tuple[int, str]`` for an array of exactly its ``prefixItems`` (each typed as loosely
    as its schema allows): ``"items": false`` or ``maxItems``, and ``minItems``, holding it to
    their number; else ``None``."""
    if types != {"array"} or not isinstance(schema, Mapping):
        return None
    prefix = schema.get("prefixItems")
    if not isinstance(prefix, list) or not prefix:
        return None
    count = len(prefix)
    closed = schema.get("items") is False or schema.get("maxItems") == count
    if not closed or schema.get("minItems") != count:
        return None
    return "tuple[" + ", ".join(python_type(json_types(item, defs)) for item in prefix) + "]"


def _tag_value(schema: Mapping[str, Any], tag: str) -> Any:
    """The string a required property of ``schema`` must be, if it must be one."""
    prop = schema["properties"].get(tag)
    if tag not in schema.get("required", ()) or not isinstance(prop, dict):
        return None
    if "const" in prop:
        return prop["const"]
    enum = prop.get("enum")
    return enum[0] if isinstance(enum, list) and len(enum) == 1 else None


def _at(defs: Mapping[str, Any], pointer: str) -> Any:
    parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[2:]]
    node: Any = defs
    for part in parts:
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def json_types(
    schema: Any, defs: Mapping[str, Any], seen: frozenset[str] = frozenset()
) -> frozenset[str]:
    """The JSON types ``schema`` may accept (a superset: what ``type``, ``const``, ``enum``,
    ``$ref``, ``allOf``, ``anyOf`` and ``oneOf`` allow); ``"integer"`` stands for the
    integral numbers, which ``"number"`` includes."""
    if schema is False:
        return frozenset()
    if not isinstance(schema, Mapping):
        return _ALL_TYPES
    types = _ALL_TYPES
    declared = schema.get("type")
    if declared is not None:
        named = frozenset([declared] if isinstance(declared, str) else declared)
        if "number" in named:
            named |= {"integer"}
        types &= named
    for key in ("const", "enum"):
        if key in schema:
            values = [schema["const"]] if key == "const" else schema["enum"]
            types &= frozenset(json_type(value) for value in values)
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/") and ref not in seen:
        try:
            target = _at(defs, ref.removeprefix("#"))
        except (KeyError, IndexError, ValueError, TypeError):
            target = True
        types &= json_types(target, defs, seen | {ref})
    for part in schema.get("allOf", ()):
        types &= json_types(part, defs, seen)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            types &= frozenset().union(*(json_types(b, defs, seen) for b in schema[key]))
    return types


def python_type(types: frozenset[str]) -> str:
    """The loosest Python type of values of the JSON ``types``: a number keeps its form
    (``int | float``, so that a relayed ``1`` stays ``1``), any type at all is ``Any``."""
    if not types or types >= _ALL_TYPES:
        return "Any"
    if "number" in types:
        types |= {"integer"}
    return " | ".join(python for kind, python in _PYTHON.items() if kind in types)


def accepts_null_exactly(schema: Any, defs: Mapping[str, Any]) -> bool:
    """Whether ``schema``, its ``$ref`` to ``#/$defs/<Name>`` read in ``defs``, accepts
    ``null``: asked of the schema itself (``jsonschema``), not guessed from its keywords."""
    try:
        return bool(Draft202012Validator({"$defs": dict(defs), "allOf": [schema]}).is_valid(None))
    except Exception:
        return True
