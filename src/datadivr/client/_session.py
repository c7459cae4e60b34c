"""The client's protocol logic without I/O: what :class:`~datadivr.client._client.BaseClient` decides.

A :class:`Session` holds the connection state, the pending requests, the send buffer kept
while reconnecting and the inbox. Frames and connection events go in; what to do comes out:
send now or hold, run a handler, reconnect or give up. It opens no socket, starts no task and
never sleeps, so every rule here is tested with strings and objects (``tests/test_session.py``);
the client around it only connects, sends, receives, waits out the backoff and runs handlers.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum
from typing import Any, TypeVar
from typing import Protocol as TypingProtocol

from datadivr._logging import get_logger
from datadivr.client._reconnect import Reconnect, retry_after_close, retry_after_refusal
from datadivr.core._message import MessageBase
from datadivr.core._protocol import Protocol, frame_field
from datadivr.core._requests import reply_of
from datadivr.exceptions import (
    ConnectError,
    ConnectionClosedError,
    DatadivrError,
    InvalidStateError,
    ProtocolError,
    SendBufferFullError,
)

__all__ = [
    "ClientState",
    "Closing",
    "Dispatch",
    "Queued",
    "Session",
    "Settled",
    "Waiter",
    "Welcomed",
    "reply_of",
]

_M = TypeVar("_M", bound=MessageBase)
_log = get_logger("datadivr.client")


class ClientState(str, Enum):
    """The client's connection state.

    It only moves forward, except that a client with ``reconnect`` goes from ``OPEN`` to
    ``RECONNECTING`` when its connection drops, and back to ``OPEN`` once it is connected again.
    """

    IDLE = "idle"
    """Not connected yet."""
    CONNECTING = "connecting"
    """:meth:`BaseClient.connect` is opening the connection."""
    OPEN = "open"
    """Connected and welcomed: messages go out at once."""
    RECONNECTING = "reconnecting"
    """The connection dropped and the client is opening a new one; messages sent meanwhile
    wait in the send buffer."""
    CLOSING = "closing"
    """:meth:`BaseClient.close` is closing the connection."""
    CLOSED = "closed"
    """Closed for good."""


#: The states each state may move to; any other move is a bug.
MOVES: dict[ClientState, frozenset[ClientState]] = {
    ClientState.IDLE: frozenset({ClientState.CONNECTING, ClientState.CLOSED}),
    ClientState.CONNECTING: frozenset({ClientState.OPEN, ClientState.CLOSING, ClientState.CLOSED}),
    ClientState.OPEN: frozenset(
        {ClientState.RECONNECTING, ClientState.CLOSING, ClientState.CLOSED}
    ),
    ClientState.RECONNECTING: frozenset(
        {ClientState.OPEN, ClientState.CLOSING, ClientState.CLOSED}
    ),
    ClientState.CLOSING: frozenset({ClientState.CLOSED}),
    ClientState.CLOSED: frozenset(),
}


class Waiter(TypingProtocol):
    """What a request waits on and the session settles: an ``asyncio.Future`` (or a
    ``concurrent.futures.Future`` in tests)."""

    def done(self) -> bool: ...
    def set_result(self, result: MessageBase, /) -> None: ...
    def set_exception(self, exception: BaseException, /) -> None: ...


# -- what a frame comes to ---------------------------------------------------------------------


@dataclass(frozen=True)
class Welcomed:
    """The server's ``welcome``: the connection's ``client_id`` (``None`` if it gave none)
    and its protocol's ``fingerprint`` (``None`` if it named none)."""

    client_id: str | None
    fingerprint: str | None = None


@dataclass(frozen=True)
class Settled:
    """A pending request got its answer (or, for a frame that does not parse, its error)."""

    request_id: str


@dataclass(frozen=True)
class Dispatch:
    """Run ``handler`` on ``message``."""

    handler: Any
    message: MessageBase


@dataclass(frozen=True)
class Queued:
    """``message`` went to the inbox; ``dropped`` is the oldest one, pushed out when full."""

    message: MessageBase
    dropped: MessageBase | None = None


Event = Welcomed | Settled | Dispatch | Queued


class Closing(Enum):
    """What :meth:`Session.close` leaves the client to do."""

    NOTHING = "nothing"
    """It never connected: it is closed already."""
    CONNECTION = "connection"
    """Close the connection, if there is one, and wait for its reader to end."""
    RECONNECT = "reconnect"
    """There is no connection: stop the reconnect under way."""


class Session:
    """A client's connection state, requests, send buffer and inbox, without I/O.

    Args:
        protocol: The protocol frames are parsed with (``None`` for a client that has none,
            such as a bare ``BaseClient``: it cannot take frames).
        policy: How to reconnect after a drop; ``None`` to end with the connection.
        inbox_size: Messages kept in the inbox; when full, the oldest is dropped.
        handler_of: The handler of an event name, or ``None`` (the message goes to the inbox).
        rng: The source of the backoff's jitter.
        url: The server's URL, for the log.

    Raises:
        ValueError: ``inbox_size`` is less than 1.
    """

    def __init__(
        self,
        protocol: Protocol | None,
        *,
        policy: Reconnect | None = None,
        inbox_size: int = 1000,
        handler_of: Callable[[str], Any] = lambda event_name: None,
        rng: random.Random | None = None,
        url: str = "",
    ) -> None:
        if inbox_size < 1:
            raise ValueError(f"inbox_size must be at least 1, got {inbox_size}")
        self.protocol = protocol
        self.policy = policy
        self.inbox_size = inbox_size
        self._handler_of = handler_of
        self._random = rng if rng is not None else random.Random()
        self._log = _log.bind(url=url) if url else _log
        self.state = ClientState.IDLE
        self.client_id: str | None = None
        #: The fingerprint of the server's protocol, from its last ``welcome``.
        self.server_fingerprint: str | None = None
        self.close_code: int | None = None
        self.close_reason = ""
        #: Why the last reconnect attempt failed: the cause of the error the client ends with.
        self.last_failure: DatadivrError | None = None
        #: Frames sent while reconnecting, each with the id of the request it is, if any.
        self.buffer: deque[tuple[str, str | None]] = deque()
        self._pending: dict[str, tuple[Waiter, type[MessageBase]]] = {}
        self._inbox: deque[MessageBase] = deque()
        self._inbox_ended = False

    # -- state ---------------------------------------------------------------------------

    def expect(self, *states: ClientState) -> None:
        """Raise unless the session is in one of ``states``.

        Raises:
            InvalidStateError: it is not; the message names what was expected.
        """
        if self.state not in states:
            expected = " or ".join(s.value for s in states)
            raise InvalidStateError(f"client is {self.state.value}, expected {expected}")

    def move(self, state: ClientState) -> None:
        """Move to ``state``.

        Raises:
            InvalidStateError: the move is not one of :data:`MOVES`.
        """
        if state not in MOVES[self.state]:
            raise InvalidStateError(f"client is {self.state.value}, cannot become {state.value}")
        self.state = state

    @property
    def expects_welcome(self) -> bool:
        """Whether a new connection is ready only after the server's ``welcome``."""
        return "welcome" in self._protocol().events

    def _protocol(self) -> Protocol:
        if self.protocol is None:
            raise TypeError("a client without a protocol cannot take frames")
        return self.protocol

    def closed_error(self) -> ConnectionClosedError:
        """The error for the end of the connection; caused by the last failed reconnect."""
        error = ConnectionClosedError.from_code(self.close_code, self.close_reason)
        if self.last_failure is not None:
            error.__cause__ = self.last_failure
        return error

    def will_reconnect(self, code: int | None) -> bool:
        """Whether a connection that closed with ``code`` is opened again."""
        return self.policy is not None and retry_after_close(code)

    # -- lifecycle -----------------------------------------------------------------------

    def connect(self) -> None:
        """The client starts connecting.

        Raises:
            InvalidStateError: it is not ``IDLE``.
        """
        self.expect(ClientState.IDLE)
        self.move(ClientState.CONNECTING)

    def connect_failed(self, error: BaseException) -> None:
        """The first connection failed: the client is closed."""
        if isinstance(error, ConnectionClosedError):
            self.close_code, self.close_reason = error.code, error.reason
        if self.state is not ClientState.CLOSED:
            self.move(ClientState.CLOSED)

    def opened(self) -> bool:
        """The first connection is open and welcomed; ``False`` if :meth:`close` was called
        meanwhile (close it, and raise :meth:`closed_error`)."""
        if self.state is not ClientState.CONNECTING:
            return False
        self.move(ClientState.OPEN)
        return True

    def close(self, code: int, reason: str) -> Closing:
        """The client's own ``close()``: what is left to do before :meth:`closed`."""
        if self.state is ClientState.IDLE:
            self.move(ClientState.CLOSED)
            return Closing.NOTHING
        reconnecting = self.state is ClientState.RECONNECTING
        if self.state in (ClientState.CONNECTING, ClientState.OPEN, ClientState.RECONNECTING):
            if self.state is not ClientState.OPEN:
                # There is no connection to close: remember why the client ended.
                self.close_code, self.close_reason = code, reason
            self.move(ClientState.CLOSING)
        return Closing.RECONNECT if reconnecting else Closing.CONNECTION

    def closed(self) -> None:
        """The client's ``close()`` is done."""
        if self.state is not ClientState.CLOSED:
            self.move(ClientState.CLOSED)

    def connection_lost(self, code: int | None, reason: str) -> bool:
        """The connection ended with ``code``: whether to reconnect.

        When it does, the session is ``RECONNECTING`` and the requests that went out on the
        lost connection have failed; those still in the buffer wait for the next one.
        """
        self.close_code, self.close_reason = code, reason
        if self.state is not ClientState.OPEN:
            return False  # close() ended it
        if not self.will_reconnect(code):
            return False
        self.move(ClientState.RECONNECTING)
        self._log.warning("connection lost: reconnecting", code=code, reason=reason)
        self._fail_sent(self.closed_error())
        return True

    def delays(self) -> Iterator[float]:
        """The waits before each reconnect attempt (see :meth:`Reconnect.delays`)."""
        assert self.policy is not None  # only a reconnecting client waits
        return self.policy.delays(self._random)

    def incompatible(self, error: DatadivrError) -> None:
        """A reconnect found a server whose protocol breaks the client's: it gives up, and
        ``error`` is the cause of the error it ends with."""
        self.last_failure = error

    def attempt_failed(self, error: ConnectError | ConnectionClosedError) -> bool:
        """A reconnect attempt failed with ``error``: whether to give up (the server refuses
        for good: close code 1008, or a handshake refused with an HTTP client error)."""
        self.last_failure = error
        if isinstance(error, ConnectionClosedError):
            self.close_code, self.close_reason = error.code, error.reason
            self._fail_sent(error)  # requests that went out while sending the buffer
            return not retry_after_close(error.code)
        return not retry_after_refusal(error.status)

    def reconnected(self) -> None:
        """A new connection is open, welcomed, and the buffer sent on it."""
        self.close_code, self.close_reason = None, ""
        self.last_failure = None
        self.move(ClientState.OPEN)

    def finish(self) -> int:
        """The connection ended for good: every pending request fails, the buffer is dropped
        and the inbox ends. Returns how many buffered messages were dropped."""
        if self.state in (ClientState.OPEN, ClientState.RECONNECTING):
            self.move(ClientState.CLOSED)
        error = self.closed_error()
        for waiter, _ in self._pending.values():
            if not waiter.done():
                waiter.set_exception(error)
        dropped = len(self.buffer)
        if dropped:
            self._log.warning(
                "client closed: messages sent while reconnecting are dropped", count=dropped
            )
            self.buffer.clear()
        self._inbox_ended = True
        return dropped

    # -- sending -------------------------------------------------------------------------

    def send(self, frame: str, request_id: str | None = None) -> bool:
        """A frame to send: ``True`` to send it now, ``False`` when it is held in the buffer.

        Raises:
            ConnectionClosedError: the connection closed.
            InvalidStateError: the client is not connected.
            SendBufferFullError: the client is reconnecting and its buffer is full.
        """
        if self.state is ClientState.RECONNECTING:
            self._hold(frame, request_id)
            return False
        if self.state is not ClientState.OPEN and self.close_code is not None:
            raise self.closed_error()
        self.expect(ClientState.OPEN)
        return True

    def send_failed(
        self, frame: str, request_id: str | None, error: ConnectionClosedError, *, replaced: bool
    ) -> bool:
        """Sending ``frame`` found its connection closed with ``error``: ``True`` to send it
        again (on the connection that ``replaced`` it), ``False`` when it is held.

        Raises:
            ConnectionClosedError: ``error``, when the client will not reconnect.
            SendBufferFullError: it would be held, but the buffer is full.
        """
        if self.state is ClientState.OPEN and replaced:
            return True
        if self.state is ClientState.RECONNECTING or (
            self.state is ClientState.OPEN and self.will_reconnect(error.code)
        ):
            # The reader is about to see the drop and reconnect: hold it till then.
            self._hold(frame, request_id)
            return False
        raise error

    def _hold(self, frame: str, request_id: str | None) -> None:
        assert self.policy is not None  # only a reconnecting client holds messages
        if len(self.buffer) >= self.policy.buffer_size:
            raise SendBufferFullError(self.policy.buffer_size)
        self.buffer.append((frame, request_id))

    def buffered(self) -> str | None:
        """The next held frame to send on a new connection, if any."""
        return self.buffer[0][0] if self.buffer else None

    def buffered_sent(self) -> None:
        """The frame :meth:`buffered` gave went out."""
        # Dropped only once sent: a frame the broken connection refused goes on the next.
        self.buffer.popleft()

    # -- requests ------------------------------------------------------------------------

    def add_request(
        self, request_id: str, waiter: Waiter, expected: type[MessageBase] = MessageBase
    ) -> None:
        """Wait for the answer to ``request_id``: a ``expected`` or an ``error``.

        Raises:
            InvalidStateError: a request with that id is waiting already.
        """
        if request_id in self._pending:
            raise InvalidStateError(f"a request with id {request_id!r} is already waiting")
        self._pending[request_id] = (waiter, expected)

    def remove_request(self, request_id: str) -> None:
        """Stop waiting for ``request_id`` (answered, timed out or failed)."""
        self._pending.pop(request_id, None)

    def _fail_sent(self, error: ConnectionClosedError) -> None:
        """Fail the requests that went out on a connection that dropped; those still in the
        buffer wait for the next one."""
        held = {request_id for _, request_id in self.buffer if request_id is not None}
        for request_id, (waiter, _) in self._pending.items():
            if request_id not in held and not waiter.done():
                waiter.set_exception(error)

    # -- receiving -----------------------------------------------------------------------

    def receive(self, frame: str | bytes) -> Event | None:
        """A frame from the server, and what it comes to (``None``: it does not parse).

        In this order: the ``welcome``; the answer of a pending request; a handler's
        message; the inbox.
        """
        try:
            message = self._protocol().parse(frame)
        except ProtocolError as exc:
            self._log.warning("invalid message from server", code=exc.code, error=exc.message)
            # A request it answers must not wait for a reply that will never parse.
            reply_to = frame_field(frame, "reply_to")
            if isinstance(reply_to, str):
                pending = self._pending.get(reply_to)
                if pending is not None and not pending[0].done():
                    pending[0].set_exception(exc)
                    return Settled(reply_to)
            if frame_field(frame, "event_name") == "welcome":
                # A welcome this protocol refuses (the server's protocol changed it) still
                # opens the connection: its id and fingerprint are read as sent, and the
                # comparison of the two protocols says what else breaks.
                payload = frame_field(frame, "payload")
                fields = payload if isinstance(payload, dict) else {}
                return self._welcomed(fields.get("client_id"), fields.get("fingerprint"))
            return None
        if message.event_name == "welcome":
            return self._welcomed(
                getattr(message.payload, "client_id", None),
                getattr(message.payload, "fingerprint", None),
            )
        return self.dispatch(message)

    def _welcomed(self, client_id: object, fingerprint: object) -> Welcomed:
        if isinstance(client_id, str):
            self.client_id = client_id
        self.server_fingerprint = fingerprint if isinstance(fingerprint, str) else None
        return Welcomed(client_id if isinstance(client_id, str) else None, self.server_fingerprint)

    def dispatch(self, message: MessageBase) -> Settled | Dispatch | Queued:
        """Where a message other than the ``welcome`` goes."""
        if message.reply_to is not None:
            pending = self._pending.get(message.reply_to)
            # Only the expected answer or an error settles a request; anything else that
            # happens to carry its id is an ordinary message.
            if pending is not None:
                waiter, expected = pending
                if not waiter.done() and (
                    isinstance(message, expected) or message.event_name == "error"
                ):
                    waiter.set_result(message)
                    return Settled(message.reply_to)
        handler = self._handler_of(message.event_name)
        if handler is not None:
            return Dispatch(handler, message)
        dropped = None
        if len(self._inbox) >= self.inbox_size:
            dropped = self._inbox.popleft()  # inbox_size >= 1: there is one
            self._log.warning(
                "inbox full: oldest message dropped",
                event_name=dropped.event_name,
                inbox_size=self.inbox_size,
            )
        self._inbox.append(message)
        return Queued(message, dropped)

    def next_message(self) -> MessageBase | None:
        """The oldest message in the inbox, taken out of it; ``None`` when it is empty.

        Raises:
            ConnectionClosedError: the inbox is empty and the connection ended for good.
        """
        if self._inbox:
            return self._inbox.popleft()
        if self._inbox_ended or (self.state is ClientState.CLOSED):
            raise self.closed_error()
        return None
