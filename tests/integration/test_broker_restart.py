"""Redis killed (SIGKILL) and restarted on the same port, or stalled (SIGSTOP), under traffic
in both directions between two ``datadivr serve`` nodes: no client that stayed connected is
reported gone, every message is delivered or refused to its sender with a typed error, none
twice (docs/scaling.md, "When Redis goes away")."""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.commands import Served
from tests.integration.test_cluster import TIMEOUT, Peer, cluster, connect, until_health
from tests.redis_server import RedisServer

pytestmark = pytest.mark.slow

#: How long Redis stays down: longer than the nodes' first reconnection attempts, so that they
#: come back at different moments (each with its own jittered backoff).
OUTAGE = 3.0
#: A stall shorter than the socket timeout (2 s) and than two thirds of the TTL (1.5 s).
STALL = 0.5
#: The pause between two messages of one sender, and the most one sender sends (a bound).
PACE = 0.005
MAX_PER_SENDER = 5_000


@dataclass
class Inbox:
    """What one client received: every frame, until every sender's end marker."""

    peer: Peer
    frames: list[dict[str, Any]] = field(default_factory=list)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def read(self, ends: set[str]) -> None:
        waiting = set(ends)
        while waiting:
            frame = await self.peer.recv()
            text = frame.get("message")
            if text in waiting:
                waiting.discard(text)
                continue
            async with self.changed:
                self.frames.append(frame)
                self.changed.notify_all()

    def from_sender(self, tag: str) -> int:
        return sum(1 for f in self.frames if str(f.get("message", "")).startswith(tag + ":"))

    async def until(self, tag: str, count: int) -> None:
        """Wait until ``count`` messages of the sender ``tag`` have arrived."""
        async with self.changed:
            await asyncio.wait_for(
                self.changed.wait_for(lambda: self.from_sender(tag) >= count), TIMEOUT
            )


@dataclass
class Outcome:
    """What became of every message: refusals by code and reason, losses, duplicates."""

    sent: int
    codes: Counter[str]
    reasons: Counter[str]
    lost: list[tuple[str, str]]
    duplicates: list[tuple[str, str]]

    def __str__(self) -> str:
        return (
            f"{self.sent} sent, {sum(self.codes.values())} refused {dict(self.codes)}, "
            f"{len(self.lost)} lost, {len(self.duplicates)} twice; refusals: {dict(self.reasons)}"
        )


@dataclass
class Traffic:
    """Two clients on each of two nodes, each sending a message every ``PACE``: a direct
    stream each way between a1 and b1, ``all`` from a2, ``others`` from b2."""

    a: Served
    b: Served
    flows: dict[str, tuple[Peer, str, list[str]]]
    inboxes: dict[str, Inbox]
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    sent: dict[str, int] = field(default_factory=dict)

    @classmethod
    @asynccontextmanager
    async def running(cls, redis: RedisServer) -> AsyncIterator[Traffic]:
        """Two nodes on ``redis`` with traffic crossing them both ways; at the end, every
        sender stops and sends its end marker, and every client reads up to the markers."""
        async with cluster(redis, 2) as (a, b):
            a1, a2 = await connect(a, 2)
            b1, b2 = await connect(b, 2)
            await until_health(a, remote_clients=2)
            await until_health(b, remote_clients=2)
            ids = [p.client_id for p in (a1, a2, b1, b2)]
            flows = {
                "a1": (a1, b1.client_id, [b1.client_id]),
                "b1": (b1, a1.client_id, [a1.client_id]),
                "a2": (a2, "all", ids),
                "b2": (b2, "others", [i for i in ids if i != b2.client_id]),
            }
            traffic = cls(a, b, flows, {p.client_id: Inbox(p) for p in (a1, a2, b1, b2)})
            ends = {f"end {tag}" for tag in flows}
            readers = [asyncio.create_task(i.read(ends)) for i in traffic.inboxes.values()]
            senders = [asyncio.create_task(traffic._stream(tag)) for tag in flows]
            try:
                await traffic.crossing()  # both ways before anything happens
                yield traffic
            finally:
                traffic.stop.set()
                await asyncio.wait_for(asyncio.gather(*senders), TIMEOUT)
            await asyncio.wait_for(asyncio.gather(*readers), TIMEOUT)

    async def _stream(self, tag: str) -> None:
        sender, to, _ = self.flows[tag]
        seq = 0
        while not self.stop.is_set() and seq < MAX_PER_SENDER:
            await sender.send(to, f"{tag}:{seq}", id=f"{tag}:{seq}")
            seq += 1
            await asyncio.sleep(PACE)
        self.sent[tag] = seq
        await sender.send("all", f"end {tag}")

    async def crossing(self, count: int = 20) -> None:
        """Wait until ``count`` more messages have crossed the nodes, in each direction."""
        for tag, other in (("a1", "b1"), ("b1", "a1"), ("a2", "b2"), ("b2", "a2")):
            inbox = self.inboxes[self.flows[other][0].client_id]
            await inbox.until(tag, inbox.from_sender(tag) + count)

    def outcome(self) -> Outcome:
        """Once stopped: every message, delivered to each of its recipients once, or refused."""
        errors: dict[str, str] = {}
        reasons: Counter[str] = Counter()
        for tag, (sender, _, _) in self.flows.items():
            for frame in self.inboxes[sender.client_id].frames:
                if frame["event_name"] == "error" and str(frame.get("reply_to")).startswith(tag):
                    errors[frame["reply_to"]] = frame["payload"]["code"]
                    reason = frame["message"].partition(":")[0]
                    reasons[re.sub(r"'[0-9a-f]+'", "X", reason)] += 1
        received = {
            cid: Counter(str(f["message"]) for f in inbox.frames if f["event_name"] == "msg")
            for cid, inbox in self.inboxes.items()
        }
        return Outcome(
            sent=sum(self.sent.values()),
            codes=Counter(errors.values()),
            reasons=reasons,
            lost=[
                (message, recipient)
                for tag, (_, _, recipients) in self.flows.items()
                for message in (f"{tag}:{seq}" for seq in range(self.sent[tag]))
                for recipient in recipients
                if received[recipient][message] == 0 and message not in errors
            ],
            duplicates=[(c, m) for c, got in received.items() for m, n in got.items() if n > 1],
        )


async def test_a_redis_restart_under_traffic_loses_no_client_and_no_message(
    redis_server: RedisServer,
) -> None:
    async with Traffic.running(redis_server) as traffic:
        a, b = traffic.a, traffic.b
        redis_server.kill()
        killed = time.monotonic()
        await a.read_until("broker unavailable")
        await b.read_until("broker unavailable")
        await asyncio.sleep(OUTAGE)  # the outage itself
        redis_server.start()
        await a.read_until("broker reconnected")
        await b.read_until("broker reconnected")
        await until_health(a, available=True, remote_clients=2)
        await until_health(b, available=True, remote_clients=2)
        recovered = time.monotonic() - killed
        await traffic.crossing()  # both ways again after the restart
    outcome = traffic.outcome()
    summary = f"{outcome}; recovered {recovered:.2f} s after the kill"
    print(summary)
    assert outcome.codes["unknown_recipient"] == 0, summary  # nobody left
    assert outcome.lost == [], f"{summary}: {outcome.lost[:10]}"
    assert outcome.duplicates == [], f"{summary}: {outcome.duplicates[:10]}"
    assert set(outcome.codes) == {"broker_unavailable"}, summary  # the outage was seen, typed


async def test_a_redis_stall_shorter_than_the_socket_timeout_only_delays(
    redis_server: RedisServer,
) -> None:
    """Redis stopped (SIGSTOP) for less than the socket timeout: not an outage. Every message
    is delivered once, late, and none is refused."""
    async with Traffic.running(redis_server) as traffic:
        redis_server.pause()
        await asyncio.sleep(STALL)  # the stall itself
        redis_server.resume()
        await traffic.crossing()
    outcome = traffic.outcome()
    print(outcome)
    assert sum(outcome.codes.values()) == 0, outcome
    assert outcome.lost == [], outcome
    assert outcome.duplicates == [], outcome
    assert not any("broker unavailable" in line for line in traffic.a.lines + traffic.b.lines)
