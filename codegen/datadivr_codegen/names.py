"""Checks of the names datamodel-code-generator chose for the models, once it has run.

The names of definitions and payloads are checked before (:mod:`datadivr_codegen.schema`),
but datamodel-code-generator also makes classes of inline object schemas, named after their
``title`` or their property (``"client": {"type": "object", ...}`` becomes ``class Client``),
and it silently renames a class whose name is taken (``Vector31``). Either can break the
generated package: a model that shadows ``Client`` or an import, or a definition the package
exports under its name that is in fact another schema's class.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Mapping
from typing import Any

from datadivr_codegen.errors import SchemaError
from datadivr_codegen.schema import PACKAGE_NAMES, SchemaSet, handler_names, pascal_case
from datadivr_codegen.syntax import parse

__all__ = ["check_model_names"]

_HOW_TO_FIX = "give the inline object schema a 'title' that names its class differently"


def check_model_names(schemas: SchemaSet, modules: Mapping[str, str]) -> None:
    """Refuse model names that collide in the generated modules, or that datamodel-code-generator
    had to change.

    ``modules`` are the rendered Python modules (before formatting: every module still imports
    every model), by file name.

    Raises:
        SchemaError: naming the model, what it collides with, and the schema it comes from.
    """
    models_tree = parse(modules["models.py"])
    model_names = _defined(models_tree)
    # ``__init__.py`` last: it re-exports what the others define, which name the definer.
    for module, text in sorted(modules.items(), key=lambda item: (item[0] == "__init__.py", item)):
        tree = models_tree if module == "models.py" else parse(text)
        from_models, others = _bindings(tree, module)
        for name in sorted(from_models & others.keys()):
            _fail(schemas, name, f"the generated model {name!r} collides with {others[name]}")
    _check_renamed(schemas, model_names)
    _check_definition_classes(schemas, models_tree)


def _defined(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    names.discard("__all__")
    return names


def _bindings(tree: ast.Module, module: str) -> tuple[set[str], dict[str, str]]:
    """The module-level names bound by models (defined in ``models.py``, imported from it
    elsewhere), and the other names with what binds them."""
    is_models = module == "models.py"
    models: set[str] = _defined(tree) if is_models else set()
    others: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            source = "." * node.level + (node.module or "")
            for alias in node.names:
                bound = alias.asname or alias.name
                if not is_models and node.level == 1 and node.module == "models":
                    models.add(bound)
                else:
                    others.setdefault(
                        bound, f"the {bound!r} that the generated {module} imports from {source}"
                    )
        elif isinstance(node, ast.Import):
            for alias in node.names:
                bound = alias.asname or alias.name.partition(".")[0]
                others.setdefault(bound, f"the module {bound!r} the generated {module} imports")
        elif not is_models:
            for bound in _names_bound(node):
                others.setdefault(bound, f"the {bound!r} that the generated {module} defines")
    return models, others


def _names_bound(node: ast.stmt) -> Iterator[str]:
    if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
        yield node.name
    elif isinstance(node, ast.Assign):
        yield from (t.id for t in node.targets if isinstance(t, ast.Name))
    elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        yield node.target.id


def _relied_on(schemas: SchemaSet) -> set[str]:
    """The names the generated package refers to by name."""
    names = {"Envelope", *PACKAGE_NAMES, *schemas.definitions}
    for event in schemas.events:
        names |= {event.payload_class, event.message_class, *handler_names(event.name)}
    return names


def _check_renamed(schemas: SchemaSet, model_names: set[str]) -> None:
    """A class no schema asked for, named like one the package relies on plus digits, is
    datamodel-code-generator's way out of a name collision: refuse it. Where no class has the
    name, nothing collided: the numbers are those of a union's untitled branches (a
    definition ``Payment`` that is a ``oneOf`` of objects makes ``Payment1``, ``Payment2`` …)."""
    relied = _relied_on(schemas)
    asked = relied | {title for _, _, title, _ in _schemas(schemas) if title}
    for name in sorted(model_names - asked):
        for cut in range(len(name) - 1, 0, -1):
            if not name[cut:].isdigit():
                break
            taken = name[:cut]
            if taken in relied and taken in model_names:
                _fail(
                    schemas,
                    taken,
                    f"two schemas make a class named {taken!r}: datamodel-code-generator "
                    f"renamed one of them {name!r}",
                )


def _check_definition_classes(schemas: SchemaSet, tree: ast.Module) -> None:
    """A definition that is not an object schema gets no class, or a ``RootModel``: a plain
    model of its name is another schema's, which the package would export as the definition."""
    for node in tree.body:
        if not isinstance(node, ast.ClassDef) or node.name not in schemas.definitions:
            continue
        definition = schemas.definitions[node.name]
        is_object = definition.get("type") == "object" or "properties" in definition
        root_model = any(
            isinstance(base, ast.Subscript)
            and isinstance(base.value, ast.Name)
            and base.value.id == "RootModel"
            for base in node.bases
        )
        if not is_object and not root_model:
            _fail(
                schemas,
                node.name,
                f"the class {node.name!r} is not the definition {node.name!r} (which is not an "
                "object schema) but another schema of that name",
                skip_definition=True,
            )


def _fail(schemas: SchemaSet, name: str, problem: str, *, skip_definition: bool = False) -> None:
    origins = [
        (file, pointer)
        for file, pointer, _, names in _schemas(schemas)
        if name in names and not (skip_definition and pointer == f"/$defs/{name}")
    ]
    if not origins:
        raise SchemaError(f"{problem}; {_HOW_TO_FIX}")
    file, pointer = origins[0]
    also = "".join(f", {f}#{p}" for f, p in origins[1:])
    where = f"the schema at #{pointer}" + (f" (and {also[2:]})" if also else "")
    raise SchemaError(f"{problem}: {where}; {_HOW_TO_FIX}", file)


def _class_names(key: str) -> set[str]:
    """The class names datamodel-code-generator may derive from a property name."""
    name = pascal_case(re.sub(r"[^0-9A-Za-z]+", "_", key))
    return {name, name.removesuffix("s")} if name else set()


def _schemas(schemas: SchemaSet) -> Iterator[tuple[str, str, str | None, set[str]]]:
    """Every schema that may become a class: (file, JSON pointer, title, the class names it
    may get)."""
    for event in schemas.events:
        yield from _walk(event.payload_schema, event.file, "", None)
    for name, definition in schemas.definitions.items():
        file = schemas.definition_files.get(name, "")
        yield from _walk(definition, file, f"/$defs/{name}", name)


def _walk(
    node: Any, file: str, pointer: str, key: str | None
) -> Iterator[tuple[str, str, str | None, set[str]]]:
    if not isinstance(node, dict):
        return
    title = node.get("title") if isinstance(node.get("title"), str) else None
    names = {title} if title else _class_names(key) if key else set()
    yield file, pointer, title, names
    for name, prop in node.get("properties", {}).items():
        token = name.replace("~", "~0").replace("/", "~1")
        yield from _walk(prop, file, f"{pointer}/properties/{token}", name)
    if "items" in node:
        yield from _walk(node["items"], file, f"{pointer}/items", key)
    for i, branch in enumerate(node.get("anyOf", ())):
        yield from _walk(branch, file, f"{pointer}/anyOf/{i}", key)
    if isinstance(node.get("additionalProperties"), dict):
        yield from _walk(node["additionalProperties"], file, f"{pointer}/additionalProperties", key)
