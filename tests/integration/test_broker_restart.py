"""Redis killed (SIGKILL) and restarted on the same port under traffic in both directions
between two ``datadivr serve`` nodes: no client that stayed connected is reported gone, every
message is delivered or refused to its sender with a typed error, none twice
(docs/scaling.md, "When Redis goes away")."""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.integration.test_cluster import TIMEOUT, Peer, cluster, connect, until_health
from tests.redis_server import RedisServer

pytestmark = pytest.mark.slow

#: How long Redis stays down: longer than the nodes' first reconnection attempts, so that they
#: come back at different moments (each with its own jittered backoff).
OUTAGE = 3.0
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


async def test_a_redis_restart_under_traffic_loses_no_client_and_no_message(
    redis_server: RedisServer,
) -> None:
    async with cluster(redis_server, 2) as (a, b):
        a1, a2 = await connect(a, 2)
        b1, b2 = await connect(b, 2)
        await until_health(a, remote_clients=2)
        await until_health(b, remote_clients=2)
        peers = [a1, a2, b1, b2]
        ids = [p.client_id for p in peers]
        # Each sender's tag, its route, and who should get its messages.
        flows: dict[str, tuple[Peer, str, list[str]]] = {
            "a1": (a1, b1.client_id, [b1.client_id]),
            "b1": (b1, a1.client_id, [a1.client_id]),
            "a2": (a2, "all", ids),
            "b2": (b2, "others", [i for i in ids if i != b2.client_id]),
        }
        inboxes = {p.client_id: Inbox(p) for p in peers}
        ends = {f"end {tag}" for tag in flows}
        readers = [asyncio.create_task(inbox.read(ends)) for inbox in inboxes.values()]
        stop = asyncio.Event()
        sent: dict[str, int] = {}

        async def stream(tag: str, sender: Peer, to: str) -> None:
            seq = 0
            while not stop.is_set() and seq < MAX_PER_SENDER:
                await sender.send(to, f"{tag}:{seq}", id=f"{tag}:{seq}")
                seq += 1
                await asyncio.sleep(PACE)
            sent[tag] = seq
            await sender.send("all", f"end {tag}")

        senders = [asyncio.create_task(stream(tag, p, to)) for tag, (p, to, _) in flows.items()]
        try:
            # Traffic crosses nodes both ways before the kill ...
            await inboxes[b1.client_id].until("a1", 20)
            await inboxes[a1.client_id].until("b1", 20)
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
            # ... and after the restart, both ways again.
            for recipient, tag in ((b1, "a1"), (a1, "b1"), (b2, "a2"), (a2, "b2")):
                inbox = inboxes[recipient.client_id]
                await inbox.until(tag, inbox.from_sender(tag) + 20)
        finally:
            stop.set()
            await asyncio.wait_for(asyncio.gather(*senders), TIMEOUT)
        await asyncio.wait_for(asyncio.gather(*readers), TIMEOUT)

        # Every message: delivered to each of its recipients once, or refused to its sender.
        errors: dict[str, dict[str, str]] = {tag: {} for tag in flows}
        reasons: Counter[str] = Counter()
        false_unknown = 0
        for tag, (sender, _, _) in flows.items():
            for frame in inboxes[sender.client_id].frames:
                if frame["event_name"] == "error" and str(frame.get("reply_to")).startswith(tag):
                    code = frame["payload"]["code"]
                    errors[tag][frame["reply_to"]] = code
                    false_unknown += code == "unknown_recipient"
                    reasons[re.sub(r"'[0-9a-f]+'", "X", frame["message"].partition(":")[0])] += 1
        received = {
            cid: Counter(str(f["message"]) for f in inbox.frames if f["event_name"] == "msg")
            for cid, inbox in inboxes.items()
        }
        duplicates = [(cid, m) for cid, got in received.items() for m, n in got.items() if n > 1]
        lost = [
            (message, recipient)
            for tag, (_, _, recipients) in flows.items()
            for message in (f"{tag}:{seq}" for seq in range(sent[tag]))
            for recipient in recipients
            if received[recipient][message] == 0 and message not in errors[tag]
        ]
        refused = sum(len(e) for e in errors.values())
        codes = Counter(code for e in errors.values() for code in e.values())
        summary = (
            f"{sum(sent.values())} sent, {refused} refused {dict(codes)}, "
            f"{false_unknown} unknown_recipient, {len(lost)} lost, {len(duplicates)} twice; "
            f"refusals: {dict(reasons)}; "
            f"recovered {recovered:.2f} s after the kill"
        )
        print(summary)
        assert false_unknown == 0, summary
        assert lost == [], f"{summary}: {lost[:10]}"
        assert duplicates == [], f"{summary}: {duplicates[:10]}"
        assert set(codes) == {"broker_unavailable"}, summary  # the outage was seen, and typed
