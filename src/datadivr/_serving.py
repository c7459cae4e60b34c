"""Running an app under uvicorn with its limits, and shutting it down gracefully."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from typing import Any

import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from datadivr._server import Server

__all__ = ["UvicornServer", "WebSocketProtocol", "run", "uvicorn_config"]


def uvicorn_config(app: FastAPI, **options: Any) -> uvicorn.Config:
    """A uvicorn configuration that applies the app's :class:`~datadivr.Limits` in the
    transport: the frame size (a larger frame is closed with 1009 before it is buffered),
    the pings that drop half-open connections, and no per-message compression.

    Args:
        app: An app made by :func:`~datadivr.create_app`.
        options: Any other ``uvicorn.Config`` argument (``log_level``, ``host``, ``port`` …).
    """
    limits = _server_of(app).limits
    settings: dict[str, Any] = {
        "ws": WebSocketProtocol,
        "ws_per_message_deflate": False,
        "ws_max_size": limits.max_frame_size,
        "ws_ping_interval": limits.ping_interval,
        "ws_ping_timeout": limits.ping_timeout,
        # The app has drained its connections by then (UvicornServer.shutdown); what is left
        # is aborted by WebSocketProtocol.shutdown, so uvicorn needs little time of its own.
        "timeout_graceful_shutdown": 2,
        **options,
    }
    return uvicorn.Config(app, **settings)


class WebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O WebSocket protocol, releasing peers that stopped reading.

    uvicorn ends a connection with ``transport.close()``, which first writes out what is
    buffered: to a peer that stopped reading (or vanished without closing), never. The
    connection, its id and its buffers would then linger until TCP gives up, minutes later.
    Here a connection is aborted (buffers dropped, socket closed) when the peer misses its
    ping, when the application is done with it and the peer has not completed the close
    within ``close_timeout``, and at shutdown when its buffer cannot drain.
    """

    def keepalive_timeout(self) -> None:
        super().keepalive_timeout()
        self._abort()

    def shutdown(self) -> None:
        super().shutdown()
        if self.transport.get_write_buffer_size():
            self._abort()

    async def run_asgi(self) -> None:
        await super().run_asgi()
        if not self.disconnected:
            self.loop.call_later(self.close_timeout, self._abort)

    def _abort(self) -> None:
        if not self.disconnected:
            self.transport.abort()

    async def send(self, message: Any) -> None:
        await super().send(message)
        if message["type"] == "websocket.http.response.body" and not message.get("more_body"):
            # The refusal is on the wire and the socket closing: the handshake is over. uvicorn
            # leaves it marked incomplete, and would log an error for every refused handshake
            # ("ASGI callable returned without completing handshake", Kludex/uvicorn#3138).
            self.handshake_complete = True


class UvicornServer(uvicorn.Server):
    """uvicorn's server, with datadivr's graceful shutdown: on SIGTERM or SIGINT it stops
    listening, finishes the messages being handled, delivers what is queued and closes every
    connection with 1001 (uvicorn on its own closes them at once with 1012).

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

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
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
    UvicornServer(uvicorn_config(app, **options), reraise_signals=False).run(sockets=sockets)


def _server_of(app: FastAPI) -> Server:
    server = getattr(app.state, "server", None)
    if not isinstance(server, Server):
        raise TypeError("not an app made by datadivr.create_app")
    return server
