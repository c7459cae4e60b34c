"""Read a schema file of any JSON Schema draft as the equivalent draft 2020-12 schema.

Published schemas come in draft-04, -06, -07, 2019-09 and 2020-12. :func:`normalize` detects a
file's draft from its ``$schema``, checks the file against that draft's own meta-schema, and
rewrites it, subschema by subschema, into a draft 2020-12 schema that accepts exactly the
same instances:

- ``definitions`` → ``$defs``, and every ``$ref`` JSON pointer through a renamed keyword with it
  (``#/definitions/A``, ``other.json#/definitions/A``, ``#/items/0`` …);
- draft-04: ``id`` → ``$id``; ``"exclusiveMinimum": true`` beside ``minimum`` → the number;
- ``$id`` with a fragment (drafts up to 07) → ``$id`` and ``$anchor``;
- ``dependencies`` → ``dependentRequired`` (arrays) and ``dependentSchemas`` (schemas);
- array ``items`` → ``prefixItems``, and ``additionalItems`` → ``items``;
- drafts up to 07 ignore every keyword beside ``$ref``: its sibling assertions are dropped
  (annotations stay);
- 2019-09 ``$recursiveRef: "#"`` where no ``$recursiveAnchor: true`` is in play → ``$ref: "#"``;
- a count (``minLength``, ``maxItems`` …) written ``2.0`` → ``2``.

Keywords a draft does not know are annotations and are kept, untouched (``javaType``,
``tsType``, ``x-…``), except two kinds of mistakes, which are reported: a near miss of one of
the draft's assertions or applicators (``maximun``, ``MaxLength``, ``requried``: "did you mean
'maximum'?", :mod:`datadivr_codegen.misspellings`), and an assertion of another draft that
this draft ignores (``const`` in draft-04, ``unevaluatedProperties`` in draft-07,
``dependencies`` in 2020-12).
Every problem of a file is reported at once, in one :class:`SchemaError`.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from jsonschema import (
    Draft4Validator,
    Draft6Validator,
    Draft7Validator,
    Draft201909Validator,
    Draft202012Validator,
    FormatChecker,
)
from jsonschema.exceptions import ValidationError, best_match
from jsonschema.protocols import Validator

from datadivr_codegen.errors import SchemaError
from datadivr_codegen.misspellings import near_miss

__all__ = ["DRAFTS", "LATEST", "Draft", "detect", "normalize", "rewrite_ref"]


@dataclass(frozen=True)
class Draft:
    """One JSON Schema draft.

    Attributes:
        name: How the draft is called (``draft-07``, ``draft 2020-12``).
        uri: Its meta-schema's URI, as the draft itself writes it.
        validator: jsonschema's validator of the draft.
        assertions: Its assertion and applicator keywords: those whose near misses are reported.
        annotations: Its other keywords (core, annotations, ``definitions``).
    """

    name: str
    uri: str
    validator: type[Validator]
    assertions: frozenset[str]
    annotations: frozenset[str]

    @property
    def order(self) -> int:
        """The draft's place among :data:`DRAFTS` (later drafts are greater)."""
        return next(i for i, draft in enumerate(DRAFTS) if draft.name == self.name)


def _draft(
    name: str, uri: str, validator: type[Validator], extra: set[str], annotations: set[str]
) -> Draft:
    # jsonschema checks a few keywords inside another's function (``then`` in ``if``,
    # ``minContains`` in ``contains``, draft-04's ``exclusiveMinimum`` in ``minimum``).
    keywords = frozenset(validator.VALIDATORS) | extra
    return Draft(name, uri, validator, keywords, frozenset(annotations) - keywords)


# ``$defs`` in an older draft is an unknown keyword, but a reference reaches its subschemas
# by their JSON pointer all the same: they are read as schemas of the file's draft.
_CORE = {"$schema", "$ref", "title", "description", "default", "definitions", "$defs"}
#: Keywords of draft 2020-12 that would move the base of references or add an anchor: in a
#: draft that does not know them, they are dropped, as that draft ignores them.
_IDENTIFIERS = frozenset({"$id", "$anchor"})
#: The drafts a schema file may be of, oldest first.
DRAFTS: tuple[Draft, ...] = (
    _draft(
        "draft-04",
        "http://json-schema.org/draft-04/schema#",
        Draft4Validator,
        {"exclusiveMinimum", "exclusiveMaximum"},
        _CORE | {"id"},
    ),
    _draft(
        "draft-06",
        "http://json-schema.org/draft-06/schema#",
        Draft6Validator,
        set(),
        _CORE | {"$id", "examples"},
    ),
    _draft(
        "draft-07",
        "http://json-schema.org/draft-07/schema#",
        Draft7Validator,
        {"then", "else"},
        _CORE
        | {"$id", "$comment", "examples", "readOnly", "writeOnly"}
        | {"contentMediaType", "contentEncoding"},
    ),
    _draft(
        "draft 2019-09",
        "https://json-schema.org/draft/2019-09/schema",
        Draft201909Validator,
        {"then", "else", "minContains", "maxContains", "$recursiveAnchor"},
        _CORE
        | {"$id", "$anchor", "$comment", "$defs", "$vocabulary", "examples", "deprecated"}
        | {"readOnly", "writeOnly", "contentMediaType", "contentEncoding", "contentSchema"},
    ),
    _draft(
        "draft 2020-12",
        "https://json-schema.org/draft/2020-12/schema",
        Draft202012Validator,
        {"then", "else", "minContains", "maxContains", "$dynamicAnchor"},
        _CORE
        | {"$id", "$anchor", "$comment", "$defs", "$vocabulary", "examples", "deprecated"}
        | {"readOnly", "writeOnly", "contentMediaType", "contentEncoding", "contentSchema"},
    ),
)
#: The draft every file is read as: draft 2020-12.
LATEST = DRAFTS[-1]
_BY_PATH = {
    "json-schema.org/draft-04/schema": DRAFTS[0],
    "json-schema.org/draft-06/schema": DRAFTS[1],
    "json-schema.org/draft-07/schema": DRAFTS[2],
    "json-schema.org/draft/2019-09/schema": DRAFTS[3],
    "json-schema.org/draft/2020-12/schema": DRAFTS[4],
}
#: Every draft's assertions: one a file's draft lacks is a mistake, not an annotation.
_ALL_ASSERTIONS = frozenset().union(*(d.assertions for d in DRAFTS)) - {"$recursiveAnchor"}
_HINTS = {
    "dependencies": "use dependentRequired (array values) and dependentSchemas (schema values)",
    "additionalItems": "use items beside prefixItems",
    "$recursiveRef": "use $dynamicRef",
}
_COUNTS = frozenset(
    {
        "minLength",
        "maxLength",
        "minItems",
        "maxItems",
        "minProperties",
        "maxProperties",
        "minContains",
        "maxContains",
    }
)
# Keywords whose value is one subschema, a list of them, or an object of them by name.
_ONE = frozenset(
    {
        "additionalProperties",
        "propertyNames",
        "contains",
        "not",
        "if",
        "then",
        "else",
        "unevaluatedItems",
        "unevaluatedProperties",
        "contentSchema",
    }
)
_LIST = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
_NAMED = frozenset({"properties", "patternProperties", "$defs", "dependentSchemas"})
_ANCHOR = re.compile(r"^[A-Za-z_][-A-Za-z0-9._]*$")


def detect(declared: Any) -> Draft:
    """The draft a file's ``$schema`` names (``None``: absent, read as draft 2020-12).

    Every spelling in use is recognised: ``http`` or ``https``, with or without the trailing
    ``#``.

    Raises:
        SchemaError: ``$schema`` names no draft of :data:`DRAFTS`.
    """
    if declared is None:
        return LATEST
    if isinstance(declared, str):
        path = re.sub(r"^https?://", "", declared.strip().lower()).removesuffix("#")
        found = _BY_PATH.get(path)
        if found is not None:
            return found
    known = ", ".join(draft.name for draft in DRAFTS)
    raise SchemaError(
        f"$schema {declared!r} names no JSON Schema draft the generator reads ({known}, "
        f'e.g. "{LATEST.uri}")'
    )


@dataclass(frozen=True)
class _Problem:
    pointer: str
    keyword: str
    reason: str

    def __str__(self) -> str:
        where = "#" + self.pointer
        return (
            f"at {where}: {self.keyword!r}: {self.reason}"
            if self.keyword
            else f"at {where}: {self.reason}"
        )


def normalize(data: Mapping[str, Any], file: str) -> dict[str, Any]:
    """The draft 2020-12 schema equivalent to ``data``, a schema file of any draft.

    ``data`` is left untouched. A file without ``$schema`` is read as draft 2020-12; a file
    with one gets ``$schema`` of draft 2020-12.

    Args:
        data: The file's JSON object.
        file: The file's path, for the error.

    Returns:
        A new schema of draft 2020-12 that accepts exactly the instances ``data`` accepts.

    Raises:
        SchemaError: naming ``file``, with every problem of the file, one per line: an unknown
            ``$schema``, a place where the file is not a valid schema of its own draft, a
            misspelt keyword, a keyword of another draft, a construct with no equivalent.
    """
    try:
        draft = detect(data.get("$schema"))
    except SchemaError as exc:
        raise SchemaError(exc.reason, file) from None
    problems = [*_meta_problems(data, draft)]
    normalizer = _Normalizer(draft, problems, _recursive_anchor(data))
    out = normalizer.schema(data, (), root=True)
    if isinstance(out, dict):
        problems.extend(_lost_refs(data, out, normalizer.refs, normalizer.dropped))
        if not problems and draft is not LATEST:
            # A keyword the file's draft does not know, kept as it is, may be one of draft
            # 2020-12 with a value it refuses (``"readOnly": "yes"`` in draft-06).
            problems.extend(_meta_problems(out, LATEST, "which the file is read as"))
    if len(normalizer.evaluated_items) == 2:
        # In draft 2020-12, the items that ``contains`` matches count as evaluated.
        where = normalizer.evaluated_items["unevaluatedItems"]
        problems.append(
            _Problem(
                _pointer(where[:-1]),
                "unevaluatedItems",
                "beside contains (in this file) is not supported: draft 2020-12 counts the "
                "items contains matches as evaluated, draft 2019-09 does not",
            )
        )
    if problems:
        unique = list(dict.fromkeys(str(p) for p in problems))
        if len(unique) == 1:
            raise SchemaError(unique[0], file)
        head = (
            f"not a valid {draft.name} schema"
            if draft is LATEST
            else f"cannot read this {draft.name} schema as draft 2020-12"
        )
        raise SchemaError(f"{head} ({len(unique)} problems):\n  " + "\n  ".join(unique), file)
    assert isinstance(out, dict)
    return out


def _ecma_regex(pattern: object) -> bool:
    """Whether ``pattern`` is a regular expression: one Python compiles (its named groups
    written as ECMA-262 writes them, ``(?<name>…)``, which Python spells ``(?P<name>…)``), or
    one the engine of the models' checks compiles (jsonschema-rs, which also reads forms such
    as ``\\p{Letter}``)."""
    if not isinstance(pattern, str):
        return True
    try:
        re.compile(re.sub(r"\(\?<(?=[A-Za-z_])", "(?P<", pattern))
    except re.error:
        import jsonschema_rs

        try:
            jsonschema_rs.validator_for({"pattern": pattern})
        except Exception:
            return False
    return True


def _format_checker(cls: type[Validator]) -> FormatChecker:
    """The draft's own format checker, with ECMA-262's named groups in a ``regex``."""
    checker = FormatChecker(formats=())
    checker.checkers = {**cls.FORMAT_CHECKER.checkers, "regex": (_ecma_regex, (re.error,))}
    return checker


def _meta_problems(data: Mapping[str, Any], draft: Draft, note: str = "") -> Iterator[_Problem]:
    cls = draft.validator
    checker = cls(cls.META_SCHEMA, format_checker=_format_checker(cls))
    for error in checker.iter_errors(data):
        best: ValidationError = best_match([error]) or error
        path = list(best.absolute_path)
        keyword = str(path.pop()) if path and isinstance(path[-1], str) else ""
        yield _Problem(
            _pointer(path),
            keyword,
            f"{best.message} (the {draft.name} meta-schema{', ' + note if note else ''})",
        )


def _fits_latest(key: str, value: Any) -> bool:
    """Whether draft 2020-12's meta-schema takes ``value`` for the keyword ``key``."""
    checker = Draft202012Validator(Draft202012Validator.META_SCHEMA)
    return bool(checker.is_valid({key: value}))


def _recursive_anchor(data: Any) -> bool:
    """Whether ``$recursiveAnchor: true`` is anywhere in ``data``."""
    if isinstance(data, dict):
        if data.get("$recursiveAnchor") is True:
            return True
        return any(_recursive_anchor(value) for value in data.values())
    if isinstance(data, list):
        return any(_recursive_anchor(value) for value in data)
    return False


def _token(name: str | int) -> str:
    return "/" + str(name).replace("~", "~0").replace("/", "~1")


def _pointer(path: Any) -> str:
    return "".join(_token(part) for part in path)


class _Normalizer:
    def __init__(self, draft: Draft, problems: list[_Problem], recursive: bool) -> None:
        self.draft = draft
        self.problems = problems
        self.recursive = recursive
        #: Where a 2019-09 file first uses ``contains`` and ``unevaluatedItems``.
        self.evaluated_items: dict[str, tuple[str | int, ...]] = {}
        #: Where the subschemas are that the file's draft ignores, which are left out.
        self.dropped: list[tuple[str | int, ...]] = []
        #: Every ``$ref`` of the file, as written, and where.
        self.refs: list[tuple[tuple[str | int, ...], str]] = []

    def problem(self, path: tuple[str | int, ...], keyword: str, reason: str) -> None:
        self.problems.append(_Problem(_pointer(path), keyword, reason))

    def schema(self, node: Any, path: tuple[str | int, ...], *, root: bool = False) -> Any:
        if not isinstance(node, dict):
            return copy.deepcopy(node)  # a boolean schema, or what the meta-schema refused
        draft = self.draft
        legacy = draft.order <= 2  # up to draft-07
        beside_ref = legacy and "$ref" in node
        out: dict[str, Any] = {}
        for key, value in node.items():
            here = (*path, key)
            if key in _ALL_ASSERTIONS and key not in draft.assertions:
                self.other_draft(path, key)
                continue
            if key in _IDENTIFIERS and key not in draft.annotations:
                continue
            if key not in draft.assertions and key not in draft.annotations:
                self.unknown(path, key)
                if key not in LATEST.annotations or _fits_latest(key, value):
                    out[key] = copy.deepcopy(value)
                # else: a tool's own use of a name that draft 2020-12 gives to an annotation
                # of another shape ("deprecated": "use x" in draft-07): an annotation in both
                # drafts, left out.
                continue
            if beside_ref and key in draft.assertions and key != "$ref":
                self.dropped.append(here)  # drafts up to 07 ignore every keyword beside $ref
                continue
            if key == "$schema":
                self.nested_schema(path, value, root=root)
                if root:
                    out[key] = LATEST.uri
            elif key in ("id", "$id") and legacy:
                if not beside_ref:  # and ignore an $id beside $ref too
                    self.identifier(out, path, key, value)
            elif key == "$ref":
                if isinstance(value, str):
                    self.refs.append((path, value))
                    value = rewrite_ref(value)
                out[key] = value
            elif key in ("definitions", "$defs"):
                self.definitions(out, here, value)
            elif key == "dependencies":
                self.dependencies(out, here, value)
            elif key == "items" and isinstance(value, list):
                out["prefixItems"] = [self.schema(v, (*here, i)) for i, v in enumerate(value)]
                if "additionalItems" in node:
                    extra = node["additionalItems"]
                    out["items"] = self.schema(extra, (*path, "additionalItems"))
            elif key == "additionalItems":
                # Moved to items beside an array of items; a no-op beside anything else.
                if not isinstance(node.get("items"), list):
                    self.dropped.append(here)
            elif key in ("exclusiveMinimum", "exclusiveMaximum") and isinstance(value, bool):
                pass  # draft-04: moved onto minimum/maximum below
            elif key in ("minimum", "maximum") and draft.order == 0:
                exclusive = "exclusiveM" + key[1:]
                out[exclusive if node.get(exclusive) is True else key] = value
            elif key == "$recursiveRef":
                self.recursive_ref(out, path, value, node)
            elif key == "$recursiveAnchor":
                if value is True:
                    self.problem(path, key, "a dynamic reference is not supported")
            elif key in _COUNTS and isinstance(value, float) and value.is_integer():
                out[key] = int(value)
            elif key in _ONE or key == "items":
                if key in ("contains", "unevaluatedItems") and draft.order == 3:
                    self.evaluated_items.setdefault(key, here)
                out[key] = self.schema(value, here)
            elif key in _LIST and isinstance(value, list):
                out[key] = [self.schema(v, (*here, i)) for i, v in enumerate(value)]
            elif key in _NAMED and isinstance(value, dict):
                out[key] = {name: self.schema(v, (*here, name)) for name, v in value.items()}
            else:
                out[key] = copy.deepcopy(value)
        return out

    def other_draft(self, path: tuple[str | int, ...], key: str) -> None:
        having = [d for d in DRAFTS if key in d.assertions]
        since = having[0].name if len(having) == 1 else f"{having[0].name} to {having[-1].name}"
        # A keyword a later draft dropped has a successor to name.
        hint = _HINTS.get(key) if self.draft.order > having[-1].order else None
        self.problem(
            path,
            key,
            f"a keyword of {since}, which {self.draft.name} ignores: declare the draft it "
            "belongs to in $schema, or remove it" + (f" ({hint})" if hint else ""),
        )

    def unknown(self, path: tuple[str | int, ...], key: str) -> None:
        if key.lower().startswith("x-"):
            return
        meant = near_miss(key, self.draft.assertions)
        if meant is not None:
            self.problem(
                path,
                key,
                f"not a keyword of {self.draft.name} (it would be ignored); did you mean {meant!r}?",
            )

    def nested_schema(self, path: tuple[str | int, ...], value: Any, *, root: bool) -> None:
        if root:
            return
        try:
            same = detect(value) is self.draft
        except SchemaError:
            same = False
        if not same:
            self.problem(path, "$schema", "a subschema of another draft is not supported")

    def identifier(
        self, out: dict[str, Any], path: tuple[str | int, ...], key: str, value: Any
    ) -> None:
        if not isinstance(value, str):
            out["$id"] = value
            return
        base, _, fragment = value.partition("#")
        if base:
            out["$id"] = base
        # A JSON pointer fragment names the place the schema is at anyway (tools that write
        # "$id": "#/properties/name" on every subschema): a reference never uses it.
        if fragment and not fragment.startswith("/"):
            if _ANCHOR.match(fragment):
                out["$anchor"] = fragment
            else:
                self.problem(
                    path, key, f"{value!r}: a fragment that is not a plain name is not supported"
                )

    def definitions(self, out: dict[str, Any], here: tuple[str | int, ...], value: Any) -> None:
        if not isinstance(value, dict):
            out.setdefault("$defs", copy.deepcopy(value))
            return
        defs = out.setdefault("$defs", {})
        for name, schema in value.items():
            if name in defs:
                self.problem(
                    here[:-1], str(here[-1]), f"{name!r} is defined both in definitions and $defs"
                )
                continue
            defs[name] = self.schema(schema, (*here, name))

    def dependencies(self, out: dict[str, Any], here: tuple[str | int, ...], value: Any) -> None:
        if not isinstance(value, dict):
            return  # the meta-schema refused it
        for name, dependency in value.items():
            if isinstance(dependency, list):
                out.setdefault("dependentRequired", {})[name] = copy.deepcopy(dependency)
            else:
                schema = self.schema(dependency, (*here, name))
                out.setdefault("dependentSchemas", {})[name] = schema

    def recursive_ref(
        self, out: dict[str, Any], path: tuple[str | int, ...], value: Any, node: Mapping[str, Any]
    ) -> None:
        if value != "#" or self.recursive or "$ref" in node:
            self.problem(
                path,
                "$recursiveRef",
                'a dynamic reference is not supported (only "#", with no '
                '"$recursiveAnchor": true in the file, which is a plain "$ref": "#")',
            )
            return
        out["$ref"] = "#"


def rewrite_ref(ref: str) -> str:
    """``ref`` with its JSON pointer following the renamed keywords of :func:`normalize`.

    ``#/definitions/A`` → ``#/$defs/A``, ``other.json#/definitions/A`` →
    ``other.json#/$defs/A``, ``#/items/0`` → ``#/prefixItems/0``, ``#/additionalItems`` →
    ``#/items``, ``#/dependencies/a`` → ``#/dependentSchemas/a``. Tokens are matched unescaped
    (``~0``, ``~1``, ``%xx``), and the ones that stay are kept as written.
    """
    uri, hashed, fragment = ref.partition("#")
    if not hashed or not fragment.startswith("/"):
        return ref
    raw = fragment.split("/")[1:]
    tokens = [_unescape(t) for t in raw]
    out: list[str] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        following = tokens[i + 1] if i + 1 < len(tokens) else None
        if token in ("definitions", "$defs") and following is not None:
            out += ["$defs", raw[i + 1]]
            i += 2
        elif token == "dependencies" and following is not None:
            out += ["dependentSchemas", raw[i + 1]]
            i += 2
        elif token in _NAMED and following is not None:
            out += [raw[i], raw[i + 1]]
            i += 2
        elif token == "items" and following is not None and following.isdigit():
            out += ["prefixItems", raw[i + 1]]
            i += 2
        elif token in _LIST and following is not None:
            out += [raw[i], raw[i + 1]]
            i += 2
        elif token == "additionalItems":
            out.append("items")
            i += 1
        elif token in _ONE or token == "items":
            out.append(raw[i])
            i += 1
        else:  # not a subschema any more: the rest is kept as it is
            out += raw[i:]
            break
    return f"{uri}#/" + "/".join(out)


def _lost_refs(
    data: Mapping[str, Any],
    out: dict[str, Any],
    refs: list[tuple[tuple[str | int, ...], str]],
    dropped: list[tuple[str | int, ...]],
) -> Iterator[_Problem]:
    """The local ``$ref`` pointers that led somewhere in ``data`` but lead nowhere, or into a
    subschema left out, in ``out``: a subschema that an old draft ignores beside ``$ref``, or an
    ``additionalItems`` beside one ``items`` schema. Skipped when an inner ``$id`` moves the
    base of references."""
    if _inner_id(data, root=True):
        return
    left_out = {tuple(str(token) for token in path) for path in dropped}
    for path, ref in refs:
        if not ref.startswith("#/"):
            continue
        tokens = tuple(_unescape(raw) for raw in ref[2:].split("/"))
        into_dropped = any(tokens[:n] in left_out for n in range(1, len(tokens) + 1))
        if _resolves(data, ref) and (into_dropped or not _resolves(out, rewrite_ref(ref))):
            yield _Problem(
                _pointer(path),
                "$ref",
                f"{ref!r} points into a subschema that the file's draft ignores, which has no "
                "place in draft 2020-12: move it into definitions",
            )


def _unescape(token: str) -> str:
    return unquote(token).replace("~1", "/").replace("~0", "~")


def _inner_id(node: Any, *, root: bool = False) -> bool:
    if isinstance(node, dict):
        if not root and isinstance(node.get("$id", node.get("id")), str):
            return True
        return any(
            _inner_id(value)
            for key, value in node.items()
            if key not in ("const", "enum", "default", "examples")
        )
    if isinstance(node, list):
        return any(_inner_id(value) for value in node)
    return False


def _resolves(document: Any, ref: str) -> bool:
    target = document
    for raw in ref[2:].split("/"):
        token = _unescape(raw)
        if isinstance(target, dict) and token in target:
            target = target[token]
        elif isinstance(target, list) and token.isdigit() and int(token) < len(target):
            target = target[int(token)]
        else:
            return False
    return True
