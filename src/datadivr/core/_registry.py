"""Handler registration: the ``@websocket_handler`` decorator, registries and servicers.

Handlers are ``async`` functions that take the message, and optionally a
:class:`HandlerContext`; they may return a message, which is delivered as the answer.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, TypeVar

from datadivr.core._lifecycle import ClientInfo, DisconnectInfo, PresenceChange
from datadivr.core._message import MessageBase
from datadivr.core._requests import Asks
from datadivr.exceptions import InvalidStateError, RegistrationError

if TYPE_CHECKING:
    from datadivr.core._protocol import Protocol

__all__ = [
    "ConnectHook",
    "DisconnectHook",
    "Handler",
    "HandlerContext",
    "HandlerType",
    "PresenceHook",
    "Registration",
    "Registry",
    "ServicerBase",
    "Side",
    "default_registry",
    "not_implemented",
    "on_connect",
    "on_disconnect",
    "on_presence",
    "register_handler",
]

Handler = Callable[[Any, "HandlerContext"], Awaitable[MessageBase | None]]
"""A handler as the runtime calls it: ``(message, context) -> answer or None``."""

ConnectHook = Callable[[ClientInfo, "HandlerContext"], Awaitable[None]]
"""An ``on_connect`` hook: ``async def hook(client: ClientInfo, ctx: HandlerContext) -> None``."""

DisconnectHook = Callable[[DisconnectInfo, "HandlerContext"], Awaitable[None]]
"""An ``on_disconnect`` hook: ``async def hook(client: DisconnectInfo, ctx: HandlerContext)
-> None``."""

PresenceHook = Callable[[PresenceChange, "HandlerContext"], Awaitable[None]]
"""An ``on_presence`` hook: ``async def hook(change: PresenceChange, ctx: HandlerContext)
-> None``; ``ctx`` is the server's own (``ctx.client_id`` is ``None``)."""

HookKind: TypeAlias = Literal["on_connect", "on_disconnect", "on_presence"]
"""The kinds of lifecycle hooks."""

_F = TypeVar("_F", bound=Callable[..., Any])
_M = TypeVar("_M", bound=MessageBase)

Ask = Callable[[str, Any, "float | None"], Awaitable[Any]]
"""How a server's :class:`HandlerContext` sends a request: ``(client_id, message, timeout)``
to the answer (the hub's :meth:`~datadivr.core._hub.Hub.request`)."""


class HandlerType(str, Enum):
    """Where a handler runs."""

    SERVER = "server"
    """On the server, for messages clients send."""
    CLIENT = "client"
    """On clients, for messages they receive."""
    BOTH = "both"
    """On both sides."""

    def includes(self, side: Side) -> bool:
        """Whether a handler of this type runs on ``side``."""
        return self is HandlerType.BOTH or self is side


Side: TypeAlias = Literal[HandlerType.SERVER, HandlerType.CLIENT]
"""Where a handler runs: one side, ``HandlerType.SERVER`` or ``HandlerType.CLIENT``, never
``BOTH`` (which names the sides of a registration, not a side)."""


@dataclass(frozen=True)
class HandlerContext:
    """What a handler knows besides the message.

    Attributes:
        side: Where the handler runs: ``HandlerType.SERVER`` or ``HandlerType.CLIENT``.
        client_id: On the server, the sender's id; on a client, this client's own id.
        identity: The authenticated identity of the sender, when the server has one.
        ask: How :meth:`request` sends the server's request (``None`` on a client, which
            does not send requests this way).
    """

    side: Side
    client_id: str | None
    send_message: Callable[[MessageBase], Awaitable[None]] = field(repr=False)
    identity: Any = None
    ask: Ask | None = field(default=None, repr=False, kw_only=True)

    async def send(self, message: MessageBase) -> None:
        """Send another message: from the server, delivered per its ``to``; from a client, sent
        to the server."""
        await self.send_message(message)

    async def request(
        self, client_id: str, message: Asks[_M], *, timeout: float | None = None
    ) -> _M:
        """From a server handler: send ``message``, a request of the server (an event with a
        ``reply`` that the server sends), to the client ``client_id`` and wait for its answer.

        The message gets an ``id`` when it has none; the client answers with a message whose
        ``reply_to`` is that id. A handler that waits here holds up the next messages of the
        client whose message it handles: ask that same client from a task of its own.

        Args:
            client_id: The client to ask, connected to this server.
            message: The request; its type names the reply's (``__reply__``).
            timeout: Seconds to wait for the answer (the server's default when ``None``).

        Returns:
            The client's answer, of the request's reply type.

        Raises:
            RemoteError: the client answered with an ``error``.
            RequestTimeoutError: no answer within ``timeout``.
            ClientGoneError: the client disconnected before it answered.
            UnknownClientError: no client ``client_id`` is connected
                (:class:`~datadivr.exceptions.ClientOnOtherNodeError`: it is connected to
                another node of the cluster).
            TooManyRequestsError: too many requests wait for that client already.
            InvalidStateError: called from a client's handler, or from a handler or hook of
                the client ``client_id`` itself, in the task that runs it (it would wait for a
                message that is not read until it returns).
            TypeError: ``message`` is not a request the server may send.
        """
        if self.ask is None:
            raise InvalidStateError("only the server sends requests with ctx.request")
        answer: _M = await self.ask(client_id, message, timeout)
        return answer


def answer_fields(
    answer: MessageBase, *, to: str, reply_to: str | None, from_id: str | None = None
) -> dict[str, str]:
    """How a handler's answer is addressed: the envelope fields it left unset that its side
    fills in (the server's hub and a client both call it).

    Args:
        answer: What the handler returned or sent.
        to: Its recipient when it names none: the sender of the message it answers.
        reply_to: The ``id`` of the message it answers, if that had one (``None`` for a
            message that answers nothing).
        from_id: Its sender, stamped by the server (``None`` on a client: the server stamps
            it on the way).

    Returns:
        The fields to add to the answer, by name; empty when it set them all itself.
    """
    given = answer.__pydantic_fields_set__
    fields: dict[str, str] = {}
    if "to" not in given:
        fields["to"] = to
    if reply_to is not None and "reply_to" not in given:
        fields["reply_to"] = reply_to
    if from_id is not None and "from_id" not in given:
        fields["from_id"] = from_id
    return fields


@dataclass(frozen=True)
class Registration:
    """A registered handler.

    Attributes:
        handler: The handler as the runtime calls it: ``(message, context)``.
        func: The function as registered.
        with_context: Whether ``func`` takes the context; else it is called with the message
            alone (``handler`` wraps it so).
        name: The function's qualified name.
    """

    handler: Handler
    func: Callable[..., Awaitable[Any]]
    with_context: bool
    name: str


class Registry:
    """Handlers by event and side. Module-level ``@websocket_handler`` uses
    :data:`default_registry`; pass your own to keep applications apart.

    Args:
        fallbacks: Registries to look in, in order, for events this one has no handler for.
    """

    #: Bumped by every registration anywhere: a lookup cached before it is stale.
    _changes = 0

    def __init__(self, *fallbacks: Registry) -> None:
        self._entries: dict[tuple[str, HandlerType], Registration] = {}
        self._fallbacks = fallbacks
        # Lookups through the fallbacks, resolved once per change (one dict lookup a message).
        self._resolved: dict[tuple[str, HandlerType], Registration | None] = {}
        self._resolved_at = -1
        # Lifecycle hooks by kind, in the order registered, keyed by name (see _hook_key).
        self._hooks: dict[str, dict[object, Callable[..., Awaitable[None]]]] = {
            "on_connect": {},
            "on_disconnect": {},
            "on_presence": {},
        }

    def register(
        self, event_name: str, handler_type: HandlerType, func: Callable[..., Any]
    ) -> None:
        """Register ``func`` for ``event_name`` on the sides ``handler_type`` names.

        Raises:
            RegistrationError: ``func`` is not ``async``, takes the wrong number of arguments,
                or a handler is already registered for that event and side.
        """
        handler = _normalize(func)
        # The same function registered again (a module reloaded) is fine; another one is not.
        name = f"{getattr(func, '__module__', '?')}.{getattr(func, '__qualname__', repr(func))}"
        sides = [s for s in (HandlerType.SERVER, HandlerType.CLIENT) if handler_type.includes(s)]
        for side in sides:
            existing = self._entries.get((event_name, side))
            if existing is not None and existing.name != name:
                raise RegistrationError(
                    f"{side.value} handler for {event_name!r} is already registered ({existing.name})"
                )
        for side in sides:
            self._entries[(event_name, side)] = Registration(handler, func, handler is func, name)
        Registry._changes += 1

    def unregister(self, event_name: str, handler_type: HandlerType = HandlerType.BOTH) -> None:
        """Remove the handlers of ``event_name`` on the sides ``handler_type`` names."""
        for side in (HandlerType.SERVER, HandlerType.CLIENT):
            if handler_type.includes(side):
                self._entries.pop((event_name, side), None)
        Registry._changes += 1

    def get(self, event_name: str, side: Side) -> Handler | None:
        """The handler of ``event_name`` on ``side`` (``SERVER`` or ``CLIENT``), if any."""
        entry = self.lookup(event_name, side)
        return entry.handler if entry is not None else None

    def lookup(self, event_name: str, side: Side) -> Registration | None:
        """The registration of ``event_name``'s handler on ``side``, fallbacks included."""
        if self._resolved_at != Registry._changes:
            self._resolved.clear()
            self._resolved_at = Registry._changes
        key = (event_name, side)
        try:
            return self._resolved[key]
        except KeyError:
            entry = self._entries.get(key)
            for fallback in self._fallbacks:
                if entry is not None:
                    break
                entry = fallback.lookup(event_name, side)
            if len(self._resolved) < 4096:  # bounded, whatever names are asked for
                self._resolved[key] = entry
            return entry

    def events(self, side: Side) -> list[str]:
        """The events with a handler on ``side``, sorted (fallbacks included)."""
        return sorted({event for event, s in self._keys() if s is side})

    def _keys(self) -> set[tuple[str, HandlerType]]:
        keys = set(self._entries)
        for fallback in self._fallbacks:
            keys |= fallback._keys()
        return keys

    def __iter__(self) -> Iterator[tuple[str, HandlerType]]:
        return iter(sorted(self._keys(), key=lambda k: (k[0], k[1].value)))

    def __len__(self) -> int:
        return len(self._keys())

    def on_connect(self, func: ConnectHook) -> ConnectHook:
        """Register ``func`` to run when a client connects (a decorator): after its handshake
        is accepted and its ``welcome`` queued, before its first message is handled.

        Hooks run in the order registered, this registry's before its fallbacks'.

        Raises:
            RegistrationError: ``func`` is not ``async`` or does not take ``(client, ctx)``.
        """
        self._add_hook("on_connect", func)
        return func

    def on_disconnect(self, func: DisconnectHook) -> DisconnectHook:
        """Register ``func`` to run once when a client that got ``on_connect`` leaves (a
        decorator), however it left: closed, lost, evicted, or the server shut down.

        Raises:
            RegistrationError: ``func`` is not ``async`` or does not take ``(client, ctx)``.
        """
        self._add_hook("on_disconnect", func)
        return func

    def on_presence(self, func: PresenceHook) -> PresenceHook:
        """Register ``func`` to run when a client of another node of the cluster joins or
        leaves (a decorator), as this node learns it: at once from that node's word, or, for
        a node that died without a word, once its registration expired. One node's own
        clients run ``on_connect`` and ``on_disconnect`` instead.

        Changes are told in the order this node learnt them, one hook call at a time.

        Raises:
            RegistrationError: ``func`` is not ``async`` or does not take ``(change, ctx)``.
        """
        self._add_hook("on_presence", func)
        return func

    def _add_hook(self, kind: str, func: Callable[..., Any]) -> None:
        if not inspect.iscoroutinefunction(func):
            raise RegistrationError(f"{kind} hook {func!r} must be an async function")
        params = _positional_parameters(func)
        required = [p for p in params if p.default is p.empty]
        if len(params) < 2 or len(required) > 2:
            first = "change" if kind == "on_presence" else "client"
            raise RegistrationError(
                f"{kind} hook {func!r} must take ({first}, ctx), got {len(params)} parameters"
            )
        self._hooks[kind][_hook_key(func)] = func

    def hooks(self, kind: HookKind) -> list[Callable[..., Any]]:
        """The hooks of ``kind`` (``on_connect``, ``on_disconnect``, ``on_presence``), in
        the order they run: this registry's, then its fallbacks' (each once)."""
        found = dict.fromkeys(self._hooks[kind].values())  # ordered, each once
        for fallback in self._fallbacks:
            found.update(dict.fromkeys(hook for hook in fallback.hooks(kind) if hook not in found))
        return list(found)

    def merged(self, *fallbacks: Registry) -> Registry:
        """A registry that looks handlers up here first, then in ``fallbacks``, in order.

        It is a live view: handlers registered later in any of them are found.
        """
        return Registry(self, *fallbacks)


#: The registry the module-level ``@websocket_handler`` decorator fills.
default_registry = Registry()


def on_connect(func: ConnectHook) -> ConnectHook:
    """Register ``func`` on :data:`default_registry` to run when a client connects::

        @on_connect
        async def greet(client: ClientInfo, ctx: HandlerContext) -> None: ...

    See :meth:`Registry.on_connect`.
    """
    return default_registry.on_connect(func)


def on_disconnect(func: DisconnectHook) -> DisconnectHook:
    """Register ``func`` on :data:`default_registry` to run once when a client leaves.

    See :meth:`Registry.on_disconnect`.
    """
    return default_registry.on_disconnect(func)


def on_presence(func: PresenceHook) -> PresenceHook:
    """Register ``func`` on :data:`default_registry` to run when a client of another node of
    the cluster joins or leaves.

    See :meth:`Registry.on_presence`.
    """
    return default_registry.on_presence(func)


def _hook_key(func: Callable[..., Any]) -> object:
    """The same hook registered again (a module reloaded) replaces itself: keyed by its
    qualified name, unless it is made in a function (closures of one name may differ)."""
    qualname = getattr(func, "__qualname__", None)
    if not isinstance(qualname, str) or "<locals>" in qualname or hasattr(func, "__self__"):
        return func
    return f"{getattr(func, '__module__', '?')}.{qualname}"


def register_handler(
    protocol: Protocol,
    event_name: str,
    handler_type: HandlerType = HandlerType.SERVER,
    *,
    registry: Registry | None = None,
) -> Callable[[_F], _F]:
    """The untyped core of ``@websocket_handler``: check the event, then register.

    Raises:
        RegistrationError: the event is unknown, or cannot reach the side ``handler_type`` names.
    """
    spec = protocol.events.get(event_name)
    if spec is None:
        raise RegistrationError(protocol.unknown_event(event_name))
    handler_type = HandlerType(handler_type)
    if handler_type.includes(HandlerType.SERVER) and spec.direction.value == "client_reply":
        raise RegistrationError(
            f"{event_name!r} is client_reply: it answers the server's request, and the "
            "server's ctx.request (or server.request) returns it; no handler runs for it"
        )
    if handler_type.includes(HandlerType.SERVER) and not spec.direction.client_may_send:
        raise RegistrationError(
            f"{event_name!r} is {spec.direction.value}: the server never receives it"
        )
    if handler_type.includes(HandlerType.CLIENT) and not spec.direction.client_may_receive:
        raise RegistrationError(
            f"{event_name!r} is {spec.direction.value}: clients never receive it"
        )
    target = registry if registry is not None else default_registry

    def decorator(func: _F) -> _F:
        target.register(event_name, handler_type, func)
        return func

    return decorator


def _positional_parameters(func: Callable[..., Any]) -> list[inspect.Parameter]:
    """The parameters ``func`` takes by position: what a handler or hook is called with."""
    try:
        return [
            p
            for p in inspect.signature(func).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        return []


def _normalize(func: Callable[..., Any]) -> Handler:
    if not inspect.iscoroutinefunction(func):
        raise RegistrationError(f"handler {func!r} must be an async function")
    params = _positional_parameters(func)
    required = [p for p in params if p.default is p.empty]
    if len(required) == 1 and len(params) == 1:

        async def one_argument(message: Any, ctx: HandlerContext) -> MessageBase | None:
            result: MessageBase | None = await func(message)
            return result

        return one_argument
    if len(params) >= 2 and len(required) <= 2:
        return func
    raise RegistrationError(
        f"handler {func!r} must take (message) or (message, context), got {len(params)} parameters"
    )


_DEFAULT_MARK = "__datadivr_not_implemented__"


def not_implemented(func: _F) -> _F:
    """Mark a generated servicer method as the not-implemented default (it is not registered)."""
    setattr(func, _DEFAULT_MARK, True)
    return func


class ServicerBase:
    """Base of generated servicers: implement the protocol as one class, one method per event,
    and the lifecycle hooks :meth:`on_connect` and :meth:`on_disconnect`."""

    async def on_connect(self, client: ClientInfo, ctx: HandlerContext) -> None:
        """Called when a client connects: after its handshake and ``welcome``, before its
        first message is handled. Does nothing unless overridden."""

    async def on_disconnect(self, client: DisconnectInfo, ctx: HandlerContext) -> None:
        """Called once when a client that got :meth:`on_connect` leaves, however it left.
        Does nothing unless overridden."""

    async def on_presence(self, change: PresenceChange, ctx: HandlerContext) -> None:
        """Called when a client of another node of the cluster joins or leaves. Does nothing
        unless overridden."""

    def __mapping__(self) -> Mapping[str, Callable[..., Awaitable[Any]]]:
        """The handler of each event, by name (generated)."""
        return {}

    def registry(self) -> Registry:
        """A registry with the methods this servicer overrides, as server handlers."""
        registry = Registry()
        for event_name, method in self.__mapping__().items():
            if getattr(method, _DEFAULT_MARK, False):
                continue
            registry.register(event_name, HandlerType.SERVER, method)
        servicer = type(self)
        if servicer.on_connect is not ServicerBase.on_connect:
            registry.on_connect(self.on_connect)
        if servicer.on_disconnect is not ServicerBase.on_disconnect:
            registry.on_disconnect(self.on_disconnect)
        if servicer.on_presence is not ServicerBase.on_presence:
            registry.on_presence(self.on_presence)
        return registry
