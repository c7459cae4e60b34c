"""Several ``datadivr serve`` processes sharing one real ``redis-server``: every routing rule
crosses nodes, counts are exact, a dead node's clients vanish in the stated time, and a Redis
outage is survived exactly as documented (docs/scaling.md)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AbstractContextManager
from typing import Any

import httpx
import pytest
import websockets
from fastapi import FastAPI
from redis.asyncio import Redis

from datadivr import create_app
from datadivr.broker import RedisBackplane
from tests.commands import CLI_ENV, Served, run_datadivr, serving
from tests.conftest import LiveServer
from tests.redis_server import RedisServer

TIMEOUT = 10.0
#: A short presence TTL, so that a dead node's clients vanish within 2 s (TTL + TTL / 3).
TTL = 1.5
BOUND = TTL + TTL / 3

pytestmark = pytest.mark.slow


class Peer:
    """A plain WebSocket client of one node."""

    def __init__(self, ws: websockets.ClientConnection, client_id: str, node: Served) -> None:
        self.ws = ws
        self.client_id = client_id
        self.node = node

    @classmethod
    async def open(cls, node: Served) -> Peer:
        ws = await websockets.connect(node.url, max_queue=None)
        welcome = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        assert welcome["event_name"] == "welcome"
        return cls(ws, welcome["payload"]["client_id"], node)

    async def send(self, to: str, text: str, **envelope: Any) -> None:
        await self.ws.send(json.dumps({"event_name": "msg", "to": to, "message": text, **envelope}))

    async def recv(self) -> dict[str, Any]:
        message: dict[str, Any] = json.loads(await asyncio.wait_for(self.ws.recv(), TIMEOUT))
        return message

    async def until(self, text: str) -> list[dict[str, Any]]:
        """Everything received up to the message whose text is ``text`` (left out)."""
        seen = []
        while (message := await self.recv()).get("message") != text:
            seen.append(message)
        return seen


async def drain(peers: list[Peer], senders: Iterable[Peer]) -> dict[str, list[dict[str, Any]]]:
    """What each peer received until every sender's end marker (an ``all`` message).

    Each sender's frames reach each recipient in order, over one node or two, so once a peer
    has every sender's marker it has everything they sent before it.
    """
    senders = list(senders)
    for sender in senders:
        await sender.send("all", f"end {sender.client_id}")
    ends = {f"end {sender.client_id}" for sender in senders}

    async def collect(peer: Peer) -> list[dict[str, Any]]:
        seen, waiting = [], set(ends)
        while waiting:
            message = await peer.recv()
            if message.get("message") in waiting:
                waiting.discard(message["message"])
            else:
                seen.append(message)
        return seen

    results = await asyncio.gather(*(collect(peer) for peer in peers))
    return {peer.client_id: result for peer, result in zip(peers, results, strict=True)}


async def health(node: Served) -> dict[str, Any]:
    url = node.listening["health"]
    async with httpx.AsyncClient() as http:
        response = await http.get(url, timeout=TIMEOUT)
    body: dict[str, Any] = response.json()
    return body


async def until_health(node: Served, timeout: float = TIMEOUT, **expected: Any) -> float:
    """Wait until the node's ``/health`` broker section shows ``expected``; return the time it
    took. Polled (the state is in another process), bounded in time."""
    start = time.monotonic()
    deadline = start + timeout
    while True:
        try:
            broker = (await health(node))["broker"]
        except httpx.TransportError:  # not listening yet
            broker = {}
        if all(broker.get(key) == value for key, value in expected.items()):
            return time.monotonic() - start
        if time.monotonic() > deadline:
            raise AssertionError(f"the node never showed {expected}: {broker}")
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def cluster(redis: RedisServer, count: int, *args: str) -> AsyncIterator[list[Served]]:
    """``count`` nodes sharing ``redis``, each connected to it."""
    async with contextlib.AsyncExitStack() as stack:
        nodes = list(
            await asyncio.gather(
                *(
                    stack.enter_async_context(
                        serving("--broker", redis.url, "--presence-ttl", str(TTL), *args)
                    )
                    for _ in range(count)
                )
            )
        )
        for node in nodes:
            await node.read_until('"broker connected"')
        yield nodes


async def connect(node: Served, count: int) -> list[Peer]:
    return list(await asyncio.gather(*(Peer.open(node) for _ in range(count))))


def texts(messages: list[dict[str, Any]]) -> list[str]:
    return [m["message"] if m["event_name"] == "msg" else m["event_name"] for m in messages]


async def test_every_route_crosses_nodes(redis_server: RedisServer) -> None:
    async with cluster(redis_server, 2) as (a, b):
        a1, a2 = await connect(a, 2)
        (b1,) = await connect(b, 1)
        await until_health(a, remote_clients=1, nodes=1)
        await until_health(b, remote_clients=2, nodes=1)

        await a1.send("all", "to all", id="m1")
        await a1.send("others", "to others", id="m2")
        await a1.send(b1.client_id, "a1 to b1", id="m3")
        await b1.send(a2.client_id, "b1 to a2", id="m4")
        await b1.send("others", "b1 to others", id="m5")
        await a1.send("0123456789abcdef", "to nobody", id="m6")
        await b1.ws.send(
            json.dumps({"event_name": "sum_event", "payload": {"numbers": [1, 2]}, "id": "m7"})
        )

        got = await drain([a1, a2, b1], [a1, b1])
        # Frames from different senders (a1 itself, b1) are not ordered with each other.
        assert sorted(texts(got[a1.client_id])) == ["b1 to others", "error", "to all"]
        (error,) = [m for m in got[a1.client_id] if m["event_name"] == "error"]
        assert error["payload"]["code"] == "unknown_recipient"
        assert error["reply_to"] == "m6"
        assert sorted(texts(got[a2.client_id])) == sorted(
            ["to all", "to others", "b1 to a2", "b1 to others"]
        )
        # a1's messages arrive in the order sent; b1's own reply is local, not ordered with them.
        from_a1 = [m for m in got[b1.client_id] if m.get("from_id") == a1.client_id]
        assert texts(from_a1) == ["to all", "to others", "a1 to b1"]
        (result,) = [m for m in got[b1.client_id] if m["event_name"] == "sum_handler_result"]
        assert len(got[b1.client_id]) == 4

        # The sender is stamped as on one node, and the handled event is answered locally.
        assert from_a1[2]["to"] == b1.client_id
        assert (result["payload"], result["reply_to"]) == (3, "m7")
        from_b1 = {m["message"]: m for m in got[a2.client_id]}
        assert from_b1["b1 to a2"]["from_id"] == b1.client_id


async def test_counts_are_exact_across_three_nodes(redis_server: RedisServer) -> None:
    """20 clients on 3 nodes, 200 messages each: 150 direct (round robin over the others,
    most on other nodes), 50 to all. Every recipient gets each message exactly once."""
    per_client, direct_share = 200, 150
    async with cluster(redis_server, 3, "--queue-size", "20000") as nodes:
        peers = [
            p for node, n in zip(nodes, (7, 7, 6), strict=True) for p in await connect(node, n)
        ]
        for index, node in enumerate(nodes):
            await until_health(node, remote_clients=20 - (7, 7, 6)[index], nodes=2)
        ids = [p.client_id for p in peers]
        expected: dict[str, Counter[str]] = {i: Counter() for i in ids}

        async def send_all(index: int, peer: Peer) -> None:
            others = [i for i in ids if i != peer.client_id]
            for seq in range(per_client):
                text = f"{index}:{seq}"
                if seq < direct_share:
                    await peer.send(others[(index + seq) % len(others)], text)
                else:
                    await peer.send("all", text)

        for index, peer in enumerate(peers):
            others = [i for i in ids if i != peer.client_id]
            for seq in range(per_client):
                recipients = [others[(index + seq) % len(others)]] if seq < direct_share else ids
                for recipient in recipients:
                    expected[recipient][f"{index}:{seq}"] += 1
        started = time.monotonic()
        await asyncio.wait_for(asyncio.gather(*(send_all(i, p) for i, p in enumerate(peers))), 60)
        got = await asyncio.wait_for(drain(peers, peers), 60)
        elapsed = time.monotonic() - started
        total = 0
        for peer in peers:
            received = Counter(texts(got[peer.client_id]))
            assert received == expected[peer.client_id], peer.client_id
            total += sum(received.values())
        assert total == 20 * (direct_share + (per_client - direct_share) * 20)
        print(f"{total} deliveries across 3 nodes in {elapsed:.2f} s")


async def test_a_dead_node_s_clients_vanish_in_the_stated_time(redis_server: RedisServer) -> None:
    async with cluster(redis_server, 3) as (a, b, c):
        a1, a2 = await connect(a, 2)
        (b1,) = await connect(b, 1)
        (c1,) = await connect(c, 1)
        await until_health(a, remote_clients=2, nodes=2)
        await until_health(c, remote_clients=3, nodes=2)

        os.kill(b.proc.pid, signal.SIGKILL)  # no goodbye: its registration must expire
        await b.proc.wait()
        killed = time.monotonic()
        # Until its clients are forgotten, a message to one is refused (no node listens).
        await a1.send(b1.client_id, "to the dead", id="d1")
        error = await a1.recv()
        assert error["payload"]["code"] == "unknown_recipient"
        assert error["reply_to"] == "d1"
        await asyncio.gather(
            until_health(a, remote_clients=1, nodes=1, timeout=BOUND + 2),
            until_health(c, remote_clients=2, nodes=1, timeout=BOUND + 2),
        )
        vanished = time.monotonic() - killed
        assert vanished <= BOUND + 0.5, f"{vanished:.2f} s, the bound is {BOUND:.2f} s"
        print(f"a dead node's clients vanished in {vanished:.2f} s (bound {BOUND:.2f} s)")

        # The others carry on, across nodes too.
        await a1.send(c1.client_id, "a1 to c1")
        await c1.send("all", "c1 to all")
        got = await drain([a1, a2, c1], [a1, c1])
        assert texts(got[a1.client_id]) == ["c1 to all"]
        assert texts(got[a2.client_id]) == ["c1 to all"]
        assert sorted(texts(got[c1.client_id])) == ["a1 to c1", "c1 to all"]


async def test_a_redis_outage_mid_run_is_survived_as_documented(redis_server: RedisServer) -> None:
    """Redis killed in the middle of a stream of direct messages across nodes, then restarted.

    Each streamed message reaches its recipient or is refused to its sender (none lost without
    a word, none twice, none refused as "unavailable" delivered); while Redis is down, local
    delivery goes on and what has remote recipients is refused, exactly; after the restart,
    cross-node delivery resumes and nothing from the outage arrives late."""
    total = 300
    async with cluster(redis_server, 2) as (a, b):
        a1, a2 = await connect(a, 2)
        (b1,) = await connect(b, 1)
        await until_health(a, remote_clients=1)
        await until_health(b, remote_clients=2)
        received: list[str] = []
        hundred = asyncio.Event()

        async def receive() -> None:
            while len(received) < total:
                message = await b1.recv()
                if message["message"] == "stream end":
                    return
                received.append(message["message"])
                if len(received) == 100:
                    hundred.set()

        async def stream() -> None:
            for seq in range(total):
                await a1.send(b1.client_id, str(seq), id=str(seq))
                await asyncio.sleep(0.003)  # a steady stream, so that the kill lands inside it

        reader = asyncio.create_task(receive())
        sender = asyncio.create_task(stream())
        await asyncio.wait_for(hundred.wait(), TIMEOUT)
        redis_server.kill()
        await a.read_until("broker unavailable")
        await b.read_until("broker unavailable")
        await asyncio.wait_for(sender, TIMEOUT)
        # b's subscriber has handed over everything Redis sent it before it logged the outage:
        # a frame b1 sends itself (local) comes after all of it.
        await b1.send(b1.client_id, "stream end")
        await asyncio.wait_for(reader, TIMEOUT)
        assert (await health(a))["broker"]["available"] is False

        # While Redis is known to be down: local delivery goes on; what had remote recipients
        # is refused to its sender.
        await a2.send("others", "others during the outage", id="o1")
        await a2.send(b1.client_id, "direct during the outage", id="o2")
        await a2.send(a1.client_id, "local during the outage", id="o3")
        await b1.send("all", "b1 alone during the outage", id="o4")
        errors = [await a2.recv(), await a2.recv()]
        assert [(e["event_name"], e["payload"]["code"], e["reply_to"]) for e in errors] == [
            ("error", "broker_unavailable", "o1"),
            ("error", "broker_unavailable", "o2"),
        ]
        # b1 is told that a1 and a2 did not get its broadcast; it still gets its own copy.
        assert texts([await b1.recv()]) == ["b1 alone during the outage"]
        outage_error = await b1.recv()
        assert (outage_error["payload"]["code"], outage_error["reply_to"]) == (
            "broker_unavailable",
            "o4",
        )
        # The server keeps accepting.
        (a3,) = await connect(a, 1)

        redis_server.start()
        await a.read_until("broker reconnected")
        await b.read_until("broker reconnected")
        # Redis lost everything: each node registers its clients again, and sees the others'.
        await until_health(a, available=True, remote_clients=1)
        await until_health(b, available=True, remote_clients=3)

        await a1.send(b1.client_id, "a1 to b1 after")
        await b1.send("all", "b1 to all after")
        got = await drain([a1, a2, a3, b1], [a1, a2, b1])
        # Nothing sent during the outage arrives late, nothing is lost after it.
        assert sorted(texts(got[b1.client_id])) == ["a1 to b1 after", "b1 to all after"]
        assert texts(got[a2.client_id]) == ["b1 to all after"]
        assert texts(got[a3.client_id]) == ["b1 to all after"]
        a1_got = got[a1.client_id]
        assert sorted(texts([m for m in a1_got if m["event_name"] == "msg"])) == [
            "b1 to all after",
            "local during the outage",
            "others during the outage",
        ]

        # The stream: every message delivered or refused.
        stream_errors = [m for m in a1_got if m["event_name"] == "error"]
        assert {m["payload"]["code"] for m in stream_errors} == {"broker_unavailable"}
        refused = {m["reply_to"]: m["message"] for m in stream_errors}
        assert len(refused) == len(stream_errors)  # each refused once
        assert len(received) == len(set(received))  # nothing twice
        assert set(received) | set(refused) == {str(seq) for seq in range(total)}
        known_down = {
            seq for seq, why in refused.items() if why.startswith("the broker is unavailable")
        }
        assert known_down
        assert known_down.isdisjoint(received)
        print(
            f"{len(received)} delivered, {len(refused)} refused "
            f"({len(known_down)} while known down, {len(set(received) & set(refused))} both)"
        )


async def test_a_node_that_starts_during_an_outage_joins_when_redis_is_back(
    redis_server: RedisServer,
) -> None:
    redis_server.kill()
    async with serving("--broker", redis_server.url, "--presence-ttl", str(TTL)) as a:
        await a.read_until("broker unavailable")
        (a1,) = await connect(a, 1)  # it serves its own clients meanwhile
        await a1.send("all", "alone")
        assert texts([await a1.recv()]) == ["alone"]
        redis_server.start()
        await a.read_until("broker reconnected")
        async with cluster(redis_server, 1) as (b,):
            (b1,) = await connect(b, 1)
            await until_health(a, remote_clients=1)
            await a1.send(b1.client_id, "hello b1")
            assert texts([await b1.recv()]) == ["hello b1"]


async def test_workers_share_a_port_over_redis(redis_server: RedisServer) -> None:
    async with serving(
        "--broker", redis_server.url, "--presence-ttl", str(TTL), "--workers", "2"
    ) as served:
        nodes = {(await served.read_until('"broker connected"'))["node"] for _ in range(2)}
        assert len(nodes) == 2
        peers = await connect(served, 8)
        await everyone_reaches_everyone(peers)

        # A worker that dies is replaced by a new node; the cluster goes on.
        pids = [json.loads(line)["pid"] for line in served.lines if '"worker started"' in line]
        assert len(pids) == 2
        os.kill(pids[0], signal.SIGKILL)
        died = await served.read_until('"worker died, starting another"')
        assert died["pid"] == pids[0]
        replacement = await served.read_until('"broker connected"')
        assert replacement["node"] not in nodes
        await everyone_reaches_everyone(await connect(served, 6))


async def everyone_reaches_everyone(peers: list[Peer]) -> None:
    """Whichever worker each client landed on, every broadcast reaches everyone once, and
    every client reaches every other one directly.

    Each worker announces a client before its welcome, in order with its messages, so once
    every broadcast marker is in, every worker knows every client."""
    got = await drain(peers, peers)
    assert all(messages == [] for messages in got.values())
    for sender, recipient in itertools.permutations(peers, 2):
        await sender.send(recipient.client_id, f"{sender.client_id}>{recipient.client_id}")
    got = await drain(peers, peers)
    for peer in peers:
        assert sorted(texts(got[peer.client_id])) == sorted(
            f"{other.client_id}>{peer.client_id}" for other in peers if other is not peer
        )


async def test_uvicorn_workers_take_the_broker_from_the_environment(
    redis_server: RedisServer, unused_tcp_port: int
) -> None:
    """``DATADIVR_BROKER=… uvicorn app:app --workers 2``, with an app that calls
    ``create_app()`` and nothing else."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "uvicorn", "tests.integration.cluster_app:app",
        "--workers", "2", "--host", "127.0.0.1", "--port", str(unused_tcp_port),
        stdout=subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env={**CLI_ENV, "DATADIVR_BROKER": redis_server.url},
    )  # fmt: skip
    try:
        served = Served(proc, {"url": f"ws://127.0.0.1:{unused_tcp_port}/ws"})
        assert proc.stderr is not None
        started = 0
        while started < 2:  # each worker's startup connects it to Redis first
            line = await asyncio.wait_for(proc.stderr.readline(), TIMEOUT)
            assert line, "uvicorn exited"
            started += b"Application startup complete" in line
        # A uvicorn worker listens only after its startup, and logs nothing then: ask.
        served.listening["health"] = f"http://127.0.0.1:{unused_tcp_port}/health"
        await until_health(served, available=True)
        await everyone_reaches_everyone(await connect(served, 6))
    finally:
        proc.terminate()
        # communicate() reads stderr to its end: a pipe left unread stays open after the exit.
        await asyncio.wait_for(proc.communicate(), TIMEOUT)


def test_workers_without_a_broker_are_refused() -> None:
    result = run_datadivr("serve", "--port", "0", "--workers", "2")
    assert result.returncode == 2
    assert "--workers 2 needs --broker" in result.stderr


def test_an_unknown_broker_is_refused() -> None:
    result = run_datadivr("serve", "--port", "0", "--broker", "amqp://user:secret@host/")
    assert result.returncode == 2
    assert "unknown broker" in result.stderr
    assert "secret" not in result.stderr


async def test_create_app_with_a_broker_in_process(
    redis_server: RedisServer, serve_app: Callable[[FastAPI], AbstractContextManager[LiveServer]]
) -> None:
    """``create_app(broker=URL)`` and ``create_app(broker=RedisBackplane(…))``: two apps in
    this process, each served by its own uvicorn, reach each other's clients."""
    first = create_app(broker=redis_server.url)
    second = create_app(broker=RedisBackplane(redis_server.url, presence_ttl=TTL))
    with serve_app(first) as one, serve_app(second) as two:
        (p1,) = await connect(one, 1)  # type: ignore[arg-type]
        (p2,) = await connect(two, 1)  # type: ignore[arg-type]
        for server in (first, second):
            backplane = server.state.server.backplane
            assert isinstance(backplane, RedisBackplane)
            for _ in range(500):  # bounded: until each knows the other's client
                if len(backplane.presence) == 1:
                    break
                await asyncio.sleep(0.01)
            assert backplane.status()["remote_clients"] == 1
        # Whatever else is published on the cluster's channels is ignored, and harms no one.
        redis = Redis.from_url(redis_server.url)
        node = second.state.server.backplane.node_id
        for channel in ("datadivr:all", f"datadivr:node:{node}", "datadivr:presence"):
            await redis.publish(channel, "not from a node")
        await redis.aclose()
        await p1.send(p2.client_id, "one to two")
        await p2.send("others", "two to others")
        got = await drain([p1, p2], [p1, p2])
        assert texts(got[p2.client_id]) == ["one to two"]
        assert texts(got[p1.client_id]) == ["two to others"]
        await p1.ws.close()
        await p2.ws.close()
