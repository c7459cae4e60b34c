"""The FastAPI app: the WebSocket at ``/ws`` served by a :class:`~datadivr.server.Server`,
``GET /health``, the schema endpoints and the explorer page."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Collection

from fastapi import FastAPI, WebSocket

from datadivr._logging import get_logger, redact_library_logs
from datadivr.broker import backplane_for
from datadivr.broker._backplane import Backplane
from datadivr.core._limits import Limits
from datadivr.core._protocol import Protocol
from datadivr.core._registry import HandlerType, Registry, ServicerBase, default_registry
from datadivr.server._auth import Authenticate, token_authenticator
from datadivr.server._explorer import explorer_router
from datadivr.server._http import BodyLimit, HealthModel, schema_router
from datadivr.server._server import Server

__all__ = ["create_app"]

#: An HTTP request body (``POST /validate``) may hold this many frames' worth of bytes.
HTTP_BODY_FRAMES = 4
_log = get_logger("datadivr.server")


def create_app(
    *,
    protocol: Protocol | None = None,
    registry: Registry | None = None,
    servicer: ServicerBase | None = None,
    builtin_handlers: bool = True,
    limits: Limits | None = None,
    authenticate: Authenticate | None = None,
    token: str | None = None,
    allowed_origins: Collection[str] | None = None,
    broker: str | Backplane | None = None,
    explorer: bool = True,
) -> FastAPI:
    """Create the FastAPI app: the WebSocket at ``/ws``, ``GET /health``, the schema endpoints
    and the protocol explorer page at ``GET /``.

    Args:
        protocol: The generated protocol; datadivr's own when omitted.
        registry: Server handlers; the default registry (``@websocket_handler``) when omitted.
        servicer: A servicer whose overridden methods are handlers; they take precedence.
        builtin_handlers: Also run the built-in ``sum_event`` and ``ping`` handlers where the
            application has none (only with datadivr's own protocol).
        limits: Frame size, nesting, element count, connections, outbound queue, rate,
            pings and shutdown time (:class:`~datadivr.Limits`); the defaults when omitted.
        authenticate: Decides who may connect: returns an :class:`~datadivr.Identity`, or
            ``None`` to refuse with HTTP 403. Handlers see the identity as ``ctx.identity``.
        token: A shared secret clients must present (``Authorization: Bearer``, a ``token``
            query parameter, or a ``datadivr.token.…`` subprotocol); an ``authenticate``
            hook of its own. Use one or the other.
        allowed_origins: ``Origin`` values browsers may connect from (``*`` for any); any
            when omitted. Clients that send no ``Origin`` are not browsers and are admitted.
        broker: How several servers reach each other's clients: a URL (``redis://host:port``
            for Redis pub/sub, ``memory://`` for this process alone) or a
            :class:`~datadivr.Backplane`; when omitted, the ``DATADIVR_BROKER`` variable,
            else this process alone. See the scaling guide.
        explorer: Serve the protocol explorer at ``GET /``: a page that lists the events and
            sends messages to ``/ws`` and shows what comes back; ``False`` leaves ``/`` a 404.

    Raises:
        ValueError: both ``authenticate`` and ``token`` are given, ``token`` is empty, or
            ``broker`` names no known broker.
    """
    if token is not None:
        if authenticate is not None:
            raise ValueError("pass either authenticate or token, not both")
        authenticate = token_authenticator(token)
    # uvicorn logs each handshake's query string: no credential in it reaches any handler.
    redact_library_logs()
    if protocol is None:
        from datadivr.demo import PROTOCOL

        protocol = PROTOCOL
    handlers = registry if registry is not None else default_registry
    fallbacks: list[Registry] = []
    if builtin_handlers and protocol.package == "datadivr.demo":
        from datadivr.server._builtin import builtin_registry

        fallbacks.append(builtin_registry)
    if servicer is not None:
        handlers = servicer.registry().merged(handlers)
    server = Server(
        protocol,
        handlers.merged(*fallbacks),
        limits,
        authenticate=authenticate,
        allowed_origins=allowed_origins,
        backplane=backplane_for(broker),
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        _log.info(
            "datadivr server ready",
            events=sorted(protocol.events),
            server_handlers=server.hub.registry.events(HandlerType.SERVER),
        )
        await server.backplane.start(server)
        try:
            yield
        finally:
            await server.backplane.stop()

    app = FastAPI(
        title="datadivr",
        description="Real-time messaging over WebSocket at `/ws`; the protocol's schema and a "
        "validator over HTTP.",
        lifespan=lifespan,
    )
    app.state.server = server
    app.include_router(schema_router(protocol, token=token is not None))
    if explorer:
        app.include_router(explorer_router())
    # POST /validate reads a body: a few frames' worth at most.
    app.add_middleware(BodyLimit, limit=HTTP_BODY_FRAMES * server.limits.max_frame_size)

    @app.get("/health", response_model=HealthModel)
    async def health() -> HealthModel:
        """Liveness, with the number of connected clients."""
        return HealthModel(
            status="ok",
            clients=len(server.connections),
            schema_hash=protocol.schema_hash,
            fingerprint=protocol.fingerprint,
            broker=server.backplane.status(),
        )

    @app.websocket("/ws")
    async def websocket_endpoint(websocket: WebSocket) -> None:
        await server.serve(websocket)

    return app
