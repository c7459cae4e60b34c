"""The FastAPI server: a thin transport around the :class:`~datadivr.core._hub.Hub`."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections import deque
from collections.abc import Collection, Coroutine, Iterable
from typing import Any, TypeVar

from fastapi import WebSocket, WebSocketDisconnect
from starlette.responses import PlainTextResponse
from starlette.websockets import WebSocketState

from datadivr._logging import get_logger
from datadivr.broker._backplane import Backplane, MemoryBackplane
from datadivr.core._hub import Hub, error_frame
from datadivr.core._lifecycle import ClientInfo, DisconnectInfo, PresenceChange, run_hooks
from datadivr.core._limits import Limits, over_size, utf8_size
from datadivr.core._message import MessageBase
from datadivr.core._protocol import (
    FINGERPRINT_HEADER,
    SUBPROTOCOL,
    Protocol,
    binary_error,
    frame_field,
)
from datadivr.core._registry import HandlerContext, HandlerType, Registry
from datadivr.core._requests import Asks, reading
from datadivr.core._route import Route
from datadivr.exceptions import ProtocolError
from datadivr.server._admission import COUNTED, Admission, Slot, address_key
from datadivr.server._auth import (
    Authenticate,
    Identity,
    origin_allowed,
)
from datadivr.server._connection import Connection
from datadivr.server._lane import Lane
from datadivr.server._refusals import RefusalLog

__all__ = ["DEFAULT_QUEUE_SIZE", "Server"]

#: Outgoing frames a connection may have waiting before it counts as a stalled reader.
DEFAULT_QUEUE_SIZE = Limits.queue_size
#: Seconds an evicted client gets to take its close frame before it is abandoned.
CLOSE_TIMEOUT = 5.0
#: Seconds ``on_disconnect`` hooks get at shutdown at least, however long the rest took.
HOOKS_TIMEOUT = 1.0
_log = get_logger("datadivr.server")
_M = TypeVar("_M", bound=MessageBase)
#: What starlette's ``WebSocket`` raises once its peer is gone.
_GONE = (WebSocketDisconnect, RuntimeError, OSError)


class Server:
    """The server's state: the hub and the open connections. ``app.state.server`` holds it.

    Args:
        protocol: The protocol to speak.
        registry: The server handlers.
        limits: What the server accepts.
        authenticate: Decides who may connect; everyone when ``None``.
        allowed_origins: The ``Origin`` values browsers may connect from; any when ``None``.
        backplane: How to reach the clients of other nodes; one process when ``None``.
    """

    def __init__(
        self,
        protocol: Protocol,
        registry: Registry,
        limits: Limits | None = None,
        *,
        authenticate: Authenticate | None = None,
        allowed_origins: Collection[str] | None = None,
        backplane: Backplane | None = None,
    ) -> None:
        self.protocol = protocol
        self.limits = limits if limits is not None else Limits()
        self.authenticate = authenticate
        self.allowed_origins = None if allowed_origins is None else frozenset(allowed_origins)
        self.connections: dict[str, Connection[WebSocket]] = {}
        self.backplane = backplane if backplane is not None else MemoryBackplane()
        # Frames go to the backplane only when other nodes may exist.
        self._cluster = self.backplane if self.backplane.spans_nodes else None
        self.hub = Hub(
            protocol,
            registry,
            self.deliver,
            answer=self.deliver,
            limits=self.limits,
            members=self.backplane,
        )
        self.closing = False
        # Every socket under datadivr's uvicorn protocols (datadivr.server._uvicorn), from its
        # arrival; else each WebSocket connection from its handshake, counted in serve().
        self.admission = Admission(
            self.limits.max_connections, self.limits.max_connections_per_address
        )
        admission = self.admission
        self.refusals = RefusalLog(
            _log,
            context=lambda: {
                "open": admission.total,
                "pending": admission.pending,
                "capacity": admission.capacity,
            },
        )
        self._busy = 0  # frames being handled
        self._quiet: asyncio.Future[None] | None = None  # shutdown waits for _busy to be 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._runs: set[asyncio.Task[Any]] = set()
        self._hook_tasks: set[asyncio.Task[None]] = set()  # on_disconnect, on_presence
        # Changes for the on_presence hooks, told one at a time by one task, in order.
        self._presence_changes: deque[PresenceChange] = deque()
        self._presence_teller: asyncio.Task[None] | None = None

    async def request(
        self, client_id: str, message: Asks[_M], *, timeout: float | None = None
    ) -> _M:
        """Send ``message``, a request of the server (an event the server sends that has a
        ``reply``), to the client ``client_id`` and wait for its answer: from a background
        task, say, as a handler does with ``ctx.request``. The app of :func:`create_app`
        holds its server as ``app.state.server``. Called from a handler or hook of the client
        ``client_id`` itself, in the task that runs it, it refuses at once, as ``ctx.request``
        does: that client's answer is read only once the handler returns.

        Args:
            client_id: The client to ask, connected to this server (this node of a cluster).
            message: The request; its type names the reply's.
            timeout: Seconds to wait for the answer; 10 when ``None``.

        Returns:
            The client's answer, of the request's reply type.

        Raises:
            RemoteError: the client answered with an ``error``.
            RequestTimeoutError: no answer within ``timeout``.
            ClientGoneError: the client disconnected before it answered.
            UnknownClientError: no client ``client_id`` is connected here;
                :class:`~datadivr.exceptions.ClientOnOtherNodeError` when it is connected to
                another node of the cluster.
            TooManyRequestsError: too many requests wait for that client already.
            InvalidStateError: called from a handler or hook of the client ``client_id``, in
                the task that runs it.
            TypeError: ``message`` is not a request the server may send.
        """
        return await self.hub.request(client_id, message, timeout=timeout)

    @property
    def queue_size(self) -> int:
        """Outgoing frames a connection may have waiting (``limits.queue_size``)."""
        return self.limits.queue_size

    def _evict(self, connection: Connection[WebSocket], code: int, reason: str) -> None:
        """Disconnect a client: its queue is full (it stopped reading) or writing to it failed.

        It leaves the routing at once, so it holds up no one else. Called while a broadcast
        may be iterating over the connections, so the removal runs in a task of its own.
        """
        if connection.evicted:
            return
        connection.evicted = True
        connection.closed_with = (code, reason)
        connection.release_reader()  # it may be waiting for the writer
        if connection.lane is not None:
            connection.lane.stop()
        _log.warning(
            "disconnecting client", client_id=connection.client_id, code=code, reason=reason
        )
        task = asyncio.get_running_loop().create_task(self._close_evicted(connection, code, reason))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _close_evicted(
        self, connection: Connection[WebSocket], code: int, reason: str
    ) -> None:
        ctx = self.hub.context(connection.client_id)
        self.hub.disconnect(connection.client_id)
        if self.connections.get(connection.client_id) is connection:
            del self.connections[connection.client_id]
        if connection.greeted:
            # It has left: its hooks need not wait for it to take its close frame, if ever.
            self._farewell(connection, ctx, connection.closed_with or (code, reason))
        if connection.writer is not None and connection.writer is not asyncio.current_task():
            connection.writer.cancel()
        connection.discard_queue()
        if connection.transport.application_state is not WebSocketState.CONNECTED:
            return
        try:
            # The close frame goes out once the client reads what is in flight.
            await asyncio.wait_for(connection.close_with(code, reason), CLOSE_TIMEOUT)
        except (asyncio.TimeoutError, TimeoutError):
            # It never reads again: stop waiting for it. The reader ends, and the transport
            # (datadivr.WebSocketProtocol) aborts the socket.
            connection.abandoned = True
            if connection.task is not None:
                connection.task.cancel()
            if connection.reader is not None and connection.reader is not connection.task:
                connection.reader.cancel()  # the lane's task, running a handler that waits
        except Exception:  # already gone: nothing to close
            pass

    def deliver(self, route: Route, data: str, sender: str | None = None) -> None:
        """Queue ``data`` for every connection ``route`` names, and hand it to the backplane
        for the recipients on other nodes.

        ``sender``: ``data`` concludes the handling of that client's frame (the hub's
        ``answer``): its reader sends it once the hub returns, its writer is not woken.
        """
        size = len(data) if data.isascii() else utf8_size(data)
        if self._fan_out(route, data, size, sender) and self._cluster is not None:
            self._cluster.publish(route, data)

    def _fan_out(self, route: Route, data: str, size: int, sender: str | None) -> bool:
        """Queue ``data`` (``size`` bytes) for this node's connections that ``route`` names;
        return whether it may have recipients on other nodes. ``sender`` as for
        :meth:`deliver`."""
        for client_id, connection in route.recipients(self.connections):
            connection.offer(data, size, wake=client_id != sender)
        return route.beyond(self.connections)

    # -- what the backplane needs (datadivr.ClusterNode) ----------------------------------

    def deliver_local(self, route: Route, data: str) -> None:
        """Queue a frame from another node for this node's connections ``route`` names."""
        self._fan_out(route, data, utf8_size(data), None)

    def refuse(self, origin: str | None, data: str, code: str, reason: str) -> None:
        """Tell ``origin`` that ``data`` did not reach its recipients on other nodes."""
        if origin is None:
            _log.warning("a server message did not reach other nodes", code=code, reason=reason)
            return
        connection = self.connections.get(origin)
        if connection is None:
            return
        event_name = frame_field(data, "event_name")
        reply_to = frame_field(data, "id")
        if reply_to is None:
            reply_to = frame_field(data, "reply_to")
        connection.offer(
            error_frame(
                ProtocolError(
                    code, reason, event_name=event_name if isinstance(event_name, str) else None
                ),
                to=origin,
                reply_to=reply_to if isinstance(reply_to, str) else None,
            )
        )

    def local_clients(self) -> Iterable[str]:
        """The ids of this node's clients."""
        return list(self.hub)

    def presence_changed(self, client_id: str, node: str, joined: bool) -> None:
        """Run the ``on_presence`` hooks: a client of another node joined or left."""
        hooks = self.hub.registry.hooks("on_presence")
        if not hooks:
            return
        self._presence_changes.append(PresenceChange(client_id, node, joined))
        if self._presence_teller is None or self._presence_teller.done():
            self._presence_teller = self._hook_task(self._tell_presence())

    async def _tell_presence(self) -> None:
        changes = self._presence_changes
        ctx = self._server_context
        while changes:
            hooks = self.hub.registry.hooks("on_presence")
            await run_hooks("on_presence", hooks, changes.popleft(), ctx)

    @property
    def _server_context(self) -> HandlerContext:
        """The context of hooks that belong to no client: what they send goes where its
        ``to`` says."""

        async def send(message: MessageBase) -> None:
            self.hub.send(message)

        return HandlerContext(HandlerType.SERVER, None, send)

    def clients(self) -> dict[str, str | None]:
        """Every client connected to the cluster, by id, with the id of the node it is
        connected to: ``None`` for this node's own.

        Other nodes' clients are as this node's mirror of the cluster shows them
        (:meth:`Backplane.remote_clients <datadivr.Backplane.remote_clients>`): a client that
        joined or left another node shows up here once the broker told this node, and the
        clients of a node that died without a word vanish within the presence TTL and a
        third.
        """
        clients: dict[str, str | None] = dict(self.backplane.remote_clients())
        clients.update(dict.fromkeys(self.hub))
        return clients

    async def _refusal(
        self, websocket: WebSocket, slot: Slot | str | None
    ) -> tuple[int, str] | Identity | None:
        """Why ``websocket`` may not connect (HTTP status and reason), else its identity.
        ``slot``: what counting it gave, a refusal (str) included."""
        if self.closing:
            return 503, "the server is shutting down"
        if not origin_allowed(websocket.headers.get("origin"), self.allowed_origins):
            return 403, "origin not allowed"
        if isinstance(slot, str):
            return 503, slot
        if self.authenticate is None:
            return None
        try:
            identity = await self.authenticate(websocket)
        except Exception:
            _log.exception("the authentication hook failed")
            return 403, "not authenticated"
        if identity is None:
            return 403, "not authenticated"
        if self._shutting_down():  # it began while the hook ran
            return 503, "the server is shutting down"
        return identity

    @functools.cached_property
    def _accept_headers(self) -> list[tuple[bytes, bytes]]:
        """The handshake's answer names the protocol's fingerprint, so that a client whose
        ``welcome`` has no field for it can still compare protocols."""
        try:
            fingerprint = self.protocol.fingerprint
        except (OSError, ValueError):  # a protocol without its bundled schema
            return []
        return [(FINGERPRINT_HEADER.lower().encode("ascii"), fingerprint.encode("ascii"))]

    def _shutting_down(self) -> bool:
        return self.closing

    async def serve(self, websocket: WebSocket) -> None:
        """Admit one WebSocket connection and run it until it closes."""
        address = _address(websocket)
        # Counted before the hook's await, so that concurrent handshakes see each other;
        # under datadivr's uvicorn protocols, the socket was counted when it arrived.
        counted = COUNTED in websocket.scope.get("extensions", {})
        slot = None if counted else self.admission.open(address)
        try:
            verdict = await self._refusal(websocket, slot)
            if isinstance(verdict, tuple):
                status, reason = verdict
                self.refusals.refused(status, reason, address)
                await _deny(websocket, status, reason)
                return
            offered = websocket.scope.get("subprotocols", ())
            await websocket.accept(
                subprotocol=SUBPROTOCOL if SUBPROTOCOL in offered else None,
                headers=self._accept_headers,
            )
            run = asyncio.current_task()
            if run is not None:
                self._runs.add(run)
            try:
                await self._run(websocket, verdict)
            finally:
                self._runs.discard(run)
        finally:
            if isinstance(slot, Slot):
                self.admission.close(slot)

    async def _run(self, websocket: WebSocket, identity: Identity | None) -> None:
        client_id = self.hub.new_client_id()
        connection = Connection(
            client_id,
            websocket,
            self.queue_size,
            self.limits.queue_bytes,
            self._evict,
            reader=asyncio.current_task(),
            gone=_GONE,
        )
        # The socket is known before the hub greets it, so the welcome is queued for it.
        self.connections[client_id] = connection
        self.hub.connect(identity, client_id=client_id)
        connection.writer = asyncio.create_task(connection.write())
        log = _log.bind(client_id=client_id)
        log.info("client connected", clients=len(self.connections))
        ctx = self.hub.context(client_id)  # its handlers' own, which its hooks get too
        closed = (1006, "")  # the client's close code and reason, once it sent them
        try:
            # Its welcome is queued; its first message waits for the hooks.
            hooks = self.hub.registry.hooks("on_connect")
            if hooks:
                client = ClientInfo(client_id, identity, _remote(websocket))
                with reading(client_id):
                    await run_hooks("on_connect", hooks, client, ctx)
            connection.greeted = True
            lane = Lane.attach(websocket, connection, functools.partial(self._take, connection))
            if lane is not None:
                closed = await self._follow(connection, lane)
            while lane is None and not connection.evicted:
                event = await websocket.receive()
                if event["type"] == "websocket.disconnect" or connection.evicted:
                    if event["type"] == "websocket.disconnect":
                        closed = (event.get("code", 1005), event.get("reason") or "")
                    break
                text = event.get("text")
                data = text if text is not None else event.get("bytes") or b""
                if not await self._take(connection, data):
                    break
                if connection.pending:
                    await connection.flush()
                if connection.pending and connection.behind and not connection.evicted:
                    # Its answers pile up: read no more from it until they are on their way.
                    await connection.wait_drained()
        except WebSocketDisconnect as exc:
            closed = (exc.code, exc.reason or "")
        except RuntimeError:
            pass
        except asyncio.CancelledError:
            if not connection.abandoned:
                raise
            # An evicted client that never read its close: cancelled by _close_evicted.
        finally:
            self.hub.disconnect(client_id)
            if self.connections.get(client_id) is connection:
                del self.connections[client_id]
            self._farewell(connection, ctx, connection.closed_with or closed)
            writer = connection.writer
            if writer is not None and not writer.done():
                if connection.closing:
                    # Shutting down: let the writer flush what was accepted, in bounded time.
                    with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                        await asyncio.wait_for(asyncio.shield(writer), self.limits.shutdown_timeout)
                writer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await writer
            log.info("client disconnected", clients=len(self.connections))

    async def _take(self, connection: Connection[WebSocket], data: str | bytes) -> bool:
        """Handle one frame of ``connection``'s client; ``False`` when it is to be read no
        more (it is evicted)."""
        if self.closing:
            return True  # shutting down: what arrives now is not accepted
        client_id = connection.client_id
        max_size = self.limits.max_frame_size
        if not isinstance(data, str):
            if len(data) > max_size:
                self._evict(connection, 1009, "frame too large")
                return False
            connection.offer(error_frame(binary_error(), to=client_id))
            return True
        # A text shorter than a quarter of the limit cannot be over it.
        if len(data) > max_size // 4 and over_size(data, max_size):
            # Only when the transport's own limit is higher than the app's.
            self._evict(connection, 1009, f"frame larger than {max_size} bytes")
            return False
        self._busy += 1
        connection.reading = True
        try:
            await self.hub.receive(client_id, data)
        except Exception:
            # The hub turns every expected failure into an error message; this is a bug, and
            # still only this message fails.
            _log.exception("unexpected failure while handling a frame", client_id=client_id)
            connection.offer(
                error_frame(
                    ProtocolError("internal_error", "the server failed to handle the message"),
                    to=client_id,
                )
            )
        finally:
            self._busy -= 1
            if not self._busy and self._quiet is not None and not self._quiet.done():
                self._quiet.set_result(None)
        connection.reading = False
        return not connection.evicted

    async def _follow(self, connection: Connection[WebSocket], lane: Lane) -> tuple[int, str]:
        """Wait until ``lane``'s client closed or went, or the server stopped reading it;
        the close code and reason. A handler still running finishes first."""
        connection.lane = lane
        connection.reader = None  # the lane's task, while it has one
        closed = await lane.finished
        task = lane.task
        if task is not None and not task.done():
            await asyncio.wait([task])
        return closed

    def _farewell(
        self, connection: Connection[WebSocket], ctx: HandlerContext, closed: tuple[int, str]
    ) -> None:
        """Run the ``on_disconnect`` hooks of the client of ``connection`` (once), which left
        with the close code and reason ``closed``, in a task of their own: a slow hook holds
        up neither this connection's end nor anyone else. ``ctx``: its handlers' context."""
        if connection.farewell:
            return
        connection.farewell = True
        hooks = self.hub.registry.hooks("on_disconnect")
        if not hooks:
            return
        code, reason = closed
        remote = _remote(connection.transport)
        client = DisconnectInfo(connection.client_id, ctx.identity, remote, code, reason)
        self._hook_task(run_hooks("on_disconnect", hooks, client, ctx))

    def _hook_task(self, hooks: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run ``hooks`` in a task of their own, which shutdown waits for."""
        task = asyncio.get_running_loop().create_task(hooks)
        self._hook_tasks.add(task)
        task.add_done_callback(self._hook_tasks.discard)
        return task

    async def shutdown(self, timeout: float | None = None) -> None:
        """Close gracefully: refuse new connections, finish the messages being handled,
        deliver what is queued, and close every connection with code 1001.

        Args:
            timeout: Seconds to wait, ``limits.shutdown_timeout`` when omitted; connections
                still open after it are left to the transport to close.
        """
        wait = self.limits.shutdown_timeout if timeout is None else timeout
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        self.closing = True
        _log.info("shutting down", clients=len(self.connections))
        if self._busy:
            self._quiet = loop.create_future()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._quiet), wait)
        for connection in list(self.connections.values()):
            connection.finish(1001, "server shutting down")
        writers = [c.writer for c in self.connections.values() if c.writer is not None]
        if writers:
            await asyncio.wait(writers, timeout=max(0.0, deadline - loop.time()))
        runs = [task for task in self._runs if task is not asyncio.current_task()]
        if runs:
            # The reading side of each connection sees its close and cleans up.
            await asyncio.wait(runs, timeout=max(0.0, deadline - loop.time()))
        if self._hook_tasks:
            # The connections that ended left their on_disconnect hooks running.
            _, late = await asyncio.wait(
                set(self._hook_tasks), timeout=max(HOOKS_TIMEOUT, deadline - loop.time())
            )
            if late:
                _log.warning("lifecycle hooks cut short by the shutdown", hooks=len(late))
                for task in late:
                    task.cancel()
                await asyncio.wait(late, timeout=HOOKS_TIMEOUT)  # a hook may ignore it
        self.refusals.flush()


def _remote(websocket: WebSocket) -> str | None:
    """The client's ``host:port``, when the transport knows it."""
    client = websocket.client
    if client is None:
        return None
    host = f"[{client.host}]" if ":" in client.host else client.host
    return f"{host}:{client.port}"


def _address(websocket: WebSocket) -> str:
    """The remote address that connection limits count: an IPv6 host by its /64 network, as
    one host usually owns a whole /64."""
    client = websocket.client
    return address_key(None if client is None else client.host)


async def _deny(websocket: WebSocket, status: int, reason: str) -> None:
    """Refuse the handshake with an HTTP response, or with a bare 403 where the server cannot
    send one."""
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(PlainTextResponse(reason + "\n", status_code=status))
    else:
        await websocket.close(1008 if status == 403 else 1013, reason)
