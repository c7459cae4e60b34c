"""The protocol core: parse, validate, stamp the sender, dispatch, route. No I/O.

The :class:`Hub` takes frames from connected clients and hands each outgoing frame, once
serialized, to a ``deliver`` callback with its :data:`Route`. Transports (the FastAPI server,
a broker) own the sockets and resolve routes to them; tests pass a list's ``append``.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from json.encoder import encode_basestring_ascii as _quote
from typing import Any, Literal, TypeVar, cast, get_args, get_origin
from typing import Protocol as _Protocol

from datadivr._logging import get_logger
from datadivr.core._limits import Limits, TokenBucket, check_structure, over_size
from datadivr.core._message import MessageBase
from datadivr.core._protocol import Direction, Protocol, direction_error, frame_field
from datadivr.core._registry import HandlerContext, HandlerType, Registry
from datadivr.core._requests import (
    DEFAULT_REQUEST_TIMEOUT,
    Asks,
    PendingRequests,
    check_not_reading,
    enter_reading,
    leave_reading,
    reply_of,
)
from datadivr.core._route import Broadcast, Direct, Route
from datadivr.exceptions import (
    ClientOnOtherNodeError,
    HandlerError,
    ProtocolError,
    RequestTimeoutError,
    UnknownClientError,
)

__all__ = ["SERVER_ID", "Answer", "Deliver", "Hub", "Members"]

#: The ``from_id`` of messages the server itself sends.
SERVER_ID = "server"
_RESERVED_IDS = frozenset({"all", "others", SERVER_ID})
_M = TypeVar("_M", bound=MessageBase)
_log = get_logger("datadivr.core")


Deliver = Callable[[Route, str], None]
"""Hands a serialized frame to the transport. It must not block."""

Answer = Callable[[Route, str, str], None]
"""Hands the transport a frame that concludes the handling of a client's message (its
answer, its error, its relay), with that client's id. :meth:`Hub.receive` returns right
after, with nothing left to wait for: the transport may write it to the sender once it
returns, instead of waking a writer for it."""


class Members(_Protocol):
    """The clients of the other nodes of a cluster (a backplane), as the hub sees them."""

    def __contains__(self, client_id: object) -> bool:
        """Whether ``client_id`` is connected to another node."""
        ...

    def joined(self, client_id: str) -> None:
        """A client connected to this node."""

    def left(self, client_id: str) -> None:
        """A client of this node disconnected."""


class _Client:
    __slots__ = ("addressed", "bucket", "context", "limited", "route")

    def __init__(self, bucket: TokenBucket | None, route: Direct) -> None:
        self.bucket = bucket
        self.route = route  # its own answers go here: made once, not once per answer
        # ``"to":"<its id>",``: what the server's answers to it start with, quoted once.
        self.addressed = f"{_quote('to')}:{_quote(route.client_id)},"
        self.context: HandlerContext | None = None  # the same for every message it sends
        self.limited = False  # over its rate limit since the last message that passed


class Hub:
    """Routes the messages of one server's clients.

    Args:
        protocol: The protocol to parse and validate frames with.
        registry: The server handlers.
        deliver: Called with each outgoing frame and its route.
        answer: Called instead of ``deliver`` with the frames that conclude the handling of
            a client's message; ``deliver`` when omitted.
        limits: The message limits (nesting, element count, rate); the defaults when omitted.
        clock: Monotonic seconds, for the rate limit.
        members: The other nodes' clients, when this hub is one node of a cluster: a
            message may name them, and they are told of this node's clients.
    """

    def __init__(
        self,
        protocol: Protocol,
        registry: Registry,
        deliver: Deliver,
        *,
        answer: Answer | None = None,
        limits: Limits | None = None,
        clock: Callable[[], float] = time.monotonic,
        members: Members | None = None,
    ) -> None:
        self.protocol = protocol
        self.registry = registry
        self.limits = limits if limits is not None else Limits()
        self._clock = clock
        self._deliver = deliver
        self._answer: Answer = (
            answer if answer is not None else lambda route, data, _sender: deliver(route, data)
        )
        self._clients: dict[str, _Client] = {}
        self._has_welcome = "welcome" in protocol.events
        self._welcome_fields = _welcome_fields(protocol) if self._has_welcome else {}
        self._error_codes = _error_codes(protocol)
        self._max_depth = self.limits.max_depth
        self._max_items = self.limits.max_items
        self._client_sends = frozenset(
            name for name, spec in protocol.events.items() if spec.direction.client_may_send
        )
        self._server_sends = frozenset(
            name for name, spec in protocol.events.items() if spec.direction.server_may_send
        )
        self._members = members
        #: The server's requests that wait for their clients' answers.
        self.requests = PendingRequests()
        #: Seconds :meth:`request` waits for an answer when given no timeout.
        self.request_timeout = DEFAULT_REQUEST_TIMEOUT

    # -- membership ----------------------------------------------------------------------

    def new_client_id(self) -> str:
        """A fresh id that no connected client has, on this node or another one."""
        members = self._members
        while True:
            client_id = secrets.token_hex(8)
            if client_id not in self._clients and (members is None or client_id not in members):
                return client_id

    def connect(self, identity: Any = None, client_id: str | None = None) -> str:
        """Register a client and greet it with ``welcome``; return its id.

        Raises:
            ValueError: ``client_id`` is taken or reserved (``all``, ``others``, ``server``).
        """
        if client_id is None:
            client_id = self.new_client_id()
        elif (
            client_id in self._clients
            or client_id in _RESERVED_IDS
            or (self._members is not None and client_id in self._members)
        ):
            raise ValueError(f"client id {client_id!r} is taken or reserved")
        client = _Client(self.limits.bucket(self._clock), Direct(client_id, origin=client_id))
        client.context = HandlerContext(
            HandlerType.SERVER,
            client_id,
            self._sender_of(client_id),
            identity=identity,
            ask=self._ask,
        )
        self._clients[client_id] = client
        if self._members is not None:
            self._members.joined(client_id)
        if self._has_welcome:
            payload = {"client_id": client_id, **self._welcome_fields}
            self._deliver(Direct(client_id), _frame("welcome", payload, from_id=SERVER_ID))
        return client_id

    def context(self, client_id: str) -> HandlerContext:
        """The context the handlers of ``client_id``'s messages get (its lifecycle hooks
        too); one made afresh for a client not connected."""
        client = self._clients.get(client_id)
        if client is not None and client.context is not None:
            return client.context
        return HandlerContext(HandlerType.SERVER, client_id, self._sender_of(client_id))

    def disconnect(self, client_id: str) -> None:
        """Forget a client (idempotent); the server's requests waiting for its answers fail
        with :class:`~datadivr.exceptions.ClientGoneError`."""
        if self._clients.pop(client_id, None) is not None and self._members is not None:
            self._members.left(client_id)
        self.requests.client_gone(client_id)

    def __contains__(self, client_id: object) -> bool:
        return client_id in self._clients

    def __iter__(self) -> Iterator[str]:
        return iter(self._clients)

    def __len__(self) -> int:
        return len(self._clients)

    # -- messages ------------------------------------------------------------------------

    async def receive(self, client_id: str, frame: str | bytes) -> None:
        """Handle one frame from ``client_id``: every failure becomes an ``error`` to it."""
        client = self._clients.get(client_id)
        if client is not None and client.bucket is not None:
            if not client.bucket.take():
                if not client.limited:  # logged once per flood, not once per message
                    client.limited = True
                    _log.info("client over its rate limit", client_id=client_id)
                limit = ProtocolError(
                    "rate_limited",
                    f"more than {client.bucket.rate:g} messages a second "
                    f"(bursts of {client.bucket.burst}): this message was not handled",
                )
                # A flood must cost little: the id is looked for in small frames only.
                reply_to = refused_id(frame) if len(frame) <= 4096 else None
                self._error(client_id, limit, reply_to=reply_to, log=False)
                return
            client.limited = False
        try:
            message = self.protocol.parse(frame)
            check_structure(frame, max_depth=self._max_depth, max_items=self._max_items)
        except ProtocolError as exc:
            self._error(client_id, exc, reply_to=refused_id(frame))
            return
        event_name = message.event_name
        # The message was parsed here and no one else holds it: stamped in place, not copied.
        message.__dict__["from_id"] = client_id
        message.__pydantic_fields_set__.add("from_id")
        if (
            message.reply_to is not None
            and self.requests.waiting(client_id)
            and self.requests.settle(client_id, message)
        ):
            return  # the answer to one of the server's requests
        if event_name not in self._client_sends:
            direction = self.protocol.events[event_name].direction
            why = (
                f"clients send {event_name!r} ({direction.value}) only to answer the server's "
                "request, and no request of the server waits for "
                + ("an answer" if message.reply_to is None else repr(message.reply_to))
                if direction is Direction.CLIENT_REPLY
                else None
            )
            wrong = direction_error(event_name, direction, why=why)
            self._error(client_id, wrong, reply_to=message.id)
            return
        entry = self.registry.lookup(event_name, HandlerType.SERVER)
        if entry is None:
            if (
                message.to == SERVER_ID
                or self.protocol.events[event_name].direction is Direction.CLIENT_TO_SERVER
            ):
                missing = ProtocolError(
                    "no_handler",
                    f"the server has no handler for {event_name!r}",
                    event_name=event_name,
                )
                self._error(client_id, missing, reply_to=message.id)
            else:
                self._relay(client_id, message)
            return
        # The handler runs here, not in a coroutine of its own: this is once per message.
        try:
            if entry.with_context:
                ctx = client.context if client is not None else None
                if ctx is None:  # it left while its message waited: handled all the same
                    ctx = HandlerContext(
                        HandlerType.SERVER, client_id, self._sender_of(client_id), ask=self._ask
                    )
                mark = enter_reading(client_id)
                try:
                    result = await entry.func(message, ctx)
                finally:
                    leave_reading(mark)
            else:
                mark = enter_reading(client_id)
                try:
                    result = await entry.func(message)
                finally:
                    leave_reading(mark)
            if result is not None:
                self._from_handler(result, client_id, reply_to=message.id, final=True)
        except Exception as exc:
            self._handler_failed(client_id, message, exc)

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

    async def request(
        self, client_id: str, message: Asks[_M], *, timeout: float | None = None
    ) -> _M:
        """Send ``message``, a request of the server, to the client ``client_id`` of this node
        and wait for its answer (see :meth:`HandlerContext.request`).

        Raises:
            RemoteError: the client answered with an ``error``.
            RequestTimeoutError: no answer within ``timeout`` (:attr:`request_timeout` when
                ``None``).
            ClientGoneError: the client disconnected before it answered.
            UnknownClientError: no client ``client_id`` is connected here;
                :class:`~datadivr.exceptions.ClientOnOtherNodeError` when it is connected to
                another node of the cluster.
            TooManyRequestsError: too many requests wait for that client already.
            TypeError: ``message`` is not a request the server may send.
        """
        if not isinstance(message, MessageBase):
            raise TypeError(f"a request is a message, not {type(message).__name__}")
        event_name = message.event_name
        spec = self.protocol.events.get(event_name)
        if spec is None or spec.reply is None or event_name not in self._server_sends:
            raise TypeError(
                f"{event_name!r} is not a request the server may send (an event the server "
                "sends that has a reply)"
            )
        if client_id not in self._clients:
            if self._members is not None and client_id in self._members:
                raise ClientOnOtherNodeError(client_id)
            raise UnknownClientError(client_id)
        check_not_reading(client_id)
        reply_type = self.protocol.events[spec.reply].message_type
        request_id = message.id if message.id is not None else uuid.uuid4().hex
        update: dict[str, Any] = {"id": request_id, "to": client_id}
        if message.from_id is None:
            update["from_id"] = SERVER_ID
        outgoing = message.model_copy(update=update)
        future: asyncio.Future[MessageBase] = asyncio.get_running_loop().create_future()
        self.requests.add(client_id, request_id, future, reply_type, event_name)
        wait = self.request_timeout if timeout is None else timeout
        try:
            self._deliver(Direct(client_id), outgoing.to_json())
            try:
                reply = await asyncio.wait_for(future, wait)
            except (TimeoutError, asyncio.TimeoutError):
                raise RequestTimeoutError(
                    f"client {client_id!r} did not answer {event_name!r} (id {request_id}) "
                    f"within {wait}s"
                ) from None
        finally:
            self.requests.remove(client_id, request_id)
        return cast(_M, reply_of(outgoing, reply, reply_type))

    async def _ask(self, client_id: str, message: Any, timeout: float | None) -> Any:
        """``ctx.request`` of the server's handlers."""
        return await self.request(client_id, message, timeout=timeout)

    def _relay(self, client_id: str, message: MessageBase) -> None:
        try:
            route = self._route(message.to, sender=client_id)
        except ProtocolError as exc:
            self._error(client_id, exc, reply_to=message.id)
            return
        data = message.to_json()
        if over_size(data, self.limits.max_frame_size):
            # Stamping and re-serializing can grow a frame (9e15 → 9000000000000000.0): it
            # must not reach recipients over the limit, which would close their connections.
            too_large = ProtocolError(
                "message_too_large",
                f"the message, as relayed, is larger than {self.limits.max_frame_size} bytes",
                event_name=message.event_name,
            )
            self._error(client_id, too_large, reply_to=message.id)
            return
        self._answer(route, data, client_id)

    def _route(self, to: str, *, sender: str | None) -> Route:
        if to == "all":
            return Broadcast(origin=sender)
        if to == "others":
            return Broadcast(exclude=sender, origin=sender)
        if to in self._clients or (self._members is not None and to in self._members):
            return Direct(to, origin=sender)
        raise ProtocolError(
            "unknown_recipient",
            "the server is not a recipient here"
            if to == SERVER_ID
            else f"no client {to!r} is connected",
        )

    def _sender_of(self, client_id: str) -> Callable[[MessageBase], Awaitable[None]]:
        """``ctx.send`` for the handlers of ``client_id``'s messages."""

        async def send_message(out: MessageBase) -> None:
            self._from_handler(out, client_id, reply_to=None)

        return send_message

    def _handler_failed(self, client_id: str, message: MessageBase, exc: Exception) -> None:
        """Tell the sender that the handler of its message failed, and how."""
        if isinstance(exc, HandlerError):
            exc = ProtocolError(
                exc.code, exc.message, event_name=message.event_name, details=exc.details
            )
        elif not isinstance(exc, ProtocolError):
            # Called from the except clause: the traceback is the handler's.
            _log.exception("handler failed", event_name=message.event_name, client_id=client_id)
            exc = ProtocolError(
                "internal_error",
                f"the server failed to handle {message.event_name!r}",
                event_name=message.event_name,
            )
        self._error(client_id, exc, reply_to=message.id)

    def _from_handler(
        self, out: object, sender: str, *, reply_to: str | None, final: bool = False
    ) -> None:
        """Deliver what a handler returned (``reply_to`` set, ``final``) or sent with
        ``ctx.send``.

        Without an explicit ``to`` it goes to the sender; ``others`` means all but the sender.

        Raises:
            TypeError: it is not a message, or one the server may not send, or its recipient is
                not connected: a bug in the handler, reported to the sender as ``internal_error``.
        """
        if not isinstance(out, MessageBase):
            raise TypeError(f"a handler produced {type(out).__name__}, not a message")
        if out.event_name not in self._server_sends:
            raise TypeError(f"a handler produced {out.event_name!r}, which the server may not send")
        # The handler's message is left as it is (it may keep and reuse it): the envelope
        # fields it left unset are added to its JSON text instead of to a copy. Unset fields
        # are not in the text, so no key is written twice.
        given = out.__pydantic_fields_set__
        client = self._clients.get(sender)
        added = ""
        route: Route | None = None
        if "to" not in given:
            # To its sender: the route and the quoted id are the client's, made once.
            if client is not None:
                added = client.addressed
                route = client.route
            else:
                added = f"{_quote('to')}:{_quote(sender)},"
            to = sender
        else:
            to = out.to
        if reply_to is not None and "reply_to" not in given:
            added += f"{_REPLY_TO}{_quote(reply_to)},"
        if "from_id" not in given:
            added += _FROM_SERVER
        if route is None:
            try:
                route = self._route(to, sender=sender)
            except ProtocolError as exc:
                raise TypeError(
                    f"a handler addressed {out.event_name!r} badly: {exc.message}"
                ) from None
        data = out.to_json()
        if added:
            data = "{" + added + data[1:]
        limit = self.limits.max_frame_size
        if len(data) * 4 > limit and over_size(data, limit):
            raise TypeError(
                f"a handler produced {out.event_name!r} larger than the frame size limit"
            )
        if final:
            self._answer(route, data, sender)
        else:
            self._deliver(route, data)

    def _error(
        self, client_id: str, exc: ProtocolError, *, reply_to: str | None, log: bool = True
    ) -> None:
        if log:
            _log.info(
                "message refused",
                client_id=client_id,
                code=exc.code,
                event_name=_clip(exc.event_name, 128),
                reason=_clip(exc.message, 512),
            )
        code = exc.code if self._error_codes is None or exc.code in self._error_codes else None
        if code is None:
            # A handler's own code the schema does not know: the sender still gets a valid error.
            exc = ProtocolError(
                "handler_error", exc.message, event_name=exc.event_name, details=exc.details
            )
        self._answer(
            Direct(client_id), error_frame(exc, to=client_id, reply_to=reply_to), client_id
        )


#: What an answer's text gains, quoted once: its ``reply_to`` key, and the server as sender.
_REPLY_TO = f"{_quote('reply_to')}:"
_FROM_SERVER = f"{_quote('from_id')}:{_quote(SERVER_ID)},"


def error_frame(exc: ProtocolError, *, to: str, reply_to: str | None = None) -> str:
    """The ``error`` message for ``exc``, serialized; echoed text is clipped, so that the frame
    stays small and within the schema's bounds whatever the input was."""
    payload: dict[str, Any] = {"code": exc.code}
    if exc.event_name is not None:
        payload["event_name"] = _clip(exc.event_name, 128)
    if exc.details:
        payload["details"] = [
            {
                **detail.as_dict(),
                "path": _clip(detail.path, 1024),
                "reason": _clip(detail.reason, 1024),
            }
            for detail in exc.details[:100]
        ]
    return _frame(
        "error",
        payload,
        from_id=SERVER_ID,
        to=to,
        message=_clip(exc.message, 4096),
        reply_to=reply_to,
    )


def _clip(text: str | None, limit: int) -> str | None:
    """``text`` cut to ``limit`` characters, lone surrogates replaced (JSON parsers refuse them)."""
    if text is None:
        return None
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _frame(event_name: str, payload: Any, **envelope: str | None) -> str:
    data: dict[str, Any] = {"event_name": event_name, "payload": payload}
    data.update((k, v) for k, v in envelope.items() if v is not None)
    # ASCII escapes: any str, even one with a lone surrogate, makes valid JSON text.
    return json.dumps(data, separators=(",", ":"))


def _welcome_fields(protocol: Protocol) -> dict[str, str]:
    """What the ``welcome`` tells besides the ``client_id``: the ``schema_hash`` and the
    ``fingerprint``, those of them that its payload declares (a closed welcome schema without
    them still gets a valid welcome; the fingerprint of a package generated before it was
    recorded is computed only then); both when its payload is not an object model."""
    payload_type = protocol.events["welcome"].payload_type
    model_fields = getattr(payload_type, "model_fields", None)
    declared = (
        {field.alias or name for name, field in model_fields.items()}
        if isinstance(payload_type, type) and isinstance(model_fields, dict)
        else None
    )
    fields: dict[str, str] = {}
    if declared is None or "schema_hash" in declared:
        fields["schema_hash"] = protocol.schema_hash
    if declared is None or "fingerprint" in declared:
        fields["fingerprint"] = protocol.fingerprint
    return fields


def _error_codes(protocol: Protocol) -> frozenset[str] | None:
    """The codes the protocol's ``error`` payload allows, when it lists them."""
    spec = protocol.events.get("error")
    if spec is None or not isinstance(spec.payload_type, type):
        return None
    field = getattr(spec.payload_type, "model_fields", {}).get("code")
    if field is None or get_origin(field.annotation) is not Literal:
        return None
    return frozenset(str(code) for code in get_args(field.annotation))


def refused_id(frame: str | bytes) -> str | None:
    """The ``id`` of a refused frame, when it has a usable one, to correlate the error."""
    value = frame_field(frame, "id")
    if not isinstance(value, str) or not 0 < len(value) <= 128:
        return None
    try:
        value.encode()
    except UnicodeEncodeError:  # a lone surrogate (\udfff in JSON) is not text
        return None
    return value
