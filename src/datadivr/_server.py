"""The FastAPI server: a thin transport around the :class:`~datadivr._core.Hub`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from starlette.websockets import WebSocketState

from datadivr._core import Broadcast, Hub, Route, error_frame
from datadivr._http import HealthModel, schema_router
from datadivr._logging import get_logger
from datadivr._protocol import Protocol
from datadivr._registry import HandlerType, Registry, ServicerBase, default_registry
from datadivr.exceptions import ProtocolError

__all__ = ["DEFAULT_QUEUE_SIZE", "Server", "create_app"]

#: Outgoing frames a connection may have waiting before it counts as a stalled reader.
DEFAULT_QUEUE_SIZE = 1024
_log = get_logger("datadivr.server")


@dataclass(eq=False)
class _Connection:
    """One client's socket and its bounded outbound queue, written by one task."""

    client_id: str
    websocket: WebSocket
    queue: asyncio.Queue[str]
    evict: Callable[[_Connection, int, str], None]
    writer: asyncio.Task[None] | None = None
    evicted: bool = False

    def offer(self, data: str) -> None:
        """Queue a frame; a full queue means the client stopped reading."""
        if self.evicted:
            return
        try:
            self.queue.put_nowait(data)
        except asyncio.QueueFull:
            self.evict(self, 1013, "outbound queue full: client too slow")

    async def write(self) -> None:
        ws = self.websocket
        try:
            while True:
                await ws.send_text(await self.queue.get())
        except (WebSocketDisconnect, RuntimeError, OSError):
            return  # the connection is gone; the reading side cleans up
        except Exception:
            _log.exception("cannot write to the client", client_id=self.client_id)
            self.evict(self, 1011, "internal error")


class Server:
    """The server's state: the hub and the open connections. ``app.state.server`` holds it."""

    def __init__(self, protocol: Protocol, registry: Registry, queue_size: int) -> None:
        self.protocol = protocol
        self.queue_size = queue_size
        self.connections: dict[str, _Connection] = {}
        self.hub = Hub(protocol, registry, self.deliver)
        self._tasks: set[asyncio.Task[None]] = set()

    def _evict(self, connection: _Connection, code: int, reason: str) -> None:
        """Disconnect a client: its queue is full (it stopped reading) or writing to it failed.

        It leaves the routing at once, so it holds up no one else. Called while a broadcast
        may be iterating over the connections, so the removal runs in a task of its own.
        """
        if connection.evicted:
            return
        connection.evicted = True
        _log.warning(
            "disconnecting client", client_id=connection.client_id, code=code, reason=reason
        )
        task = asyncio.get_running_loop().create_task(self._close_evicted(connection, code, reason))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _close_evicted(self, connection: _Connection, code: int, reason: str) -> None:
        self.hub.disconnect(connection.client_id)
        if self.connections.get(connection.client_id) is connection:
            del self.connections[connection.client_id]
        if connection.writer is not None and connection.writer is not asyncio.current_task():
            connection.writer.cancel()
        if connection.websocket.application_state is WebSocketState.CONNECTED:
            # The close frame goes out once the client reads what is in flight; a client that
            # never reads again is dropped by the transport's keep-alive.
            with contextlib.suppress(Exception):
                await connection.websocket.close(code, reason)

    def deliver(self, route: Route, data: str) -> None:
        """Queue ``data`` for every connection ``route`` names."""
        if isinstance(route, Broadcast):
            for client_id, connection in self.connections.items():
                if client_id != route.exclude:
                    connection.offer(data)
        else:
            target = self.connections.get(route.client_id)
            if target is not None:
                target.offer(data)

    async def serve(self, websocket: WebSocket) -> None:
        """Run one WebSocket connection until it closes."""
        await websocket.accept()
        client_id = self.hub.new_client_id()
        connection = _Connection(client_id, websocket, asyncio.Queue(self.queue_size), self._evict)
        # The socket is known before the hub greets it, so the welcome is queued for it.
        self.connections[client_id] = connection
        self.hub.connect(client_id=client_id)
        connection.writer = asyncio.create_task(connection.write())
        log = _log.bind(client_id=client_id)
        log.info("client connected", clients=len(self.connections))
        try:
            while not connection.evicted:
                event = await websocket.receive()
                if event["type"] == "websocket.disconnect":
                    break
                text = event.get("text")
                if text is None:
                    connection.offer(
                        error_frame(
                            ProtocolError(
                                "invalid_message",
                                "binary frames are not supported: send JSON as text",
                            ),
                            to=client_id,
                        )
                    )
                    continue
                try:
                    await self.hub.receive(client_id, text)
                except Exception:
                    # The hub turns every expected failure into an error message; this is a
                    # bug, and still only this message fails.
                    log.exception("unexpected failure while handling a frame")
                    connection.offer(
                        error_frame(
                            ProtocolError(
                                "internal_error", "the server failed to handle the message"
                            ),
                            to=client_id,
                        )
                    )
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            self.hub.disconnect(client_id)
            if self.connections.get(client_id) is connection:
                del self.connections[client_id]
            writer = connection.writer
            if writer is not None and not writer.done():
                writer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await writer
            log.info("client disconnected", clients=len(self.connections))


def create_app(
    *,
    protocol: Protocol | None = None,
    registry: Registry | None = None,
    servicer: ServicerBase | None = None,
    builtin_handlers: bool = True,
    queue_size: int = DEFAULT_QUEUE_SIZE,
) -> FastAPI:
    """Create the FastAPI app: the WebSocket at ``/ws`` and ``GET /health``.

    Args:
        protocol: The generated protocol; datadivr's own when omitted.
        registry: Server handlers; the default registry (``@websocket_handler``) when omitted.
        servicer: A servicer whose overridden methods are handlers; they take precedence.
        builtin_handlers: Also run the built-in ``sum_event`` and ``ping`` handlers where the
            application has none (only with datadivr's own protocol).
        queue_size: Outgoing frames a connection may have waiting; a client that falls this
            far behind is disconnected (close code 1013) so that it cannot hold up others.
    """
    if protocol is None:
        from datadivr.protocol import PROTOCOL

        protocol = PROTOCOL
    handlers = registry if registry is not None else default_registry
    fallbacks: list[Registry] = []
    if builtin_handlers and protocol.package == "datadivr.protocol":
        from datadivr._builtin import builtin_registry

        fallbacks.append(builtin_registry)
    if servicer is not None:
        handlers = servicer.registry().merged(handlers)
    server = Server(protocol, handlers.merged(*fallbacks), queue_size)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        _log.info(
            "datadivr server ready",
            events=sorted(protocol.events),
            server_handlers=server.hub.registry.events(HandlerType.SERVER),
        )
        yield

    app = FastAPI(
        title="datadivr",
        description="Real-time messaging over WebSocket at `/ws`; the protocol's schema and a "
        "validator over HTTP.",
        lifespan=lifespan,
    )
    app.state.server = server
    app.include_router(schema_router(protocol))

    @app.get("/health", response_model=HealthModel)
    async def health() -> HealthModel:
        """Liveness, with the number of connected clients."""
        return HealthModel(
            status="ok", clients=len(server.connections), schema_hash=protocol.schema_hash
        )

    @app.websocket("/ws")
    async def websocket_endpoint(websocket: WebSocket) -> None:
        await server.serve(websocket)

    return app
