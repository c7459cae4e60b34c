"""The Python names of the models' fields, where a property's own name would not survive.

datamodel-code-generator keeps a property's name as the field's name when it is an identifier,
and gives the field the property's name as its alias otherwise (``"a-b"`` → ``a_b`` with
``alias="a-b"``). Python, though, normalizes identifiers (NFKC) when it reads them: a field
written ``ﬁle`` (a ligature) or ``microµ`` (the micro sign) is named ``file`` or ``microμ``,
and pydantic would send and expect that name on the wire. Such a property gets the normalized
name as its field's name and its own as the alias (:func:`field_aliases`), and
:func:`check_field_names` refuses a model where two properties still end up as one field.

The names datamodel-code-generator imports are its business (it imports ``Annotated as
Annotated_aliased`` when a field is named ``Annotated``); the names the generator adds to the
module after it (the runtime's ``NotNull`` and ``ExactLiteral``) are reserved here.
"""

from __future__ import annotations

import ast
import keyword
import unicodedata
from collections.abc import Collection, Iterator
from typing import Any

from datadivr_codegen.errors import SchemaError
from datadivr_codegen.syntax import parse

__all__ = ["check_field_names", "field_aliases"]


def field_aliases(bundle: Any, reserved: Collection[str] = ()) -> dict[str, str]:
    """datamodel-code-generator's ``aliases``: property name → field name, for the property
    names of ``bundle`` that are identifiers Python would read as another name, and those in
    ``reserved`` (names the generator adds to the models' module: a field of that name would
    hide it in the class) which get a ``_`` after them.

    datamodel-code-generator makes a taken field name unique (``file_1``), so the new name
    never steals another property's field.
    """
    aliases = {}
    for name in sorted(set(_property_names(bundle))):
        normalized = unicodedata.normalize("NFKC", name)
        if name in reserved:
            aliases[name] = name + "_"
        elif normalized != name and normalized.isidentifier() and not keyword.iskeyword(normalized):
            aliases[name] = normalized
    return aliases


def _property_names(schema: Any) -> Iterator[str]:
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key in ("const", "enum", "examples", "default"):
                continue
            if key == "properties" and isinstance(value, dict):
                yield from value
            yield from _property_names(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from _property_names(item)


def check_field_names(source: str) -> None:
    """Refuse a model of ``source`` (``models.py``) with two fields of one Python name.

    Python would keep the last, and the property of the first would be lost without a word.

    Raises:
        SchemaError: naming the model and the field.
    """
    for node in ast.walk(parse(source)):
        if not isinstance(node, ast.ClassDef):
            continue
        seen: set[str] = set()
        for item in node.body:
            if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                name = item.target.id
                if name in seen:
                    raise SchemaError(
                        f"two properties of model {node.name!r} become the one Python field "
                        f"{name!r} (Python reads identifiers in NFKC form): rename one"
                    )
                seen.add(name)
