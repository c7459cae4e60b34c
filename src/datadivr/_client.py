"""The WebSocket client runtime; generated clients subclass :class:`BaseClient`."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from enum import Enum
from types import TracebackType
from typing import Any, ClassVar, TypeVar

import websockets
from pydantic import BaseModel, ValidationError
from websockets.asyncio.client import ClientConnection

from datadivr._logging import get_logger
from datadivr._message import MessageBase
from datadivr._protocol import Protocol, frame_field, validation_details
from datadivr._registry import (
    HandlerContext,
    HandlerType,
    Registry,
    default_registry,
    register_handler,
)
from datadivr.exceptions import (
    ConnectError,
    ConnectionClosedError,
    DatadivrError,
    InvalidStateError,
    MessageValidationError,
    ProtocolError,
    RemoteError,
    RequestTimeoutError,
    Violation,
)

__all__ = ["BaseClient", "ClientState", "present"]

_M = TypeVar("_M", bound=MessageBase)
_P = TypeVar("_P", bound=BaseModel)
_C = TypeVar("_C", bound="BaseClient")
_log = get_logger("datadivr.client")


class ClientState(str, Enum):
    """The client's connection state; it only moves forward."""

    IDLE = "idle"
    CONNECTING = "connecting"
    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"


def present(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The entries of ``fields`` that are not ``None`` (optional payload fields left out)."""
    return {key: value for key, value in fields.items() if value is not None}


class BaseClient:
    """An async WebSocket client of a datadivr protocol.

    Incoming messages go, in this order, to a pending :meth:`request` they answer, to this
    client's handlers (:meth:`register_on`) or the registry's ``CLIENT`` handlers, and to the
    inbox read by :meth:`receive` and ``async for``.

    Args:
        url: The server's WebSocket URL.
        registry: Registry of ``CLIENT`` handlers; the default registry when omitted.
        request_timeout: Default seconds :meth:`request` waits for a reply.
        open_timeout: Seconds to wait for the connection and the server's ``welcome``.
        inbox_size: Messages kept for :meth:`receive`; when full, the oldest is dropped
            (and logged).
        headers: Extra HTTP headers for the handshake (e.g. ``Authorization``).
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
    ) -> None:
        if inbox_size < 1:
            raise ValueError(f"inbox_size must be at least 1, got {inbox_size}")
        self.url = url
        self.request_timeout = request_timeout
        self.open_timeout = open_timeout
        self._registry = registry if registry is not None else default_registry
        self._handlers = Registry()
        self._headers = dict(headers or {})
        self._state = ClientState.IDLE
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._pending: dict[str, asyncio.Future[MessageBase]] = {}
        self._expected: dict[str, type[MessageBase]] = {}
        self._inbox: asyncio.Queue[MessageBase | None] = asyncio.Queue()
        self._inbox_size = inbox_size
        self._welcome: asyncio.Future[str] | None = None
        self._client_id: str | None = None
        self._close_code: int | None = None
        self._close_reason = ""

    # -- state ---------------------------------------------------------------------------

    @property
    def state(self) -> ClientState:
        """The connection state."""
        return self._state

    @property
    def client_id(self) -> str | None:
        """The id the server gave this connection (from its ``welcome``), once known."""
        return self._client_id

    def _expect(self, *states: ClientState) -> None:
        if self._state not in states:
            expected = " or ".join(s.value for s in states)
            raise InvalidStateError(f"client is {self._state.value}, expected {expected}")

    # -- lifecycle -----------------------------------------------------------------------

    async def connect(self: _C) -> _C:
        """Open the connection and wait for the server's ``welcome``.

        Raises:
            InvalidStateError: the client was already connected.
            ConnectError: no connection (refused, unreachable, bad URL, refused handshake) or
                no ``welcome`` within ``open_timeout``.
            ConnectionClosedError: the server closed the connection before its ``welcome``.
        """
        self._expect(ClientState.IDLE)
        self._state = ClientState.CONNECTING
        loop = asyncio.get_running_loop()
        try:
            self._ws = await websockets.connect(
                self.url,
                open_timeout=self.open_timeout,
                additional_headers=self._headers or None,
                compression=None,
            )
        except (TimeoutError, asyncio.TimeoutError) as exc:  # distinct before 3.11
            self._state = ClientState.CLOSED
            raise ConnectError(f"no connection to {self.url} within {self.open_timeout}s") from exc
        except (OSError, websockets.InvalidHandshake, websockets.InvalidURI) as exc:
            self._state = ClientState.CLOSED
            raise ConnectError(f"cannot connect to {self.url}: {exc}") from exc
        self._state = ClientState.OPEN
        if "welcome" in self.protocol.events:
            self._welcome = loop.create_future()
        self._reader = asyncio.create_task(self._read(self._ws))
        if self._welcome is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._welcome), self.open_timeout)
            except (TimeoutError, asyncio.TimeoutError):
                await self.close()
                raise ConnectError(
                    f"no welcome from {self.url} within {self.open_timeout}s"
                ) from None
            except ConnectionClosedError:
                await self.close()
                raise
        return self

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection (idempotent): pending requests fail, handler tasks are
        cancelled. A handler may call it too."""
        if self._state is ClientState.IDLE:
            self._state = ClientState.CLOSED
            return
        if self._state is ClientState.OPEN:
            self._state = ClientState.CLOSING
        try:
            if self._ws is not None:
                await self._ws.close(code, reason)
            if self._reader is not None and self._reader is not asyncio.current_task():
                with contextlib.suppress(asyncio.CancelledError):
                    await self._reader
            current = asyncio.current_task()
            others = [task for task in self._tasks if task is not current]
            for task in others:
                task.cancel()
            if others:
                await asyncio.gather(*others, return_exceptions=True)
        finally:
            self._state = ClientState.CLOSED

    async def wait_closed(self) -> None:
        """Wait until the server or :meth:`close` ends the connection."""
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    async def __aenter__(self: _C) -> _C:
        return await self.connect()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

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
        """Send a message.

        Raises:
            InvalidStateError: the client is not connected.
            ConnectionClosedError: the connection closed.
        """
        await self.send_raw(message.to_json())

    async def send_raw(self, frame: str) -> None:
        """Send a frame as is, unvalidated: to see how a server answers malformed input.

        Raises:
            InvalidStateError: the client is not connected.
            ConnectionClosedError: the connection closed.
        """
        if self._state is not ClientState.OPEN and self._close_code is not None:
            raise ConnectionClosedError(self._close_code, self._close_reason)
        self._expect(ClientState.OPEN)
        assert self._ws is not None
        try:
            await self._ws.send(frame)
        except websockets.ConnectionClosed as exc:
            raise self._closed_error(exc) from None

    async def request(
        self,
        message: MessageBase,
        reply_type: type[_M] = MessageBase,  # type: ignore[assignment]
        *,
        timeout: float | None = None,
    ) -> _M:
        """Send ``message`` and wait for the message whose ``reply_to`` is its ``id``.

        An ``id`` is chosen when the message has none.

        Raises:
            RemoteError: the answer is an ``error``.
            RequestTimeoutError: no answer within ``timeout`` (default: ``request_timeout``).
            ProtocolError: the answer is not a ``reply_type``.
            ConnectionClosedError: the connection closed first.
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
            await self.send(message)
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

        Raises:
            ConnectionClosedError: the connection closed and the inbox is empty.
            RequestTimeoutError: nothing arrived within ``timeout`` seconds.
        """
        if self._state is ClientState.CLOSED and self._inbox.empty():
            raise ConnectionClosedError(self._close_code, self._close_reason)
        try:
            item = await asyncio.wait_for(self._inbox.get(), timeout)
        except (TimeoutError, asyncio.TimeoutError):
            raise RequestTimeoutError(f"no message within {timeout}s") from None
        if item is None:
            self._inbox.put_nowait(None)  # keep the end mark for later readers
            raise ConnectionClosedError(self._close_code, self._close_reason)
        return item

    async def messages(self) -> AsyncIterator[MessageBase]:
        """Iterate over received messages until the connection closes."""
        while True:
            try:
                yield await self.receive()
            except ConnectionClosedError:
                return

    def __aiter__(self) -> AsyncIterator[MessageBase]:
        return self.messages()

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for frame in ws:
                try:
                    self._on_frame(frame)
                except Exception:  # a bug must not silently stop the reading
                    _log.exception("failed to process a message from the server")
        except websockets.ConnectionClosed:
            pass
        finally:
            self._close_code = ws.close_code
            self._close_reason = ws.close_reason or ""
            if self._state is ClientState.OPEN:
                self._state = ClientState.CLOSED
            error = ConnectionClosedError(self._close_code, self._close_reason)
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(error)
            if self._welcome is not None and not self._welcome.done():
                self._welcome.set_exception(error)
                self._welcome.exception()  # retrieved: connect() reports it
            self._inbox.put_nowait(None)

    def _on_frame(self, frame: str | bytes) -> None:
        try:
            message = self.protocol.parse(frame)
        except ProtocolError as exc:
            _log.warning("invalid message from server", code=exc.code, error=exc.message)
            # A request it answers must not wait for a reply that will never parse.
            reply_to = frame_field(frame, "reply_to")
            future = self._pending.get(reply_to) if isinstance(reply_to, str) else None
            if future is not None and not future.done():
                future.set_exception(exc)
            return
        if message.event_name == "welcome" and self._welcome is not None:
            client_id = getattr(message.payload, "client_id", None)
            if isinstance(client_id, str):
                self._client_id = client_id
            if not self._welcome.done():
                self._welcome.set_result(client_id or "")
            return
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

    def _closed_error(self, exc: websockets.ConnectionClosed) -> ConnectionClosedError:
        frame = exc.rcvd or exc.sent
        return ConnectionClosedError(frame.code if frame else None, frame.reason if frame else "")


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
