"""The protocol core: parse, validate, stamp the sender, dispatch, route. No I/O.

The :class:`Hub` takes frames from connected clients and hands each outgoing frame, once
serialized, to a ``deliver`` callback with its :data:`Route`. Transports (the FastAPI server,
a broker) own the sockets and resolve routes to them; tests pass a list's ``append``.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import structlog

from datadivr._message import MessageBase
from datadivr._protocol import Direction, Protocol
from datadivr._registry import HandlerContext, HandlerType, Registry
from datadivr.exceptions import HandlerError, ProtocolError

__all__ = ["SERVER_ID", "Broadcast", "Direct", "Hub", "Route"]

#: The ``from_id`` of messages the server itself sends.
SERVER_ID = "server"
_RESERVED_IDS = frozenset({"all", "others", SERVER_ID})
_log = structlog.get_logger("datadivr.core")


@dataclass(frozen=True)
class Broadcast:
    """Every connected client, except ``exclude`` when set (``to: "others"``)."""

    exclude: str | None = None


@dataclass(frozen=True)
class Direct:
    """One client."""

    client_id: str


Route = Broadcast | Direct
"""Where a frame goes."""

Deliver = Callable[[Route, str], None]
"""Hands a serialized frame to the transport. It must not block."""


@dataclass
class _Client:
    identity: Any


class Hub:
    """Routes the messages of one server's clients.

    Args:
        protocol: The protocol to parse and validate frames with.
        registry: The server handlers.
        deliver: Called with each outgoing frame and its route.
    """

    def __init__(self, protocol: Protocol, registry: Registry, deliver: Deliver) -> None:
        self.protocol = protocol
        self.registry = registry
        self._deliver = deliver
        self._clients: dict[str, _Client] = {}
        self._has_welcome = "welcome" in protocol.events

    # -- membership ----------------------------------------------------------------------

    def new_client_id(self) -> str:
        """A fresh id that no connected client has."""
        while True:
            client_id = secrets.token_hex(8)
            if client_id not in self._clients:
                return client_id

    def connect(self, identity: Any = None, client_id: str | None = None) -> str:
        """Register a client and greet it with ``welcome``; return its id.

        Raises:
            ValueError: ``client_id`` is taken or reserved (``all``, ``others``, ``server``).
        """
        if client_id is None:
            client_id = self.new_client_id()
        elif client_id in self._clients or client_id in _RESERVED_IDS:
            raise ValueError(f"client id {client_id!r} is taken or reserved")
        self._clients[client_id] = _Client(identity)
        if self._has_welcome:
            payload = {"client_id": client_id, "schema_hash": self.protocol.schema_hash}
            self._deliver(Direct(client_id), _frame("welcome", payload, from_id=SERVER_ID))
        return client_id

    def disconnect(self, client_id: str) -> None:
        """Forget a client (idempotent)."""
        self._clients.pop(client_id, None)

    def __contains__(self, client_id: object) -> bool:
        return client_id in self._clients

    def __iter__(self) -> Iterator[str]:
        return iter(self._clients)

    def __len__(self) -> int:
        return len(self._clients)

    # -- messages ------------------------------------------------------------------------

    async def receive(self, client_id: str, frame: str | bytes) -> None:
        """Handle one frame from ``client_id``: every failure becomes an ``error`` to it."""
        try:
            message = self.protocol.parse(frame)
        except ProtocolError as exc:
            self._error(client_id, exc, reply_to=_id_of(frame))
            return
        spec = self.protocol.events[message.event_name]
        if not spec.direction.client_may_send:
            self._error(
                client_id,
                ProtocolError(
                    "wrong_direction",
                    f"clients may not send {message.event_name!r} ({spec.direction.value})",
                    event_name=message.event_name,
                ),
                reply_to=message.id,
            )
            return
        message = message.with_sender(client_id)
        handler = self.registry.get(message.event_name, HandlerType.SERVER)
        if handler is not None:
            await self._dispatch(client_id, message, handler)
        elif message.to == SERVER_ID or spec.direction is Direction.CLIENT_TO_SERVER:
            self._error(
                client_id,
                ProtocolError(
                    "no_handler",
                    f"the server has no handler for {message.event_name!r}",
                    event_name=message.event_name,
                ),
                reply_to=message.id,
            )
        else:
            self._relay(client_id, message)

    def send(self, message: MessageBase, to: str | None = None) -> None:
        """Send a message from the server: to ``to``, else to the message's own ``to``.

        Raises:
            ProtocolError: the recipient is not connected (``unknown_recipient``) or is ``server``.
        """
        target = to if to is not None else message.to
        update: dict[str, Any] = {}
        if message.from_id is None:
            update["from_id"] = SERVER_ID
        if to is not None and to != message.to:
            update["to"] = to
        if update:
            message = message.model_copy(update=update)
        self._deliver(self._route(target, sender=None), message.to_json())

    def _relay(self, client_id: str, message: MessageBase) -> None:
        try:
            route = self._route(message.to, sender=client_id)
        except ProtocolError as exc:
            self._error(client_id, exc, reply_to=message.id)
            return
        self._deliver(route, message.to_json())

    def _route(self, to: str, *, sender: str | None) -> Route:
        if to == "all":
            return Broadcast()
        if to == "others":
            return Broadcast(exclude=sender)
        if to in self._clients:
            return Direct(to)
        raise ProtocolError(
            "unknown_recipient",
            "the server is not a recipient here"
            if to == SERVER_ID
            else f"no client {to!r} is connected",
        )

    async def _dispatch(
        self, client_id: str, message: MessageBase, handler: Callable[..., Any]
    ) -> None:
        def answer(out: MessageBase) -> None:
            update: dict[str, Any] = {}
            if "to" not in out.model_fields_set:
                update["to"] = client_id
            if message.id is not None and out.reply_to is None:
                update["reply_to"] = message.id
            if out.from_id is None:
                update["from_id"] = SERVER_ID
            out = out.model_copy(update=update) if update else out
            target = out.to
            if target == "others":
                route: Route = Broadcast(exclude=client_id)
            else:
                route = self._route(target, sender=client_id)
            self._deliver(route, out.to_json())

        async def send_message(out: MessageBase) -> None:
            answer(out)

        client = self._clients.get(client_id)
        ctx = HandlerContext(
            HandlerType.SERVER,
            client_id,
            send_message,
            identity=client.identity if client is not None else None,
        )
        try:
            result = await handler(message, ctx)
            if result is not None:
                if not isinstance(result, MessageBase):
                    raise TypeError(f"handler returned {type(result).__name__}, not a message")
                answer(result)
        except ProtocolError as exc:
            self._error(client_id, exc, reply_to=message.id)
        except HandlerError as exc:
            self._error(
                client_id,
                ProtocolError(
                    exc.code, exc.message, event_name=message.event_name, details=exc.details
                ),
                reply_to=message.id,
            )
        except Exception:
            _log.exception("handler raised", event_name=message.event_name, client_id=client_id)
            self._error(
                client_id,
                ProtocolError(
                    "internal_error",
                    f"the server failed to handle {message.event_name!r}",
                    event_name=message.event_name,
                ),
                reply_to=message.id,
            )

    def _error(self, client_id: str, exc: ProtocolError, *, reply_to: str | None) -> None:
        _log.info(
            "message refused",
            client_id=client_id,
            code=exc.code,
            event_name=exc.event_name,
            reason=exc.message,
        )
        self._deliver(Direct(client_id), error_frame(exc, to=client_id, reply_to=reply_to))


def error_frame(exc: ProtocolError, *, to: str, reply_to: str | None = None) -> str:
    """The ``error`` message for ``exc``, serialized."""
    payload: dict[str, Any] = {"code": exc.code}
    if exc.event_name is not None:
        payload["event_name"] = exc.event_name
    if exc.details:
        payload["details"] = [d.as_dict() for d in exc.details[:100]]
    return _frame(
        "error", payload, from_id=SERVER_ID, to=to, message=exc.message, reply_to=reply_to
    )


def _frame(event_name: str, payload: Any, **envelope: str | None) -> str:
    data: dict[str, Any] = {"event_name": event_name, "payload": payload}
    data.update((k, v) for k, v in envelope.items() if v is not None)
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def _id_of(frame: str | bytes) -> str | None:
    """The ``id`` of a refused frame, when it has a usable one, to correlate the error."""
    try:
        data = json.loads(frame)
    except (ValueError, RecursionError):
        return None
    value = data.get("id") if isinstance(data, dict) else None
    return value if isinstance(value, str) and 0 < len(value) <= 128 else None
