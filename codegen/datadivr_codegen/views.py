"""What the templates know of each event: names, types and the client stub's parameters,
read from the generated ``models.py``."""

from __future__ import annotations

import ast
import copy
import re
from dataclasses import dataclass

from datadivr_codegen.schema import EventDef, SchemaSet, handler_names
from datadivr_codegen.syntax import parse
from datadivr_codegen.terms import Direction, MessageText

__all__ = ["STUB_OPTIONS", "EventView", "StubField", "views"]

#: Options of the client stubs; a payload field with one of these names (or the name of a class
#: the stub uses) makes the stub take the payload model (typed, first) instead of its fields.
#: The model is exported all the same.
STUB_OPTIONS = frozenset({"self", "to", "message", "timeout", "payload"})


@dataclass(frozen=True)
class StubField:
    """One parameter of a client stub: a payload field."""

    name: str
    key: str
    annotation: str
    required: bool
    default: str | None


@dataclass(frozen=True)
class EventView:
    """What the templates need to know of one event."""

    event: EventDef
    reply_class: str | None
    payload_annotation: str
    fields: tuple[StubField, ...] | None
    """The client stub's payload parameters, or ``None`` when it takes the payload itself."""
    default_to: str

    @property
    def name(self) -> str:
        return self.event.name

    @property
    def message_class(self) -> str:
        return self.event.message_class

    @property
    def payload_class(self) -> str:
        return self.event.payload_class

    @property
    def handler_type_param(self) -> str:
        """The ``handler_type`` parameter of this event's ``websocket_handler`` overload: only
        the sides the event reaches type-check."""
        if self.event.direction is Direction.CLIENT_TO_SERVER:
            return "handler_type: Literal[HandlerType.SERVER] = ..."
        if self.event.direction is Direction.SERVER_TO_CLIENT:
            return "handler_type: Literal[HandlerType.CLIENT]"
        return "handler_type: HandlerType = ..."

    @property
    def handler_alias(self) -> str:
        """The protocol of a handler that takes the message (``MoveHandler``)."""
        return handler_names(self.name)[0]

    @property
    def context_handler_alias(self) -> str:
        """The protocol of a handler that takes the message and the context."""
        return handler_names(self.name)[1]

    @property
    def decorator_alias(self) -> str:
        """The protocol of what ``websocket_handler(name)`` returns, one ``__call__`` overload
        per handler protocol: a wrong handler is reported against those, by name."""
        return handler_names(self.name)[2]

    @property
    def return_annotation(self) -> str:
        return f"{self.reply_class} | None" if self.reply_class else "MessageBase | None"

    @property
    def client_sends(self) -> bool:
        return self.event.direction.client_may_send

    @property
    def client_receives(self) -> bool:
        return self.event.direction.client_may_receive

    @property
    def text_required(self) -> bool:
        return self.event.message_text is MessageText.REQUIRED

    @property
    def stub_takes_fields(self) -> bool:
        """Whether the client stub takes the payload model's fields rather than the model (which
        it takes when there is no model, or a field is named like a stub option)."""
        return self.fields is not None

    @property
    def has_payload_parameters(self) -> bool:
        """Whether the client stub takes the payload (or its fields) as parameters."""
        if self.fields is not None:
            return bool(self.fields)
        return not self.event.payload_nullable or self.payload_parameter_optional

    @property
    def payload_parameter_optional(self) -> bool:
        """Whether the client stub takes the payload itself, ``None`` by default: a payload that
        may be null but also takes other values (``{"type": ["integer", "null"]}``, a check
        such as ``{"not": {"type": "string"}}``); a ``"type": "null"`` payload is no parameter."""
        return (
            self.fields is None
            and self.event.payload_nullable
            and self.payload_annotation != "None"
        )

    @property
    def text_positional(self) -> bool:
        """Whether the stub takes the required ``message`` text positionally: only as its one
        parameter (no payload parameters); otherwise ``message`` is keyword-only."""
        return self.text_required and not self.has_payload_parameters

    @property
    def payload_optional(self) -> bool:
        return self.event.payload_nullable

    @property
    def doc(self) -> str:
        return _docstring(self.event.description or f"Send a ``{self.name}`` message.")


def views(schemas: SchemaSet, models: str) -> list[EventView]:
    classes = _classes(models)
    views = []
    for event in schemas.events:
        reply = schemas.event(event.reply).message_class if event.reply else None
        payload_fields = classes.get(event.payload_class)
        message_fields = {f.name: f for f in classes.get(event.message_class, ())}
        payload_annotation = (
            event.payload_class
            if payload_fields is not None
            else message_fields["payload"].annotation
            if "payload" in message_fields
            else "None"
        )
        fields: tuple[StubField, ...] | None = None
        if payload_fields is not None:
            fields = tuple(payload_fields)
            # The stub's body names the payload's, the message's and the reply's classes: a
            # parameter of one of those names would hide it.
            taken = STUB_OPTIONS | {event.payload_class, event.message_class, reply or ""}
            if any(f.name in taken for f in fields):
                fields = None
        if event.direction in (Direction.CLIENT_TO_SERVER, Direction.BOTH):
            default_to = "server"
        else:
            default_to = "others"
        views.append(EventView(event, reply, payload_annotation, fields, default_to))
    return views


def _private_aliases(source: str) -> dict[str, ast.expr]:
    """The type of each private alias of ``source`` (``_Check3: TypeAlias = Annotated[list[Any],
    _CHECKS.at(...)]`` → ``list[Any]``, the loose type of a check): the other modules do not
    import private names, and a stub's parameter need not be checked twice (the stub builds
    the model, which checks it)."""
    out: dict[str, ast.expr] = {}
    for node in parse(source).body:
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and node.target.id.startswith("_")
            and isinstance(node.value, ast.Subscript)
            and isinstance(node.value.value, ast.Name)
            and node.value.value.id == "Annotated"
            and isinstance(node.value.slice, ast.Tuple)
        ):
            out[node.target.id] = node.value.slice.elts[0]
    return out


class _Unalias(ast.NodeTransformer):
    def __init__(self, aliases: dict[str, ast.expr]) -> None:
        self.aliases = aliases

    def visit_Name(self, node: ast.Name) -> ast.expr:
        return self.aliases.get(node.id, node)


def _classes(source: str) -> dict[str, list[StubField]]:
    """Fields of every class in ``source``, in order, read from its annotations.

    A class also has the fields of its bases defined in ``source`` (datamodel-code-generator
    writes ``class Child(Base)`` for an ``allOf`` of a ``$ref``), as pydantic collects them:
    the bases' first, the last base's before the first's, and a field the class declares again
    replaces the base's in its place.
    """
    own: dict[str, list[StubField]] = {}
    bases: dict[str, list[str]] = {}
    lines = _Lines(source)
    private = _private_aliases(source)
    tree = parse(source)
    # ``Annotated as Annotated_aliased`` when a field is named ``Annotated``.
    annotated = {"Annotated"} | {
        alias.asname
        for node in tree.body
        if isinstance(node, ast.ImportFrom) and node.module == "typing"
        for alias in node.names
        if alias.name == "Annotated" and alias.asname
    }
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        fields = []
        for item in node.body:
            if not (isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)):
                continue
            name = item.target.id
            if name == "model_config":
                continue
            annotation, alias = _unwrap(item.annotation, lines, private, annotated)
            default = lines.segment(item.value) if item.value else None
            fields.append(StubField(name, alias or name, annotation, item.value is None, default))
        own[node.name] = fields
        bases[node.name] = [b.id for b in node.bases if isinstance(b, ast.Name)]

    def collect(name: str, seen: frozenset[str]) -> list[StubField]:
        merged: dict[str, StubField] = {}
        for base in reversed(bases[name]):
            if base in own and base not in seen:
                merged.update((f.name, f) for f in collect(base, seen | {name}))
        merged.update((f.name, f) for f in own[name])
        return list(merged.values())

    return {name: collect(name, frozenset()) for name in own}


def _unwrap(
    node: ast.expr, lines: _Lines, private: dict[str, ast.expr], annotated: set[str]
) -> tuple[str, str | None]:
    """``Annotated[T, Field(alias='x')]`` → (``T``, ``'x'``); ``annotated`` are the names of
    ``typing.Annotated``, and a private alias in ``T`` is written out (see
    :func:`_private_aliases`)."""
    alias = None
    if (
        isinstance(node, ast.Subscript)
        and isinstance(node.value, ast.Name)
        and node.value.id in annotated
        and isinstance(node.slice, ast.Tuple)
    ):
        for meta in node.slice.elts[1:]:
            if isinstance(meta, ast.Call):
                for kw in meta.keywords:
                    if kw.arg == "alias" and isinstance(kw.value, ast.Constant):
                        alias = str(kw.value.value)
        node = node.slice.elts[0]
    if any(isinstance(n, ast.Name) and n.id in private for n in ast.walk(node)):
        return ast.unparse(_Unalias(private).visit(copy.deepcopy(node))), alias
    segment = lines.segment(node)
    return (segment or ast.unparse(node)), alias


#: A line with its end, as :mod:`ast` splits lines (on ``\r\n``, ``\r`` and ``\n`` only).
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


class _Lines:
    """A source split into lines once, for :meth:`segment`.

    :func:`ast.get_source_segment` splits the whole source again on every call, which made
    reading ``models.py`` quadratic in its size (minutes for a few hundred events).
    """

    def __init__(self, source: str) -> None:
        self._lines: list[str] = _LINE.findall(source)

    def segment(self, node: ast.expr) -> str | None:
        """The source text of ``node``, as :func:`ast.get_source_segment` returns it."""
        if node.end_lineno is None or node.end_col_offset is None:
            return None
        first, last = node.lineno - 1, node.end_lineno - 1
        if first == last:
            return self._lines[first].encode()[node.col_offset : node.end_col_offset].decode()
        return "".join(
            [
                self._lines[first].encode()[node.col_offset :].decode(),
                *self._lines[first + 1 : last],
                self._lines[last].encode()[: node.end_col_offset].decode(),
            ]
        )


def _docstring(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"').strip()
