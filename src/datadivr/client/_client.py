"""The WebSocket client runtime; generated clients subclass :class:`BaseClient`.

:class:`BaseClient` is the ``websockets`` shell around a :class:`~datadivr.client._session.Session`,
which decides everything that is not I/O: it connects, sends, receives, waits out the backoff
and runs handler tasks.
"""

from __future__ import annotations

import asyncio
import random
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from types import TracebackType
from typing import Any, ClassVar, TypeVar

import websockets
from pydantic import BaseModel, ValidationError
from websockets.asyncio.client import ClientConnection

from datadivr._logging import get_logger
from datadivr.client._compatibility import (
    MAX_SCHEMA_BYTES,
    ON_INCOMPATIBLE,
    OnIncompatible,
    incompatibility,
    needs_check,
    read_bundle,
    resolve,
    schema_url,
)
from datadivr.client._reconnect import Reconnect
from datadivr.client._session import (
    ClientState,
    Closing,
    Dispatch,
    Queued,
    Session,
    Welcomed,
    reply_of,
)
from datadivr.core._hub import SERVER_ID
from datadivr.core._limits import Limits
from datadivr.core._message import MessageBase
from datadivr.core._protocol import FINGERPRINT_HEADER, Protocol, invalid_error
from datadivr.core._registry import (
    HandlerContext,
    HandlerType,
    Registry,
    answer_fields,
    default_registry,
    register_handler,
)
from datadivr.exceptions import (
    ConnectError,
    ConnectionClosedError,
    ConnectRefusedError,
    DatadivrError,
    HandlerError,
    IncompatibleProtocolError,
    RequestTimeoutError,
)

__all__ = ["BaseClient", "ClientState", "present"]

_M = TypeVar("_M", bound=MessageBase)
_P = TypeVar("_P", bound=BaseModel)
_C = TypeVar("_C", bound="BaseClient")
_log = get_logger("datadivr.client")


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

    The server's ``welcome`` names its protocol's fingerprint. When it is not this client's,
    the client reads the server's schema (``GET /schema`` beside the WebSocket endpoint, with
    the same ``headers``) and diffs its protocol against it: if the server's protocol breaks
    this client, :meth:`connect` (and ``async with``) raises
    :class:`~datadivr.exceptions.IncompatibleProtocolError` and closes the connection before
    anything is sent; a reconnect that meets such a server gives up. A schema that cannot be
    read is logged, and the client goes on.

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
        on_incompatible: What to do when the server's protocol breaks this client's:
            ``"raise"`` :class:`~datadivr.exceptions.IncompatibleProtocolError` (the default),
            ``"warn"`` with :class:`~datadivr.exceptions.IncompatibleProtocolWarning` and go
            on, or ``"ignore"`` (no check).

    Raises:
        ValueError: ``inbox_size`` is less than 1, or ``on_incompatible`` is none of those.
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
        on_incompatible: OnIncompatible = "raise",
    ) -> None:
        if inbox_size < 1:
            raise ValueError(f"inbox_size must be at least 1, got {inbox_size}")
        if on_incompatible not in ON_INCOMPATIBLE:
            raise ValueError(
                f"on_incompatible must be one of {', '.join(map(repr, ON_INCOMPATIBLE))}, "
                f"got {on_incompatible!r}"
            )
        self.on_incompatible: OnIncompatible = on_incompatible
        self.url = url
        self.request_timeout = request_timeout
        self.open_timeout = open_timeout
        self._registry = registry if registry is not None else default_registry
        self._handlers = Registry()
        self._headers = dict(headers or {})
        self._max_size = max_size
        self._session = Session(
            getattr(self, "protocol", None),
            policy=(
                reconnect
                if isinstance(reconnect, Reconnect)
                else Reconnect()
                if reconnect
                else None
            ),
            inbox_size=inbox_size,
            handler_of=self._handler_of,
            rng=random.Random(),
            url=url,
        )
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        # Set when a message reaches the inbox or the inbox ends: receive() looks again.
        self._arrived = asyncio.Event()

    # -- state ---------------------------------------------------------------------------

    @property
    def state(self) -> ClientState:
        """The connection state."""
        return self._session.state

    @property
    def client_id(self) -> str | None:
        """The id the server gave this connection (from its ``welcome``), once known; a new
        one after each reconnect."""
        return self._session.client_id

    # The session's parts, under the names the client has always used for them.
    @property
    def _state(self) -> ClientState:
        return self._session.state

    @_state.setter
    def _state(self, state: ClientState) -> None:
        self._session.state = state

    @property
    def _client_id(self) -> str | None:
        return self._session.client_id

    @property
    def _policy(self) -> Reconnect | None:
        return self._session.policy

    @property
    def _buffer(self) -> deque[tuple[str, str | None]]:
        return self._session.buffer

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
            IncompatibleProtocolError: the server's protocol breaks this client's (unless
                ``on_incompatible`` says otherwise).
        """
        self._session.connect()
        try:
            ws = await self._open()
        except BaseException as exc:
            self._session.connect_failed(exc)
            raise
        if not self._session.opened():  # close() was called meanwhile
            await ws.close()
            raise self._session.closed_error()
        self._ws = ws
        self._reader = asyncio.create_task(self._run(ws))
        return self

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection (idempotent): pending requests fail, handler tasks are
        cancelled, a reconnect under way stops and the messages it was holding are dropped
        (and logged). A handler may call it too."""
        closing = self._session.close(code, reason)
        if closing is Closing.NOTHING:
            return
        current = asyncio.current_task()
        try:
            if self._ws is not None and closing is Closing.CONNECTION:
                await self._ws.close(code, reason)
            reader = self._reader
            if reader is not None and reader is not current:
                if closing is Closing.RECONNECT:
                    reader.cancel()
                await asyncio.wait({reader})
            others = [task for task in self._tasks if task is not current]
            for task in others:
                task.cancel()
            if others:
                await asyncio.gather(*others, return_exceptions=True)
        finally:
            self._session.closed()

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
            await self._check_protocol(ws)
        except BaseException:
            await ws.close()
            raise
        return ws

    async def _check_protocol(self, ws: ClientConnection) -> None:
        """Compare the server's protocol with this client's, when its ``welcome`` (or else its
        handshake's ``Datadivr-Fingerprint`` header) names another fingerprint (see
        :mod:`datadivr.client._compatibility`).

        Raises:
            IncompatibleProtocolError: it breaks this client (``on_incompatible="raise"``).
        """
        response = ws.response
        header = response.headers.get(FINGERPRINT_HEADER) if response is not None else None
        server = self._session.server_fingerprint or header
        if server is None or self.on_incompatible == "ignore":
            return
        own = self.protocol.fingerprint
        if not needs_check(own, server, self.on_incompatible):
            return
        url = schema_url(self.url)
        try:
            # A server that drips its answer must not hold the connection up: open_timeout
            # bounds the whole read, not each of its pieces.
            body = await asyncio.wait_for(
                asyncio.to_thread(_fetch, url, self._headers, self.open_timeout),
                self.open_timeout,
            )
            # A diff of large protocols takes a tenth of a second: off the event loop.
            error = await asyncio.to_thread(
                incompatibility,
                self.protocol.schema,
                read_bundle(body),
                client_fingerprint=own,
                server_fingerprint=server,
            )
        except (OSError, ValueError, asyncio.TimeoutError) as exc:  # urllib's are OSErrors
            _log.warning(
                "cannot check the server's protocol: its schema is not readable",
                url=url,
                client_fingerprint=own,
                server_fingerprint=server,
                error=str(exc),
            )
            return
        if error is None:
            _log.info(
                "the server's protocol differs, but breaks nothing for this client",
                client_fingerprint=own,
                server_fingerprint=server,
            )
            return
        if self.on_incompatible == "warn":
            _log.warning("the server's protocol breaks this client", error=error.headline)
        resolve(error, self.on_incompatible)

    async def _await_welcome(self, ws: ClientConnection) -> None:
        if not self._session.expects_welcome:
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
            if isinstance(self._on_frame(frame), Welcomed):
                return

    async def _run(self, ws: ClientConnection) -> None:
        """Read until the connection ends for good, reconnecting in between if asked to."""
        try:
            while True:
                await self._read(ws)
                if not self._session.connection_lost(ws.close_code, ws.close_reason or ""):
                    return
                new_ws = await self._reconnect()
                if new_ws is None:
                    return
                ws = self._ws = new_ws
                self._session.reconnected()
        finally:
            self._session.finish()
            self._arrived.set()

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for frame in ws:
                try:
                    self._on_frame(frame)
                except Exception:  # a bug must not silently stop the reading
                    _log.exception("failed to process a message from the server")
        except websockets.ConnectionClosed:
            pass

    async def _reconnect(self) -> ClientConnection | None:
        """A new connection, welcomed and with the buffer sent; ``None`` once the attempts
        are used up or the server refuses for good."""
        attempt = 0
        for delay in self._session.delays():
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
            except IncompatibleProtocolError as exc:
                self._session.incompatible(exc)
                log.error(
                    "reconnect refused: the server's protocol breaks this client", error=str(exc)
                )
                return None
            else:
                log.info("reconnected", client_id=self._session.client_id, resent=sent)
                return ws
            if self._session.attempt_failed(error):
                log.warning("reconnect refused: giving up", error=str(error))
                return None
            log.info("reconnect attempt failed", error=str(error))
        _log.warning("reconnect attempts used up: giving up", url=self.url, attempts=attempt)
        return None

    async def _flush(self, ws: ClientConnection) -> int:
        """Send the buffer on ``ws``, in order, with what is added meanwhile; the count sent."""
        sent = 0
        while (frame := self._session.buffered()) is not None:
            await ws.send(frame)
            self._session.buffered_sent()
            sent += 1
        return sent

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
        while self._session.send(frame, request_id):
            ws = self._ws
            assert ws is not None
            try:
                await ws.send(frame)
                return
            except websockets.ConnectionClosed as exc:
                # The state may have moved while the send waited.
                if not self._session.send_failed(
                    frame, request_id, _error_of(exc), replaced=self._ws is not ws
                ):
                    return

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
        future: asyncio.Future[MessageBase] = asyncio.get_running_loop().create_future()
        self._session.add_request(message.id, future, reply_type)
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
            self._session.remove_request(message.id)
        return reply_of(message, reply, reply_type)

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
        message = self._session.next_message()
        if message is not None:
            return message
        try:
            return await asyncio.wait_for(self._next_message(), timeout)
        except (TimeoutError, asyncio.TimeoutError):
            raise RequestTimeoutError(f"no message within {timeout}s") from None

    async def _next_message(self) -> MessageBase:
        while (message := self._session.next_message()) is None:
            self._arrived.clear()
            await self._arrived.wait()
        return message

    async def messages(self) -> AsyncIterator[MessageBase]:
        """Iterate over received messages until the connection closes for good."""
        while True:
            try:
                yield await self.receive()
            except ConnectionClosedError:
                return

    def __aiter__(self) -> AsyncIterator[MessageBase]:
        return self.messages()

    def _handler_of(self, event_name: str) -> Any:
        return self._handlers.get(event_name, HandlerType.CLIENT) or self._registry.get(
            event_name, HandlerType.CLIENT
        )

    def _on_frame(self, frame: str | bytes) -> object:
        """Hand ``frame`` to the session and carry out what it comes to; that, returned."""
        event = self._session.receive(frame)
        if isinstance(event, Dispatch):
            task = asyncio.create_task(self._handle(event.handler, event.message))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        elif isinstance(event, Queued):
            self._arrived.set()
        return event

    async def _handle(self, handler: Any, message: MessageBase) -> None:
        ctx = HandlerContext(HandlerType.CLIENT, self._client_id, self.send)
        try:
            answer = await handler(message, ctx)
            if answer is not None:
                update = answer_fields(answer, to=message.from_id or "server", reply_to=message.id)
                await self.send(answer.model_copy(update=update) if update else answer)
        except DatadivrError as exc:
            _log.warning("client handler failed", event_name=message.event_name, error=str(exc))
            await self._refuse_request(message, exc)
        except Exception as exc:
            _log.exception("client handler raised", event_name=message.event_name)
            await self._refuse_request(message, exc)

    async def _refuse_request(self, request: MessageBase, exc: Exception) -> None:
        """Answer the server's request whose answer handler failed with an ``error``, so that
        the server's ``request`` raises a ``RemoteError`` at once instead of timing out.

        A :class:`~datadivr.exceptions.HandlerError` gives its code and text; any other
        failure ``internal_error``, without its text (it may hold what the server must not see).
        """
        if request.id is None or request.from_id != SERVER_ID:
            return
        spec = self.protocol.events.get(request.event_name)
        if spec is None or spec.reply is None or "error" not in self.protocol.events:
            return
        if isinstance(exc, HandlerError):
            code, text, details = exc.code, exc.message, exc.details
        else:
            code, text, details = (
                "internal_error",
                f"the client failed to answer {request.event_name!r}",
                (),
            )
        error_type = self.protocol.events["error"].message_type
        data: dict[str, Any] = {
            "to": SERVER_ID,
            "reply_to": request.id,
            "message": text,
            "payload": {
                "code": code,
                "event_name": request.event_name,
                **({"details": [d.as_dict() for d in details]} if details else {}),
            },
        }
        try:
            try:
                error = error_type.model_validate(data)
            except ValidationError:  # a code the protocol's error does not list
                data["payload"]["code"] = "handler_error"
                error = error_type.model_validate(data)
            await self.send(error)
        except (ValidationError, DatadivrError) as failure:
            _log.warning(
                "cannot answer the server's request with an error",
                event_name=request.event_name,
                error=str(failure),
            )


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an error (``urllib.error.HTTPError``, an ``OSError``)."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _fetch(url: str, headers: Mapping[str, str], timeout: float) -> bytes:
    """The body of ``GET url`` (run in a thread: urllib blocks).

    Raises:
        OSError: no answer within ``timeout``, an HTTP error status, or no connection.
        ValueError: the body is larger than :data:`MAX_SCHEMA_BYTES`, or the URL is not HTTP.
    """
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise ValueError(f"no schema endpoint for {url!r}")
    request = urllib.request.Request(url, headers=dict(headers))
    # No redirect is followed: it would carry the headers (a token) wherever it points.
    opener = urllib.request.build_opener(_NoRedirect)
    deadline = time.monotonic() + timeout
    chunks: list[bytes] = []
    size = 0
    try:
        response = opener.open(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        exc.close()  # it holds the connection
        raise OSError(f"HTTP Error {exc.code}: {exc.reason}") from None
    with response:
        while chunk := response.read1(65536):
            size += len(chunk)
            if size > MAX_SCHEMA_BYTES:
                raise ValueError(f"the schema is larger than {MAX_SCHEMA_BYTES} bytes")
            if time.monotonic() > deadline:  # each read is in time, but not all of them
                raise TimeoutError(f"the schema did not arrive within {timeout}s")
            chunks.append(chunk)
    return b"".join(chunks)


def _error_of(exc: websockets.ConnectionClosed) -> ConnectionClosedError:
    frame = exc.rcvd or exc.sent
    return ConnectionClosedError.from_code(
        frame.code if frame else None, frame.reason if frame else ""
    )


def _validated(model: type[_P], data: Mapping[str, Any], *, prefix: tuple[str, ...]) -> _P:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid_error(model.__name__, exc, prefix=prefix, data=data) from None
