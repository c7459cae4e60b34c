"""Running an app under uvicorn with its limits, and shutting it down gracefully.

uvicorn runs two protocols of datadivr's here, both around uvicorn's own: :class:`HTTPProtocol`
(its h11 protocol) and :class:`WebSocketProtocol` (its sans-I/O WebSocket protocol). Every
socket is counted from its arrival against the connection limits (``datadivr.server._admission``) and
given ``handshake_timeout`` to send its request's line and headers and, for a WebSocket, to be
accepted; a request whose headers are over ``max_header_size`` is refused with HTTP 431.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import http
import logging
import os
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, cast

import h11
import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from datadivr._logging import get_logger
from datadivr.core._limits import Limits, head_size
from datadivr.server._admission import (
    COUNTED,
    Admission,
    Slot,
    SlotState,
    address_key,
    socket_budget,
)
from datadivr.server._refusals import RefusalLog
from datadivr.server._server import Server

__all__ = ["UvicornServer", "WebSocketProtocol", "run", "uvicorn_config"]

_log = get_logger("datadivr.serving")
#: Sockets accepted per turn of the event loop: each is counted (HTTPProtocol) a turn or two
#: after accept(), so a burst this size at most is open and not yet counted.
ACCEPT_BURST = 8
#: accept() errors that mean no file descriptor or memory is left.
_EXHAUSTED = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
#: asyncio's words for an accept() that failed for want of file descriptors or memory.
_ACCEPT_FAILED = "socket.accept() out of system resource"


def uvicorn_config(app: FastAPI, **options: Any) -> uvicorn.Config:
    """A uvicorn configuration that applies the app's :class:`~datadivr.Limits` in the
    transport: every socket counted against the connection limits from its arrival, the
    handshake deadline and the header size (:class:`HTTPProtocol`), the frame size (a larger
    frame is closed with 1009 before it is buffered), the pings that drop half-open
    connections, and no per-message compression.

    Args:
        app: An app made by :func:`~datadivr.create_app`.
        options: Any other ``uvicorn.Config`` argument (``log_level``, ``host``, ``port`` …).
    """
    server = _server_of(app)
    limits = server.limits
    server.admission.max_sockets = socket_budget(_open_file_limit())
    guard = SocketGuard(server.admission, limits, server.refusals)
    settings: dict[str, Any] = {
        "http": type("HTTPProtocol", (HTTPProtocol,), {"guard": guard}),
        "ws": WebSocketProtocol,
        "ws_per_message_deflate": False,
        "ws_max_size": limits.max_frame_size,
        "ws_ping_interval": limits.ping_interval,
        "ws_ping_timeout": limits.ping_timeout,
        "h11_max_incomplete_event_size": limits.max_header_size,
        # The app has drained its connections by then (UvicornServer.shutdown); what is left
        # is aborted by WebSocketProtocol.shutdown, so uvicorn needs little time of its own.
        "timeout_graceful_shutdown": 2,
        **options,
    }
    return uvicorn.Config(app, **settings)


class SocketGuard:
    """What the protocols of one server share: its :class:`~datadivr.server._admission.Admission`,
    its limits, and the server's log of refusals, which says what befell sockets once per
    interval, not per socket.

    Args:
        admission: The server's connection counts.
        limits: The server's limits.
        refusals: The server's log of refused handshakes and sockets.
    """

    def __init__(self, admission: Admission, limits: Limits, refusals: RefusalLog) -> None:
        self.admission = admission
        self.limits = limits
        self.refusals = refusals
        self._accepted = 0  # this turn of the loop

    def listener(self, sock: socket.socket) -> socket.socket:
        """A listening socket for the event loop, sharing ``sock``'s file descriptor (a
        duplicate: closing one leaves the other open) and pacing its ``accept()`` calls.

        asyncio accepts up to ``backlog`` sockets in one go before any protocol sees one, so
        that a flood would reach the open-file limit before it is counted; and (up to
        Python 3.12) it calls ``accept()`` again after each failure, logging each. Here at
        most :data:`ACCEPT_BURST` are accepted per turn of the loop, and after a failure for
        want of file descriptors none until asyncio's pause of a second is over.
        """
        listener = _Listener(sock.family, sock.type, sock.proto, fileno=os.dup(sock.fileno()))
        listener.guard = self
        return listener

    def take_accept(self) -> bool:
        """Whether the listener may accept one more socket this turn of the loop."""
        if self._accepted >= ACCEPT_BURST:
            return False
        if not self._accepted:
            asyncio.get_running_loop().call_soon(self._new_turn)
        self._accepted += 1
        return True

    def accept_failed(self) -> None:
        """accept() found no file descriptor: accept no more this turn."""
        if not self._accepted:
            asyncio.get_running_loop().call_soon(self._new_turn)
        self._accepted = ACCEPT_BURST

    def _new_turn(self) -> None:
        self._accepted = 0

    def note(self, status: int | None, reason: str, address: str = "unknown") -> None:
        """Count a socket refused, closed early or never accepted (``status``: the HTTP
        status it was answered with); logged at most every 10 s."""
        self.refusals.refused(status, reason, address)

    def exception_handler(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """The event loop's exception handler: a failed ``accept()`` (no file descriptor
        left) is counted, not logged with its traceback each time; the rest goes on as
        before. asyncio itself stops accepting on that socket for a second."""
        if context.get("message") == _ACCEPT_FAILED:
            self.note(None, "accept() failed: no file descriptor left")
        else:
            loop.default_exception_handler(context)


class _Listener(socket.socket):
    """A listening socket whose ``accept()`` is paced by its :class:`SocketGuard`."""

    guard: SocketGuard

    def accept(self) -> tuple[socket.socket, Any]:
        if not self.guard.take_accept():
            raise BlockingIOError(errno.EAGAIN, "the rest on the next turn of the loop")
        try:
            return super().accept()
        except OSError as exc:
            if exc.errno in _EXHAUSTED:
                self.guard.accept_failed()
            raise


@dataclass
class _Handshake:
    """A counted socket handed from :class:`HTTPProtocol` to :class:`WebSocketProtocol` with
    its upgrade request: its slot, and when its handshake must be complete (loop time)."""

    slot: Slot
    deadline: float
    guard: SocketGuard


class HTTPProtocol(H11Protocol):
    """uvicorn's h11 protocol, with the connection limits counted from a socket's arrival, a
    deadline for each request's line and headers, and a bound on their size.

    - A socket over ``max_connections_per_address`` is answered HTTP 503 and closed at once;
      one over ``max_connections`` (or what the open-file limit allows) takes the place of the
      oldest socket still waiting for its headers, else it is refused the same way.
    - A socket has ``handshake_timeout`` from its arrival to send its request's line and
      headers, and again from the first byte of each next request on a kept-alive socket
      (uvicorn's ``timeout_keep_alive`` covers the wait for that byte). Past it, it gets
      HTTP 408 and is closed. A WebSocket upgrade keeps the same deadline until the app
      accepts it (:class:`WebSocketProtocol`).
    - A request line and headers over ``max_header_size`` get HTTP 431 and a close.

    :func:`uvicorn_config` binds it to a server (the ``guard``); unbound, it is uvicorn's.
    """

    guard: ClassVar[SocketGuard | None] = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._slot: Slot | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._refused = False
        self._address = "unknown"
        if self.guard is not None:
            self.conn = _Parser(self.guard.limits.max_header_size)
            # What any client can make uvicorn say, once per request, goes to DEBUG: the
            # refusals are counted (send_400_response) and logged once per interval.
            self.logger = cast(logging.Logger, _ClientCaused(self.logger))

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        guard = self.guard
        if guard is None:
            return
        host = self.client[0] if self.client else None
        self._address = address_key(host)
        slot = guard.admission.open(self._address, self._evict)
        if isinstance(slot, str):
            self._refused = True
            guard.note(503, slot, self._address)
            transport.write(_response(503, slot))
            transport.close()
            return
        self._slot = slot
        self._arm(guard.limits.handshake_timeout)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # answered 503 already
        super().data_received(data)
        self._follow()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._follow(arm=False)  # the keep-alive timeout covers the wait for the next byte

    def handle_websocket_upgrade(self, event: h11.Request) -> None:
        slot, self._slot = self._slot, None
        timer, self._timer = self._timer, None
        if slot is not None and timer is not None:
            timer.cancel()
            ws = self.ws_protocol_class
            if isinstance(ws, type) and issubclass(ws, WebSocketProtocol):
                handshake = _Handshake(slot, timer.when(), self.guard)  # type: ignore[arg-type]
                self.ws_protocol_class = cast(Any, functools.partial(ws, handshake=handshake))
            else:  # a protocol that cannot take the slot over: the app counts the connection
                self.guard.admission.close(slot)  # type: ignore[union-attr]
        super().handle_websocket_upgrade(event)

    def send_400_response(self, msg: str) -> None:
        status, reason = getattr(self.conn, "refusal", (400, msg))
        if self.guard is not None:
            self.guard.note(status, reason, self._address)
        if status == 400:
            super().send_400_response(msg)
            return
        self.transport.write(_response(status, reason))
        self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self._disarm()
        if self._slot is not None and self.guard is not None:
            self.guard.admission.close(self._slot)

    def shutdown(self) -> None:
        if not self.transport.is_closing():
            super().shutdown()

    def _follow(self, *, arm: bool = True) -> None:
        """Start the deadline when a request's headers are awaited, stop it once they are in."""
        slot, guard = self._slot, self.guard
        if slot is None or guard is None or self.transport.is_closing():
            return
        if self.conn.their_state is h11.IDLE:
            guard.admission.set_state(slot, SlotState.PENDING)
            if arm and self.timeout_keep_alive_task is None:
                self._arm(guard.limits.handshake_timeout)
        else:
            guard.admission.set_state(slot, SlotState.BUSY)
            self._disarm()

    def _arm(self, delay: float) -> None:
        if self._timer is None:
            self._timer = self.loop.call_later(delay, self._expire)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expire(self) -> None:
        self._timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        reason = "the request's headers took too long"
        if self.guard is not None:
            self.guard.note(408, reason, self._address)
        # Before a request is complete h11 cannot answer; the bytes are written as they are.
        self.transport.write(_response(408, reason))
        self.transport.close()

    def _evict(self) -> None:
        """Let go of this socket for a newer one (the server is full) or at shutdown."""
        if self.guard is not None:
            self.guard.note(
                None, "closed while waiting for its headers: the server is full", self._address
            )
        self._disarm()
        self.transport.abort()


class _ClientCaused(logging.LoggerAdapter):  # type: ignore[type-arg]
    """uvicorn's logger, with the warnings any client can cause at will (a malformed
    request, an unknown ``Upgrade``) written at DEBUG."""

    QUIET: ClassVar[frozenset[str]] = frozenset(
        {"Invalid HTTP request received.", "Unsupported upgrade request."}
    )

    @property
    def level(self) -> int:
        """The logger's own level (uvicorn reads it to skip its trace lines)."""
        level: int = self.logger.level
        return level

    def warning(self, msg: object, *args: Any, **kwargs: Any) -> None:
        if msg in self.QUIET:
            self.debug(msg, *args, **kwargs)
        else:
            super().warning(msg, *args, **kwargs)


class _Parser(h11.Connection):
    """h11's server side, refusing a request whose line and headers are over ``limit`` bytes
    (h11 alone refuses only those that arrive in pieces over its buffer size)."""

    def __init__(self, limit: int) -> None:
        super().__init__(h11.SERVER, max_incomplete_event_size=limit)
        self.limit = limit
        self.refusal: tuple[int, str] = (400, "Invalid HTTP request received.")

    def next_event(self) -> Any:
        try:
            event = super().next_event()
        except h11.RemoteProtocolError as exc:
            if exc.error_status_hint == 431:
                self.refusal = (431, "the request's headers are too large")
            raise
        if (
            isinstance(event, h11.Request)
            and head_size(event.method, event.target, event.headers.raw_items()) > self.limit
        ):
            self.refusal = (431, "the request's headers are too large")
            raise h11.RemoteProtocolError(self.refusal[1], error_status_hint=431)
        return event


class WebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O WebSocket protocol, releasing peers that stopped reading and
    bounding the handshake.

    uvicorn ends a connection with ``transport.close()``, which first writes out what is
    buffered: to a peer that stopped reading (or vanished without closing), never. The
    connection, its id and its buffers would then linger until TCP gives up, minutes later.
    Here a connection is aborted (buffers dropped, socket closed) when the peer misses its
    ping, when the application is done with it and the peer has not completed the close
    within ``close_timeout`` (at once when the application could not even send its close),
    and at shutdown when its buffer cannot drain.

    Its handshake must be complete (the app accepted or refused it) by the deadline
    :class:`HTTPProtocol` handed over with the socket, else the socket is closed (HTTP 408
    when the app has not answered yet). A request the websockets library refuses (a header
    line over 8 KiB, more than 128 headers …) gets its answer (431, 400 …) and a close;
    uvicorn alone neither answers it nor closes it.
    """

    def __init__(self, *args: Any, handshake: _Handshake | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._handshake = handshake
        self._handshake_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        if self._handshake is not None:
            self._handshake.slot.evict = self._evict
            self._handshake_timer = self.loop.call_at(
                self._handshake.deadline, self._handshake_expired
            )

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if (
            not self.handshake_initiated
            and self.conn.handshake_exc is not None
            and not self.transport.is_closing()
        ):
            self.transport.write(b"".join(self.conn.data_to_send()))
            self.transport.close()

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        if self._handshake is not None and not self.handshake_complete:
            # The socket is counted: the app must not count it again (Server.serve).
            self.scope["extensions"][COUNTED] = {}

    async def send(self, message: Any) -> None:
        await super().send(message)
        refused = message["type"] == "websocket.http.response.body" and not message.get("more_body")
        if refused:
            # The refusal is on the wire and the socket closing: the handshake is over. uvicorn
            # leaves it marked incomplete, and would log an error for every refused handshake
            # ("ASGI callable returned without completing handshake", Kludex/uvicorn#3138).
            self.handshake_complete = True
        if self._handshake_timer is not None and self.handshake_complete:
            self._handshake_timer.cancel()
            self._handshake_timer = None
            if self._handshake is not None and not refused:
                self._handshake.guard.admission.set_state(self._handshake.slot, SlotState.OPEN)

    def keepalive_timeout(self) -> None:
        super().keepalive_timeout()
        self._abort()

    def shutdown(self) -> None:
        super().shutdown()
        if self.transport.get_write_buffer_size():
            self._abort()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.handshake_complete and self.conn.close_rcvd is None:
            # Lost without a close frame: 1006, abnormal closure (RFC 6455, 7.1.5), which
            # on_disconnect hooks see; uvicorn says 1005, as for a close frame without a code.
            # The app reads the first disconnect only.
            self.queue.put_nowait({"type": "websocket.disconnect", "code": 1006})
        super().connection_lost(exc)
        if self._handshake_timer is not None:
            self._handshake_timer.cancel()
            self._handshake_timer = None
        if self._handshake is not None:
            self._handshake.guard.admission.close(self._handshake.slot)

    async def run_asgi(self) -> None:
        await super().run_asgi()
        if self.disconnected:
            return
        if self.close_timer is None and self.transport.get_write_buffer_size():
            # The app gave up on a peer that does not read (no close frame could be sent):
            # its socket, still counted, goes now.
            self._abort()
        else:
            self.loop.call_later(self.close_timeout, self._abort)

    def _handshake_expired(self) -> None:
        self._handshake_timer = None
        if self.handshake_complete or self.transport.is_closing():
            return
        reason = "the handshake took too long"
        if self._handshake is not None:
            self._handshake.guard.note(408, reason, self._handshake.slot.address)
        if self.initial_response is None:
            self.transport.write(_response(408, reason))
        self.transport.close()

    def _evict(self) -> None:
        self._abort()

    def _abort(self) -> None:
        if not self.disconnected:
            self.transport.abort()


class UvicornServer(uvicorn.Server):
    """uvicorn's server, with datadivr's graceful shutdown: on SIGTERM or SIGINT it stops
    listening, drops the sockets still in their handshake, finishes the messages being
    handled, delivers what is queued and closes every connection with 1001 (uvicorn on its
    own closes them at once with 1012).

    At start it raises the process's soft open-file limit to the hard one, as many servers
    do, and sizes the connection limits to it (:func:`uvicorn_config`); a failed ``accept()``
    for want of file descriptors is counted in the log every 10 s, not logged each time.

    Args:
        config: The uvicorn configuration, e.g. from :func:`uvicorn_config`.
        reraise_signals: After a shutdown on a signal, raise it again, as uvicorn does, so
            that the process ends as killed by it; ``False`` returns normally instead.
    """

    def __init__(self, config: uvicorn.Config, *, reraise_signals: bool = True) -> None:
        super().__init__(config)
        self.reraise_signals = reraise_signals

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        with super().capture_signals():
            try:
                yield
            finally:
                if not self.reraise_signals:
                    self._captured_signals.clear()

    @property
    def guard(self) -> SocketGuard | None:
        """What the protocols share, when the configuration is :func:`uvicorn_config`'s."""
        guard = getattr(self.config.http_protocol_class, "guard", None)
        return guard if isinstance(guard, SocketGuard) else None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        guard = self.guard
        if guard is not None:
            guard.admission.max_sockets = socket_budget(_raise_open_file_limit())
            asyncio.get_running_loop().set_exception_handler(guard.exception_handler)
            if sockets is not None:
                # uvicorn closes the given sockets at shutdown, asyncio the listeners.
                sockets = [guard.listener(sock) for sock in sockets]
        await super().startup(sockets)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        guard = self.guard
        if guard is not None:
            guard.admission.evict_pending()
        app = self.config.app
        if isinstance(app, FastAPI) and isinstance(getattr(app.state, "server", None), Server):
            await app.state.server.shutdown()
        await super().shutdown(sockets)


def run(app: FastAPI, *, sockets: list[socket.socket] | None = None, **options: Any) -> None:
    """Serve ``app`` until SIGTERM or SIGINT, then shut down gracefully and return.

    Args:
        app: An app made by :func:`~datadivr.create_app`.
        sockets: Sockets already bound and listening; else uvicorn binds ``host``/``port``.
        options: Any other ``uvicorn.Config`` argument.
    """
    config = uvicorn_config(app, **options)
    bound = None
    if sockets is None:  # bound here, so that UvicornServer paces its accept() calls
        bound = config.bind_socket()
        sockets = [bound]
    try:
        UvicornServer(config, reraise_signals=False).run(sockets=sockets)
    finally:
        if bound is not None:
            bound.close()


def _response(status: int, reason: str) -> bytes:
    """A whole HTTP response that closes the connection, for when h11 cannot write one."""
    body = reason.encode() + b"\n"
    head = (
        f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}\r\n"
        "content-type: text/plain; charset=utf-8\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body


def _open_file_limit() -> int | None:
    """The soft limit of open files, ``None`` for none (or no such limit, as on Windows)."""
    if sys.platform == "win32":
        return None
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return None if soft == resource.RLIM_INFINITY else soft


def _raise_open_file_limit() -> int | None:
    """Raise the soft limit of open files to the hard one, where allowed; the soft limit."""
    if sys.platform == "win32":
        return None
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or soft < hard):
        with contextlib.suppress(ValueError, OSError):  # macOS refuses RLIM_INFINITY
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return _open_file_limit()


def _server_of(app: FastAPI) -> Server:
    server = getattr(app.state, "server", None)
    if not isinstance(server, Server):
        raise TypeError("not an app made by datadivr.create_app")
    return server
