"""The limits over real sockets: frame size, nesting, rate, large frames beside small ones,
half-open peers."""

from __future__ import annotations

import asyncio
import json
import socket
import statistics
import time
from collections.abc import Callable
from contextlib import AbstractContextManager

import httpx
import pytest
import uvicorn
import websockets
from fastapi import FastAPI

import datadivr.server._server
from datadivr import Limits, create_app
from datadivr.demo import PROTOCOL, Client, SumHandlerResultMessage
from tests.conftest import LiveServer
from tests.integration.hostile import raw_connect

TIMEOUT = 10.0
ServeApp = Callable[[FastAPI], AbstractContextManager[LiveServer]]


async def welcomed(url: str, **options: object) -> websockets.ClientConnection:
    ws = await websockets.connect(url, max_size=None, **options)  # type: ignore[arg-type]
    welcome = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
    assert welcome["event_name"] == "welcome"
    return ws


async def close_code_after(ws: websockets.ClientConnection, frame: str | bytes) -> int | None:
    await ws.send(frame)
    for _ in range(100):  # whatever was in flight, then the close
        try:
            await asyncio.wait_for(ws.recv(), TIMEOUT)
        except websockets.ConnectionClosed:
            return ws.close_code
    raise AssertionError("the connection stayed open")


async def test_a_frame_over_the_limit_closes_its_connection_with_1009(
    serve_app: ServeApp,
) -> None:
    with serve_app(create_app(limits=Limits(max_frame_size=4096))) as server:
        bystander = await welcomed(server.url)
        big = await welcomed(server.url)
        message = json.dumps({"event_name": "msg", "message": "x" * 4000, "payload": None})
        assert len(message) <= 4096
        await big.send(message)  # at the limit: relayed
        assert json.loads(await asyncio.wait_for(bystander.recv(), TIMEOUT))["message"] == (
            "x" * 4000
        )
        assert await close_code_after(big, "x" * 4097) == 1009
        binary = await welcomed(server.url)
        assert await close_code_after(binary, b"\0" * 4097) == 1009
        # the bystander carries on
        await bystander.send(json.dumps({"event_name": "sum_event", "payload": {"numbers": [1]}}))
        answer = json.loads(await asyncio.wait_for(bystander.recv(), TIMEOUT))
        assert answer["event_name"] == "sum_handler_result"
        await bystander.close()


async def test_the_app_enforces_the_frame_size_under_any_asgi_server(
    serve_app: ServeApp,
) -> None:
    """Under a server configured without the app's limit (uvicorn's own 16 MiB), the app
    still closes an oversized frame's connection with 1009."""
    app = create_app(limits=Limits(max_frame_size=1000))
    config = uvicorn.Config(app, log_level="warning", ws="websockets-sansio")
    assert config.ws_max_size > 1000
    import threading

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    port = sock.getsockname()[1]
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve([sock])), daemon=True)
    thread.start()
    try:
        for _ in range(200):
            if server.started:
                break
            await asyncio.sleep(0.025)
        ws = await welcomed(f"ws://127.0.0.1:{port}/ws")
        assert await close_code_after(ws, "é" * 501) == 1009  # 1002 bytes
        ok = await welcomed(f"ws://127.0.0.1:{port}/ws")
        await ok.send("é" * 499)  # 998 bytes: not JSON, but within the limit
        error = json.loads(await asyncio.wait_for(ok.recv(), TIMEOUT))
        assert error["payload"]["code"] == "invalid_json"
        await ok.close()
    finally:
        server.should_exit = True
        thread.join(TIMEOUT)
        sock.close()


async def test_nesting_and_element_limits_over_the_wire(serve_app: ServeApp) -> None:
    with serve_app(create_app(limits=Limits(max_depth=5, max_items=100))) as server:
        ws = await welcomed(server.url)
        scene = {
            "scene_id": "6f1c1c5e-8d7b-4b7e-9a51-3f6f2b1d9c10",
            "revision": 1,
            "objects": [
                {
                    "id": "cube-1",
                    "kind": "cube",
                    "transform": {
                        "position": {"x": 1.5, "y": 0.0, "z": -2.0},
                        "rotation": {"x": 0.0, "y": 0.0, "z": 0.0, "w": 1.0},
                    },
                }
            ],
        }
        frames = {
            "deep": json.dumps({"event_name": "scene_update", "payload": scene}),  # 6 levels
            "wide": json.dumps({"event_name": "sum_event", "payload": {"numbers": [1] * 101}}),
            "very deep": "[" * 100_000 + "]" * 100_000,
        }
        codes = {}
        for name, frame in frames.items():
            await ws.send(frame)
            error = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
            PROTOCOL.validate(error)
            codes[name] = error["payload"]["code"]
        assert codes == {
            "deep": "message_too_large",
            "wide": "message_too_large",
            "very deep": "invalid_json",  # the parser's own recursion limit, at 200 levels
        }
        await ws.close()


async def test_the_rate_limit_answers_rate_limited_and_spares_others(
    serve_app: ServeApp,
) -> None:
    with serve_app(create_app(limits=Limits(rate=5, burst=5))) as server:
        async with Client(server.url) as flooder, Client(server.url) as calm:
            for n in range(20):
                await flooder.send_raw(
                    json.dumps(
                        {"event_name": "sum_event", "id": f"f{n}", "payload": {"numbers": [n]}}
                    )
                )
            answers = [await flooder.receive(timeout=TIMEOUT) for _ in range(20)]
            kinds = [a.event_name for a in answers]
            assert kinds.count("sum_handler_result") >= 5
            assert kinds.count("error") >= 10  # 20 sent at once, about 5 allowed
            assert {a.payload.code for a in answers if a.event_name == "error"} == {  # type: ignore[union-attr]
                "rate_limited"
            }
            result = await calm.sum_event([1, 2], timeout=TIMEOUT)
            assert isinstance(result, SumHandlerResultMessage)
            assert result.payload == 3


@pytest.mark.timeout(120)
async def test_large_frames_do_not_stall_small_requests(serve_app: ServeApp) -> None:
    """Four clients send frames at the 1 MiB limit (100,000 numbers each, all summed) while a
    bystander runs request/reply: its worst latency stays under a bound."""
    bound = 2.0  # seconds; measured well under it (see the printed figures with -s)
    numbers = [123456.789] * 85_000
    heavy_frame = json.dumps({"event_name": "sum_event", "payload": {"numbers": numbers}})
    assert 0.9 * (1 << 20) < len(heavy_frame) <= 1 << 20
    with serve_app(create_app()) as server:
        heavy = [await welcomed(server.url) for _ in range(4)]
        async with Client(server.url) as bystander:
            stop = asyncio.Event()
            latencies: list[float] = []

            async def small_requests() -> None:
                while not stop.is_set() and len(latencies) < 10_000:
                    started = time.perf_counter()
                    await bystander.sum_event([1, 2, 3], timeout=TIMEOUT)
                    latencies.append(time.perf_counter() - started)

            async def send_heavy(ws: websockets.ClientConnection) -> None:
                for _ in range(5):
                    await ws.send(heavy_frame)
                    answer = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT * 3))
                    assert answer["event_name"] == "sum_handler_result"

            requests = asyncio.create_task(small_requests())
            await asyncio.wait_for(asyncio.gather(*(send_heavy(ws) for ws in heavy)), 90)
            stop.set()
            await asyncio.wait_for(requests, TIMEOUT)
        for ws in heavy:
            await ws.close()
    assert latencies
    worst = max(latencies)
    print(
        f"\nbystander: {len(latencies)} requests, median {statistics.median(latencies) * 1e3:.1f}"
        f" ms, worst {worst * 1e3:.1f} ms"
    )
    assert worst < bound


async def clients(http: str) -> int:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{http}/health", timeout=TIMEOUT)
    count: int = response.json()["clients"]
    return count


async def test_a_half_open_peer_is_dropped_by_the_pings(serve_app: ServeApp) -> None:
    limits = Limits(ping_interval=0.3, ping_timeout=0.3)
    with serve_app(create_app(limits=limits)) as server:
        async with Client(server.url) as alive:
            # a peer that vanished: it never reads or answers again
            silent = await raw_connect(server.url)
            started = time.monotonic()
            assert await clients(server.http) == 2
            while await clients(server.http) != 1:
                assert time.monotonic() - started < 5, "the silent peer was never dropped"
                await asyncio.sleep(0.05)
            gone_after = time.monotonic() - started
            # a ping after 0.3 s, no pong by 0.6 s: dropped within two intervals, plus slack
            assert gone_after < 2 * (0.3 + 0.3) + 0.5
            # the live client answers the pings (the websockets library does) and stays
            await asyncio.sleep(1.0)
            result = await alive.sum_event([2, 2], timeout=TIMEOUT)
            assert result.payload == 4
        silent.abort(reset=True)


@pytest.mark.parametrize("release", ["eviction", "pings"])
async def test_a_stalled_reader_is_released_whole(
    serve_app: ServeApp, monkeypatch: pytest.MonkeyPatch, release: str
) -> None:
    """A reader that stops reading with data on its way is dropped, its slot and its queue
    freed, by eviction (queue full) or by the pings, whichever comes first."""
    monkeypatch.setattr(datadivr.server._server, "CLOSE_TIMEOUT", 0.5)
    # Two clients and the /health request that counts them.
    if release == "eviction":
        limits = Limits(max_connections=3, queue_size=64, ping_interval=None)
    else:
        limits = Limits(
            max_connections=3,
            queue_size=100_000,
            queue_bytes=1 << 30,
            ping_interval=0.3,
            ping_timeout=0.3,
        )
    app = create_app(limits=limits)
    with serve_app(app) as server:
        async with Client(server.url) as sender:
            # it reads its welcome, then never again; a small buffer backs the server up fast
            stalled = await raw_connect(server.url, receive_buffer=4096)
            assert await clients(server.http) == 2
            chunk = "x" * 60_000
            started = time.monotonic()
            for _ in range(200):  # ~12 MB: far more than the socket buffers hold
                await sender.msg(chunk, to=stalled.client_id)
            while await clients(server.http) != 1:
                assert time.monotonic() - started < 10, "the stalled reader was never dropped"
                await asyncio.sleep(0.05)
            state = app.state.server
            while state.admission.total != 1:  # its slot, freed by the reader ending
                assert time.monotonic() - started < 10, "the stalled reader's slot was kept"
                await asyncio.sleep(0.05)
            async with Client(server.url):  # max_connections=3: the sender, this, the check
                assert await status_of_new_connection(server.url) == 101
            result = await sender.sum_event([1, 1], timeout=TIMEOUT)
            assert result.payload == 2
        stalled.abort(reset=True)


async def status_of_new_connection(url: str) -> int:
    try:
        ws = await websockets.connect(url, open_timeout=TIMEOUT)
    except websockets.InvalidStatus as exc:
        return exc.response.status_code
    await ws.close()
    return 101
