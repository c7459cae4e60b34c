"""The WebSocket client runtime; generated clients subclass :class:`BaseClient`."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from enum import Enum
from types import TracebackType
from typing import Any, ClassVar, TypeVar

import websockets
from pydantic import BaseModel, ValidationError
from websockets.asyncio.client import ClientConnection

from datadivr._logging import get_logger
from datadivr.client._reconnect import Reconnect, retry_after_close, retry_after_refusal
from datadivr.core._limits import Limits
from datadivr.core._message import MessageBase
from datadivr.core._protocol import Protocol, frame_field, validation_details
from datadivr.core._registry import (
    HandlerContext,
    HandlerType,
    Registry,
    default_registry,
    register_handler,
)
from datadivr.exceptions import (
    ConnectError,
    ConnectionClosedError,
    ConnectRefusedError,
    DatadivrError,
    InvalidStateError,
    MessageValidationError,
    ProtocolError,
    RemoteError,
    RequestTimeoutError,
    SendBufferFullError,
    Violation,
)

__all__ = ["BaseClient", "ClientState", "present"]

_M = TypeVar("_M", bound=MessageBase)
_P = TypeVar("_P", bound=BaseModel)
_C = TypeVar("_C", bound="BaseClient")
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
_MOVES: dict[ClientState, frozenset[ClientState]] = {
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


def present(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The entries of ``fields`` that are not ``None`` (optional payload fields left out)."""
    return {key: value for key, value in fields.items() if value is not None}


class BaseClient:
    """An async WebSocket client of a datadivr protocol.

    Incoming messages go, in this order, to a pending :meth:`request` they answer, to this
    client's handlers (:meth:`register_on`) or the registry's ``CLIENT`` handlers, and to the
    inbox read by :meth:`receive` and ``async for``.

    With ``reconnect``, a connection that drops (anything but :meth:`close`) is opened again,
    with backoff: the client is ``RECONNECTING`` meanwhile, then ``OPEN`` again with the new
    ``client_id`` of the server's ``welcome``. Requests waiting for a reply fail at once with
    a :class:`~datadivr.exceptions.ConnectionClosedError`; messages sent while reconnecting
    wait in a bounded buffer and go out, in order, once the connection is back. It gives up,
    and ends ``CLOSED``, when the attempts are used up, or when the server refuses for good:
    close code 1008 (policy violation), or a handshake refused with an HTTP client error such
    as 401 or 403. Only a connection that was open is reconnected: :meth:`connect` itself
    fails at once.

    Args:
        url: The server's WebSocket URL.
        registry: Registry of ``CLIENT`` handlers; the default registry when omitted.
        request_timeout: Default seconds :meth:`request` waits for a reply.
        open_timeout: Seconds to wait for the connection and the server's ``welcome``.
        inbox_size: Messages kept for :meth:`receive`; when full, the oldest is dropped
            (and logged).
        headers: Extra HTTP headers for the handshake (e.g. ``Authorization``).
        reconnect: How to reconnect after a drop: a :class:`~datadivr.Reconnect`, ``True``
            for its defaults, or ``False`` (the default) to end with the connection.
        max_size: The largest frame accepted from the server, in bytes (``None``: any);
            match the server's ``max_frame_size`` when it is raised.

    Raises:
        ValueError: ``inbox_size`` is less than 1.
    """

    protocol: ClassVar[Protocol]

    def __init__(
        self,
        url: str = "ws://127.0.0.1:8765/ws",
        *,
        registry: Registry | None = None,
        request_timeout: float = 10.0,
        open_timeout: float = 10.0,
        inbox_size: int = 1000,
        headers: Mapping[str, str] | None = None,
        reconnect: Reconnect | bool = False,
        max_size: int | None = Limits.max_frame_size,
    ) -> None:
        if inbox_size < 1:
            raise ValueError(f"inbox_size must be at least 1, got {inbox_size}")
        self.url = url
        self.request_timeout = request_timeout
        self.open_timeout = open_timeout
        self._registry = registry if registry is not None else default_registry
        self._handlers = Registry()
        self._headers = dict(headers or {})
        self._max_size = max_size
        self._policy: Reconnect | None = (
            reconnect if isinstance(reconnect, Reconnect) else Reconnect() if reconnect else None
        )
        self._random = random.Random()
        self._state = ClientState.IDLE
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._pending: dict[str, asyncio.Future[MessageBase]] = {}
        self._expected: dict[str, type[MessageBase]] = {}
        self._inbox: asyncio.Queue[MessageBase | None] = asyncio.Queue()
        self._inbox_size = inbox_size
        # Frames sent while reconnecting, each with the id of the request it is, if any.
        self._buffer: deque[tuple[str, str | None]] = deque()
        self._client_id: str | None = None
        self._close_code: int | None = None
        self._close_reason = ""
        # Why the last reconnect attempt failed: the cause of the error the client ends with.
        self._last_failure: DatadivrError | None = None

    # -- state ---------------------------------------------------------------------------

    @property
    def state(self) -> ClientState:
        """The connection state."""
        return self._state

    @property
    def client_id(self) -> str | None:
        """The id the server gave this connection (from its ``welcome``), once known; a new
        one after each reconnect."""
        return self._client_id

    def _expect(self, *states: ClientState) -> None:
        if self._state not in states:
            expected = " or ".join(s.value for s in states)
            raise InvalidStateError(f"client is {self._state.value}, expected {expected}")

    def _move(self, state: ClientState) -> None:
        if state not in _MOVES[self._state]:
            raise InvalidStateError(f"client is {self._state.value}, cannot become {state.value}")
        self._state = state

    # -- lifecycle -----------------------------------------------------------------------

    async def connect(self: _C) -> _C:
        """Open the connection and wait for the server's ``welcome``.

        Raises:
            InvalidStateError: the client was already connected.
            ConnectError: no connection (refused, unreachable, bad URL) or no ``welcome``
                within ``open_timeout``.
            ConnectRefusedError: the server refused the handshake (``status``: e.g. 403
                wrong token or origin, 503 server full).
            ConnectionClosedError: the server closed the connection before its ``welcome``.
        """
        self._expect(ClientState.IDLE)
        self._move(ClientState.CONNECTING)
        try:
            ws = await self._open()
        except BaseException as exc:
            if isinstance(exc, ConnectionClosedError):
                self._close_code, self._close_reason = exc.code, exc.reason
            if self._state is not ClientState.CLOSED:
                self._move(ClientState.CLOSED)
            raise
        if self._state is not ClientState.CONNECTING:  # close() was called meanwhile
            await ws.close()
            raise self._closed_error()
        self._ws = ws
        self._move(ClientState.OPEN)
        self._reader = asyncio.create_task(self._run(ws))
        return self

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection (idempotent): pending requests fail, handler tasks are
        cancelled, a reconnect under way stops and the messages it was holding are dropped
        (and logged). A handler may call it too."""
        if self._state is ClientState.IDLE:
            self._move(ClientState.CLOSED)
            return
        reconnecting = self._state is ClientState.RECONNECTING
        if self._state in (ClientState.CONNECTING, ClientState.OPEN, ClientState.RECONNECTING):
            if self._state is not ClientState.OPEN:
                # There is no connection to close: remember why the client ended.
                self._close_code, self._close_reason = code, reason
            self._move(ClientState.CLOSING)
        current = asyncio.current_task()
        try:
            if self._ws is not None and not reconnecting:
                await self._ws.close(code, reason)
            reader = self._reader
            if reader is not None and reader is not current:
                if reconnecting:
                    reader.cancel()
                await asyncio.wait({reader})
            others = [task for task in self._tasks if task is not current]
            for task in others:
                task.cancel()
            if others:
                await asyncio.gather(*others, return_exceptions=True)
        finally:
            if self._state is not ClientState.CLOSED:
                self._move(ClientState.CLOSED)

    async def wait_closed(self) -> None:
        """Wait until the connection ends for good: closed by the server or :meth:`close`,
        or, with ``reconnect``, when the client gives up reconnecting."""
        if self._reader is not None:
            await asyncio.wait({self._reader})

    async def __aenter__(self: _C) -> _C:
        return await self.connect()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _open(self) -> ClientConnection:
        """A new connection, once the server has welcomed it."""
        try:
            ws = await websockets.connect(
                self.url,
                open_timeout=self.open_timeout,
                additional_headers=self._headers or None,
                compression=None,
                max_size=self._max_size,
            )
        except (TimeoutError, asyncio.TimeoutError) as exc:  # distinct before 3.11
            raise ConnectError(f"no connection to {self.url} within {self.open_timeout}s") from exc
        except websockets.InvalidStatus as exc:
            status = exc.response.status_code
            body = exc.response.body.decode(errors="replace").strip() if exc.response.body else ""
            why = f": {body.splitlines()[0][:200]}" if body else ""
            raise ConnectRefusedError(
                f"cannot connect to {self.url}: the server refused the handshake "
                f"with HTTP {status}{why}",
                status=status,
            ) from exc
        except (OSError, websockets.InvalidHandshake, websockets.InvalidURI) as exc:
            raise ConnectError(f"cannot connect to {self.url}: {exc}") from exc
        try:
            await self._await_welcome(ws)
        except BaseException:
            await ws.close()
            raise
        return ws

    async def _await_welcome(self, ws: ClientConnection) -> None:
        if "welcome" not in self.protocol.events:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.open_timeout
        while True:
            try:
                frame = await asyncio.wait_for(ws.recv(), max(deadline - loop.time(), 0))
            except (TimeoutError, asyncio.TimeoutError):
                raise ConnectError(
                    f"no welcome from {self.url} within {self.open_timeout}s"
                ) from None
            except websockets.ConnectionClosed as exc:
                raise _error_of(exc) from None
            message = self._parse(frame)
            if message is not None and message.event_name == "welcome":
                self._on_welcome(message)
                return
            if message is not None:
                self._dispatch(message)

    async def _run(self, ws: ClientConnection) -> None:
        """Read until the connection ends for good, reconnecting in between if asked to."""
        try:
            while True:
                await self._read(ws)
                self._close_code = ws.close_code
                self._close_reason = ws.close_reason or ""
                if self._state is not ClientState.OPEN:
                    return  # close() ended it
                if not self._will_reconnect(self._close_code):
                    return
                self._move(ClientState.RECONNECTING)
                _log.warning(
                    "connection lost: reconnecting",
                    url=self.url,
                    code=self._close_code,
                    reason=self._close_reason,
                )
                self._fail_sent(self._closed_error())
                assert self._policy is not None  # _will_reconnect
                new_ws = await self._reconnect(self._policy)
                if new_ws is None:
                    return
                ws = self._ws = new_ws
                self._close_code, self._close_reason = None, ""
                self._last_failure = None
                self._move(ClientState.OPEN)
        finally:
            if self._state in (ClientState.OPEN, ClientState.RECONNECTING):
                self._move(ClientState.CLOSED)
            self._fail_pending(self._closed_error())
            if self._buffer:
                _log.warning(
                    "client closed: messages sent while reconnecting are dropped",
                    count=len(self._buffer),
                )
                self._buffer.clear()
            self._inbox.put_nowait(None)

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for frame in ws:
                try:
                    self._on_frame(frame)
                except Exception:  # a bug must not silently stop the reading
                    _log.exception("failed to process a message from the server")
        except websockets.ConnectionClosed:
            pass

    def _will_reconnect(self, code: int | None) -> bool:
        return self._policy is not None and retry_after_close(code)

    async def _reconnect(self, policy: Reconnect) -> ClientConnection | None:
        """A new connection, welcomed and with the buffer sent; ``None`` once the attempts
        are used up or the server refuses for good."""
        attempt = 0
        for delay in policy.delays(self._random):
            attempt += 1
            log = _log.bind(url=self.url, attempt=attempt)
            log.info("reconnect attempt", delay=round(delay, 3))
            await asyncio.sleep(delay)
            try:
                ws = await self._open()
                try:
                    sent = await self._flush(ws)
                except BaseException:
                    await ws.close()
                    raise
            except websockets.ConnectionClosed as exc:  # while sending the buffer
                error: ConnectError | ConnectionClosedError = _error_of(exc)
            except (ConnectError, ConnectionClosedError) as exc:
                error = exc
            else:
                log.info("reconnected", client_id=self._client_id, resent=sent)
                return ws
            self._last_failure = error
            if isinstance(error, ConnectionClosedError):
                self._close_code, self._close_reason = error.code, error.reason
                self._fail_sent(error)  # requests that went out while sending the buffer
                final = not retry_after_close(error.code)
            else:
                final = not retry_after_refusal(error.status)
            if final:
                log.warning("reconnect refused: giving up", error=str(error))
                return None
            log.info("reconnect attempt failed", error=str(error))
        _log.warning("reconnect attempts used up: giving up", url=self.url, attempts=attempt)
        return None

    async def _flush(self, ws: ClientConnection) -> int:
        """Send the buffer on ``ws``, in order, with what is added meanwhile; the count sent."""
        sent = 0
        while self._buffer:
            frame, _ = self._buffer[0]
            await ws.send(frame)
            # Dropped only once sent: a frame the broken connection refused goes on the next.
            self._buffer.popleft()
            sent += 1
        return sent

    def _fail_pending(self, error: ConnectionClosedError) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(error)

    def _fail_sent(self, error: ConnectionClosedError) -> None:
        """Fail the requests that went out on a connection that dropped; those still in the
        buffer wait for the next one."""
        held = {request_id for _, request_id in self._buffer if request_id is not None}
        for request_id, future in self._pending.items():
            if request_id not in held and not future.done():
                future.set_exception(error)

    def _closed_error(self) -> ConnectionClosedError:
        """The error for the end of the connection; caused by the last failed reconnect."""
        error = ConnectionClosedError.from_code(self._close_code, self._close_reason)
        if self._last_failure is not None:
            error.__cause__ = self._last_failure
        return error

    # -- sending -------------------------------------------------------------------------

    def build(
        self, message_type: type[_M], payload: Any, *, to: str, message: str | None = None
    ) -> _M:
        """A validated ``message_type`` with ``payload``; ``None`` fields stay off the wire.

        Raises:
            MessageValidationError: the message fails its schema (nothing is sent).
        """
        data: dict[str, Any] = {"to": to}
        if payload is not None:
            data["payload"] = payload
        if message is not None:
            data["message"] = message
        return _validated(message_type, data, prefix=())

    def build_payload(self, payload_type: type[_P], data: Mapping[str, Any]) -> _P:
        """A validated payload.

        Raises:
            MessageValidationError: the payload fails its schema (nothing is sent).
        """
        return _validated(payload_type, data, prefix=("payload",))

    async def send(self, message: MessageBase) -> None:
        """Send a message; while reconnecting, hold it until the connection is back.

        Raises:
            InvalidStateError: the client is not connected.
            ConnectionClosedError: the connection closed.
            SendBufferFullError: the client is reconnecting and holds ``buffer_size``
                messages already (this one is not sent).
        """
        await self._send(message.to_json())

    async def send_raw(self, frame: str) -> None:
        """Send a frame as is, unvalidated: to see how a server answers malformed input.

        Raises:
            InvalidStateError: the client is not connected.
            ConnectionClosedError: the connection closed.
            SendBufferFullError: the client is reconnecting and its buffer is full.
        """
        await self._send(frame)

    async def _send(self, frame: str, request_id: str | None = None) -> None:
        while True:
            if self._state is ClientState.RECONNECTING:
                self._hold(frame, request_id)
                return
            if self._state is not ClientState.OPEN and self._close_code is not None:
                raise self._closed_error()
            self._expect(ClientState.OPEN)
            ws = self._ws
            assert ws is not None
            try:
                await ws.send(frame)
                return
            except websockets.ConnectionClosed as exc:
                error = _error_of(exc)
                state = self.state  # it may have moved while the send waited
                if state is ClientState.OPEN and self._ws is not ws:
                    continue  # reconnected meanwhile: send on the new connection
                if state is ClientState.RECONNECTING or (
                    state is ClientState.OPEN and self._will_reconnect(error.code)
                ):
                    # The reader is about to see the drop and reconnect: hold it till then.
                    self._hold(frame, request_id)
                    return
                raise error from None

    def _hold(self, frame: str, request_id: str | None) -> None:
        assert self._policy is not None  # only a reconnecting client holds messages
        if len(self._buffer) >= self._policy.buffer_size:
            raise SendBufferFullError(self._policy.buffer_size)
        self._buffer.append((frame, request_id))

    async def request(
        self,
        message: MessageBase,
        reply_type: type[_M] = MessageBase,  # type: ignore[assignment]
        *,
        timeout: float | None = None,
    ) -> _M:
        """Send ``message`` and wait for the message whose ``reply_to`` is its ``id``.

        An ``id`` is chosen when the message has none. While the client is reconnecting, the
        message waits in the send buffer and the timeout runs meanwhile.

        Raises:
            RemoteError: the answer is an ``error``.
            RequestTimeoutError: no answer within ``timeout`` (default: ``request_timeout``).
            ProtocolError: the answer is not a ``reply_type``.
            ConnectionClosedError: the connection closed (or dropped) first.
            SendBufferFullError: the client is reconnecting and its buffer is full.
        """
        if message.id is None:
            message = message.model_copy(update={"id": uuid.uuid4().hex})
        assert message.id is not None
        if message.id in self._pending:
            raise InvalidStateError(f"a request with id {message.id!r} is already waiting")
        future: asyncio.Future[MessageBase] = asyncio.get_running_loop().create_future()
        self._pending[message.id] = future
        self._expected[message.id] = reply_type
        try:
            await self._send(message.to_json(), message.id)
            wait = self.request_timeout if timeout is None else timeout
            try:
                reply = await asyncio.wait_for(future, wait)
            except (TimeoutError, asyncio.TimeoutError):
                raise RequestTimeoutError(
                    f"no reply to {message.event_name!r} (id {message.id}) within {wait}s"
                ) from None
        finally:
            self._pending.pop(message.id, None)
            self._expected.pop(message.id, None)
        if reply.event_name == "error":
            raise _remote_error(reply)
        if not isinstance(reply, reply_type):
            raise ProtocolError(
                "invalid_message",
                f"expected {reply_type.__name__} in reply to {message.event_name!r}, "
                f"got {reply.event_name!r}",
                event_name=reply.event_name,
            )
        return reply

    # -- receiving -----------------------------------------------------------------------

    def register_on(self, event_name: str) -> Callable[[Any], Any]:
        """Register a handler of ``event_name`` for this client only (untyped; see ``on``)."""
        return register_handler(
            self.protocol, event_name, HandlerType.CLIENT, registry=self._handlers
        )

    async def receive(self, timeout: float | None = None) -> MessageBase:
        """The next message that no request or handler took.

        A reconnecting client keeps its inbox: it waits for messages on the next connection.

        Raises:
            ConnectionClosedError: the connection closed and the inbox is empty.
            RequestTimeoutError: nothing arrived within ``timeout`` seconds.
        """
        if self._state is ClientState.CLOSED and self._inbox.empty():
            raise self._closed_error()
        try:
            item = await asyncio.wait_for(self._inbox.get(), timeout)
        except (TimeoutError, asyncio.TimeoutError):
            raise RequestTimeoutError(f"no message within {timeout}s") from None
        if item is None:
            self._inbox.put_nowait(None)  # keep the end mark for later readers
            raise self._closed_error()
        return item

    async def messages(self) -> AsyncIterator[MessageBase]:
        """Iterate over received messages until the connection closes for good."""
        while True:
            try:
                yield await self.receive()
            except ConnectionClosedError:
                return

    def __aiter__(self) -> AsyncIterator[MessageBase]:
        return self.messages()

    def _on_frame(self, frame: str | bytes) -> None:
        message = self._parse(frame)
        if message is None:
            return
        if message.event_name == "welcome":
            self._on_welcome(message)
            return
        self._dispatch(message)

    def _parse(self, frame: str | bytes) -> MessageBase | None:
        try:
            return self.protocol.parse(frame)
        except ProtocolError as exc:
            _log.warning("invalid message from server", code=exc.code, error=exc.message)
            # A request it answers must not wait for a reply that will never parse.
            reply_to = frame_field(frame, "reply_to")
            future = self._pending.get(reply_to) if isinstance(reply_to, str) else None
            if future is not None and not future.done():
                future.set_exception(exc)
            return None

    def _on_welcome(self, message: MessageBase) -> None:
        client_id = getattr(message.payload, "client_id", None)
        if isinstance(client_id, str):
            self._client_id = client_id

    def _dispatch(self, message: MessageBase) -> None:
        if message.reply_to is not None:
            future = self._pending.get(message.reply_to)
            expected = self._expected.get(message.reply_to, MessageBase)
            # Only the expected answer or an error settles a request; anything else that
            # happens to carry its id is an ordinary message.
            if (
                future is not None
                and not future.done()
                and (isinstance(message, expected) or message.event_name == "error")
            ):
                future.set_result(message)
                return
        handler = self._handlers.get(message.event_name, HandlerType.CLIENT) or self._registry.get(
            message.event_name, HandlerType.CLIENT
        )
        if handler is not None:
            task = asyncio.create_task(self._handle(handler, message))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return
        if self._inbox.qsize() >= self._inbox_size:
            dropped = self._inbox.get_nowait()  # inbox_size >= 1: there is one
            _log.warning(
                "inbox full: oldest message dropped",
                event_name=dropped.event_name if dropped else None,
                inbox_size=self._inbox_size,
            )
        self._inbox.put_nowait(message)

    async def _handle(self, handler: Any, message: MessageBase) -> None:
        ctx = HandlerContext(HandlerType.CLIENT, self._client_id, self.send)
        try:
            answer = await handler(message, ctx)
            if answer is not None:
                update: dict[str, Any] = {}
                if "to" not in answer.model_fields_set:
                    update["to"] = message.from_id or "server"
                if message.id is not None and answer.reply_to is None:
                    update["reply_to"] = message.id
                await self.send(answer.model_copy(update=update) if update else answer)
        except DatadivrError as exc:
            _log.warning("client handler failed", event_name=message.event_name, error=str(exc))
        except Exception:
            _log.exception("client handler raised", event_name=message.event_name)


def _error_of(exc: websockets.ConnectionClosed) -> ConnectionClosedError:
    frame = exc.rcvd or exc.sent
    return ConnectionClosedError.from_code(
        frame.code if frame else None, frame.reason if frame else ""
    )


def _validated(model: type[_P], data: Mapping[str, Any], *, prefix: tuple[str, ...]) -> _P:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        details = validation_details(exc, prefix=prefix)
        raise MessageValidationError(
            "validation_error",
            f"invalid {model.__name__}: " + "; ".join(f"{d.path}: {d.reason}" for d in details),
            details=details,
        ) from None


def _remote_error(reply: MessageBase) -> RemoteError:
    payload = reply.payload
    code = str(getattr(payload, "code", "error"))
    raw_details = getattr(payload, "details", None) or []
    details = [
        Violation(
            str(getattr(d, "path", "")), str(getattr(d, "reason", "")), getattr(d, "kind", None)
        )
        for d in raw_details
    ]
    return RemoteError(code, reply.message or code, details)
