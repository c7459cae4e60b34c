"""Run datamodel-code-generator on the model bundle and fit its output to the runtime.

Its output is edited in place (the layout stays as generated): each enum definition becomes a
``Literal`` alias of its name that the fields use, each union payload an alias of its name that
its message uses, optional fields whose schema refuses ``null``
get the runtime's ``NotNull`` check, literals with numbers or booleans get ``ExactLiteral``,
message classes get their ``event_name`` as default, the server's requests their reply's
class (``__reply__``, for type checkers), and ``__all__`` is added.
"""

from __future__ import annotations

import ast
import re
import warnings

from datadivr_codegen.bundle import NOT_NULL, model_bundle
from datadivr_codegen.checks import CHECKS_MODULE, Check, split_checks
from datadivr_codegen.errors import SchemaError
from datadivr_codegen.fields import check_field_names, field_aliases
from datadivr_codegen.runtime_api import RUNTIME, runtime_name
from datadivr_codegen.schema import SchemaSet
from datadivr_codegen.syntax import parse

__all__ = ["model_names_and_imports", "models_source"]

#: The runtime's stricter versions of pydantic's types for ``date-time`` and ``uuid`` strings.
_TYPE_MODULE = RUNTIME
_IMPORT_OVERRIDES = {"AwareDatetime": _TYPE_MODULE, "UUID": _TYPE_MODULE}
#: Names of the runtime the generator writes into ``models.py`` itself.
_NOT_NULL = "NotNull"
_SCHEMA_CHECKS = "SchemaChecks"
_EXACT_LITERAL = "ExactLiteral"


def models_source(schemas: SchemaSet, header: str) -> str:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # A warning about the Python it runs on (3.10) is not about the code it writes.
        warnings.filterwarnings(
            "ignore", "Running datamodel-code-generator on Python 3.10", FutureWarning
        )
        from datamodel_code_generator import InputFileType, LiteralType, PythonVersion
        from datamodel_code_generator import generate as dcg_generate
        from datamodel_code_generator.enums import DataModelType

        bundle = model_bundle(schemas)
        checks = split_checks(
            bundle["$defs"], skip=frozenset(event.message_class for event in schemas.events)
        )
        source = dcg_generate(
            bundle,
            input_file_type=InputFileType.JsonSchema,
            output_model_type=DataModelType.PydanticV2BaseModel,
            target_python_version=PythonVersion.PY_310,
            base_class=runtime_name("Payload"),
            custom_file_header=header.rstrip("\n")
            + '\n"""Models of every payload, shared definition and message."""',
            disable_timestamp=True,
            formatters=[],
            use_annotated=True,
            field_constraints=True,
            collapse_root_models=True,
            use_title_as_name=True,
            use_standard_collections=True,
            use_union_operator=True,
            enum_field_as_literal=LiteralType.All,
            use_schema_description=True,
            use_field_description=True,
            strict_nullable=True,
            field_extra_keys={NOT_NULL},
            import_overrides=_IMPORT_OVERRIDES,
            aliases=field_aliases(bundle, reserved=(_NOT_NULL, _EXACT_LITERAL)),
        )
    for warning in caught:
        # datamodel-code-generator warns when it leaves a constraint out of the models.
        if not issubclass(warning.category, (DeprecationWarning, FutureWarning)):
            raise SchemaError(
                f"datamodel-code-generator: {warning.message} "
                "(the models would not enforce the schema)"
            )
    if not isinstance(source, str):
        raise SchemaError("datamodel-code-generator returned more than one module")
    check_field_names(source)
    source = _check_aliases(source, checks, schemas)
    source = _enum_aliases(source, schemas)
    source = _union_payload_aliases(source, schemas)
    source = _runtime_checks(source)
    source = _default_event_names(source, {e.message_class: e.name for e in schemas.events})
    source = _reply_types(source, _server_requests(schemas))
    names = _model_names(source)
    listing = "".join(f"    {name!r},\n" for name in names)
    return f"{source.rstrip()}\n\n\n__all__ = [\n{listing}]\n"


def _model_names(source: str) -> list[str]:
    """The names ``models.py`` defines: classes, and type aliases (``X = TypeAliasType(...)``)."""
    names: list[str] = []
    for node in parse(source).body:
        if isinstance(node, ast.ClassDef):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            names.extend(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.append(node.target.id)
    return sorted(name for name in names if not name.startswith("_"))


#: A literal's values, told apart by type (``1`` is not ``True``) and in order.
_LiteralKey = tuple[tuple[str, object], ...]


def _literal_key(values: list[object] | tuple[object, ...]) -> _LiteralKey:
    return tuple((type(value).__name__, value) for value in values)


def _literal_values(node: ast.Subscript) -> tuple[object, ...] | None:
    elements = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
    try:
        return tuple(ast.literal_eval(element) for element in elements)
    except ValueError:
        return None


def _enum_aliases(source: str, schemas: SchemaSet) -> str:
    """Name each enum definition: ``Team: TypeAlias = Literal["red", "blue"]`` before the first
    class, and ``Team`` in place of each ``Literal`` with exactly its values.

    datamodel-code-generator writes enums as literals (``enum_field_as_literal``), which keeps
    the wire strict (no enum members to serialize) and mypy precise, but it inlines them, so the
    definition's name is lost. A literal whose values are those of two definitions stays as it
    is (which name it meant cannot be told; the types are the same either way). An enum whose
    values a ``Literal`` cannot hold (a number with a fraction, an object) stays inlined.
    """
    tree = parse(source)
    defined = set(_model_names(source))
    aliases: dict[str, list[object]] = {}
    for name, definition in schemas.definitions.items():
        values = definition.get("enum")
        if (
            name in defined
            or not isinstance(values, list)
            or not values
            or "properties" in definition
            or not all(v is None or isinstance(v, (str, int)) for v in values)
        ):
            continue
        aliases[name] = values
    if not aliases:
        return source
    literal = _typing_name(tree, "Literal")
    annotated = _typing_name(tree, "Annotated")
    names_by_key: dict[_LiteralKey, list[str]] = {}
    for name, values in aliases.items():
        names_by_key.setdefault(_literal_key(values), []).append(name)

    def alias_of(node: ast.expr) -> str | None:
        if not (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Name)
            and node.value.id == literal
        ):
            return None
        values = _literal_values(node)
        names = names_by_key.get(_literal_key(values)) if values is not None else None
        return names[0] if names and len(names) == 1 else None

    # A message's ``event_name`` literal is the event's name, never a definition.
    skipped = {
        id(item.annotation)
        for node in tree.body
        if isinstance(node, ast.ClassDef)
        for item in node.body
        if isinstance(item, ast.AnnAssign)
        and isinstance(item.target, ast.Name)
        and item.target.id == "event_name"
    }
    edits: list[tuple[ast.expr, str]] = []
    for node in ast.walk(tree):
        if id(node) in skipped or not isinstance(node, ast.Subscript):
            continue
        if (
            isinstance(node.value, ast.Name)
            and node.value.id == annotated
            and isinstance(node.slice, ast.Tuple)
            and len(node.slice.elts) == 2
            and _is_title_only(node.slice.elts[1])
        ):
            # ``Annotated[Literal[…], Field(title=…)]``: the title was the definition's.
            alias = alias_of(node.slice.elts[0])
            if alias is not None:
                skipped.add(id(node.slice.elts[0]))
                edits.append((node, alias))
                continue
        alias = alias_of(node)
        if alias is not None:
            edits.append((node, alias))
    data = source.encode()
    starts = _line_starts(data)
    spans = []
    for node, name in edits:
        assert node.end_lineno is not None
        assert node.end_col_offset is not None
        start = starts[node.lineno - 1] + node.col_offset
        end = starts[node.end_lineno - 1] + node.end_col_offset
        spans.append((start, end, name.encode()))
    # Inner edits of an outer one were skipped above; none overlap.
    data = _splice(data, spans)
    first_class = next(node for node in tree.body if isinstance(node, ast.ClassDef))
    at = starts[first_class.lineno - 1]
    definitions = "\n".join(
        _alias_source(name, values, schemas.definitions[name].get("description"), literal)
        for name, values in aliases.items()
    )
    data = data[:at] + definitions.encode() + b"\n\n" + data[at:]
    return _add_typing_import(data.decode(), "TypeAlias")


def _union_payload_aliases(source: str, schemas: SchemaSet) -> str:
    """Name each union (``anyOf``) payload: ``ActPayload: TypeAlias = Shoot | Build`` before its
    message class, which is annotated ``payload: ActPayload``.

    datamodel-code-generator makes no class of a union, and writes it out in the message's
    ``payload`` field, titled with the payload's name; the alias gives it that name back. A
    union whose field carries more than its title, or that uses a class defined after the
    message, stays as it is.
    """
    tree = parse(source)
    order = {
        name: index
        for index, node in enumerate(tree.body)
        for name in (
            [node.name]
            if isinstance(node, ast.ClassDef)
            else [t.id for t in node.targets if isinstance(t, ast.Name)]
            if isinstance(node, ast.Assign)
            else [node.target.id]
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
            else []
        )
    }
    lines = source.encode()
    starts = _line_starts(lines)
    edits: list[tuple[int, int, bytes]] = []
    for event in schemas.events:
        if not {"anyOf", "oneOf"} & event.payload_schema.keys() or event.payload_class in order:
            continue
        index = order.get(event.message_class)
        if index is None:
            continue
        message = tree.body[index]
        assert isinstance(message, ast.ClassDef)
        field = next(
            (
                item
                for item in message.body
                if isinstance(item, ast.AnnAssign)
                and isinstance(item.target, ast.Name)
                and item.target.id == "payload"
            ),
            None,
        )
        if field is None:
            continue
        annotation = field.annotation
        if (
            isinstance(annotation, ast.Subscript)
            and isinstance(annotation.value, ast.Name)
            and annotation.value.id == "Annotated"
            and isinstance(annotation.slice, ast.Tuple)
            and len(annotation.slice.elts) == 2
            and _is_title_only(annotation.slice.elts[1], allow={"discriminator"})
        ):
            union = annotation.slice.elts[0]
            field_call = annotation.slice.elts[1]
            assert isinstance(field_call, ast.Call)
            discriminator = next(
                (kw.value for kw in field_call.keywords if kw.arg == "discriminator"), None
            )
        else:
            continue
        used = {n.id for n in ast.walk(union) if isinstance(n, ast.Name)}
        if any(order.get(name, -1) > index for name in used):
            continue

        def span(node: ast.expr | ast.stmt) -> tuple[int, int]:
            assert node.end_lineno is not None
            assert node.end_col_offset is not None
            return (
                starts[node.lineno - 1] + node.col_offset,
                starts[node.end_lineno - 1] + node.end_col_offset,
            )

        union_start, union_end = span(union)
        text = f"{event.payload_class}: TypeAlias = ".encode() + lines[union_start:union_end]
        if discriminator is not None:
            # A discriminated union (a oneOf of tagged branches) keeps its discriminator.
            tag = ast.unparse(discriminator).encode()
            text = (
                f"{event.payload_class}: TypeAlias = Annotated[".encode()
                + lines[union_start:union_end]
                + b", Field(discriminator="
                + tag
                + b")]"
            )
        doc = _docstring_source(f"The payload of ``{event.name}``.")
        at = starts[message.lineno - 1]
        edits.append((at, at, text + b"\n" + doc.encode() + b"\n\n"))
        start, end = span(annotation)
        edits.append((start, end, event.payload_class.encode()))
    if not edits:
        return source
    lines = _splice(lines, edits)
    return _add_typing_import(lines.decode(), "TypeAlias")


_CHECKS = "_CHECKS"
#: What datamodel-code-generator writes in a model that uses a custom type (the checks'
#: aliases are pydantic's own types: it is not needed).
_ARBITRARY = "        arbitrary_types_allowed=True,\n"
_EMPTY_CONFIG = re.compile(r"\n    model_config = ConfigDict\(\n    \)\n")


def _check_aliases(source: str, checks: list[Check], schemas: SchemaSet) -> str:
    """Define the type alias of each check (see :mod:`datadivr_codegen.checks`) where
    datamodel-code-generator imported it from :data:`CHECKS_MODULE`: after the imports,
    ``_CHECKS = SchemaChecks(__file__)`` and one ``Alias: TypeAlias = Annotated[<type>,
    _CHECKS.at("<pointer>")]`` each; a definition's or a payload's alias has its name and
    description."""
    if not checks:
        return source
    tree = parse(source)
    data = source.encode()
    starts = _line_starts(data)
    imports = [node for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)]
    ours = next(
        node
        for node in imports
        if isinstance(node, ast.ImportFrom) and node.module == CHECKS_MODULE
    )
    assert ours.end_lineno is not None
    edits = [(starts[ours.lineno - 1], starts[ours.end_lineno], b"")]
    descriptions = {
        name: schema.get("description")
        for name, schema in schemas.definitions.items()
        if isinstance(schema, dict)
    }
    descriptions.update(
        {event.payload_class: f"The payload of ``{event.name}``." for event in schemas.events}
    )
    text = f"\n{_CHECKS} = {_SCHEMA_CHECKS}(__file__)\n\n"
    models = {check.alias: check for check in checks if check.model}
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        for base in node.bases:
            if isinstance(base, ast.Name) and base.id in models:
                assert base.end_col_offset is not None
                start = starts[base.lineno - 1] + base.col_offset
                edits.append((start, starts[base.lineno - 1] + base.end_col_offset, b"Payload"))
                body = node.body
                has_doc = isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                first = body[1] if has_doc and len(body) > 1 else body[0]
                at = starts[first.lineno - 1] + first.col_offset
                line = f"__datadivr_check__ = {_CHECKS}.model({models[base.id].pointer!r})\n    "
                edits.append((at, at, line.encode()))
    for check in checks:
        if check.model:
            continue
        text += (
            f"{check.alias}: TypeAlias = Annotated[{check.python_type}, "
            f"{_CHECKS}.at({check.pointer!r})]\n"
        )
        description = descriptions.get(check.alias)
        if isinstance(description, str) and description.strip():
            text += _docstring_source(description)
    last = imports[-1]
    assert last.end_lineno is not None
    at = starts[last.end_lineno]
    edits.append((at, at, text.encode()))
    out = _splice(data, edits).decode().replace(_ARBITRARY, "")
    out = _EMPTY_CONFIG.sub("\n", out)
    imported = {
        alias.name
        for node in tree.body
        if isinstance(node, ast.ImportFrom) and node.module == _TYPE_MODULE
        for alias in node.names
    }
    names = _SCHEMA_CHECKS + (", Payload" if models and "Payload" not in imported else "")
    out = out.replace(f"from {_TYPE_MODULE} import ", f"from {_TYPE_MODULE} import {names}, ", 1)
    for name in ("TypeAlias", "Annotated", "Any"):
        out = _add_typing_import(out, name)
    return out


def _docstring_source(text: str) -> str:
    doc = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"').strip()
    return f'"""{doc}"""\n'


def _alias_source(
    name: str, values: list[object], description: object, literal_name: str = "Literal"
) -> str:
    literal = ", ".join(repr(value) for value in values)
    text = f"{name}: TypeAlias = {literal_name}[{literal}]\n"
    if isinstance(description, str) and description.strip():
        text += _docstring_source(description)
    return text


def _add_typing_import(source: str, name: str) -> str:
    """Add ``from typing import name`` after the ``__future__`` import (ruff merges it with the
    other typing imports)."""
    future = "from __future__ import annotations\n"
    if future in source:
        return source.replace(future, f"{future}from typing import {name}\n", 1)
    return f"from typing import {name}\n{source}"


def _is_title_only(node: ast.expr, *, allow: frozenset[str] | set[str] = frozenset()) -> bool:
    """Whether ``node`` is ``Field(title=...)``, with none but the ``allow`` ed keywords."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "Field"
        and not node.args
        and "title" in {kw.arg for kw in node.keywords}
        and {kw.arg for kw in node.keywords} <= {"title", *allow}
    )


def _line_starts(data: bytes) -> list[int]:
    """The byte offset of each line of ``data`` (ast's columns are UTF-8 byte offsets)."""
    starts = [0]
    for line in data.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    return starts


def _splice(data: bytes, edits: list[tuple[int, int, bytes]]) -> bytes:
    """``data`` with each ``(start, end, text)`` edit made; edits must not overlap (texts
    inserted at one place are joined in sorted order)."""
    ordered = sorted(edits)
    pieces: list[bytes] = []
    at = 0
    for start, end, text in ordered:
        if start < at:  # overlapping edits: each made on the text the later ones left
            for start, end, text in reversed(ordered):
                data = data[:start] + text + data[end:]
            return data
        pieces += (data[at:start], text)
        at = end
    pieces.append(data[at:])
    return b"".join(pieces)


def _runtime_checks(source: str) -> str:
    """Add the runtime's checks where pydantic alone is laxer than the schema, editing the text
    in place so the layout stays as generated:

    - each ``Field(json_schema_extra={NOT_NULL: True}, …)`` becomes ``Field(…)`` plus
      ``NotNull`` (an optional property that refuses ``null``);
    - each ``Literal[…]`` that holds a number or a boolean becomes
      ``Annotated[Literal[…], ExactLiteral]`` (pydantic takes ``true`` for ``1``).
    """
    data = source.encode()
    starts = _line_starts(data)

    def offset(line: int | None, col: int | None) -> int:
        # ast gives columns as UTF-8 byte offsets.
        assert line is not None
        assert col is not None
        return starts[line - 1] + col

    edits: list[tuple[int, int, bytes]] = []
    used: set[str] = set()
    tree = parse(source)
    # datamodel-code-generator imports ``Annotated as Annotated_aliased`` (and so on) when a
    # field has the name: the checks use the names the module has.
    literal = _typing_name(tree, "Literal")
    annotated = _typing_name(tree, "Annotated", default="")
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name)):
            continue
        if node.value.id == literal and _needs_exact(node):
            start = offset(node.lineno, node.col_offset)
            edits.append((start, start, f"{annotated or 'Annotated'}[".encode()))
            end = offset(node.end_lineno, node.end_col_offset)
            edits.append((end, end, f", {_EXACT_LITERAL}]".encode()))
            used.add(_EXACT_LITERAL)
            continue
        if node.value.id != (annotated or "Annotated") or not isinstance(node.slice, ast.Tuple):
            continue
        for element in node.slice.elts[1:]:
            if not (isinstance(element, ast.Call) and isinstance(element.func, ast.Name)):
                continue
            marker = next((kw for kw in element.keywords if _is_not_null(kw)), None)
            if marker is None:
                continue
            used.add(_NOT_NULL)
            if len(element.keywords) == 1 and not element.args:
                start = offset(element.lineno, element.col_offset)
                end = offset(element.end_lineno, element.end_col_offset)
                edits.append((start, end, _NOT_NULL.encode()))
                continue
            start = offset(marker.lineno, marker.col_offset)
            end = offset(marker.end_lineno, marker.end_col_offset)
            rest = data[end:].lstrip()
            if rest.startswith(b","):
                end = len(data) - len(rest) + 1
            edits.append((start, end, b""))
            call_end = offset(element.end_lineno, element.end_col_offset)
            edits.append((call_end, call_end, f", {_NOT_NULL}".encode()))
    if not edits:
        return source
    data = _splice(data, edits)
    out = data.decode()
    imports = f"from {_TYPE_MODULE} import " + "".join(f"{name}, " for name in sorted(used))
    if _EXACT_LITERAL in used and not annotated:
        # ruff merges it with the other typing imports.
        imports = "from typing import Annotated\n" + imports
    return out.replace(f"from {_TYPE_MODULE} import ", imports, 1)


def _default_event_names(source: str, events: dict[str, str]) -> str:
    """Give each message's ``event_name`` its event's name as default, so that a message built
    in Python needs none (parsing still requires it: it picks the model)."""
    data = source.encode()
    starts = _line_starts(data)
    inserts: list[tuple[int, int, bytes]] = []
    for node in parse(source).body:
        if not (isinstance(node, ast.ClassDef) and node.name in events):
            continue
        for item in node.body:
            if (
                isinstance(item, ast.AnnAssign)
                and isinstance(item.target, ast.Name)
                and item.target.id == "event_name"
                and item.value is None
                and item.end_lineno is not None
                and item.end_col_offset is not None
            ):
                end = starts[item.end_lineno - 1] + item.end_col_offset
                inserts.append((end, end, f" = {events[node.name]!r}".encode()))
    return _splice(data, inserts).decode()


def _server_requests(schemas: SchemaSet) -> dict[str, str]:
    """The message class of each request the server may send, with its reply's class."""
    requests = {}
    for event in schemas.events:
        if event.reply is None or not event.direction.server_may_send:
            continue
        reply = schemas.event(event.reply)
        if reply.direction.client_may_answer:
            requests[event.message_class] = reply.message_class
    return requests


def _reply_types(source: str, requests: dict[str, str]) -> str:
    """Declare on each of the server's requests the class of its reply, as a class variable
    only type checkers read (``ctx.request(client_id, message)`` returns one of those; the
    runtime finds the reply in the protocol)."""
    if not requests:
        return source
    data = source.encode()
    starts = _line_starts(data)
    inserts: list[tuple[int, int, bytes]] = []
    for node in parse(source).body:
        if not (isinstance(node, ast.ClassDef) and node.name in requests):
            continue
        body = node.body
        has_doc = isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
        first = body[1] if has_doc and len(body) > 1 else body[0]
        declaration = (
            f"__reply__: ClassVar[type[{requests[node.name]}]]\n"
            f'    """The message a client answers it with."""\n\n    '
        )
        at = starts[first.lineno - 1] + first.col_offset
        inserts.append((at, at, declaration.encode()))
    return (
        _splice(data, inserts)
        .decode()
        .replace(
            "from __future__ import annotations\n",
            "from __future__ import annotations\n\nfrom typing import ClassVar\n",
            1,
        )
    )


def _needs_exact(node: ast.Subscript) -> bool:
    """Whether ``Literal[…]`` holds a number or a boolean."""
    elements = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
    for element in elements:
        try:
            value = ast.literal_eval(element)
        except ValueError:
            continue
        if isinstance(value, (bool, int, float)):
            return True
    return False


def _is_not_null(keyword: ast.keyword) -> bool:
    return (
        keyword.arg == "json_schema_extra"
        and isinstance(keyword.value, ast.Dict)
        and len(keyword.value.keys) == 1
        and isinstance(keyword.value.keys[0], ast.Constant)
        and keyword.value.keys[0].value == NOT_NULL
    )


def _typing_name(tree: ast.Module, name: str, default: str | None = None) -> str:
    """The name ``typing.<name>`` has in the module: its ``as`` name when it is imported under
    another (a field has its name); ``default`` (``name`` if not given) when not imported."""
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == "typing":
            for alias in node.names:
                if alias.name == name:
                    return alias.asname or name
    return name if default is None else default


def model_names_and_imports(source: str) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """The names ``models.py`` defines, and the imports it makes, for the other modules.

    The other modules import every model and every name the models import (the runtime's
    types too, which annotations use); ruff then drops the ones a module does not use.
    """
    imports: dict[str, list[str]] = {}
    for node in parse(source).body:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "__future__":
                continue
            # ``Annotated as Annotated_aliased`` as it is: annotations use the ``as`` name.
            names = [
                f"{alias.name} as {alias.asname}" if alias.asname else alias.name
                for alias in node.names
            ]
            if node.module == _TYPE_MODULE:
                # The bases are the models' business; the templates import MessageBase.
                names = [n for n in names if n not in ("MessageBase", "Payload")]
            if names:
                imports.setdefault(node.module, []).extend(names)
    return _model_names(source), sorted(
        (module, sorted(set(names))) for module, names in imports.items()
    )
