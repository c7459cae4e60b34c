"""Which JSON Schema keywords the generator accepts: only those the generated models enforce.

datamodel-code-generator turns a schema into pydantic models, but silently leaves out what
pydantic cannot express (``uniqueItems``, ``not``, ``if``/``then``/``else``, ``oneOf``'s
exclusivity, ...), so the models would accept messages the schema refuses. Every schema file
is therefore checked against an allowlist before anything is generated:

- assertions the models enforce: ``type`` (one type, optionally with ``"null"``),
  ``properties``, ``required``, ``additionalProperties``, ``items`` (one schema), ``minItems``,
  ``maxItems``, ``minimum``, ``maximum``, ``exclusiveMinimum``, ``exclusiveMaximum``,
  ``multipleOf`` (integers), ``minLength``, ``maxLength``, ``pattern``, ``enum``, ``const``,
  ``format`` (:data:`FORMATS`), ``anyOf``, ``allOf`` (of object schemas), ``$ref``;
- annotations, which need no enforcement: :data:`ANNOTATIONS`, ``$schema``, ``$id`` and
  ``$defs`` (at the root of a file), and any ``x-...`` extension.

Some keywords are only accepted in the shapes the models enforce (see each check below); any
other use is a :class:`~datadivr_codegen.errors.SchemaError` naming the file and the JSON
pointer of the schema inside it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

from datadivr_codegen.errors import SchemaError

__all__ = [
    "ANNOTATIONS",
    "BY_TYPE",
    "FORMATS",
    "SUPPORTED",
    "Resolver",
    "check_file",
    "check_node",
    "check_reserved",
    "json_type",
]

#: Keywords that only describe: nothing to enforce.
ANNOTATIONS = frozenset(
    {
        "$comment",
        "default",
        "deprecated",
        "description",
        "examples",
        "readOnly",
        "title",
        "writeOnly",
    }
)
#: Keywords accepted only at the root of a file.
_ROOT_ONLY = frozenset({"$defs", "$id", "$schema"})
#: The assertions that apply to one type of value only, by that type.
BY_TYPE: Mapping[str, frozenset[str]] = {
    "string": frozenset({"format", "maxLength", "minLength", "pattern"}),
    "number": frozenset(
        {"exclusiveMaximum", "exclusiveMinimum", "maximum", "minimum", "multipleOf"}
    ),
    "array": frozenset({"items", "maxItems", "minItems"}),
    "object": frozenset({"additionalProperties", "properties", "required"}),
}
_GENERAL = frozenset({"$ref", "allOf", "anyOf", "const", "enum", "type"})
#: Every keyword the generator accepts (besides ``x-...`` extensions).
SUPPORTED = ANNOTATIONS | _ROOT_ONLY | _GENERAL | frozenset().union(*BY_TYPE.values())
#: What :mod:`datadivr_codegen.checks` writes for datamodel-code-generator: a class's check
#: (as its base), a tagged union's discriminator.
_MARKERS = frozenset({"customBasePath", "discriminator"})
#: The values of ``format`` the models enforce (with ``datadivr.runtime``'s types).
FORMATS = frozenset({"date-time", "uuid"})

_HINTS = {
    "oneOf": (
        "use anyOf: the models accept a value that matches several branches, which oneOf refuses"
    ),
    "nullable": 'use "type": ["<type>", "null"]',
    "definitions": "use $defs",
    "unevaluatedProperties": 'use "additionalProperties": false',
    "prefixItems": 'use "items" with one schema',
}

#: ``(ref, file)`` → ``(target file, target name, target schema)``: where a ``$ref`` written in
#: ``file`` points (it raises :class:`SchemaError` when it cannot be resolved).
Resolver = Callable[[str, str], tuple[str, str, Any]]


def check_file(data: Mapping[str, Any], file: str, resolve: Resolver) -> None:
    """Refuse every keyword of the file's schemas that the generated models could not enforce.

    Raises:
        SchemaError: naming ``file`` and the JSON pointer of the schema at fault.
    """
    _Checker(file, resolve).schema(data, "", root=True)


def check_reserved(data: Any, file: str, pointer: str = "") -> None:
    """Refuse the generator's own marks (``x-datadivr-...``) anywhere but an ``x-datadivr``
    block at the root of a file: they must not be forged.

    Raises:
        SchemaError: naming ``file`` and the pointer of the first one.
    """
    if isinstance(data, list):
        for i, item in enumerate(data):
            check_reserved(item, file, f"{pointer}/{i}")
        return
    if not isinstance(data, dict):
        return
    for key, value in data.items():
        if key.startswith("x-datadivr") and not (pointer == "" and key == "x-datadivr"):
            raise SchemaError(
                f"at {_where(pointer)}: {key!r} is reserved: only the root of a file may hold "
                "x-datadivr",
                file,
            )
        if key not in ("const", "enum", "default", "examples") and not key.startswith("x-"):
            check_reserved(value, file, f"{pointer}{_token(key)}")


def check_node(node: Any, resolve: Callable[[str], tuple[str, Any]]) -> None:
    """Refuse ``node`` unless the models enforce it exactly; ``resolve`` gives the name and
    schema of the definition a ``$ref`` points to (it raises :class:`SchemaError` when that
    is not a definition). A placeholder (a ``customTypePath``, which
    :mod:`datadivr_codegen.checks` puts where a check replaces a subschema) is enforced.

    Raises:
        SchemaError: the first keyword at fault.
    """
    _Checker("", lambda ref, _file: ("", *resolve(ref)), markers=True).schema(node, "")


def _where(pointer: str) -> str:
    return "#" + pointer


def _token(name: str) -> str:
    return "/" + name.replace("~", "~0").replace("/", "~1")


def _describe(keys: Iterable[str]) -> str:
    return ", ".join(repr(k) for k in sorted(keys))


def json_type(value: Any) -> str:
    """The JSON Schema type of a JSON value (``True`` → ``"boolean"``, ``1`` → ``"integer"``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


@dataclass(frozen=True)
class _Part:
    """One object schema of an ``allOf`` composition."""

    where: str
    properties: dict[str, Any]
    closed: bool


class _Checker:
    def __init__(self, file: str, resolve: Resolver, *, markers: bool = False) -> None:
        self.file = file
        self.resolve = resolve
        # The marks datadivr_codegen.checks leaves for datamodel-code-generator.
        self.markers = markers

    def fail(self, pointer: str, reason: str) -> NoReturn:
        raise SchemaError(f"at {_where(pointer)}: {reason}", self.file)

    def schema(self, node: Any, pointer: str, *, root: bool = False) -> None:
        if isinstance(node, bool):
            self.fail(
                pointer,
                "a boolean schema is only supported as additionalProperties (use {} for any value)",
            )
        if not isinstance(node, dict):
            return  # the meta-schema check has refused it already
        if self.markers and "customTypePath" in node:
            return  # a checked subschema: see datadivr_codegen.checks
        for key in node:
            if key.startswith("x-") or (self.markers and key in _MARKERS):
                continue
            if key not in SUPPORTED:
                hint = _HINTS.get(key)
                self.fail(
                    pointer,
                    f"{key!r} is not supported by the generator: the models could not enforce it"
                    + (f"; {hint}" if hint else ""),
                )
            if key in _ROOT_ONLY and not root:
                self.fail(pointer, f"{key!r} is only supported at the root of a file")
        for key in ("$ref", "anyOf"):
            if key in node:
                self.alone(node, pointer, key)
        if "$ref" in node:
            self.resolve(node["$ref"], self.file)
        types = self.types(node, pointer)
        self.typed_keywords(node, pointer, types)
        self.literal(node, pointer, types)
        if "format" in node:
            self.format(node, pointer)
        if "multipleOf" in node:
            self.multiple_of(node, pointer, types)
        if "pattern" in node:
            self.pattern(node["pattern"], pointer)
        if "anyOf" in node:
            for i, branch in enumerate(node["anyOf"]):
                self.schema(branch, f"{pointer}/anyOf/{i}")
        known = set(node.get("properties", {}))
        if "allOf" in node:
            known |= self.all_of(node, pointer)
        missing = [name for name in node.get("required", ()) if name not in known]
        if missing:
            self.fail(
                pointer,
                f"required names {_describe(missing)}, which no properties define: "
                "the models cannot require a property they do not declare",
            )
        for name, prop in node.get("properties", {}).items():
            self.schema(prop, f"{pointer}/properties{_token(name)}")
        if "items" in node:
            self.schema(node["items"], f"{pointer}/items")
        extra = node.get("additionalProperties")
        if isinstance(extra, dict):
            self.schema(extra, f"{pointer}/additionalProperties")
        for name, definition in node.get("$defs", {}).items():
            self.schema(definition, f"{pointer}/$defs{_token(name)}")

    def types(self, node: Mapping[str, Any], pointer: str) -> frozenset[str] | None:
        """The declared types (``None``: no ``type``)."""
        if "type" not in node:
            return None
        declared = node["type"]
        types = frozenset([declared] if isinstance(declared, str) else declared)
        if len(types - {"null"}) > 1:
            self.fail(
                pointer,
                f'"type": {json.dumps(declared)} is not supported by the generator: '
                'one type at most besides "null" (use anyOf for more)',
            )
        return types

    def typed_keywords(
        self, node: Mapping[str, Any], pointer: str, types: frozenset[str] | None
    ) -> None:
        """An assertion for one type of value needs that type declared beside it.

        Without ``type``, the schema checks the keyword on that type of value only and takes
        any other value; datamodel-code-generator would type the value ``Any`` (and drop the
        keyword) or type it as the keyword's type (and refuse the rest).
        """
        for kind, keywords in BY_TYPE.items():
            for key in sorted(keywords & node.keys()):
                shown = '"number" or "integer"' if kind == "number" else f'"{kind}"'
                if types is None:
                    self.fail(
                        pointer,
                        f'{key!r} needs "type": {shown} beside it: without a type, the schema '
                        f"takes values of any other type, which the models would not",
                    )
                if kind not in types and not (kind == "number" and "integer" in types):
                    self.fail(
                        pointer,
                        f'{key!r} has no effect beside "type": {json.dumps(node["type"])}: '
                        f"it applies to {kind} values only",
                    )

    def literal(self, node: Mapping[str, Any], pointer: str, types: frozenset[str] | None) -> None:
        for key in ("enum", "const"):
            if key not in node:
                continue
            others = self.assertions(node) - {key, "type"}
            if others:
                self.fail(
                    pointer,
                    f"{key!r} with {_describe(others)} beside it is not supported by the "
                    "generator: the models check the listed values only",
                )
            values = node["enum"] if key == "enum" else [node["const"]]
            if not values:
                self.fail(pointer, "an empty enum accepts nothing, which no Python type says")
            for value in values:
                kind = json_type(value)
                if kind not in ("null", "boolean", "integer", "string"):
                    self.fail(
                        pointer,
                        f"{key} value {json.dumps(value)} is not supported by the generator: "
                        "only strings, integers, booleans and null can be listed",
                    )
                if (
                    types is not None
                    and kind not in types
                    and not (kind == "integer" and "number" in types)
                ):
                    self.fail(
                        pointer,
                        f"{key} value {json.dumps(value)} is not of the declared type "
                        f"{json.dumps(node['type'])}: the schema never accepts it, the models "
                        "would",
                    )

    def format(self, node: Mapping[str, Any], pointer: str) -> None:
        value = node["format"]
        if value not in FORMATS:
            self.fail(
                pointer,
                f'"format": {json.dumps(value)} is not supported by the generator: the models '
                f"could not enforce it (supported: {', '.join(sorted(FORMATS))}; use pattern "
                "for others)",
            )
        beside = sorted(node.keys() & {"minLength", "maxLength", "pattern"})
        if beside:
            self.fail(
                pointer,
                f'"format": {json.dumps(value)} with {_describe(beside)} beside it is not '
                "supported by the generator: the models check the format only",
            )

    def multiple_of(
        self, node: Mapping[str, Any], pointer: str, types: frozenset[str] | None
    ) -> None:
        value = node["multipleOf"]
        if types is None or "number" in types or not isinstance(value, int):
            self.fail(
                pointer,
                '"multipleOf" is only supported with "type": "integer" and an integer value: '
                "with fractions, the models and the schema round differently",
            )

    def pattern(self, pattern: Any, pointer: str) -> None:
        """The models' regular-expression engine (Rust's ``regex``) must compile it: it has no
        look-around and no back-references."""
        from pydantic_core import SchemaError as CoreSchemaError
        from pydantic_core import SchemaValidator, core_schema

        try:
            SchemaValidator(core_schema.str_schema(pattern=str(pattern)))
        except CoreSchemaError as exc:
            detail = str(exc).strip().splitlines()[-1].strip()
            self.fail(
                pointer,
                f"pattern {json.dumps(pattern)} is not supported by the models' regular-"
                f"expression engine ({detail})",
            )

    def assertions(self, node: Mapping[str, Any]) -> set[str]:
        """The keywords of ``node`` that are neither annotations nor extensions (the root-only
        keywords count as annotations: elsewhere they are refused before this is asked)."""
        skip = ANNOTATIONS | _ROOT_ONLY | (_MARKERS if self.markers else frozenset())
        return {k for k in node if k not in skip and not k.startswith("x-")}

    def alone(self, node: Mapping[str, Any], pointer: str, key: str) -> None:
        others = self.assertions(node) - {key}
        if others:
            self.fail(
                pointer,
                f"{key!r} with {_describe(others)} beside it is not supported by the generator: "
                "the models could not enforce both (keep only annotations beside it)",
            )

    def all_of(self, node: Mapping[str, Any], pointer: str) -> set[str]:
        """``allOf`` combines object schemas only: each member a ``$ref`` to an object schema.

        The models become subclasses of the members' models, which check every member's
        properties, but not two different schemas of one property, nor a member's
        ``additionalProperties: false`` against the other members' properties: those are
        refused. Returns the names of every property of the composition.
        """
        others = self.assertions(node) - {"allOf", *BY_TYPE["object"], "type"}
        if others or node.get("type") != "object":
            self.fail(
                pointer,
                'allOf is only supported to combine object schemas: "type": "object" beside it, '
                "and nothing but properties, required and additionalProperties"
                + (f" (found {_describe(others)})" if others else ""),
            )
        if isinstance(node.get("additionalProperties"), dict):
            self.fail(
                pointer,
                "a schema for additionalProperties is not supported beside allOf: "
                "the models could not enforce it on the other members' properties",
            )
        for i, member in enumerate(node["allOf"]):
            if not (
                isinstance(member, dict)
                and "$ref" in member
                and not self.assertions(member) - {"$ref"}
            ):
                self.fail(
                    f"{pointer}/allOf/{i}",
                    "an allOf member must be a $ref to an object schema, with nothing but "
                    "annotations beside it",
                )
        parts: list[_Part] = []
        self.parts(node, self.file, pointer, "this schema", parts, set())
        defined: dict[str, tuple[str, Any]] = {}
        for part in parts:
            for name, schema in part.properties.items():
                if isinstance(schema, dict):
                    # The generator's mark of an optional property that refuses null says
                    # whether the part requires it, not what the property is.
                    schema = {k: v for k, v in schema.items() if k != "x-datadivr-not-null"}
                if name in defined and defined[name][1] != schema:
                    self.fail(
                        pointer,
                        f"property {name!r} is defined both in {defined[name][0]} and in "
                        f"{part.where}, differently: the models would check only one of them; "
                        "define it in one place",
                    )
                defined.setdefault(name, (part.where, schema))
        for part in parts:
            missing = sorted(set(defined) - set(part.properties))
            if part.closed and missing:
                self.fail(
                    pointer,
                    f'{part.where} sets "additionalProperties": false but does not list '
                    f"{_describe(missing)}: the schema refuses every object that has them, "
                    'which the models would accept; list them there or drop "additionalProperties"',
                )
        return set(defined)

    def parts(
        self,
        node: Mapping[str, Any],
        file: str,
        pointer: str,
        where: str,
        out: list[_Part],
        seen: set[tuple[str, str]],
    ) -> None:
        properties = {
            name: self.canonical(schema, file)
            for name, schema in node.get("properties", {}).items()
        }
        out.append(_Part(where, properties, node.get("additionalProperties") is False))
        for i, member in enumerate(node.get("allOf", ())):
            if not isinstance(member, dict) or not isinstance(member.get("$ref"), str):
                continue  # refused when that file is checked
            target_file, name, target = self.resolve(member["$ref"], file)
            if (target_file, name) in seen:
                continue
            seen.add((target_file, name))
            target_where = f"{target_file}#/$defs/{name}"
            if not isinstance(target, dict) or target.get("type") != "object":
                self.fail(
                    f"{pointer}/allOf/{i}" if file == self.file else pointer,
                    f'allOf member {target_where} must be an object schema ("type": "object")',
                )
            if isinstance(target.get("additionalProperties"), dict):
                self.fail(
                    pointer,
                    f"allOf member {target_where} has a schema for additionalProperties: "
                    "the models could not enforce it on the other members' properties",
                )
            self.parts(target, target_file, f"/$defs/{name}", target_where, out, seen)

    def canonical(self, schema: Any, file: str) -> Any:
        """``schema`` with every ``$ref`` written as ``<file>#/$defs/<Name>``: comparable
        across files."""
        if isinstance(schema, list):
            return [self.canonical(item, file) for item in schema]
        if not isinstance(schema, dict):
            return schema
        out: dict[str, Any] = {}
        for key, value in schema.items():
            if key == "$ref" and isinstance(value, str):
                target_file, name, _ = self.resolve(value, file)
                out[key] = f"{target_file}#/$defs/{name}"
            elif key in ("const", "enum", "default", "examples") or key.startswith("x-"):
                out[key] = value
            else:
                out[key] = self.canonical(value, file)
        return out
