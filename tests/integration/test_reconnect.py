"""Reconnecting clients over real sockets.

Most tests talk to :class:`FakeServer`, a small ``websockets`` server on a loopback port that
speaks just enough of the protocol (a ``welcome``, answers to ``sum_event``) and does what the
test tells it: drop a connection, close it with a chosen code, refuse handshakes, hold back
its ``welcome``. Every step is awaited on the server's side (a new connection, a refused
handshake, a received frame), so nothing sleeps. The last test restarts a real uvicorn server
on the same port.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import threading
from collections import deque
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import pytest
import uvicorn
import websockets
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response

from datadivr import (
    ClientState,
    ConnectError,
    ConnectionClosedError,
    ConnectRefusedError,
    MessageTooBigError,
    PolicyViolationError,
    Reconnect,
    SendBufferFullError,
    ServerOverloadedError,
    ServerShutdownError,
    create_app,
)
from datadivr.demo import PROTOCOL, Client, SumHandlerResultMessage

TIMEOUT = 5.0
#: Short waits, so that a test with a few attempts takes milliseconds.
FAST = Reconnect(initial_delay=0.01, max_delay=0.05)


@dataclass
class Connection:
    """One connection the fake server accepted: its socket, the id it gave, what it got."""

    ws: ServerConnection
    client_id: str
    frames: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)

    async def recv(self) -> dict[str, Any]:
        """The next frame the client sent on this connection."""
        return await asyncio.wait_for(self.frames.get(), TIMEOUT)

    def drop(self) -> None:
        """Cut the TCP connection without a closing handshake (the client sees 1006)."""
        assert self.ws.transport is not None
        self.ws.transport.abort()


class FakeServer:
    """A datadivr server small enough to misbehave on demand."""

    def __init__(self) -> None:
        self.accepted: asyncio.Queue[Connection] = asyncio.Queue()
        self.refused: asyncio.Queue[int] = asyncio.Queue()
        self.count = 0
        self.refuse_with: int | None = None
        """HTTP status with which to refuse the next handshakes; ``None`` to accept them."""
        self.close_with: tuple[int, str] | None = None
        """Close new connections at once with this code and reason, before any welcome."""
        self.plan: deque[int | tuple[int, str]] = deque()
        """What to do with the next handshakes, one step each, before the settings above:
        an HTTP status refuses it, a close code and reason closes the new connection."""
        self.hold_welcome: asyncio.Event | None = None
        """New connections are welcomed only once this is set."""
        self.answer = True
        """Answer ``sum_event`` requests."""
        self._server: Server | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"ws://127.0.0.1:{port}/ws"

    async def start(self) -> None:
        self._server = await serve(
            self._handle,
            "127.0.0.1",
            0,
            process_request=self._process_request,
            compression=None,
        )

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        await asyncio.wait_for(self._server.wait_closed(), TIMEOUT)

    async def connection(self) -> Connection:
        """The next connection the server accepts."""
        return await asyncio.wait_for(self.accepted.get(), TIMEOUT)

    async def refusal(self) -> int:
        """The status of the next handshake the server refuses."""
        return await asyncio.wait_for(self.refused.get(), TIMEOUT)

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        status = self.refuse_with
        if self.plan and isinstance(self.plan[0], int):
            status = self.plan.popleft()  # type: ignore[assignment]
        if status is None:
            return None
        self.refused.put_nowait(status)
        return connection.respond(HTTPStatus(status), "go away\n")

    async def _handle(self, ws: ServerConnection) -> None:
        self.count += 1
        connection = Connection(ws, f"client-{self.count}")
        self.accepted.put_nowait(connection)
        close_with = self.close_with
        if self.plan and isinstance(self.plan[0], tuple):
            close_with = self.plan.popleft()  # type: ignore[assignment]
        if close_with is not None:
            await ws.close(*close_with)
            return
        if self.hold_welcome is not None and not await _first(self.hold_welcome.wait(), ws):
            return  # the client went away while it waited
        welcome = {
            "event_name": "welcome",
            "payload": {"client_id": connection.client_id, "schema_hash": PROTOCOL.schema_hash},
            "from_id": "server",
            "to": connection.client_id,
        }
        with contextlib.suppress(websockets.ConnectionClosed):
            await ws.send(json.dumps(welcome))
            async for frame in ws:
                data = json.loads(frame)
                connection.frames.put_nowait(data)
                if self.answer and data["event_name"] == "sum_event":
                    result = {
                        "event_name": "sum_handler_result",
                        "payload": sum(data["payload"]["numbers"]),
                        "reply_to": data["id"],
                        "from_id": "server",
                        "to": connection.client_id,
                    }
                    await ws.send(json.dumps(result))


async def _first(waiting: Any, ws: ServerConnection) -> bool:
    """Wait for ``waiting`` or for ``ws`` to close; whether ``waiting`` came first."""
    wanted = asyncio.ensure_future(waiting)
    closed = asyncio.ensure_future(ws.wait_closed())
    await asyncio.wait({wanted, closed}, return_when=asyncio.FIRST_COMPLETED)
    for task in (wanted, closed):
        task.cancel()
    await asyncio.gather(wanted, closed, return_exceptions=True)
    return wanted.done() and not wanted.cancelled()


@pytest.fixture
async def server() -> AsyncIterator[FakeServer]:
    fake = FakeServer()
    await fake.start()
    yield fake
    if fake.hold_welcome is not None:
        fake.hold_welcome.set()
    await fake.stop()


@pytest.fixture
async def client(server: FakeServer) -> AsyncIterator[Client]:
    """A client with fast reconnects, connected to ``server``; its first connection is
    ``await server.connection()``."""
    connected = await Client(server.url, reconnect=FAST).connect()
    yield connected
    await asyncio.wait_for(connected.close(), TIMEOUT)


def state_of(client: Client) -> ClientState:
    """The client's state, read afresh (for mypy, which would keep what it saw last)."""
    return client.state


async def _ended(client: Client) -> None:
    await asyncio.wait_for(client.wait_closed(), TIMEOUT)
    assert state_of(client) is ClientState.CLOSED


async def _closed_error(client: Client) -> ConnectionClosedError:
    with pytest.raises(ConnectionClosedError) as info:
        await client.receive(timeout=TIMEOUT)
    return info.value


def _drop_by(code: int | None) -> Any:
    """A way for the server to end a connection: a close code, or ``None`` to cut it."""

    async def end(connection: Connection) -> None:
        if code is None:
            connection.drop()
        else:
            await connection.ws.close(code, "bye")

    return end


DROPS = [
    pytest.param(None, id="cut-1006"),
    pytest.param(1000, id="normal-1000"),
    pytest.param(1001, id="going-away-1001"),
    pytest.param(1011, id="internal-error-1011"),
    pytest.param(1012, id="restart-1012"),
    pytest.param(1013, id="try-later-1013"),
]


# -- reconnecting -----------------------------------------------------------------------------


@pytest.mark.parametrize("code", DROPS)
async def test_reconnects_after_a_drop_with_the_new_client_id(
    server: FakeServer, client: Client, code: int | None
) -> None:
    first = await server.connection()
    assert client.client_id == first.client_id
    await _drop_by(code)(first)
    second = await server.connection()
    result = await client.sum_event([1, 2], timeout=TIMEOUT)
    assert isinstance(result, SumHandlerResultMessage)
    assert result.payload == 3
    assert state_of(client) is ClientState.OPEN
    assert client.client_id == second.client_id != first.client_id
    assert (await second.recv())["event_name"] == "sum_event"


async def test_reconnects_again_and_again(server: FakeServer, client: Client) -> None:
    connection = await server.connection()
    for _ in range(3):
        connection.drop()
        connection = await server.connection()
        assert (await client.sum_event([2], timeout=TIMEOUT)).payload == 2
        assert client.client_id == connection.client_id


async def test_messages_sent_while_reconnecting_go_out_in_order_after_the_welcome(
    server: FakeServer, client: Client
) -> None:
    first = await server.connection()
    server.hold_welcome = asyncio.Event()
    first.drop()
    second = await server.connection()  # the client waits for its welcome
    assert state_of(client) is ClientState.RECONNECTING
    for n in range(5):
        await client.msg(f"m{n}", to="all")
    await client.send_raw(json.dumps({"event_name": "msg", "message": "raw"}))
    asking = asyncio.create_task(client.sum_event([2, 3], timeout=TIMEOUT))
    await asyncio.sleep(0)  # one turn of the loop: the request is buffered, and waits
    await client.msg("after the request")
    assert state_of(client) is ClientState.RECONNECTING
    server.hold_welcome.set()
    got = [await second.recv() for _ in range(8)]
    assert [frame.get("message") for frame in got] == [
        *(f"m{n}" for n in range(5)),
        "raw",
        None,
        "after the request",
    ]
    assert got[6]["event_name"] == "sum_event"
    assert (await asyncio.wait_for(asking, TIMEOUT)).payload == 5  # answered, not failed
    assert state_of(client) is ClientState.OPEN
    assert client.client_id == second.client_id
    assert first.frames.empty()


async def test_a_message_sent_as_the_connection_drops_is_held_not_lost(
    server: FakeServer, client: Client
) -> None:
    first = await server.connection()
    await first.ws.close(1012, "restart")  # the client's socket is closed when this returns
    await client.msg("in the gap")  # before or after the client noticed: held either way
    second = await server.connection()
    assert (await second.recv())["message"] == "in the gap"
    assert first.frames.empty()


async def test_a_full_send_buffer_raises_and_keeps_what_it_holds(server: FakeServer) -> None:
    client = Client(server.url, reconnect=Reconnect(initial_delay=0.01, buffer_size=3))
    async with client:
        first = await server.connection()
        server.hold_welcome = asyncio.Event()
        first.drop()
        second = await server.connection()
        for n in range(3):
            await client.msg(f"m{n}")
        with pytest.raises(SendBufferFullError) as info:
            await client.msg("one too many")
        assert info.value.buffer_size == 3
        with pytest.raises(SendBufferFullError):
            await client.sum_event([1], timeout=TIMEOUT)  # a request is refused as well
        server.hold_welcome.set()
        assert [(await second.recv())["message"] for _ in range(3)] == ["m0", "m1", "m2"]
        assert (await client.sum_event([4], timeout=TIMEOUT)).payload == 4
        assert (await second.recv())["event_name"] == "sum_event"  # nothing else came before


async def test_a_buffer_of_zero_refuses_while_reconnecting(server: FakeServer) -> None:
    async with Client(server.url, reconnect=Reconnect(buffer_size=0)) as client:
        first = await server.connection()
        server.hold_welcome = asyncio.Event()
        first.drop()
        await server.connection()
        with pytest.raises(SendBufferFullError):
            await client.msg("now")


# -- requests waiting for a reply --------------------------------------------------------------


@pytest.mark.parametrize("reconnect", [False, True], ids=["plain", "reconnecting"])
@pytest.mark.parametrize(
    ("code", "error_type"),
    [(None, ConnectionClosedError), (1012, ServerShutdownError), (1013, ServerOverloadedError)],
    ids=["cut", "1012", "1013"],
)
async def test_a_waiting_request_fails_at_once_when_the_connection_drops(
    server: FakeServer,
    reconnect: bool,
    code: int | None,
    error_type: type[ConnectionClosedError],
) -> None:
    server.answer = False
    client = Client(server.url, reconnect=FAST if reconnect else False, request_timeout=60)
    async with client:
        first = await server.connection()
        asking = asyncio.create_task(client.sum_event([1]))
        await first.recv()  # the request is out, and will never be answered
        await _drop_by(code)(first)
        with pytest.raises(ConnectionClosedError) as info:
            await asyncio.wait_for(asking, TIMEOUT)  # long before the 60 s request timeout
        assert type(info.value) is error_type
        assert info.value.code == (1006 if code is None else code)
        if reconnect:
            await server.connection()
            server.answer = True
            assert (await client.sum_event([7], timeout=TIMEOUT)).payload == 7


async def test_a_request_sent_from_the_buffer_fails_when_the_new_connection_drops(
    server: FakeServer, client: Client
) -> None:
    server.answer = False
    first = await server.connection()
    server.hold_welcome = asyncio.Event()
    first.drop()
    second = await server.connection()
    asking = asyncio.create_task(client.sum_event([1], timeout=60))
    await asyncio.sleep(0)  # one turn of the loop: the request is buffered, and waits
    server.hold_welcome.set()
    assert (await second.recv())["event_name"] == "sum_event"
    second.drop()
    with pytest.raises(ConnectionClosedError):
        await asyncio.wait_for(asking, TIMEOUT)
    third = await server.connection()
    server.answer = True
    assert (await client.sum_event([2], timeout=TIMEOUT)).payload == 2
    # The failed request went out once, on the connection that dropped, and not again.
    assert (await third.recv())["payload"] == {"numbers": [2]}


# -- giving up ----------------------------------------------------------------------------------


async def test_gives_up_after_max_attempts(server: FakeServer) -> None:
    policy = Reconnect(initial_delay=0.01, max_delay=0.02, max_attempts=3)
    client = await Client(server.url, reconnect=policy).connect()
    first = await server.connection()
    server.refuse_with = 503
    first.drop()
    await _ended(client)
    assert [server.refused.get_nowait() for _ in range(server.refused.qsize())] == [503] * 3
    error = await _closed_error(client)
    assert error.code == 1006
    assert isinstance(error.__cause__, ConnectRefusedError)
    assert error.__cause__.status == 503
    assert [message async for message in client] == []
    with pytest.raises(ConnectionClosedError):
        await client.msg("anyone?")
    await client.close()
    assert state_of(client) is ClientState.CLOSED


async def test_gives_up_when_nothing_listens_any_more(server: FakeServer) -> None:
    policy = Reconnect(initial_delay=0.01, max_delay=0.02, max_attempts=2)
    client = await Client(server.url, reconnect=policy).connect()
    await server.connection()
    await server.stop()  # closes the connection with 1001, then refuses TCP connections
    await _ended(client)
    error = await _closed_error(client)
    assert type(error) is ServerShutdownError
    assert error.code == 1001
    assert type(error.__cause__) is ConnectError
    assert error.__cause__.status is None
    await server.start()  # for the fixture's teardown


async def test_no_retry_after_policy_violation(server: FakeServer, client: Client) -> None:
    first = await server.connection()
    await first.ws.close(1008, "not allowed")
    await _ended(client)
    assert server.count == 1  # no second connection
    assert server.refused.empty()
    error = await _closed_error(client)
    assert type(error) is PolicyViolationError
    assert (error.code, error.reason) == (1008, "not allowed")


@pytest.mark.parametrize("status", [401, 403, 404])
async def test_no_retry_after_a_refused_handshake(
    server: FakeServer, client: Client, status: int
) -> None:
    first = await server.connection()
    server.refuse_with = status
    first.drop()
    assert await server.refusal() == status
    await _ended(client)
    assert server.refused.empty()  # one attempt, and no more
    error = await _closed_error(client)
    assert isinstance(error.__cause__, ConnectRefusedError)
    assert error.__cause__.status == status


async def test_no_retry_when_the_new_connection_closes_with_1008(
    server: FakeServer, client: Client
) -> None:
    first = await server.connection()
    server.close_with = (1008, "banned")
    first.drop()
    await server.connection()
    await _ended(client)
    assert server.count == 2
    error = await _closed_error(client)
    assert type(error) is PolicyViolationError
    assert error.reason == "banned"


async def test_retries_a_server_that_is_full_for_a_while(
    server: FakeServer, client: Client
) -> None:
    first = await server.connection()
    server.plan.extend([(1013, "full"), 503, (1013, "still full"), 503])
    first.drop()
    await server.connection()
    assert await server.refusal() == 503
    await server.connection()
    assert await server.refusal() == 503
    fourth = await server.connection()  # tried again each time, and welcomed at last
    assert (await client.sum_event([1, 1], timeout=TIMEOUT)).payload == 2
    assert client.client_id == fourth.client_id


# -- closing while reconnecting ------------------------------------------------------------------


async def test_close_while_waiting_to_retry(
    server: FakeServer, client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    first = await server.connection()
    server.refuse_with = 503
    first.drop()
    await server.refusal()  # it is reconnecting, and keeps trying
    assert state_of(client) is ClientState.RECONNECTING
    await client.msg("held")
    await client.msg("held too")
    asking = asyncio.create_task(client.sum_event([1], timeout=TIMEOUT))
    await asyncio.sleep(0)  # one turn of the loop: the request is buffered, and waits
    with caplog.at_level(logging.WARNING, logger="datadivr.client"):
        await asyncio.wait_for(client.close(), TIMEOUT)
    assert state_of(client) is ClientState.CLOSED
    assert any(
        "dropped" in r.getMessage() and getattr(r, "count", None) == 3 for r in caplog.records
    )
    with pytest.raises(ConnectionClosedError) as info:
        await asyncio.wait_for(asking, TIMEOUT)
    assert info.value.code == 1000
    assert client._reader is not None
    assert client._reader.done()
    assert not client._tasks
    with pytest.raises(ConnectionClosedError):
        await client.msg("after")
    await client.close()  # still idempotent


async def test_close_while_waiting_for_the_welcome(server: FakeServer, client: Client) -> None:
    first = await server.connection()
    server.hold_welcome = asyncio.Event()
    first.drop()
    second = await server.connection()
    assert state_of(client) is ClientState.RECONNECTING
    await asyncio.wait_for(client.close(), TIMEOUT)
    assert state_of(client) is ClientState.CLOSED
    await asyncio.wait_for(second.ws.wait_closed(), TIMEOUT)  # the new connection is not leaked
    assert client._reader is not None
    assert client._reader.done()
    assert [message async for message in client] == []


# -- close codes and refused handshakes ------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "error_type"),
    [
        (1000, ConnectionClosedError),
        (1001, ServerShutdownError),
        (1008, PolicyViolationError),
        (1009, MessageTooBigError),
        (1011, ConnectionClosedError),
        (1012, ServerShutdownError),
        (1013, ServerOverloadedError),
    ],
)
async def test_close_codes_raise_their_error(
    server: FakeServer, code: int, error_type: type[ConnectionClosedError]
) -> None:
    async with Client(server.url) as client:
        connection = await server.connection()
        await connection.ws.close(code, "why")
        await _ended(client)
        error = await _closed_error(client)
        assert type(error) is error_type
        assert (error.code, error.reason) == (code, "why")
        with pytest.raises(error_type):
            await client.msg("anyone?")


async def test_a_close_before_the_welcome_raises_its_error(server: FakeServer) -> None:
    server.close_with = (1013, "server full")
    client = Client(server.url, reconnect=True)
    with pytest.raises(ServerOverloadedError, match="server full"):
        await client.connect()
    assert state_of(client) is ClientState.CLOSED
    assert server.count == 1  # connect() itself does not retry


@pytest.mark.parametrize("status", [403, 503])
async def test_a_refused_handshake_carries_its_status(server: FakeServer, status: int) -> None:
    server.refuse_with = status
    client = Client(server.url, reconnect=True)
    with pytest.raises(ConnectRefusedError, match=f"HTTP {status}: go away") as info:
        await client.connect()
    assert isinstance(info.value, ConnectError)
    assert info.value.status == status
    assert state_of(client) is ClientState.CLOSED
    assert server.refused.qsize() == 1  # connect() itself does not retry


async def test_an_unreachable_server_has_no_status() -> None:
    with pytest.raises(ConnectError) as info:
        await Client("ws://127.0.0.1:9/ws", open_timeout=2).connect()
    assert info.value.status is None
    assert not isinstance(info.value, ConnectRefusedError)


# -- a real server restarting on the same port ------------------------------------------------------


class ClientEvents(logging.Handler):
    """The client's log events, to await: "connection lost: reconnecting", "reconnected" …"""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self._events: dict[str, asyncio.Event] = {}

    def _event(self, name: str) -> asyncio.Event:
        return self._events.setdefault(name, asyncio.Event())

    def emit(self, record: logging.LogRecord) -> None:
        self._event(record.getMessage()).set()  # the client logs from the test's own loop

    async def wait(self, name: str) -> None:
        await asyncio.wait_for(self._event(name).wait(), TIMEOUT)


@pytest.fixture
def client_events() -> Iterator[ClientEvents]:
    logger = logging.getLogger("datadivr.client")
    handler = ClientEvents()
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


class _ReadyServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.ready.set()


@contextlib.asynccontextmanager
async def uvicorn_on(port: int) -> AsyncIterator[str]:
    """A real datadivr server on ``port`` (a thread of its own); yields its URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)
    config = uvicorn.Config(
        create_app(), log_level="warning", ws="websockets-sansio", ws_per_message_deflate=False
    )
    server = _ReadyServer(config)
    thread = threading.Thread(
        target=lambda: asyncio.run(server.serve(sockets=[sock])), name="uvicorn", daemon=True
    )
    thread.start()
    try:
        assert await asyncio.to_thread(server.ready.wait, 10), "uvicorn did not start"
        yield f"ws://127.0.0.1:{sock.getsockname()[1]}/ws"
    finally:
        server.should_exit = True
        await asyncio.to_thread(thread.join, 10)  # the loop runs on: the client answers
        sock.close()


async def test_reconnects_to_a_restarted_server(client_events: ClientEvents) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = Client(
        f"ws://127.0.0.1:{port}/ws", reconnect=Reconnect(initial_delay=0.01, max_delay=0.2)
    )
    try:
        async with uvicorn_on(port):
            await client.connect()
            first_id = client.client_id
            assert (await client.sum_event([1, 2], timeout=TIMEOUT)).payload == 3
        await client_events.wait("connection lost: reconnecting")
        assert state_of(client) is ClientState.RECONNECTING
        await client_events.wait("reconnect attempt failed")  # nothing listens for a while
        async with uvicorn_on(port):
            await client_events.wait("reconnected")
            assert (await client.sum_event([3, 4], timeout=TIMEOUT)).payload == 7
            assert state_of(client) is ClientState.OPEN
            assert client.client_id is not None
            assert client.client_id != first_id
            await client.close()
    finally:
        await client.close()
