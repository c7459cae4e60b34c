"""The lane (``datadivr.server._lane``): under uvicorn's sans-I/O WebSocket protocol, whether
datadivr's own (``datadivr serve``) or uvicorn's as ``uvicorn module:app`` runs it, frames are
handled in the callback that read them and answers written straight to the socket; everything
else keeps the ASGI path. Over real sockets: which path a connection takes, compression, order
across handlers that wait, frames that arrive before the lane, fragments, pings, invalid
UTF-8, and a handler that waits for its own client."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from types import ModuleType
from typing import Any

import pytest
import uvicorn
import websockets
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection

from datadivr import (
    ClientInfo,
    HandlerContext,
    HandlerType,
    InvalidStateError,
    Registry,
    create_app,
)
from datadivr.demo import PingMessage, PongMessage, PongPayload
from datadivr.server._connection import Connection
from tests.case_protocols import case_package
from tests.conftest import LiveServer
from tests.integration.hostile import raw_connect

TIMEOUT = 10
ServeApp = Callable[[FastAPI], AbstractContextManager[LiveServer]]


@contextlib.contextmanager
def uvicorn_defaults(app: FastAPI, **options: Any) -> Iterator[LiveServer]:
    """``app`` under uvicorn with its own protocols and defaults, as ``uvicorn module:app``
    runs it (per-message compression offered, uvicorn's WebSocket protocol)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    started = threading.Event()

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            started.set()

    server = Server(uvicorn.Config(app, log_level="warning", **options))
    thread = threading.Thread(
        target=lambda: asyncio.run(server.serve(sockets=[sock])), name="uvicorn", daemon=True
    )
    thread.start()
    assert started.wait(10), "uvicorn did not start"
    try:
        yield LiveServer(app, sock.getsockname()[1])
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def connection_of(app: FastAPI, client_id: str) -> Connection[Any]:
    connection: Connection[Any] = app.state.server.connections[client_id]
    return connection


async def welcome(ws: ClientConnection) -> str:
    frame = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
    assert frame["event_name"] == "welcome"
    client_id: str = frame["payload"]["client_id"]
    return client_id


async def sums(ws: ClientConnection, count: int) -> None:
    """Send ``count`` sums at once, then read their answers, in order."""
    for i in range(count):
        frame = {"event_name": "sum_event", "payload": {"numbers": [i, 1]}, "id": f"s{i}"}
        await ws.send(json.dumps(frame))
    for i in range(count):
        answer = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        assert (answer["event_name"], answer["reply_to"], answer["payload"]) == (
            "sum_handler_result",
            f"s{i}",
            i + 1,
        )


@pytest.mark.parametrize(
    ("server", "compression", "plain"),
    [
        ("datadivr", None, True),
        ("uvicorn", "deflate", False),
        ("uvicorn", None, True),
    ],
    ids=["datadivr-protocol", "uvicorn-compressed", "uvicorn-uncompressed"],
)
async def test_a_connection_takes_the_lane(
    serve_app: ServeApp, server: str, compression: str | None, plain: bool
) -> None:
    app = create_app(explorer=False)
    serving = serve_app(app) if server == "datadivr" else uvicorn_defaults(app)
    with serving as live:
        async with websockets.connect(live.url, compression=compression) as ws:
            client_id = await welcome(ws)
            await sums(ws, 50)
            lane = connection_of(app, client_id).lane
            assert lane is not None
            assert lane.plain is plain  # compressed frames go through websockets' writer
            await ws.send(b"\x00binary")
            refused = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
            assert refused["payload"]["code"] == "invalid_message"
            await asyncio.wait_for(await ws.ping(b"lane"), TIMEOUT)  # uvicorn's pong
            # A message in fragments, assembled in order.
            await ws.send(
                ['{"event_name": "sum_', 'event", "payload": {"numbers": [2, 3]},', ' "id": "f"}']
            )
            answer = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
            assert (answer["reply_to"], answer["payload"]) == ("f", 5)


async def test_a_middleware_that_wraps_receive_keeps_the_asgi_path(serve_app: ServeApp) -> None:
    app = create_app(explorer=False)
    seen: list[str] = []

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        async def receive_and_note() -> Any:
            event = await receive()
            seen.append(event["type"])
            return event

        await inner(scope, receive_and_note, send)

    inner = app.build_middleware_stack()
    app.middleware_stack = wrapped
    with serve_app(app) as live:
        async with websockets.connect(live.url) as ws:
            client_id = await welcome(ws)
            await sums(ws, 10)
            assert connection_of(app, client_id).lane is None
    assert seen.count("websocket.receive") == 10  # every frame went through the middleware


async def test_frames_wait_in_order_for_a_handler_that_waits(serve_app: ServeApp) -> None:
    """Pings wait in their handler; the sums behind them, handled at once otherwise, are
    answered after them, in the order sent."""
    registry = Registry()

    async def slow_ping(message: PingMessage) -> PongMessage:
        await asyncio.sleep(0.002)
        return PongMessage(
            payload=PongPayload(
                sent_at=message.payload.sent_at,
                received_at=message.payload.sent_at,
                nonce=message.payload.nonce,
            )
        )

    registry.register("ping", HandlerType.SERVER, slow_ping)
    app = create_app(registry=registry, explorer=False)
    with serve_app(app) as live:
        async with websockets.connect(live.url) as ws:
            client_id = await welcome(ws)
            sent: list[str] = []
            for i in range(90):
                frame: dict[str, Any] = (
                    {"event_name": "ping", "payload": {"sent_at": "2026-01-01T00:00:00Z"}}
                    if i % 3 == 0
                    else {"event_name": "sum_event", "payload": {"numbers": [i]}}
                )
                frame["id"] = f"m{i}"
                sent.append(frame["id"])
                await ws.send(json.dumps(frame))  # not waiting for answers: they pile up
            answered = [
                json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))["reply_to"] for _ in sent
            ]
            assert answered == sent
            assert connection_of(app, client_id).lane is not None


async def test_frames_sent_during_on_connect_are_taken_first_in_order(
    serve_app: ServeApp,
) -> None:
    """Frames that arrive while the ``on_connect`` hooks run are read by uvicorn for the
    application before the lane takes the socket: the lane takes them first."""
    registry = Registry()
    hooked: list[str] = []

    @registry.on_connect
    async def slow_hook(client: ClientInfo, ctx: HandlerContext) -> None:
        await asyncio.sleep(0.3)
        hooked.append(client.client_id)

    app = create_app(registry=registry, explorer=False)
    with serve_app(app) as live:
        async with websockets.connect(live.url) as ws:
            client_id = await welcome(ws)
            await sums(ws, 20)  # sent at once, while the hook sleeps
            assert connection_of(app, client_id).lane is not None
    assert hooked == [client_id]


def _masked(opcode: int, payload: bytes, *, fin: bool = True) -> bytes:
    """A client's frame (masked, RFC 6455 5.3)."""
    mask = os.urandom(4)
    head = bytes([(0x80 if fin else 0) | opcode])
    size = len(payload)
    if size < 126:
        head += bytes([0x80 | size])
    elif size < 65536:
        head += bytes([0x80 | 126]) + struct.pack("!H", size)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", size)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


async def test_invalid_utf8_closes_with_1007_and_others_carry_on(serve_app: ServeApp) -> None:
    app = create_app(explorer=False)
    with serve_app(app) as live:
        async with websockets.connect(live.url) as bystander:
            await welcome(bystander)
            raw = await raw_connect(live.url)
            try:
                good = b'{"event_name": "sum_event", "payload": {"numbers": [1]}, "id": "a"}'
                # One write: a valid frame, then a text frame that is no UTF-8.
                await asyncio.get_running_loop().sock_sendall(
                    raw.sock, _masked(1, good) + _masked(1, b'"\xff\xfe"')
                )
                opcode, payload = await asyncio.wait_for(raw.read_frame(), TIMEOUT)
                assert (opcode, json.loads(payload)["reply_to"]) == (1, "a")
                opcode, payload = await asyncio.wait_for(raw.read_frame(), TIMEOUT)
                assert opcode == 8
                assert struct.unpack("!H", payload[:2])[0] == 1007
            finally:
                raw.abort(reset=False)
            await sums(bystander, 3)


@pytest.fixture(scope="module")
def proto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    with case_package("server_request", tmp_path_factory.mktemp("proto")) as package:
        yield package


async def test_a_handler_that_waited_may_not_wait_for_its_own_client(
    proto: ModuleType, serve_app: ServeApp
) -> None:
    """A handler that waited for something (and so goes on in the lane's task) still may not
    wait for its own client's answer, which would be read only once it returns."""
    registry = Registry()
    raised: list[BaseException] = []

    async def plug_in(message: Any, ctx: HandlerContext) -> Any:
        await asyncio.sleep(0)
        start = proto.ChargeStartMessage(payload=proto.ChargeStartPayload(connector=1))
        try:
            await ctx.request(message.payload.charger, start, timeout=2)
        except Exception as exc:  # what a handler sees
            raised.append(exc)
        return proto.PlugInResultMessage(payload=proto.PlugInResultPayload(started=False))

    registry.register("plug_in", HandlerType.SERVER, plug_in)
    app = create_app(protocol=proto.PROTOCOL, registry=registry, explorer=False)
    with serve_app(app) as live:
        async with proto.Client(live.url) as client:
            result = await client.plug_in(client.client_id, 1)
            assert result.payload.started is False
    assert len(raised) == 1
    assert isinstance(raised[0], InvalidStateError), raised


def _stream(sizes: list[int]) -> tuple[bytes, list[str], int]:
    """Client frames, as one byte stream: a sum of each size in ``sizes`` (padded to about
    that many bytes, so that 7-bit, 16-bit and 64-bit lengths all occur), each fifth one in
    three fragments with a ping between them, and a ping after each seventh; the ids that must
    be answered, in order, and the pings sent."""
    data = b""
    ids: list[str] = []
    pings = 0
    for i, size in enumerate(sizes):
        frame = {"event_name": "sum_event", "payload": {"numbers": [i]}, "id": f"x{i}"}
        text = json.dumps(frame)
        text = text[:-1] + " " * max(0, size - len(text)) + "}"  # whitespace pads
        body = text.encode()
        ids.append(f"x{i}")
        if i % 5 == 4:
            a, b = len(body) // 3, 2 * len(body) // 3
            data += _masked(1, body[:a], fin=False)
            data += _masked(9, b"between")
            pings += 1
            data += _masked(0, body[a:b], fin=False) + _masked(0, body[b:])
        else:
            data += _masked(1, body)
        if i % 7 == 6:
            data += _masked(9, f"p{i}".encode())
            pings += 1
    return data, ids, pings


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64, 1000, 70_000])
async def test_a_stream_cut_anywhere_reads_the_same(serve_app: ServeApp, chunk: int) -> None:
    """Frames of every length class, fragments and pings between them, written in pieces of
    ``chunk`` bytes (a header cut in two, a mask cut in two …): every message answered in
    order, every ping answered."""
    sizes = [10, 125, 126, 200, 65_535, 65_536, 70_000, 30, 1_000, 126, 5, 300, 65_600, 40]
    data, ids, pings = _stream(sizes)
    app = create_app(explorer=False)
    with serve_app(app) as live:
        raw = await raw_connect(live.url)
        try:
            loop = asyncio.get_running_loop()
            for at in range(0, len(data), chunk):
                await loop.sock_sendall(raw.sock, data[at : at + chunk])
                if chunk < 64 and at % 4096 == 0:
                    await asyncio.sleep(0)  # let the server read pieces this small
            answered: list[str] = []
            pongs = 0
            while len(answered) < len(ids) or pongs < pings:
                opcode, payload = await asyncio.wait_for(raw.read_frame(), TIMEOUT)
                if opcode == 10:
                    pongs += 1
                else:
                    assert opcode == 1, (opcode, payload[:100])
                    answer = json.loads(payload)
                    assert answer["event_name"] == "sum_handler_result", answer
                    answered.append(answer["reply_to"])
            assert answered == ids
            assert pongs == pings
            assert connection_of(app, raw.client_id).lane is not None
        finally:
            raw.abort(reset=False)


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (bytes([0x81, 0x05]) + b"hello", 1002),  # not masked
        (bytes([0xC1]) + _masked(1, b"{}")[1:], 1002),  # RSV1 without an extension
        (_masked(0, b"{}"), 1002),  # a continuation of nothing
        (_masked(1, b"x" * 1_048_577), 1009),  # over the frame size limit
        (_masked(9, b"p" * 126), 1002),  # a control frame over 125 bytes
        (_masked(3, b"{}"), 1002),  # a reserved opcode
    ],
    ids=["unmasked", "rsv1", "stray-continuation", "too-large", "long-ping", "reserved-opcode"],
)
async def test_a_broken_frame_after_good_ones_closes_after_their_answers(
    serve_app: ServeApp, frame: bytes, code: int
) -> None:
    """A frame that breaks the protocol, in one write after two good ones: both answered,
    then the close with websockets' code; a bystander carries on."""
    app = create_app(explorer=False)
    with serve_app(app) as live:
        async with websockets.connect(live.url) as bystander:
            await welcome(bystander)
            raw = await raw_connect(live.url)
            try:
                good = [
                    _masked(
                        1,
                        json.dumps(
                            {"event_name": "sum_event", "payload": {"numbers": [n]}, "id": f"g{n}"}
                        ).encode(),
                    )
                    for n in range(2)
                ]
                await asyncio.get_running_loop().sock_sendall(raw.sock, b"".join(good) + frame)
                for n in range(2):
                    opcode, payload = await asyncio.wait_for(raw.read_frame(), TIMEOUT)
                    assert (opcode, json.loads(payload)["reply_to"]) == (1, f"g{n}")
                opcode, payload = await asyncio.wait_for(raw.read_frame(), TIMEOUT)
                assert opcode == 8
                assert struct.unpack("!H", payload[:2])[0] == code
            finally:
                raw.abort(reset=False)
            await sums(bystander, 3)
