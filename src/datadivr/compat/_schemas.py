"""Compare two JSON Schemas (draft 2020-12): which values one accepts that the other refuses.

:meth:`Comparison.compare` walks an OLD and a NEW schema side by side and returns
:class:`Finding`\\ s, each with two flags: ``stricter`` (some value OLD accepts, NEW refuses)
and ``looser`` (some value NEW accepts, OLD refuses). The analysis is *sound*: a flag is set
whenever such a value may exist; it is left unset only when none can. It gets there by
comparing conjuncts: a schema is the conjunction of its keywords (and of its ``allOf``
members and ``$ref`` targets), so a value that OLD accepts and NEW refuses fails one of NEW's
conjuncts while passing OLD's counterpart of it, and comparing the conjuncts one by one finds
it. Keywords whose effect cannot be compared exactly (a changed ``pattern``, a changed ``if``,
``unevaluatedProperties`` beside anything that changed) are reported both ways.

``$ref``\\ s are followed, so definitions are compared by their content, not their names; a
recursive definition is compared once per pair of places (coinductively).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any
from urllib.parse import unquote

__all__ = [
    "ANNOTATIONS",
    "ENFORCED_FORMATS",
    "MAX_COMPARISONS",
    "MAX_VISITS",
    "Comparison",
    "Finding",
    "Schemas",
    "Shapes",
    "TooLargeError",
]

#: Keywords that only describe: changing them changes no verdict.
ANNOTATIONS = frozenset(
    {
        "$comment",
        "$schema",
        "$id",
        "$anchor",
        "$dynamicAnchor",
        "$vocabulary",
        "$defs",
        "definitions",
        "title",
        "description",
        "default",
        "examples",
        "deprecated",
        "readOnly",
        "writeOnly",
        # Annotations in draft 2020-12, and not checked by datadivr's validators.
        "contentEncoding",
        "contentMediaType",
        "contentSchema",
    }
)
#: The formats datadivr's models and checks assert; every other ``format`` is an annotation.
ENFORCED_FORMATS = frozenset({"date-time", "uuid"})
_TYPES = ("array", "boolean", "integer", "null", "number", "object", "string")
#: The keywords :class:`Comparison` understands; any other that differs is reported both ways.
_KNOWN = frozenset(
    {
        "type",
        "enum",
        "const",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "minLength",
        "maxLength",
        "pattern",
        "format",
        "items",
        "prefixItems",
        "additionalItems",
        "minItems",
        "maxItems",
        "uniqueItems",
        "contains",
        "minContains",
        "maxContains",
        "properties",
        "additionalProperties",
        "patternProperties",
        "required",
        "minProperties",
        "maxProperties",
        "propertyNames",
        "dependentRequired",
        "dependentSchemas",
        "anyOf",
        "oneOf",
        "not",
        "if",
        "then",
        "else",
        "unevaluatedItems",
        "unevaluatedProperties",
    }
)
#: At most this many pairs of ``anyOf``/``oneOf`` branches are compared with each other.
_MAX_PAIRS = 400
#: At most this many pairs of schemas are compared in one :class:`Comparison` (a few seconds;
#: a protocol of 130 events with shared definitions takes 6,000).
MAX_COMPARISONS = 50_000
#: At most this many schemas are put in canonical form in one :class:`Comparison`.
MAX_VISITS = 2_000_000


@dataclass(frozen=True)
class Finding:
    """One difference between two schemas.

    Attributes:
        path: Where the values it concerns are, JSONPath-like from the compared root:
            ``$.payload.numbers[*]`` (``.name`` a property, ``[*]`` every item, ``[0]`` the
            first item, ``.*`` any other property, ``.~<regex>`` the properties a pattern
            matches).
        kind: What changed, a stable identifier such as ``type-narrowed``.
        summary: What changed, in words.
        stricter: Some value the old schema accepts, the new one refuses.
        looser: Some value the new schema accepts, the old one refuses.
    """

    path: str
    kind: str
    summary: str
    stricter: bool
    looser: bool


class Schemas:
    """One side's schemas: a document whose ``$ref``\\ s (``#/...`` pointers) resolve in it."""

    def __init__(self, root: Mapping[str, Any]) -> None:
        self.root = root

    def resolve(self, ref: str) -> Any:
        """The schema ``ref`` points at.

        Raises:
            LookupError: the pointer leads nowhere, or is not a local one.
        """
        if not ref.startswith("#"):
            raise LookupError(f"$ref {ref!r} is not a local reference")
        node: Any = self.root
        pointer = unquote(ref[1:])
        if pointer == "":
            return node
        if not pointer.startswith("/"):
            raise LookupError(f"$ref {ref!r} is not a JSON pointer")
        for token in pointer[1:].split("/"):
            key = token.replace("~1", "/").replace("~0", "~")
            if isinstance(node, Mapping) and key in node:
                node = node[key]
            elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
                node = node[int(key)]
            else:
                raise LookupError(f"$ref {ref!r} leads nowhere")
        return node


# -- values ------------------------------------------------------------------------------------


def _value_key(value: Any) -> str:
    """A JSON value's identity under JSON Schema's equality (``1`` equals ``1.0``)."""
    return json.dumps(_plain(value), sort_keys=True, ensure_ascii=False)


def _plain(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _fraction(value: Any) -> Fraction | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return Fraction(Decimal(str(value)))
    except (InvalidOperation, ValueError, OverflowError):
        return None


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if math.isfinite(value) and value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


# -- canonical forms ---------------------------------------------------------------------------


class TooLargeError(ValueError):
    """The schemas are too large to compare within :data:`MAX_COMPARISONS` pairs and
    :data:`MAX_VISITS` schemas."""


class Shapes:
    """The canonical forms of one side's schemas, as text: without annotations, ``required``,
    ``enum`` and the members of ``allOf``/``anyOf``/``oneOf`` sorted, integral floats as
    integers, and each ``$ref`` inlined (a reference back into a definition being inlined as
    ``{"$rec":n}``, ``n`` levels up), or, with ``name_ref``, renamed by it. Equal texts are
    schemas that accept the same values. A schema's text is computed once, unless it holds a
    reference back into a definition above it.

    Args:
        schemas: The document the schemas and their references are in.
        counter: Nodes visited, shared by the texts of one comparison (or one fingerprint).
        name_ref: How to write a ``$ref`` instead of inlining it.
    """

    def __init__(
        self,
        schemas: Schemas,
        counter: list[int] | None = None,
        name_ref: Callable[[str], str] | None = None,
    ) -> None:
        self.schemas = schemas
        self._memo: dict[int, tuple[Any, str]] = {}
        self._recs = 0
        self._counter = counter if counter is not None else [0]
        self._name_ref = name_ref

    def text(self, node: Any, stack: tuple[int, ...] = ()) -> str:
        """``node``'s canonical text.

        Raises:
            TooLargeError: more than :data:`MAX_VISITS` schemas were visited.
        """
        if not isinstance(node, Mapping):
            return _value_key(node)
        memo = self._memo.get(id(node))
        if memo is not None and memo[0] is node:
            return memo[1]
        self._counter[0] += 1
        if self._counter[0] > MAX_VISITS:
            raise TooLargeError("the schemas are too large to compare")
        recs = self._recs
        parts = []
        for key in sorted(node):
            value = node[key]
            if key in ANNOTATIONS or key.startswith("x-"):
                continue
            if key == "format" and value not in ENFORCED_FORMATS:
                continue
            if key == "$ref" and isinstance(value, str):
                text = self._ref(value, stack)
            elif key in ("enum", "required") and isinstance(value, list):
                text = "[" + ",".join(sorted(_value_key(v) for v in value)) + "]"
            elif key == "type" and isinstance(value, list):
                text = _value_key(sorted(value) if len(value) != 1 else value[0])
            elif key in ("properties", "patternProperties", "dependentSchemas") and isinstance(
                value, Mapping
            ):
                items = sorted(value.items())
                text = "{" + ",".join(f"{json.dumps(k)}:{self.text(v, stack)}" for k, v in items)
                text += "}"
            elif key in ("allOf", "anyOf", "oneOf") and isinstance(value, list):
                # Their order changes no verdict.
                text = "[" + ",".join(sorted(self.text(v, stack) for v in value)) + "]"
            elif key == "prefixItems" and isinstance(value, list):
                text = "[" + ",".join(self.text(v, stack) for v in value) + "]"
            elif isinstance(value, Mapping | bool):
                text = self.text(value, stack)
            else:
                text = _value_key(value)
            parts.append(f"{json.dumps(key)}:{text}")
        text = "{" + ",".join(parts) + "}"
        if self._recs == recs:
            self._memo[id(node)] = (node, text)
        return text

    def _ref(self, ref: str, stack: tuple[int, ...]) -> str:
        if self._name_ref is not None:
            return json.dumps(self._name_ref(ref))
        try:
            target = self.schemas.resolve(ref)
        except LookupError:
            return _value_key(ref)
        if id(target) in stack:
            self._recs += 1
            return f'{{"$rec":{len(stack) - stack.index(id(target))}}}'
        return '{"$inline":' + self.text(target, (*stack, id(target))) + "}"


# -- the comparison ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Atom:
    """One conjunct of a schema: its own keywords (no ``allOf`` or ``$ref``), or ``false``."""

    keywords: Mapping[str, Any]
    false: bool = False


_TRUE: Mapping[str, Any] = {}


class Comparison:
    """Compares schemas of an OLD and a NEW document."""

    def __init__(self, old: Schemas, new: Schemas) -> None:
        self.old = old
        self.new = new
        self._active: set[tuple[int, int]] = set()
        #: Each node's own keywords, one dict per node (its id marks a pair in ``_active``).
        self._own: dict[int, tuple[Any, dict[str, Any]]] = {}
        visits = [0]
        self._old_shapes = Shapes(old, visits)
        self._new_shapes = Shapes(new, visits)
        #: How many more pairs of schemas may be compared.
        self.budget = MAX_COMPARISONS
        #: Pairs of references treated as equal (the envelope, compared on its own).
        self.same_refs: set[tuple[str, str]] = set()

    # -- entry points ----------------------------------------------------------------------

    def compare(self, old: Any, new: Any, path: str = "$") -> list[Finding]:
        """The differences between ``old`` (in the OLD document) and ``new`` (in NEW)."""
        key = (id(old), id(new))
        if key in self._active:
            return []  # the same pair further up: any difference shows there
        self.budget -= 1
        if self.budget < 0:
            raise TooLargeError("the schemas are too large to compare")
        self._active.add(key)
        try:
            return self._compare(old, new, path)
        finally:
            self._active.discard(key)

    def old_shape(self, node: Any) -> str:
        """The canonical form of a schema of OLD, as text (equal texts: equal schemas).

        Raises:
            TooLargeError: the schemas are too large to compare.
        """
        return self._old_shapes.text(node)

    def new_shape(self, node: Any) -> str:
        """The canonical form of a schema of NEW, as text.

        Raises:
            TooLargeError: the schemas are too large to compare.
        """
        return self._new_shapes.text(node)

    # -- nodes -----------------------------------------------------------------------------

    def _compare(self, old: Any, new: Any, path: str) -> list[Finding]:
        old_atoms = self._atoms(old, self.old, ())
        new_atoms = self._atoms(new, self.new, ())
        if any(a.false for a in old_atoms):
            if any(a.false for a in new_atoms):
                return []
            return [
                Finding(
                    path,
                    "now-accepted",
                    "values were all refused, now some are accepted",
                    False,
                    True,
                )
            ]
        if any(a.false for a in new_atoms):
            return [Finding(path, "now-refused", "every value is refused now", True, False)]
        findings: list[Finding] = []
        findings += self._unevaluated(old, new, path)
        for o, n in self._pair(old_atoms, new_atoms):
            findings += self._compare_atoms(o.keywords, n.keywords, path)
        return findings

    def _atoms(self, node: Any, side: Schemas, seen: tuple[int, ...]) -> list[_Atom]:
        """``node``'s conjuncts: its own keywords, then those of its ``$ref`` and ``allOf``."""
        if node is True or node is None:
            return []
        if node is False:
            return [_Atom(_TRUE, false=True)]
        if not isinstance(node, Mapping) or id(node) in seen:
            return []
        seen = (*seen, id(node))
        cached = self._own.get(id(node))
        if cached is not None and cached[0] is node:
            own = cached[1]
        else:
            own = {
                k: v
                for k, v in node.items()
                if k not in ("$ref", "allOf") and k not in ANNOTATIONS and not k.startswith("x-")
            }
            if own:
                self._own[id(node)] = (node, own)
        atoms = [_Atom(own)] if own else []
        ref = node.get("$ref")
        if isinstance(ref, str):
            if any(ref == (a if side is self.old else b) for a, b in self.same_refs):
                atoms.append(_Atom({"$same": ref}))
            else:
                try:
                    atoms += self._atoms(side.resolve(ref), side, seen)
                except LookupError:
                    atoms.append(_Atom({"$ref": ref}))
        members = node.get("allOf")
        if isinstance(members, list):
            for member in members:
                atoms += self._atoms(member, side, seen)
        return atoms

    def _pair(self, old: list[_Atom], new: list[_Atom]) -> Iterator[tuple[_Atom, _Atom]]:
        """Old and new conjuncts, paired: equal ones first, then in order; a conjunct left
        over is paired with ``true``."""
        if len(old) == len(new) == 1:
            yield old[0], new[0]
            return
        old_shapes = [self.old_shape(a.keywords) for a in old]
        new_left = list(range(len(new)))
        new_shapes = [self.new_shape(a.keywords) for a in new]
        pairs: list[tuple[int | None, int | None]] = []
        old_left: list[int] = []
        for i, shape in enumerate(old_shapes):
            match = next((j for j in new_left if new_shapes[j] == shape), None)
            if match is None:
                old_left.append(i)
            else:
                new_left.remove(match)
                pairs.append((i, match))
        for k in range(max(len(old_left), len(new_left))):
            pairs.append(
                (
                    old_left[k] if k < len(old_left) else None,
                    new_left[k] if k < len(new_left) else None,
                )
            )
        pairs.sort(key=lambda p: (p[0] if p[0] is not None else len(old), p[1] or 0))
        for a, b in pairs:
            yield (
                old[a] if a is not None else _Atom(_TRUE),
                new[b] if b is not None else _Atom(_TRUE),
            )

    def _unevaluated(self, old: Any, new: Any, path: str) -> list[Finding]:
        """``unevaluatedProperties``/``Items`` see what every applicator beside them
        evaluated. Beside nothing else that changed, they are compared with each other (they
        apply to the same members); beside any other change, they may refuse more and accept
        more."""
        found: list[Finding] = []
        for key in ("unevaluatedProperties", "unevaluatedItems"):
            if not any(isinstance(node, Mapping) and key in node for node in (old, new)):
                continue
            rest_old = _without(old, key)
            rest_new = _without(new, key)
            if self.old_shape(rest_old) == self.new_shape(rest_new):
                found += self.compare(
                    old.get(key, True) if isinstance(old, Mapping) else True,
                    new.get(key, True) if isinstance(new, Mapping) else True,
                    f"{path}.*" if key == "unevaluatedProperties" else f"{path}[*]",
                )
            elif self.old_shape(old) != self.new_shape(new):
                found.append(
                    Finding(
                        path,
                        "unevaluated-changed",
                        f"a schema with {key} changed: which values it leaves unevaluated "
                        "may differ",
                        True,
                        True,
                    )
                )
        return found

    # -- one conjunct against another ---------------------------------------------------------

    def _compare_atoms(
        self, old: Mapping[str, Any], new: Mapping[str, Any], path: str
    ) -> list[Finding]:
        key = (id(old), id(new))
        if key in self._active:
            return []  # the same pair further up: any difference shows there
        self._active.add(key)
        try:
            return self._compare_keywords(old, new, path)
        finally:
            self._active.discard(key)

    def _compare_keywords(
        self, old: Mapping[str, Any], new: Mapping[str, Any], path: str
    ) -> list[Finding]:
        if old.get("$same") is not None and new.get("$same") is not None:
            return []
        if "$ref" in old or "$ref" in new:  # a reference that does not resolve
            if old.get("$ref") == new.get("$ref"):
                return []
            return [Finding(path, "ref-changed", "an unresolved $ref changed", True, True)]
        if any(key in kw for key in ("anyOf", "oneOf") for kw in (old, new)):
            # A disjunction: each side as its branches (with the keywords beside them).
            return self._compare_branches(old, new, path)
        types_old = _effective_types(old)
        types_new = _effective_types(new)
        either = types_old | types_new
        findings = _compare_types(types_old, types_new, old, new, path)
        findings += _compare_values(old, new, path)
        if either & {"number", "integer"}:
            findings += _compare_numbers(old, new, path)
        if "string" in either:
            findings += _compare_strings(old, new, path)
        if "array" in either:
            findings += self._compare_arrays(old, new, path)
        if "object" in either:
            findings += self._compare_objects(old, new, path)
        findings += self._compare_not(old, new, path)
        findings += self._compare_if(old, new, path)
        for key in sorted((set(old) | set(new)) - _KNOWN - {"$same", "$ref"}):
            if key in ANNOTATIONS or key.startswith("x-"):
                continue
            if _value_key(old.get(key)) != _value_key(new.get(key)):
                findings.append(Finding(path, "keyword-changed", f"{key} changed", True, True))
        return findings

    # -- arrays --------------------------------------------------------------------------------

    def _compare_arrays(
        self, old: Mapping[str, Any], new: Mapping[str, Any], path: str
    ) -> list[Finding]:
        findings: list[Finding] = []
        prefix_old, rest_old = _positions(old)
        prefix_new, rest_new = _positions(new)
        for i in range(max(len(prefix_old), len(prefix_new))):
            o = prefix_old[i] if i < len(prefix_old) else rest_old
            n = prefix_new[i] if i < len(prefix_new) else rest_new
            findings += self.compare(o, n, f"{path}[{i}]")
        findings += self.compare(rest_old, rest_new, f"{path}[*]")
        findings += _bound(old, new, path, "minItems", low=True, noun="items")
        findings += _bound(old, new, path, "maxItems", low=False, noun="items")
        unique_old = old.get("uniqueItems") is True
        unique_new = new.get("uniqueItems") is True
        if unique_new and not unique_old:
            findings.append(
                Finding(path, "unique-items-added", "items must now be unique", True, False)
            )
        elif unique_old and not unique_new:
            findings.append(
                Finding(path, "unique-items-removed", "items may now repeat", False, True)
            )
        findings += self._compare_contains(old, new, path)
        return findings

    def _compare_contains(
        self, old: Mapping[str, Any], new: Mapping[str, Any], path: str
    ) -> list[Finding]:
        keys = ("contains", "minContains", "maxContains")
        if all(_value_key(old.get(k)) == _value_key(new.get(k)) for k in keys) and (
            "contains" not in old
            or self.old_shape(old["contains"]) == self.new_shape(new["contains"])
        ):
            return []
        if "contains" not in old:
            return [Finding(path, "contains-added", "an item must now match contains", True, False)]
        if "contains" not in new:
            return [
                Finding(
                    path, "contains-removed", "no item need match contains any more", False, True
                )
            ]
        findings = []
        inner = self.compare(old["contains"], new["contains"], f"{path}[?]")
        # More items match the new contains: the array's condition is easier (and the reverse);
        # with maxContains, or with both at once, either way.
        stricter = any(f.stricter for f in inner)
        looser = any(f.looser for f in inner)
        if (stricter or looser) and ("maxContains" in old or "maxContains" in new):
            stricter = looser = True
        if stricter or looser:
            findings.append(
                Finding(
                    path,
                    "contains-changed",
                    "which items count for contains changed",
                    stricter,
                    looser,
                )
            )
        findings += _count_bound(old, new, path, "minContains", 1, low=True)
        findings += _count_bound(old, new, path, "maxContains", None, low=False)
        return findings

    # -- objects -------------------------------------------------------------------------------

    def _compare_objects(
        self, old: Mapping[str, Any], new: Mapping[str, Any], path: str
    ) -> list[Finding]:
        findings: list[Finding] = []
        props_old = _mapping(old.get("properties"))
        props_new = _mapping(new.get("properties"))
        patterns_old = _mapping(old.get("patternProperties"))
        patterns_new = _mapping(new.get("patternProperties"))
        extra_old = old.get("additionalProperties", True)
        extra_new = new.get("additionalProperties", True)
        for name in [*props_old, *(n for n in props_new if n not in props_old)]:
            where = _member(path, name)
            o = _for_name(name, props_old, patterns_old, extra_old)
            n = _for_name(name, props_new, patterns_new, extra_new)
            inner = self.compare({"allOf": o}, {"allOf": n}, where)
            if name not in props_old:
                findings += _relabel(inner, "property-added", f"property {name!r} added")
            elif name not in props_new:
                findings += _relabel(inner, "property-removed", f"property {name!r} removed")
            else:
                findings += inner
        same_patterns = self.old_shape(dict(patterns_old)) == self.new_shape(dict(patterns_new))
        if not same_patterns:
            for pattern in patterns_old.keys() & patterns_new.keys():
                findings += self.compare(
                    patterns_old[pattern], patterns_new[pattern], f"{path}.~{pattern}"
                )
            if not patterns_old or not patterns_new:
                # Patterns on one side only: a name a pattern matches is checked by it on that
                # side, by additionalProperties on the other.
                for pattern in patterns_new.keys() - patterns_old.keys():
                    findings += self.compare(extra_old, patterns_new[pattern], f"{path}.~{pattern}")
                for pattern in patterns_old.keys() - patterns_new.keys():
                    findings += self.compare(patterns_old[pattern], extra_new, f"{path}.~{pattern}")
            elif patterns_old.keys() != patterns_new.keys():
                findings.append(
                    Finding(
                        path,
                        "pattern-properties-changed",
                        "the patterns of patternProperties changed",
                        True,
                        True,
                    )
                )
        findings += self.compare(extra_old, extra_new, f"{path}.*")
        findings += _compare_required(old, new, path)
        findings += _bound(old, new, path, "minProperties", low=True, noun="properties")
        findings += _bound(old, new, path, "maxProperties", low=False, noun="properties")
        findings += self.compare(
            old.get("propertyNames", True), new.get("propertyNames", True), f"{path}.<names>"
        )
        dep_old = _mapping(old.get("dependentRequired"))
        dep_new = _mapping(new.get("dependentRequired"))
        for name in sorted(dep_old.keys() | dep_new.keys()):
            findings += _compare_name_sets(
                dep_old.get(name, []),
                dep_new.get(name, []),
                path,
                "dependent-required",
                f"when {name!r} is present",
            )
        schemas_old = _mapping(old.get("dependentSchemas"))
        schemas_new = _mapping(new.get("dependentSchemas"))
        for name in sorted(schemas_old.keys() | schemas_new.keys()):
            findings += self.compare(
                schemas_old.get(name, True), schemas_new.get(name, True), f"{path}(if .{name})"
            )
        return findings

    # -- applicators ---------------------------------------------------------------------------

    def _disjunction(
        self, kw: Mapping[str, Any], side: Schemas
    ) -> tuple[list[Any], list[Any], str | None, bool]:
        """``kw`` as a disjunction: its branches (each with the keywords beside it), the
        branches as written, the keyword, and whether it is one (a ``oneOf`` is, when no value
        can match two of its branches)."""
        for key in ("anyOf", "oneOf"):
            if isinstance(kw.get(key), list):
                branches, raw = _branches(kw, key)
                return branches, raw, key, key == "anyOf" or self._disjoint(branches, side)
        return [kw], [None], None, True

    def _compare_branches(
        self, old: Mapping[str, Any], new: Mapping[str, Any], path: str
    ) -> list[Finding]:
        b_old, raw_old, key_old, exact_old = self._disjunction(old, self.old)
        b_new, raw_new, key_new, exact_new = self._disjunction(new, self.new)
        key = key_new or key_old or "anyOf"
        shapes_old = [self.old_shape(b) for b in b_old]
        shapes_new = [self.new_shape(b) for b in b_new]
        if sorted(shapes_old) == sorted(shapes_new):
            return []
        word = key.lower()
        if len(b_old) * len(b_new) > _MAX_PAIRS:
            return [Finding(path, f"{word}-changed", f"the branches of {key} changed", True, True)]
        # Each pair of branches compared once; an old branch is still accepted when one new
        # branch accepts all of it (and the reverse).
        table = [[self.compare(o, n, path) for n in b_new] for o in b_old]
        covered_old = [any(not _flag(cell, "stricter") for cell in row) for row in table]
        covered_new = [
            any(not _flag(table[i][j], "looser") for i in range(len(b_old)))
            for j in range(len(b_new))
        ]
        stricter = not all(covered_old)
        looser = not all(covered_new)
        # Details: equivalent branches matched first, then the others in order.
        left_new = list(range(len(b_new)))
        left_old = []
        for i in range(len(b_old)):
            same = next((j for j in left_new if not table[i][j]), None)
            if same is None:
                left_old.append(i)
            else:
                left_new.remove(same)
        findings: list[Finding] = []
        for i, j in zip(left_old, left_new, strict=False):
            for f in table[i][j]:
                findings.append(
                    replace(f, stricter=f.stricter and stricter, looser=f.looser and looser)
                )
        for i in left_old[len(left_new) :]:
            findings.append(
                Finding(
                    path,
                    f"{word}-branch-removed",
                    f"{key_old or key} branch {_branch_text(raw_old[i])} removed",
                    not covered_old[i],
                    False,
                )
            )
        for j in left_new[len(left_old) :]:
            findings.append(
                Finding(
                    path,
                    f"{word}-branch-added",
                    f"{key_new or key} branch {_branch_text(raw_new[j])} added",
                    False,
                    not covered_new[j],
                )
            )
        if not (exact_old and exact_new):
            # Branches that may overlap: a value that matched one branch may now match two.
            findings.append(
                Finding(
                    path,
                    "oneof-changed",
                    "the branches of oneOf changed, and some may overlap",
                    True,
                    True,
                )
            )
            return findings
        if stricter and not any(f.stricter for f in findings):
            findings.append(Finding(path, f"{word}-narrowed", f"{key} accepts less", True, False))
        if looser and not any(f.looser for f in findings):
            findings.append(Finding(path, f"{word}-widened", f"{key} accepts more", False, True))
        return findings

    def _disjoint(self, branches: Sequence[Any], side: Schemas) -> bool:
        """Whether no value can match two of ``branches`` (proved by their types, or by a
        required property whose ``const``/``enum`` values differ)."""
        facts = [self._facts(b, side) for b in branches]
        for a in range(len(facts)):
            for b in range(a + 1, len(facts)):
                types_a, consts_a = facts[a]
                types_b, consts_b = facts[b]
                if not types_a & types_b:
                    continue
                if any(
                    name in consts_b and not (consts_a[name] & consts_b[name]) for name in consts_a
                ):
                    continue
                return False
        return True

    def _facts(
        self, branch: Any, side: Schemas
    ) -> tuple[frozenset[str], dict[str, frozenset[str]]]:
        types = frozenset(_TYPES)
        consts: dict[str, frozenset[str]] = {}
        for atom in self._atoms(branch, side, ()):
            if atom.false:
                return frozenset(), {}
            kw = atom.keywords
            types = types & _effective_types(kw)
            required = kw.get("required")
            for name, prop in _mapping(kw.get("properties")).items():
                if isinstance(required, list) and name in required and isinstance(prop, Mapping):
                    pvalues = _values(prop)
                    if pvalues is not None:
                        keys = frozenset(_value_key(v) for v in pvalues)
                        consts[name] = consts.get(name, keys) & keys
        return types, consts

    def _compare_not(
        self, old: Mapping[str, Any], new: Mapping[str, Any], path: str
    ) -> list[Finding]:
        if "not" not in old and "not" not in new:
            return []
        inner = self.compare(old.get("not", False), new.get("not", False), f"{path}")
        # not A against not B: what B adds, the new schema refuses.
        return [
            replace(
                f,
                kind=f"not-{f.kind}" if not f.kind.startswith("not-") else f.kind[4:],
                summary=f"under not: {f.summary}",
                stricter=f.looser,
                looser=f.stricter,
            )
            for f in inner
        ]

    def _compare_if(
        self, old: Mapping[str, Any], new: Mapping[str, Any], path: str
    ) -> list[Finding]:
        keys = ("if", "then", "else")
        if not any(k in old or k in new for k in keys):
            return []
        cond_old = old.get("if")
        cond_new = new.get("if")
        if cond_old is None and cond_new is None:
            return []  # then and else without if are ignored
        if cond_old is not None and cond_new is not None:
            if self.old_shape(cond_old) == self.new_shape(cond_new):
                return self.compare(
                    old.get("then", True), new.get("then", True), path
                ) + self.compare(old.get("else", True), new.get("else", True), path)
            return [
                Finding(path, "if-changed", "the condition of if/then/else changed", True, True)
            ]
        if cond_new is not None:
            inner = self.compare(True, new.get("then", True), path)
            inner += self.compare(True, new.get("else", True), path)
            if inner:
                return [
                    Finding(path, "if-added", "an if/then/else condition was added", True, False)
                ]
            return []
        inner = self.compare(old.get("then", True), True, path)
        inner += self.compare(old.get("else", True), True, path)
        if inner:
            return [
                Finding(path, "if-removed", "an if/then/else condition was removed", False, True)
            ]
        return []


# -- keyword groups without subschemas ----------------------------------------------------------


def _types(kw: Mapping[str, Any]) -> frozenset[str]:
    declared = kw.get("type")
    if isinstance(declared, str):
        types = {declared}
    elif isinstance(declared, list):
        types = {t for t in declared if isinstance(t, str)}
    else:
        return frozenset(_TYPES)
    if "number" in types:
        types.add("integer")  # "number": the integers and the numbers that are not
    return frozenset(types)


def _effective_types(kw: Mapping[str, Any]) -> frozenset[str]:
    """The types ``type`` allows, narrowed to those of the ``enum``/``const`` values."""
    types = _types(kw)
    values = _values(kw)
    if values is not None:
        # "number" stands for the numbers that are not integers, as in :func:`_types`.
        types = types & frozenset(_json_type(v) for v in values)
    return types


def _compare_types(
    types_old: frozenset[str],
    types_new: frozenset[str],
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    path: str,
) -> list[Finding]:
    # integer is in number's set: number → integer narrows (1.5 is refused), not the reverse.
    lost = sorted(types_old - types_new)
    gained = sorted(types_new - types_old)
    if not lost and not gained:
        return []
    before = _type_text(old)
    after = _type_text(new)
    if lost and gained:
        kind = "type-changed"
    elif lost:
        kind = "nullable-removed" if lost == ["null"] else "type-narrowed"
    else:
        kind = "nullable-added" if gained == ["null"] else "type-widened"
    return [Finding(path, kind, f"type {before} → {after}", bool(lost), bool(gained))]


def _type_text(kw: Mapping[str, Any]) -> str:
    declared = kw.get("type")
    if declared is None:
        return "any"
    if isinstance(declared, list):
        return "|".join(str(t) for t in declared)
    return str(declared)


def _values(kw: Mapping[str, Any]) -> list[Any] | None:
    """The values ``enum`` and ``const`` leave (``None``: any)."""
    values: list[Any] | None = None
    if "const" in kw:
        values = [kw["const"]]
    if isinstance(kw.get("enum"), list):
        enum = kw["enum"]
        if values is None:
            values = list(enum)
        else:
            keys = {_value_key(v) for v in enum}
            values = [v for v in values if _value_key(v) in keys]
    return values


def _compare_values(old: Mapping[str, Any], new: Mapping[str, Any], path: str) -> list[Finding]:
    values_old = _values(old)
    values_new = _values(new)
    if values_old is None and values_new is None:
        return []
    word = "const" if "const" in old or "const" in new else "enum"
    if values_old is None:
        return [
            Finding(path, f"{word}-added", f"only {_shown(values_new)} accepted now", True, False)
        ]
    if values_new is None:
        return [
            Finding(path, f"{word}-removed", f"no longer only {_shown(values_old)}", False, True)
        ]
    keys_new = {_value_key(v) for v in values_new}
    keys_old = {_value_key(v) for v in values_old}
    removed = [v for v in values_old if _value_key(v) not in keys_new]
    added = [v for v in values_new if _value_key(v) not in keys_old]
    findings = []
    if word == "const" and removed and added:
        return [
            Finding(
                path,
                "const-changed",
                f"const {_shown(removed[0])} → {_shown(added[0])}",
                True,
                True,
            )
        ]
    # One change for the values removed and one for those added, however many.
    if removed:
        findings.append(
            Finding(path, f"{word}-value-removed", f"{_values_text(removed)} removed", True, False)
        )
    if added:
        findings.append(
            Finding(path, f"{word}-value-added", f"{_values_text(added)} added", False, True)
        )
    return findings


def _values_text(values: list[Any]) -> str:
    """``value "a"``, ``values "a", "b"``, or the first five and how many more."""
    shown = ", ".join(_shown(v) for v in values[:5])
    more = f" and {len(values) - 5} more" if len(values) > 5 else ""
    return f"value {shown}" if len(values) == 1 else f"values {shown}{more}"


def _lower(kw: Mapping[str, Any]) -> tuple[Fraction, bool] | None:
    """The lower bound of numbers: (value, exclusive); ``None`` when there is none."""
    bounds = []
    low = _fraction(kw.get("minimum"))
    if low is not None:
        bounds.append((low, False))
    excl = _fraction(kw.get("exclusiveMinimum"))
    if excl is not None:
        bounds.append((excl, True))
    return max(bounds, default=None)


def _upper(kw: Mapping[str, Any]) -> tuple[Fraction, bool] | None:
    bounds = []
    high = _fraction(kw.get("maximum"))
    if high is not None:
        bounds.append((high, False))
    excl = _fraction(kw.get("exclusiveMaximum"))
    if excl is not None:
        bounds.append((excl, True))
    # The smallest bound, exclusive before inclusive at the same value.
    return min(bounds, key=lambda b: (b[0], not b[1]), default=None)


def _bound_text(bound: tuple[Fraction, bool] | None, low: bool) -> str:
    if bound is None:
        return "none"
    value, exclusive = bound
    number = str(value.numerator) if value.denominator == 1 else str(float(value))
    sign = (">" if exclusive else ">=") if low else ("<" if exclusive else "<=")
    return f"{sign} {number}"


def _compare_numbers(old: Mapping[str, Any], new: Mapping[str, Any], path: str) -> list[Finding]:
    findings = []
    for low, get in ((True, _lower), (False, _upper)):
        b_old = get(old)
        b_new = get(new)
        if b_old == b_new:
            continue
        if b_old is None:
            tighter, wider = True, False
        elif b_new is None:
            tighter, wider = False, True
        else:
            # Orient so that "greater" means "tighter" for a lower bound.
            v_old, x_old = b_old
            v_new, x_new = b_new
            if not low:
                v_old, v_new = -v_old, -v_new
            tighter = v_new > v_old or (v_new == v_old and x_new and not x_old)
            wider = v_new < v_old or (v_new == v_old and x_old and not x_new)
        if not (tighter or wider):
            continue
        name = "minimum" if low else "maximum"
        verb = ("raised" if low else "lowered") if tighter else ("lowered" if low else "raised")
        findings.append(
            Finding(
                path,
                f"{name}-{verb}"
                if b_old is not None and b_new is not None
                else (f"{name}-added" if b_old is None else f"{name}-removed"),
                f"bound {_bound_text(b_old, low)} → {_bound_text(b_new, low)}",
                tighter,
                wider,
            )
        )
    m_old = _fraction(old.get("multipleOf"))
    m_new = _fraction(new.get("multipleOf"))
    if m_old != m_new:
        stricter = m_new is not None and (m_old is None or (m_old / m_new).denominator != 1)
        looser = m_old is not None and (m_new is None or (m_new / m_old).denominator != 1)
        if stricter or looser:
            findings.append(
                Finding(
                    path,
                    "multiple-of-changed",
                    f"multipleOf {old.get('multipleOf', 'none')} → {new.get('multipleOf', 'none')}",
                    stricter,
                    looser,
                )
            )
    return findings


def _compare_strings(old: Mapping[str, Any], new: Mapping[str, Any], path: str) -> list[Finding]:
    findings = _bound(old, new, path, "minLength", low=True, noun="characters")
    findings += _bound(old, new, path, "maxLength", low=False, noun="characters")
    for key, known in (("pattern", None), ("format", ENFORCED_FORMATS)):
        v_old = old.get(key)
        v_new = new.get(key)
        if known is not None:
            v_old = v_old if v_old in known else None
            v_new = v_new if v_new in known else None
        if v_old == v_new:
            continue
        if v_old is None:
            findings.append(
                Finding(path, f"{key}-added", f"{key} {_shown(v_new)} added", True, False)
            )
        elif v_new is None:
            findings.append(
                Finding(path, f"{key}-removed", f"{key} {_shown(v_old)} removed", False, True)
            )
        else:
            findings.append(
                Finding(
                    path, f"{key}-changed", f"{key} {_shown(v_old)} → {_shown(v_new)}", True, True
                )
            )
    return findings


def _bound(
    old: Mapping[str, Any], new: Mapping[str, Any], path: str, key: str, *, low: bool, noun: str
) -> list[Finding]:
    default = 0 if low else None
    return _count_bound(old, new, path, key, default, low=low, noun=noun)


def _count_bound(
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    path: str,
    key: str,
    default: int | None,
    *,
    low: bool,
    noun: str = "matching items",
) -> list[Finding]:
    v_old = _count(old.get(key), default)
    v_new = _count(new.get(key), default)
    if v_old == v_new:
        return []
    if low:
        tighter = v_new is not None and (v_old is None or v_new > v_old)
    else:
        tighter = v_new is not None and (v_old is None or v_new < v_old)
    kebab = re.sub(r"(?<!^)(?=[A-Z])", "-", key).lower()
    verb = ("raised" if low else "lowered") if tighter else ("lowered" if low else "raised")
    if v_old is None:
        verb = "added"
    elif v_new is None:
        verb = "removed"
    shown_old = "none" if v_old is None else v_old
    shown_new = "none" if v_new is None else v_new
    return [
        Finding(
            path,
            f"{kebab}-{verb}",
            f"{key} {shown_old} → {shown_new} ({noun})",
            tighter,
            not tighter,
        )
    ]


def _count(value: Any, default: int | None) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    return math.ceil(value) if isinstance(value, float) and math.isfinite(value) else int(value)


def _compare_required(old: Mapping[str, Any], new: Mapping[str, Any], path: str) -> list[Finding]:
    return _compare_name_sets(
        old.get("required", []), new.get("required", []), path, "required", ""
    )


def _compare_name_sets(old: Any, new: Any, path: str, kind: str, condition: str) -> list[Finding]:
    names_old = {n for n in old if isinstance(n, str)} if isinstance(old, list) else set()
    names_new = {n for n in new if isinstance(n, str)} if isinstance(new, list) else set()
    when = f" {condition}" if condition else ""
    findings = [
        Finding(
            _member(path, name), f"{kind}-added", f"{name!r} is now required{when}", True, False
        )
        for name in sorted(names_new - names_old)
    ]
    findings += [
        Finding(
            _member(path, name),
            f"{kind}-removed",
            f"{name!r} is no longer required{when}",
            False,
            True,
        )
        for name in sorted(names_old - names_new)
    ]
    return findings


# -- helpers ------------------------------------------------------------------------------------


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _positions(kw: Mapping[str, Any]) -> tuple[list[Any], Any]:
    """An array schema's per-position schemas and the schema of the items after them."""
    prefix = kw.get("prefixItems")
    items = kw.get("items", True)
    if isinstance(items, list):  # draft 2019-09 and older: a tuple
        return list(items), kw.get("additionalItems", True)
    return (list(prefix) if isinstance(prefix, list) else []), items


def _for_name(
    name: str, props: Mapping[str, Any], patterns: Mapping[str, Any], extra: Any
) -> list[Any]:
    """The schemas a property of that name must match (``properties``, the matching
    ``patternProperties``, else ``additionalProperties``)."""
    schemas = [props[name]] if name in props else []
    for pattern, schema in patterns.items():
        try:
            if re.search(pattern, name):
                schemas.append(schema)
        except re.error:
            schemas.append(schema)  # cannot tell: as if it matched
    if not schemas:
        schemas.append(extra)
    return schemas


_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def _member(path: str, name: str) -> str:
    return f"{path}.{name}" if _IDENTIFIER.match(name) else f"{path}[{json.dumps(name)}]"


def _relabel(findings: list[Finding], kind: str, summary: str) -> list[Finding]:
    """The findings of an added or removed property, as one change of that property."""
    if not findings:
        return []
    path = min((f.path for f in findings), key=len)
    return [
        Finding(
            path,
            kind,
            summary,
            any(f.stricter for f in findings),
            any(f.looser for f in findings),
        )
    ]


def _branches(kw: Mapping[str, Any], key: str) -> tuple[list[Any], list[Any]]:
    """The branches of ``kw``'s ``anyOf``/``oneOf``, each with the keywords beside it (the
    whole schema as one branch when it has none), and the branches as written."""
    raw = kw.get(key)
    if not isinstance(raw, list):
        return [kw], [None]
    rest = {k: v for k, v in kw.items() if k != key}
    return [{"allOf": [rest, b]} if rest else b for b in raw], list(raw)


def _branch_text(branch: Any) -> str:
    """A branch in brief: its keywords, what is inside them elided."""
    if branch is None:
        return "(the schema)"
    if isinstance(branch, Mapping):
        branch = {
            k: (v if not isinstance(v, Mapping | list) or not v else "…")
            for k, v in branch.items()
            if k not in ANNOTATIONS and not k.startswith("x-")
        }
    return _shown(branch)


def _without(node: Any, key: str) -> Any:
    return {k: v for k, v in node.items() if k != key} if isinstance(node, Mapping) else node


def _flag(findings: list[Finding], name: str) -> bool:
    return any(getattr(f, name) for f in findings)
