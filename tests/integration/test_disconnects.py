"""Peers that vanish without a close handshake, and one that never reads: the server forgets
the dead, cuts off the stalled, keeps its memory bounded, and no one else notices.

Vanishing peers are bare TCP sockets that complete the WebSocket handshake, take their
``welcome`` and then close: half with a TCP RST (``SO_LINGER`` 0), half with a FIN and no close
frame. The stalled reader is a bare socket with a small receive buffer that never reads again:
nothing in the test process drains it, as a client library would.

Memory is read where it is honest: ``datadivr serve`` runs in its own process, and ``/proc``
tells its resident memory (``VmRSS``) and its peak (``VmHWM``). The bounds are stated next to
each test.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import struct
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.websockets import WebSocket
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.asyncio.client import ClientConnection, connect

from tests.conftest import LiveServer
from tests.integration.hostile import RawClient, raw_connect, serve_process

TIMEOUT = 5.0
CONNECTIONS = 500
MiB = 1 << 20


@contextlib.asynccontextmanager
async def clients(url: str, count: int) -> AsyncIterator[list[tuple[ClientConnection, str]]]:
    """``count`` ordinary clients, each with its id, closed properly at the end."""
    async with contextlib.AsyncExitStack() as stack:
        out = []
        for _ in range(count):
            ws = await stack.enter_async_context(connect(url, ping_interval=None, proxy=None))
            welcome = await receive(ws)
            assert welcome["event_name"] == "welcome", welcome
            out.append((ws, welcome["payload"]["client_id"]))
        yield out


async def receive(ws: ClientConnection) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
    return data


async def open_raw(url: str, count: int, **options: Any) -> list[RawClient]:
    """``count`` bare connections, handshakes done and welcomes read, 50 at a time."""
    gate = asyncio.Semaphore(50)

    async def one() -> RawClient:
        async with gate:
            return await asyncio.wait_for(raw_connect(url, **options), TIMEOUT)

    return await asyncio.gather(*(one() for _ in range(count)))


async def clients_on(http: httpx.AsyncClient) -> int:
    response = await http.get("/health")
    assert response.status_code == 200, response.text
    count: int = response.json()["clients"]
    return count


async def until_clients(http: httpx.AsyncClient, count: int, within: float = 10.0) -> float:
    """Poll ``GET /health`` until it reports ``count`` clients; the seconds it took. (The
    server forgets a client on its own time: there is nothing to await but its answer.)"""
    started = time.monotonic()
    while (seen := await clients_on(http)) != count:
        assert time.monotonic() - started < within, f"{seen} clients after {within}s, not {count}"
        await asyncio.sleep(0.02)
    return time.monotonic() - started


async def pong_is_next(ws: ClientConnection, nonce: str) -> None:
    """Nothing is waiting for ``ws`` (no error, nothing stray): a ping's pong comes next."""
    ping = {"sent_at": "2026-01-01T00:00:00Z", "nonce": nonce}
    await ws.send(json.dumps({"event_name": "ping", "payload": ping}))
    data = await receive(ws)
    assert (data["event_name"], data["payload"].get("nonce")) == ("pong", nonce), data


def msg(text: str, to: str) -> str:
    return json.dumps({"event_name": "msg", "message": text, "to": to})


async def expect_numbered(ws: ClientConnection, count: int, who: str) -> None:
    """``ws`` gets messages ``0`` to ``count - 1`` in order, each once."""
    for n in range(count):
        data = await receive(ws)
        assert (data["event_name"], data["message"].split(":")[0]) == ("msg", str(n)), (
            f"{who}: expected message {n}, got {data}"
        )


# --------------------------------------------------------------------------- vanishing peers


@pytest.mark.timeout(90)
async def test_abrupt_disconnects_leave_no_trace_in_the_server_process(tmp_path: Path) -> None:
    """Five rounds of 500 peers that vanish while a sender streams to a listener.

    Bound: after two rounds (the allocator keeps what a burst of 500 connections needed, and
    on a loaded machine a second round's overlap needs up to 9 MiB more), the server's resident
    memory grows by at most 8 MiB over the next 1,500 connections, under 6 KiB a connection,
    where a connection the server forgot to drop keeps tens of KiB. After those two rounds it
    stays within 1.5 MiB round after round (eight rounds seen here).
    """
    count = 200  # messages the sender streams in each round
    with serve_process(tmp_path) as server:
        async with (
            clients(server.url, 2) as [(sender, _), (listener, listener_id)],
            httpx.AsyncClient(base_url=server.http, timeout=TIMEOUT) as http,
        ):

            async def stream() -> None:
                for n in range(count):  # half to the listener, half to everyone
                    await sender.send(msg(f"{n}:x", listener_id if n % 2 else "others"))
                    await asyncio.sleep(0)  # interleave with the aborts

            async def round_of_vanishing(number: int) -> float:
                peers = await open_raw(server.url, CONNECTIONS)
                assert await clients_on(http) == CONNECTIONS + 2
                streaming = asyncio.create_task(stream())
                listening = asyncio.create_task(expect_numbered(listener, count, "listener"))
                for index, peer in enumerate(peers):
                    peer.abort(reset=index % 2 == 0)
                    if index % 50 == 49:
                        await asyncio.sleep(0)  # let the stream go on between the aborts
                took = await until_clients(http, 2)
                await asyncio.wait_for(asyncio.gather(streaming, listening), TIMEOUT * 4)
                await pong_is_next(sender, f"sender{number}")
                await pong_is_next(listener, f"listener{number}")
                return took

            for number in (0, 1):  # the allocator's high-water mark of a burst
                await round_of_vanishing(number)
            baseline, _ = server.memory()
            took = [await round_of_vanishing(number) for number in (2, 3, 4)]
            after, _ = server.memory()
        assert server.alive()
    growth = after - baseline
    print(
        f"forgotten in {max(took):.2f}s at most; RSS {baseline / MiB:.1f} -> {after / MiB:.1f} MiB"
    )
    assert growth <= 8 * MiB, f"resident memory grew by {growth / MiB:.1f} MiB over 1,500 peers"


@pytest.mark.timeout(60)
async def test_the_client_table_is_empty_once_vanished_peers_are_gone(
    live_server: LiveServer,
) -> None:
    """In process, where the server's own tables can be read: no connection, no hub entry, and
    no per-connection object survives 500 peers that vanished."""
    server = live_server.app.state.server
    before = _per_connection_objects()
    peers = await open_raw(live_server.url, CONNECTIONS)
    assert len(server.connections) == len(server.hub) == CONNECTIONS
    for index, peer in enumerate(peers):
        peer.abort(reset=index % 2 == 0)
    async with httpx.AsyncClient(base_url=live_server.http, timeout=TIMEOUT) as http:
        await until_clients(http, 0)
    started = time.monotonic()
    while len(server.hub) or len(server.connections):
        assert time.monotonic() - started < 10, "the hub still lists vanished clients"
        await asyncio.sleep(0.02)
    del peers
    # The connections' tasks end just after the tables forget them: allow them a moment.
    started = time.monotonic()
    while (after := _per_connection_objects()) != before:
        assert time.monotonic() - started < 5, f"per-connection objects: {before} -> {after}"
        await asyncio.sleep(0.05)


def _per_connection_objects() -> dict[str, int]:
    """The server's per-connection objects alive in this process, by type."""
    from datadivr.server._connection import Connection
    from datadivr.server._lane import Lane

    gc.collect()
    alive = Counter(
        type(o).__name__
        for o in gc.get_objects()
        if isinstance(o, Connection | WebSocket | Lane | WebSocketsSansIOProtocol)
    )
    return dict(alive)


@pytest.mark.timeout(60)
async def test_a_recipient_vanishing_mid_broadcast_costs_no_one_anything(
    live_server: LiveServer,
) -> None:
    """A recipient drops (RST) after 100 of 600 broadcast messages, with the next 200 queued
    or in flight for it: the sender gets no error, the others get all 600, in order."""
    count, half = 600, 300
    async with (
        clients(live_server.url, 3) as [(sender, _), (first, _), (second, _)],
        httpx.AsyncClient(base_url=live_server.http, timeout=TIMEOUT) as http,
        contextlib.AsyncExitStack() as stack,
    ):
        doomed = await raw_connect(live_server.url)
        stack.callback(doomed.abort, reset=True)  # should the test fail before it drops
        dropped = asyncio.Event()

        async def stream() -> None:
            for n in range(count):
                if n == half:
                    await asyncio.wait_for(dropped.wait(), TIMEOUT)  # the rest after the drop
                await sender.send(msg(f"{n}:x", "others"))

        async def read_some_then_drop() -> None:
            for n in range(100):
                opcode, payload = await asyncio.wait_for(doomed.read_frame(), TIMEOUT)
                assert (opcode, json.loads(payload)["message"]) == (1, f"{n}:x")
            doomed.abort(reset=True)
            dropped.set()

        await asyncio.wait_for(
            asyncio.gather(
                stream(),
                read_some_then_drop(),
                expect_numbered(first, count, "first"),
                expect_numbered(second, count, "second"),
            ),
            30,
        )
        await pong_is_next(sender, "sender")
        await until_clients(http, 3)
        for ws, name in ((first, "first"), (second, "second")):
            await pong_is_next(ws, name)


# --------------------------------------------------------------------------- a stalled reader


@pytest.mark.timeout(90)
async def test_a_reader_that_never_reads_is_cut_off_and_no_one_waits(tmp_path: Path) -> None:
    """A sender broadcasts 8 KiB messages to two listeners and to a peer that never reads,
    keeping at most 16 messages unread by the listeners, for at least 3 s, until at least twice
    the memory bound went to each peer, and until the server has cut the stalled peer off: it leaves the routing (``/health`` counts it no more, a
    message to it is refused), and once it reads, it finds the close frame, 1013.

    Bounds: no message takes more than 2 s from send to receipt at a listener (it takes
    milliseconds: a stall would take seconds); the stalled peer is cut off within 20 s (it
    takes under one); the server's peak resident memory stays within 24 MiB of what it was
    before (an outbound queue holds at most 1,024 frames and 8 MiB; about 6 MiB is seen),
    while the test sends at least twice the bound to each peer.
    """
    size, window, least, latency_bound, memory_bound = 8 * 1024, 16, 3.0, 2.0, 24 * MiB
    filler = "x" * size
    with serve_process(tmp_path) as server, contextlib.ExitStack() as stack:
        async with (
            clients(server.url, 3) as [(sender, _), (first, _), (second, _)],
            httpx.AsyncClient(base_url=server.http, timeout=TIMEOUT) as http,
        ):
            stalled = await raw_connect(server.url, receive_buffer=4096)
            stack.callback(stalled.abort, reset=True)  # at the end, whatever happens
            assert await clients_on(http) == 4
            baseline, _ = server.memory()
            server.reset_peak()

            sent_at: list[float] = []
            latencies: list[float] = []
            done = {"first": -1, "second": -1}
            progress = asyncio.Condition()

            async def listen(ws: ClientConnection, name: str) -> None:
                n = 0
                while True:
                    data = await receive(ws)
                    number = data["message"].split(":")[0]
                    assert number == str(n), f"{name}: expected message {n}, got {number}"
                    latencies.append(time.monotonic() - sent_at[n])
                    async with progress:
                        done[name] = n
                        progress.notify_all()
                    n += 1

            listeners = [
                asyncio.create_task(listen(first, "first")),
                asyncio.create_task(listen(second, "second")),
            ]

            async def until_read(least_number: int) -> None:
                """Until both listeners read message ``least_number``; a listener's failure
                is raised as it is."""
                waiting = asyncio.create_task(
                    _wait(progress, lambda: min(done.values()) >= least_number)
                )
                finished, _ = await asyncio.wait(
                    {waiting, *listeners}, timeout=TIMEOUT, return_when=asyncio.FIRST_COMPLETED
                )
                if waiting not in finished:
                    waiting.cancel()
                    for task in finished:
                        task.result()  # a listener failed
                    raise AssertionError(
                        f"the listeners are stuck before message {least_number}: {done}"
                    )

            started = time.monotonic()
            n = 0
            # Once cut off, the stalled peer reads at once: what was in flight comes, then the
            # close frame that says why (a peer that still did not read would be dropped).
            closing: asyncio.Task[tuple[int, bytes]] | None = None
            try:
                # Also until twice the memory bound went to each peer, however slow the machine.
                while (
                    time.monotonic() - started < least
                    or closing is None
                    or n * size < 2 * memory_bound
                ):
                    assert time.monotonic() - started < 60, f"stuck after {n} messages"
                    assert closing is not None or time.monotonic() - started < 20, (
                        "the stalled peer was never cut off"
                    )
                    if n % 64 == 0 and closing is None and await clients_on(http) == 3:
                        closing = asyncio.create_task(_until_closed(stalled))
                        stack.callback(closing.cancel)  # should the test fail before its end
                    await until_read(n - window)
                    sent_at.append(time.monotonic())
                    await sender.send(msg(f"{n}:{filler}", "others"))
                    n += 1
                await until_read(n - 1)
            finally:
                for task in listeners:
                    task.cancel()
                await asyncio.gather(*listeners, return_exceptions=True)
            elapsed = time.monotonic() - started
            _, peak = server.memory()

            # It is gone from the routing, and the sender saw no error until it asked for it.
            question = {
                "event_name": "msg",
                "message": "there?",
                "to": stalled.client_id,
                "id": "q",
            }
            await sender.send(json.dumps(question))
            error = await receive(sender)
            assert (error["event_name"], error["payload"]["code"], error["reply_to"]) == (
                "error",
                "unknown_recipient",
                "q",
            ), error
            await pong_is_next(sender, "sender")
            frames, close = await asyncio.wait_for(closing, TIMEOUT)
            assert frames < n, "the stalled peer got every message: it was not cut off"
            assert struct.unpack("!H", close[:2])[0] == 1013, close
            assert "slow" in close[2:].decode(), close
        assert server.alive()
    print(
        f"{n} messages in {elapsed:.1f}s; slowest {max(latencies) * 1000:.0f} ms; "
        f"stalled peer got {frames}; peak RSS +{(peak - baseline) / MiB:.1f} MiB"
    )
    assert max(latencies) <= latency_bound, f"a message took {max(latencies):.2f}s"
    assert peak - baseline <= memory_bound, f"peak RSS grew by {(peak - baseline) / MiB:.1f} MiB"
    assert n * size >= 2 * memory_bound, "too little traffic for the memory bound to mean much"


async def _until_closed(peer: RawClient) -> tuple[int, bytes]:
    """Read ``peer`` up to the server's close frame: the data frames before it, and its
    payload (code and reason)."""
    frames = 0
    while True:
        opcode, payload = await peer.read_frame()
        if opcode == 8:
            return frames, payload
        frames += 1


async def _wait(condition: asyncio.Condition, predicate: Callable[[], bool]) -> None:
    async with condition:
        await condition.wait_for(predicate)
