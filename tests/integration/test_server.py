"""The server over real sockets: a uvicorn server on a loopback port, real clients."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime, timezone
from typing import Any

import httpx
import pytest
import websockets
from fastapi import FastAPI

from datadivr import (
    ClientState,
    ConnectError,
    ConnectionClosedError,
    HandlerContext,
    HandlerError,
    HandlerType,
    InvalidStateError,
    Limits,
    Registry,
    RemoteError,
    RequestTimeoutError,
    create_app,
)
from datadivr.demo import (
    PROTOCOL,
    Client,
    MsgMessage,
    ObjectId,
    PongMessage,
    Quaternion,
    SceneObject,
    SceneUpdateMessage,
    SumEventMessage,
    SumEventPayload,
    SumHandlerResultMessage,
    Transform,
    Vector3,
    websocket_handler,
)
from tests.conftest import LiveServer

TIMEOUT = 5.0


async def raw_connect(server: LiveServer) -> tuple[websockets.ClientConnection, str]:
    """A plain websockets connection that knows nothing of datadivr, and its client id."""
    ws = await websockets.connect(server.url)
    welcome = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
    assert welcome["event_name"] == "welcome"
    return ws, welcome["payload"]["client_id"]


async def recv_json(ws: websockets.ClientConnection) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
    PROTOCOL.validate(data)  # everything the server sends is valid against the schema
    return data


async def test_health(live_server: LiveServer) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{live_server.http}/health")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "clients": 0,
        "schema_hash": PROTOCOL.schema_hash,
        "fingerprint": PROTOCOL.fingerprint,
        "broker": {"kind": "memory"},
    }


async def test_typed_sum_round_trip(live_server: LiveServer) -> None:
    async with Client(live_server.url) as client:
        assert client.state is ClientState.OPEN
        assert client.client_id
        result = await client.sum_event([1, 2, 3.5], timeout=TIMEOUT)
        assert isinstance(result, SumHandlerResultMessage)
        assert result.payload == 6.5
        assert result.from_id == "server"
        assert result.to == client.client_id
    assert client.state is ClientState.CLOSED


async def test_typed_ping_round_trip(live_server: LiveServer) -> None:
    sent_at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    async with Client(live_server.url) as client:
        pong = await client.ping(sent_at, nonce="abc", timeout=TIMEOUT)
    assert isinstance(pong, PongMessage)
    assert pong.payload.sent_at == sent_at
    assert pong.payload.nonce == "abc"
    assert pong.payload.received_at >= sent_at


async def test_typed_msg_and_scene_update_are_relayed(live_server: LiveServer) -> None:
    async with Client(live_server.url) as alice, Client(live_server.url) as bob:
        await alice.msg("hello bob", to="others")
        received = await bob.receive(timeout=TIMEOUT)
        assert isinstance(received, MsgMessage)
        assert (received.message, received.from_id) == ("hello bob", alice.client_id)

        scene_id = uuid.uuid4()
        cube = SceneObject(
            id="cube-1",
            kind="cube",
            transform=Transform(
                position=Vector3(x=1, y=2, z=3), rotation=Quaternion(x=0, y=0, z=0, w=1)
            ),
            color="#ff8800",
        )
        assert bob.client_id is not None
        await alice.scene_update(scene_id, 7, [cube], removed=[ObjectId("old-1")], to=bob.client_id)
        update = await bob.receive(timeout=TIMEOUT)
        assert isinstance(update, SceneUpdateMessage)
        assert update.payload.scene_id == scene_id
        assert update.payload.objects == [cube]
        assert update.payload.removed == [ObjectId("old-1")]


async def test_remote_error_is_raised_by_request(live_server: LiveServer) -> None:
    async with Client(live_server.url) as client:
        with pytest.raises(RemoteError) as info:
            await client.sum_event([1e308, 1e308], timeout=TIMEOUT)
    assert info.value.code == "handler_error"


async def test_routing_rules(live_server: LiveServer) -> None:
    a, a_id = await raw_connect(live_server)
    b, b_id = await raw_connect(live_server)
    c, c_id = await raw_connect(live_server)
    try:
        # others: everyone but the sender
        await a.send(json.dumps({"event_name": "msg", "message": "to others"}))
        for ws in (b, c):
            message = await recv_json(ws)
            assert (message["message"], message["from_id"]) == ("to others", a_id)
        # all: the sender too
        await a.send(json.dumps({"event_name": "msg", "message": "to all", "to": "all"}))
        for ws in (a, b, c):
            assert (await recv_json(ws))["message"] == "to all"
        # one client id, with a forged from_id overwritten
        await a.send(
            json.dumps({"event_name": "msg", "message": "to c", "to": c_id, "from_id": b_id})
        )
        message = await recv_json(c)
        assert (message["message"], message["from_id"]) == ("to c", a_id)
        # nobody else got anything: a ping to each proves their queues are empty
        for ws in (a, b):
            await ws.send(
                json.dumps({"event_name": "ping", "payload": {"sent_at": "2026-01-01T00:00:00Z"}})
            )
            assert (await recv_json(ws))["event_name"] == "pong"
    finally:
        for ws in (a, b, c):
            await ws.close()


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("not json", "invalid_json"),
        ("[1]", "invalid_message"),
        ('{"payload": 1}', "invalid_message"),
        ('{"event_name": "nope"}', "unknown_event"),
        ('{"event_name": "sum_handler_result", "payload": 1}', "wrong_direction"),
        ('{"event_name": "sum_event", "payload": {"numbers": ["1"]}}', "validation_error"),
        ('{"event_name": "msg", "message": "x", "to": "nobody"}', "unknown_recipient"),
        ('{"event_name": "msg", "message": "x", "to": "server"}', "no_handler"),
    ],
)
async def test_error_rules_keep_the_connection_open(
    live_server: LiveServer, raw: str, code: str
) -> None:
    ws, _ = await raw_connect(live_server)
    bystander, _ = await raw_connect(live_server)
    try:
        await ws.send(raw)
        error = await recv_json(ws)
        assert error["event_name"] == "error"
        assert error["payload"]["code"] == code
        # still open, still served
        await ws.send(json.dumps({"event_name": "sum_event", "payload": {"numbers": [2, 2]}}))
        assert (await recv_json(ws))["payload"] == 4
        # the bystander saw nothing of it
        await bystander.send(json.dumps({"event_name": "sum_event", "payload": {"numbers": [1]}}))
        assert (await recv_json(bystander))["event_name"] == "sum_handler_result"
    finally:
        await ws.close()
        await bystander.close()


async def test_binary_frames_get_an_error(live_server: LiveServer) -> None:
    ws, _ = await raw_connect(live_server)
    try:
        await ws.send(b'{"event_name": "msg", "message": "x"}')
        error = await recv_json(ws)
        assert error["payload"]["code"] == "invalid_message"
    finally:
        await ws.close()


async def test_validation_error_details_over_the_wire(live_server: LiveServer) -> None:
    ws, _ = await raw_connect(live_server)
    try:
        await ws.send(
            json.dumps({"event_name": "sum_event", "payload": {"numbers": [1, True]}, "id": "r1"})
        )
        error = await recv_json(ws)
        assert error["reply_to"] == "r1"
        assert error["payload"]["details"][0]["path"] == "$.payload.numbers[1]"
    finally:
        await ws.close()


async def test_application_handlers_and_client_handlers(
    live_server: LiveServer, registry: Registry
) -> None:
    @websocket_handler("msg", HandlerType.SERVER, registry=registry)
    async def echo_upper(message: MsgMessage, ctx: HandlerContext) -> MsgMessage:
        return MsgMessage(message=f"{ctx.client_id}: {message.message.upper()}")

    @websocket_handler("sum_event", HandlerType.SERVER, registry=registry)
    async def broken(message: SumEventMessage) -> SumHandlerResultMessage:
        raise KeyError("internal detail")

    async with Client(live_server.url) as client:
        await client.msg("hi", to="server")
        answer = await client.receive(timeout=TIMEOUT)
        assert isinstance(answer, MsgMessage)
        assert answer.message == f"{client.client_id}: HI"
        with pytest.raises(RemoteError) as info:
            await client.sum_event([1], timeout=TIMEOUT)
        assert info.value.code == "internal_error"
        assert "internal detail" not in str(info.value)


async def test_client_handler_answers_are_sent_back(live_server: LiveServer) -> None:
    async with Client(live_server.url) as responder, Client(live_server.url) as asker:
        assert responder.client_id is not None

        @responder.on("msg")
        async def answer(message: MsgMessage, ctx: HandlerContext) -> MsgMessage:
            assert ctx.side is HandlerType.CLIENT
            assert ctx.client_id == responder.client_id
            return MsgMessage(message=f"re: {message.message}")

        question = MsgMessage(message="anyone?", to=responder.client_id)
        reply = await asker.request(question, MsgMessage, timeout=TIMEOUT)
        assert reply.message == "re: anyone?"
        assert reply.from_id == responder.client_id
        assert reply.to == asker.client_id


async def test_request_timeout(live_server: LiveServer) -> None:
    async with Client(live_server.url) as client, Client(live_server.url) as silent:
        assert silent.client_id is not None
        question = MsgMessage(message="anyone?", to=silent.client_id)
        with pytest.raises(RequestTimeoutError):
            await client.request(question, MsgMessage, timeout=0.2)
        assert isinstance(await silent.receive(timeout=TIMEOUT), MsgMessage)


async def test_client_states(live_server: LiveServer) -> None:
    client = Client(live_server.url)
    assert client.state is ClientState.IDLE
    with pytest.raises(InvalidStateError, match="expected open"):
        await client.msg("too early")
    await client.connect()
    with pytest.raises(InvalidStateError, match="expected idle"):
        await client.connect()
    await client.close()
    await client.close()
    assert client.state is ClientState.CLOSED
    with pytest.raises(ConnectionClosedError) as info:  # closed, with the code it closed with
        await client.send(SumEventMessage(payload=SumEventPayload(numbers=[1])))
    assert info.value.code == 1000
    with pytest.raises(ConnectionClosedError):
        await client.receive(timeout=TIMEOUT)


async def test_connect_to_nothing_fails_cleanly() -> None:
    client = Client("ws://127.0.0.1:9/ws", open_timeout=2)
    with pytest.raises(ConnectError, match="cannot connect"):
        await client.connect()
    assert client.state is ClientState.CLOSED
    for url in ("not-a-url", "http://127.0.0.1:9/ws"):
        with pytest.raises(ConnectError):
            await Client(url, open_timeout=2).connect()


async def test_many_clients_broadcast_counts(live_server: LiveServer) -> None:
    clients = [await Client(live_server.url).connect() for _ in range(10)]
    try:
        for i, client in enumerate(clients):
            for n in range(20):
                await client.msg(f"{i}:{n}", to="others")
        for client in clients:
            got = [await client.receive(timeout=TIMEOUT) for _ in range(9 * 20)]
            assert len({m.message for m in got}) == 9 * 20
            assert all(m.from_id != client.client_id for m in got)
    finally:
        await asyncio.gather(*(c.close() for c in clients))


async def test_a_stalled_reader_is_disconnected_and_others_carry_on(
    serve_app: Callable[[FastAPI], AbstractContextManager[LiveServer]],
) -> None:
    count, text = 400, "x" * 32_000
    with serve_app(create_app(limits=Limits(queue_size=8))) as server:
        # A client that never reads: its library stops reading from TCP, the socket fills up,
        # then its queue on the server.
        stalled, stalled_id = await raw_connect(server)
        async with Client(server.url) as sender, Client(server.url) as listener:
            got: list[str] = []
            for batch in range(0, count, 4):  # the listener keeps up: at most 4 waiting for it
                for n in range(batch, batch + 4):
                    await sender.msg(f"{n}:{text}", to="others")
                for _ in range(4):
                    message = await listener.receive(timeout=TIMEOUT)
                    assert isinstance(message, MsgMessage)
                    got.append(message.message.split(":")[0])
            assert got == [str(n) for n in range(count)]
            # Its queue overflowed long ago: it has left the routing by now, without waiting
            # for any timeout (the eviction is one task of the server's loop, queued at once).
            connections = server.app.state.server.connections
            assert stalled_id not in connections, "the stalled client was not cut off"
            assert len(connections) == 2
            # the stalled client is gone from routing: a direct message to it is refused
            with pytest.raises(RemoteError) as info:
                await sender.request(
                    MsgMessage(message="still there?", to=stalled_id), timeout=TIMEOUT
                )
            assert info.value.code == "unknown_recipient"
        # and it was told why, once it reads what is left
        frames = 0
        with contextlib.suppress(websockets.ConnectionClosed):
            while frames < count:
                await asyncio.wait_for(stalled.recv(), TIMEOUT)
                frames += 1
        assert frames < count  # it did not get everything: it was cut off
        assert stalled.close_code == 1013
        assert "too slow" in (stalled.close_reason or "")


async def test_a_handler_may_close_its_client(live_server: LiveServer) -> None:
    async with Client(live_server.url) as sender:
        client = await Client(live_server.url).connect()
        closed = asyncio.Event()

        @client.on("msg")
        async def bye(message: MsgMessage) -> None:
            await client.close()
            closed.set()

        assert client.client_id is not None
        await sender.msg("bye", to=client.client_id)
        await asyncio.wait_for(closed.wait(), TIMEOUT)
        assert client.state is ClientState.CLOSED


async def test_side_messages_do_not_answer_the_request(
    live_server: LiveServer, registry: Registry
) -> None:
    @websocket_handler("sum_event", HandlerType.SERVER, registry=registry)
    async def chatty(message: SumEventMessage, ctx: HandlerContext) -> SumHandlerResultMessage:
        await ctx.send(MsgMessage(message="working on it"))  # to the sender, not a reply
        await ctx.send(MsgMessage(message="someone is summing", to="others"))
        return SumHandlerResultMessage(payload=sum(message.payload.numbers))

    async with Client(live_server.url) as client, Client(live_server.url) as bystander:
        result = await client.sum_event([1, 2], timeout=TIMEOUT)
        assert result.payload == 3
        progress = await client.receive(timeout=TIMEOUT)
        assert isinstance(progress, MsgMessage)
        assert (progress.message, progress.reply_to) == ("working on it", None)
        notice = await bystander.receive(timeout=TIMEOUT)
        assert isinstance(notice, MsgMessage)
        assert (notice.message, notice.reply_to) == ("someone is summing", None)


async def test_a_side_message_carrying_the_request_s_id_does_not_answer_it(
    live_server: LiveServer, registry: Registry
) -> None:
    # Progress notes that name the request they are about: only the expected answer (or an
    # error) settles the request; the notes reach the inbox as ordinary messages.
    @websocket_handler("sum_event", HandlerType.SERVER, registry=registry)
    async def chatty(message: SumEventMessage, ctx: HandlerContext) -> SumHandlerResultMessage:
        await ctx.send(MsgMessage(message="working on it", reply_to=message.id))
        await ctx.send(MsgMessage(message="almost there", reply_to=message.id))
        return SumHandlerResultMessage(payload=sum(message.payload.numbers))

    async with Client(live_server.url) as client:
        result = await client.sum_event([1, 2], timeout=TIMEOUT)
        assert isinstance(result, SumHandlerResultMessage)
        assert result.payload == 3
        progress = await client.receive(timeout=TIMEOUT)
        assert isinstance(progress, MsgMessage)
        assert progress.message == "working on it"
        assert progress.reply_to == result.reply_to
        second = await client.receive(timeout=TIMEOUT)
        assert isinstance(second, MsgMessage)
        assert (second.message, second.reply_to) == ("almost there", result.reply_to)


async def test_a_waiting_handler_holds_up_nothing_sent_to_its_client(
    live_server: LiveServer, registry: Registry
) -> None:
    # A client's answers are written by the reader that handled its frame, once the handler
    # is done; what the handler sends before it waits, and what others send meanwhile, must
    # not wait for it.
    release = threading.Event()

    @websocket_handler("sum_event", HandlerType.SERVER, registry=registry)
    async def slow(message: SumEventMessage, ctx: HandlerContext) -> SumHandlerResultMessage:
        await ctx.send(MsgMessage(message="started"))
        await asyncio.to_thread(release.wait, TIMEOUT)
        return SumHandlerResultMessage(payload=sum(message.payload.numbers))

    async with Client(live_server.url) as client, Client(live_server.url) as other:
        assert client.client_id is not None
        request = asyncio.create_task(client.sum_event([1, 2], timeout=TIMEOUT))
        try:
            started = await client.receive(timeout=TIMEOUT)
            assert isinstance(started, MsgMessage)
            assert started.message == "started"
            await other.msg("meanwhile", to=client.client_id)
            relayed = await client.receive(timeout=TIMEOUT)
            assert isinstance(relayed, MsgMessage)
            assert relayed.message == "meanwhile"
            assert not request.done()
        finally:
            release.set()
        assert (await request).payload == 3


async def test_errors_stay_valid_whatever_the_handler_raises(
    live_server: LiveServer, registry: Registry
) -> None:
    class Forbidden(HandlerError):
        code = "forbidden"  # not an error code of the schema

    @websocket_handler("msg", HandlerType.SERVER, registry=registry)
    async def strict(message: MsgMessage) -> None:
        if message.message == "long":
            raise HandlerError("x" * 70_000)
        if message.message == "surrogate":
            raise HandlerError("bad input: \udcff")
        raise Forbidden("not for you")

    ws, _ = await raw_connect(live_server)
    try:
        for text, code in [
            ("other", "handler_error"),
            ("long", "handler_error"),
            ("surrogate", "handler_error"),
        ]:
            await ws.send(
                json.dumps({"event_name": "msg", "message": text, "to": "server", "id": text})
            )
            error = await recv_json(ws)  # valid against the schema, or this fails
            assert (error["payload"]["code"], error["reply_to"]) == (code, text)
            assert len(error["message"]) <= 4096
        # an echo of a huge unknown event name is clipped too
        await ws.send(json.dumps({"event_name": "e" * 70_000}))
        error = await recv_json(ws)
        assert error["payload"]["code"] == "unknown_event"
        assert len(error["message"]) < 200
    finally:
        await ws.close()


async def test_request_ids_must_be_unique_while_waiting(live_server: LiveServer) -> None:
    async with Client(live_server.url) as client, Client(live_server.url) as silent:
        assert silent.client_id is not None
        question = MsgMessage(message="?", to=silent.client_id, id="same")
        waiting = asyncio.create_task(client.request(question, MsgMessage, timeout=TIMEOUT))
        await silent.receive(timeout=TIMEOUT)
        with pytest.raises(InvalidStateError, match="already waiting"):
            await client.request(question, MsgMessage, timeout=TIMEOUT)
        waiting.cancel()


async def test_send_after_the_server_closed(live_server: LiveServer) -> None:
    client = await Client(live_server.url).connect()
    server = live_server.app.state.server
    connection = server.connections[client.client_id]
    await asyncio.wrap_future(
        asyncio.run_coroutine_threadsafe(
            connection.transport.close(1001, "going away"), _server_loop(connection)
        )
    )
    await client.wait_closed()
    with pytest.raises(ConnectionClosedError) as info:
        await client.msg("anyone?")
    assert (info.value.code, info.value.reason) == (1001, "going away")
    await client.close()


def _server_loop(connection: Any) -> asyncio.AbstractEventLoop:
    loop: asyncio.AbstractEventLoop = connection.writer.get_loop()
    return loop


def test_inbox_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="inbox_size"):
        Client("ws://127.0.0.1:9/ws", inbox_size=0)


async def test_a_client_that_sends_faster_than_it_reads_is_slowed_not_dropped(
    serve_app: Callable[[FastAPI], AbstractContextManager[LiveServer]],
) -> None:
    """500 requests at once, answers read only afterwards, against a queue of 16: the server
    stops reading from that client while its answers wait, rather than disconnect it."""
    with serve_app(create_app(limits=Limits(queue_size=16))) as server:
        ws, _ = await raw_connect(server)
        for n in range(500):
            frame = {"event_name": "sum_event", "id": str(n), "payload": {"numbers": [n]}}
            await ws.send(json.dumps(frame))
        for n in range(500):
            answer = await recv_json(ws)
            assert (answer["event_name"], answer["reply_to"], answer["payload"]) == (
                "sum_handler_result",
                str(n),
                n,
            )
        await ws.close()
