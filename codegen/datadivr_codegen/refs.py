"""Resolve every ``$ref`` of a schema folder to a place in the bundle.

A schema folder is read as JSON Schema reads it: each file is a resource whose base URI is its
path in the folder (or its ``$id``, resolved against that path), a subschema with an ``$id``
is a resource of its own, ``$anchor`` (and ``$dynamicAnchor``) names a subschema, and a
``$ref`` is a URI resolved against the base URI of the place it is written: ``"#"``,
``"#/properties/a"``, ``"#node"``, ``"tree.json"``, ``"../definitions.schema.json#/$defs/X"``
and ``"https://example.test/schemas/point#/$defs/x"`` all work.

Every ``$ref`` is then rewritten as a JSON pointer into the bundle, where every file's
``$defs`` are shared definitions (``#/$defs/<Name>``) and every event file's schema is its
payload (``#/$defs/<PayloadClass>``): :func:`rewrite` gives each file that way, without the
``$id`` and ``$anchor`` keywords, whose work is done.

A ``$dynamicRef`` is a ``$ref`` when its anchor is declared once in the whole folder (no other
dynamic scope can then take it over); otherwise it is refused, as ``$recursiveRef`` is.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urldefrag, urljoin, urlparse

from datadivr_codegen.errors import SchemaError

__all__ = ["BASE_URI", "Index", "Place", "rewrite"]

#: The base URI of the schema folder: a file's retrieval URI is this plus its relative path.
BASE_URI = "https://schemas.datadivr.invalid/"
#: Keywords whose values are data, not schemas.
_DATA = frozenset({"const", "default", "enum", "examples"})
#: Keywords whose values map names (any names, "const" too) to schemas.
_MAPS = frozenset(
    {"$defs", "definitions", "dependencies", "dependentSchemas", "patternProperties", "properties"}
)


@dataclass(frozen=True)
class Place:
    """A subschema: its file (relative path) and its JSON pointer in that file."""

    file: str
    pointer: str


def _join(base: str, ref: str) -> str:
    if ref.startswith("#"):
        return urldefrag(base).url + ref
    return urljoin(base, ref)


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _children(node: dict[str, Any], pointer: str) -> Iterator[tuple[Any, str]]:
    """The values below ``node`` that may hold schemas, with their pointers."""
    for key, value in node.items():
        if key in _DATA or key.startswith("x-"):
            continue
        if key in _MAPS and isinstance(value, dict):
            for name, schema in value.items():
                yield schema, f"{pointer}/{_escape(key)}/{_escape(name)}"
        else:
            yield value, f"{pointer}/{_escape(key)}"


def _walk(node: Any, pointer: str, base: str) -> Iterator[tuple[dict[str, Any], str, str]]:
    """Each object of ``node`` (a schema or anything below it) with its pointer and the base
    URI in force there (after its own ``$id``)."""
    if isinstance(node, list):
        for i, item in enumerate(node):
            yield from _walk(item, f"{pointer}/{i}", base)
        return
    if not isinstance(node, dict):
        return
    declared = node.get("$id")
    if isinstance(declared, str) and not declared.startswith("#"):
        base = urldefrag(_join(base, declared)).url
    yield node, pointer, base
    for value, below in _children(node, pointer):
        yield from _walk(value, below, base)


class Index:
    """Every resource and anchor of a schema folder.

    Args:
        files: Each file's relative path and content.
    """

    def __init__(self, files: Mapping[str, Any]) -> None:
        self.files = files
        self.resources: dict[str, Place] = {}
        self.anchors: dict[str, Place] = {}
        self.dynamic: Counter[str] = Counter()
        self.ambiguous: dict[str, list[Place]] = {}
        for rel, data in files.items():
            path = BASE_URI + rel
            self.resources[path] = Place(rel, "")
            root: str | None = None
            for node, pointer, base in _walk(data, "", path):
                place = Place(rel, pointer)
                root = base if root is None else root
                declared = node.get("$id")
                if isinstance(declared, str):
                    if declared.startswith("#"):  # drafts 6 and 7: a plain-name fragment
                        self.anchors[base + declared] = place
                    else:
                        self.resource(base, place)
                for key in ("$anchor", "$dynamicAnchor"):
                    name = node.get(key)
                    if isinstance(name, str):
                        self.anchors[f"{base}#{name}"] = place
                        if base == root:  # the file's own resource: by its path too
                            self.anchors[f"{path}#{name}"] = place
                        if key == "$dynamicAnchor":
                            self.dynamic[name] += 1

    def resource(self, uri: str, place: Place) -> None:
        """Record the resource ``uri`` (an ``$id``) at ``place``; one that another file has
        too is ambiguous (a ``$ref`` to it is refused)."""
        known = self.resources.get(uri)
        if known is not None and known.file != place.file:
            self.ambiguous.setdefault(uri, [known]).append(place)
        self.resources.setdefault(uri, place)

    def resolve(self, ref: str, base: str, file: str) -> Place:
        """The subschema ``ref``, written where ``base`` is the base URI, points to.

        Raises:
            SchemaError: nothing in the folder has that URI.
        """
        uri = _join(base, ref)
        document, fragment = urldefrag(uri)
        resource = self.resources.get(document)
        if resource is None:
            # A file with an $id that names a file by its path in the folder (which has no
            # $id of that name): what its author means is the file next to it.
            document, fragment = urldefrag(_join(BASE_URI + file, ref))
            resource = self.resources.get(document)
        if resource is None:
            document = urldefrag(uri).url
            where = (
                "no such schema file in the folder"
                if urlparse(ref).scheme == "" and not ref.startswith("/")
                else f"no file of the folder has the $id {document!r} (remote schemas are "
                "not fetched)"
            )
            raise SchemaError(f"$ref {ref!r}: {where}", file)
        places = self.ambiguous.get(document)
        if places is not None:
            raise SchemaError(
                f"$ref {ref!r}: {document!r} is the $id of "
                + " and of ".join(
                    p.file + (f" at #{p.pointer}" if p.pointer else "") for p in places
                )
                + ": it could mean either",
                file,
            )
        fragment = unquote(fragment)
        if not fragment:
            return resource
        if fragment.startswith("/"):
            place = Place(resource.file, resource.pointer + fragment)
            if not self.exists(place):
                raise SchemaError(
                    f"$ref {ref!r}: {place.file} has no {place.pointer.removeprefix('/')}", file
                )
            return place
        anchored = self.anchors.get(f"{document}#{fragment}")
        if anchored is None:
            raise SchemaError(f"$ref {ref!r}: no anchor {fragment!r} in {document}", file)
        return anchored

    def exists(self, place: Place) -> bool:
        node = self.files[place.file]
        for token in place.pointer.split("/")[1:]:
            token = token.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and token in node:
                node = node[token]
            elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
                node = node[int(token)]
            else:
                return False
        return True


def rewrite(rel: str, data: Any, index: Index, locate: Callable[[Place, str], str]) -> Any:
    """A copy of the file ``rel`` whose every ``$ref`` is ``locate``'s bundle pointer of its
    target (``locate`` is given the target and the ``$ref`` as written, for its errors), and
    without ``$id``, ``$anchor`` and ``$dynamicAnchor`` below the root.

    Raises:
        SchemaError: a ``$ref`` points nowhere, or a ``$dynamicRef``/``$recursiveRef`` is
            not static.
    """
    return _Rewriter(rel, index, locate).copy(data, "", BASE_URI + rel, root=True)


class _Rewriter:
    def __init__(self, rel: str, index: Index, locate: Callable[[Place, str], str]) -> None:
        self.rel = rel
        self.index = index
        self.locate = locate

    def copy(self, node: Any, pointer: str, base: str, *, root: bool = False) -> Any:
        if isinstance(node, list):
            return [self.copy(item, f"{pointer}/{i}", base) for i, item in enumerate(node)]
        if not isinstance(node, dict):
            return node
        declared = node.get("$id")
        if isinstance(declared, str) and not declared.startswith("#"):
            base = urldefrag(_join(base, declared)).url
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in ("$anchor", "$dynamicAnchor") or (key == "$id" and not root):
                continue
            if key in _MAPS and isinstance(value, dict):
                out[key] = {
                    name: self.copy(schema, f"{pointer}/{_escape(key)}/{_escape(name)}", base)
                    for name, schema in value.items()
                }
                continue
            if key in ("$ref", "$dynamicRef") and isinstance(value, str):
                if key == "$dynamicRef":
                    self.static(value, pointer)
                target = self.index.resolve(value, base, self.rel)
                out["$ref"] = self.locate(target, value)
            elif key == "$recursiveRef":
                raise SchemaError(
                    f"at #{pointer}: $recursiveRef is not supported; use $ref", self.rel
                )
            elif key in _DATA or key.startswith("x-"):
                out[key] = value
            else:
                out[key] = self.copy(value, f"{pointer}/{_escape(key)}", base)
        return out

    def static(self, ref: str, pointer: str) -> None:
        name = urldefrag(ref).fragment
        if self.index.dynamic[name] > 1:
            raise SchemaError(
                f"at #{pointer}: $dynamicRef {ref!r} is not supported: {name!r} is a "
                f"$dynamicAnchor of {self.index.dynamic[name]} schemas, so which one it means "
                "depends on the path taken; the models need one (use $ref)",
                self.rel,
            )
