"""Load: 50 clients send 200 messages each at once, with mixed routing; every delivery is
accounted for.

Message ``n`` of client ``i`` goes, by ``n % 4``: to ``all``, to ``others``, to one other client
(a different one each time), or to the server as a ``sum_event`` of ``[i, n]`` that the server
answers. Each carries ``i:n`` (in ``message``, or in ``id`` and so in the answer's
``reply_to``), so every receiver knows exactly what it must get. The test checks, for every
receiver: zero lost (it gets all it is owed), zero duplicated and per-sender order (from each
sender, the numbers strictly increase), nothing else (no ``error``, nothing misrouted), and once
everyone is done, a ping's ``pong`` is the next thing each client gets: nothing extra was
still on its way.

Two runs: with the default limits, each client keeping at most two of its sums unanswered (the
flow control of a client that awaits its requests); and with clients that never wait, where
each is owed about 5,050 frames at once: more than the default outbound queue (1,024 frames)
holds for a reader sharing one process with 49 others, so that run gives the server a queue
that holds the burst.

The server is ``datadivr serve`` in its own process, so that it and the 50 clients do not share
one interpreter.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.integration.hostile import serve_process

CLIENTS = 50
MESSAGES = 200
ROUTES = ("all", "others", "direct", "server")
#: Seconds to wait for a message that must come (outside the exchange itself).
QUIET = 10.0
#: The whole exchange, generously: it takes under ten seconds on two cores.
DEADLINE = 60.0


def target(i: int, n: int) -> int:
    """The client that message ``n`` of client ``i`` goes to, when it goes to one: never ``i``,
    and each of the others in turn."""
    return (i + 1 + (n // len(ROUTES)) % (CLIENTS - 1)) % CLIENTS


def owed(j: int) -> set[tuple[int, int]]:
    """What client ``j`` must receive: (sender, number) pairs; its own sums' answers are
    counted as its own."""
    out = set()
    for i in range(CLIENTS):
        for n in range(MESSAGES):
            route = ROUTES[n % len(ROUTES)]
            if (
                route == "all"
                or (route == "others" and i != j)
                or (route == "direct" and target(i, n) == j)
                or (route == "server" and i == j)
            ):
                out.add((i, n))
    return out


OWED = [owed(j) for j in range(CLIENTS)]
DELIVERIES = sum(len(due) for due in OWED)


def frame(i: int, n: int, ids: list[str]) -> str:
    route = ROUTES[n % len(ROUTES)]
    if route == "server":
        return json.dumps(
            {"event_name": "sum_event", "payload": {"numbers": [i, n]}, "id": f"{i}:{n}"}
        )
    to = ids[target(i, n)] if route == "direct" else route
    return json.dumps({"event_name": "msg", "message": f"{i}:{n}", "to": to})


class Client:
    """One of the 50: its socket, and the answers to its sums that it waits for."""

    def __init__(self, i: int, ws: ClientConnection, window: int | None) -> None:
        self.i = i
        self.ws = ws
        # At most `window` sums unanswered: the flow control of a client that awaits its
        # requests. None: it never waits.
        self.window = asyncio.Semaphore(window) if window is not None else None
        self.got: list[tuple[int, int]] = []

    async def send_all(self, ids: list[str], go: asyncio.Event) -> None:
        await go.wait()
        for n in range(MESSAGES):
            if self.window is not None and ROUTES[n % len(ROUTES)] == "server":
                await asyncio.wait_for(self.window.acquire(), QUIET)
            await self.ws.send(frame(self.i, n, ids))

    async def receive_all(self, ids: list[str]) -> None:
        """Take everything this client is owed into ``got``, checking each message."""
        j, due = self.i, len(OWED[self.i])
        index = {client_id: i for i, client_id in enumerate(ids)}
        got = self.got
        for _ in range(due):
            # No timeout per message (it would cost more than the message): the exchange has
            # one deadline, and `got` tells how far each client came.
            data: dict[str, Any] = json.loads(await self.ws.recv())
            if data["event_name"] == "sum_handler_result":
                i, n = map(int, data["reply_to"].split(":"))
                assert (i, data["from_id"], data["to"]) == (j, "server", ids[j]), data
                assert data["payload"] == i + n, data
                if self.window is not None:
                    self.window.release()
            else:
                assert data["event_name"] == "msg", f"client {j} got {data}"
                i, n = map(int, data["message"].split(":"))
                assert data["from_id"] == ids[i], f"client {j}: {data} is not from {ids[i]}"
                expected = {"all": "all", "others": "others", "direct": j}
                assert index.get(data["to"], data["to"]) == expected[ROUTES[n % len(ROUTES)]], (
                    f"client {j}: misrouted {data}"
                )
            got.append((i, n))


async def exchange(url: str, window: int | None) -> float:
    """Connect the clients, let them all send at once, check what each got; the seconds the
    exchange took."""
    async with contextlib.AsyncExitStack() as stack:
        clients = []
        ids = []
        for i in range(CLIENTS):
            ws = await stack.enter_async_context(connect(url, ping_interval=None, proxy=None))
            welcome = json.loads(await asyncio.wait_for(ws.recv(), QUIET))
            ids.append(welcome["payload"]["client_id"])
            clients.append(Client(i, ws, window))
        go = asyncio.Event()
        senders = [asyncio.create_task(client.send_all(ids, go)) for client in clients]
        receivers = [asyncio.create_task(client.receive_all(ids)) for client in clients]
        started = time.monotonic()
        go.set()  # all at once
        try:
            await asyncio.wait_for(asyncio.gather(*receivers, *senders), DEADLINE)
        except asyncio.TimeoutError:
            short = {
                c.i: f"{len(c.got)}/{len(OWED[c.i])}"
                for c in clients
                if len(c.got) < len(OWED[c.i])
            }
            raise AssertionError(
                f"after {DEADLINE}s, clients still waiting (got/owed): {short}"
            ) from None
        finally:
            for task in (*senders, *receivers):
                task.cancel()
            await asyncio.gather(*senders, *receivers, return_exceptions=True)
        elapsed = time.monotonic() - started

        for j, client in enumerate(clients):
            got = client.got
            assert len(got) == len(set(got)), f"client {j} got duplicates"
            assert set(got) == OWED[j], f"client {j}: lost {sorted(OWED[j] - set(got))[:20]}"
            last: dict[int, int] = defaultdict(lambda: -1)
            for i, n in got:
                assert n > last[i], f"client {j}: {i}:{n} came after {i}:{last[i]}"
                last[i] = n
        # Nothing more is on its way to anyone: a ping's pong comes next.
        for client in clients:
            ping = {"sent_at": "2026-01-01T00:00:00Z", "nonce": f"end{client.i}"}
            await client.ws.send(json.dumps({"event_name": "ping", "payload": ping}))
        for client in clients:
            data = json.loads(await asyncio.wait_for(client.ws.recv(), QUIET))
            assert (data["event_name"], data["payload"].get("nonce")) == (
                "pong",
                f"end{client.i}",
            ), f"client {client.i} got more than it was owed: {data}"
    return elapsed


@pytest.mark.timeout(90)
async def test_fifty_clients_two_hundred_messages_each_nothing_lost(tmp_path: Path) -> None:
    """The default limits; each client keeps at most two of its sums unanswered."""
    with serve_process(tmp_path) as server:
        elapsed = await exchange(server.url, window=2)
        assert server.alive()
    print(f"paced: {DELIVERIES} deliveries of {CLIENTS * MESSAGES} messages in {elapsed:.1f}s")


@pytest.mark.timeout(90)
async def test_an_unpaced_burst_arrives_whole_when_the_queue_holds_it(tmp_path: Path) -> None:
    """No client ever waits: each is owed ~5,050 frames at once, more than the default queue
    (1,024 frames) holds, so the server runs with a queue that holds the whole burst."""
    with serve_process(tmp_path, "--queue-size", "8192") as server:
        elapsed = await exchange(server.url, window=None)
        assert server.alive()
    print(f"burst: {DELIVERIES} deliveries of {CLIENTS * MESSAGES} messages in {elapsed:.1f}s")
