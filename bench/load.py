"""The load client: runs one workload against one server, in its own process, and prints the
result as JSON. Every message is numbered and counted: a lost or duplicated one, or one that
never comes within the time limit, fails the run (exit status 1).

    python -m bench.load --peer DATADIVR --port 8765 --workload reqrep-50 [--scale 0.05]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from bench.peers import PEERS, Connection, Peer

__all__ = ["WORKLOADS", "Result", "main"]

#: Seconds any single wait may take before the run counts as failed.
STALL = 30.0


@dataclass
class Result:
    """What a workload measured. ``messages`` is what the server handled (requests, or
    broadcasts received), ``deliveries`` what it sent out."""

    workload: str
    peer: str
    messages: int
    deliveries: int
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        data = asdict(self)
        lat = data.pop("latencies_ms")
        data["rate"] = self.deliveries / self.seconds if self.seconds else 0.0
        if lat:
            ordered = sorted(lat)
            data["p50_ms"] = statistics.median(ordered)
            data["p99_ms"] = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        return data


class CountError(AssertionError):
    """A message was lost, duplicated or out of place."""


async def _expect(conn: Connection, kind: str, seq: int) -> None:
    event = await asyncio.wait_for(conn.next_event(), STALL)
    if event != (kind, seq):
        raise CountError(f"expected {kind} {seq}, got {event}")


async def reqrep(peer: Peer, port: int, clients: int, per_client: int) -> Result:
    """``clients`` connections, each sending ``per_client`` requests one after another."""
    conns = [await peer.connect(port) for _ in range(clients)]
    latencies: list[float] = []

    async def one(conn: Connection, base: int) -> None:
        for n in range(per_client):
            seq = base + n
            started = time.perf_counter()
            await conn.send_request(seq)
            await _expect(conn, "reply", seq)
            latencies.append((time.perf_counter() - started) * 1e3)

    started = time.perf_counter()
    await asyncio.gather(*(one(c, i * per_client) for i, c in enumerate(conns)))
    seconds = time.perf_counter() - started
    for conn in conns:
        await conn.close()
    total = clients * per_client
    return Result(f"reqrep-{clients}", peer.name, total, total, seconds, latencies)


async def pipelined(peer: Peer, port: int, count: int) -> Result:
    """One connection sends ``count`` requests without waiting; replies are counted apart."""
    conn = await peer.connect(port)
    seen = bytearray(count)

    async def read() -> None:
        for _ in range(count):
            kind, seq = await asyncio.wait_for(conn.next_event(), STALL)
            if kind != "reply" or not 0 <= seq < count or seen[seq]:
                raise CountError(f"unexpected {kind} {seq}")
            seen[seq] = 1

    started = time.perf_counter()
    reader = asyncio.create_task(read())
    for seq in range(count):
        await conn.send_request(seq)
    await reader
    seconds = time.perf_counter() - started
    await conn.close()
    return Result("pipelined", peer.name, count, count, seconds)


async def broadcast(peer: Peer, port: int, listeners: int, count: int) -> Result:
    """One sender broadcasts ``count`` messages to ``listeners`` others; each listener must
    get every one, once, in order. The time runs until the last listener has the last one."""
    sender = await peer.connect(port)
    ears = [await peer.connect(port) for _ in range(listeners)]
    await asyncio.sleep(0.2)  # every connection registered before the first message

    async def listen(conn: Connection) -> float:
        for seq in range(count):
            await _expect(conn, "delivery", seq)
        return time.perf_counter()

    tasks = [asyncio.create_task(listen(c)) for c in ears]
    started = time.perf_counter()
    for seq in range(count):
        await sender.send_broadcast(seq)
    last = max(await asyncio.gather(*tasks))
    seconds = last - started
    for conn in [sender, *ears]:
        await conn.close()
    return Result(
        "broadcast", peer.name, count, count * listeners, seconds, extra={"listeners": listeners}
    )


async def idle(peer: Peer, port: int, count: int, rss: Callable[[], int]) -> Result:
    """``count`` idle connections: the server's resident memory per connection."""
    before = rss()
    conns = [await peer.connect(port) for _ in range(count)]
    await asyncio.sleep(1.0)
    after = rss()
    for conn in conns:
        await conn.close()
    return Result(
        "idle",
        peer.name,
        count,
        count,
        1.0,
        extra={"rss_per_connection_kib": (after - before) / count / 1024},
    )


def _rss_of(pid: int) -> Callable[[], int]:
    def rss() -> int:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS")

    return rss


#: The workloads, by name: each takes the peer, the port, the scale and the server's pid.
WORKLOADS: dict[str, Callable[[Peer, int, float, int], Awaitable[Result]]] = {
    "reqrep-1": lambda p, port, s, pid: reqrep(p, port, 1, max(20, int(5000 * s))),
    "reqrep-50": lambda p, port, s, pid: reqrep(p, port, 50, max(4, int(400 * s))),
    "pipelined": lambda p, port, s, pid: pipelined(p, port, max(200, int(20_000 * s))),
    "broadcast": lambda p, port, s, pid: broadcast(
        p, port, max(5, int(100 * s)), max(20, int(1000 * s))
    ),
    "idle": lambda p, port, s, pid: idle(p, port, max(20, int(500 * s)), _rss_of(pid)),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--peer", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workload", required=True, choices=sorted(WORKLOADS))
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--server-pid", type=int, default=0)
    args = parser.parse_args(argv)
    if args.peer not in PEERS:
        import bench.peers_more  # noqa: F401 - registers the peers with extra dependencies
    peer = PEERS[args.peer]
    run = WORKLOADS[args.workload](peer, args.port, args.scale, args.server_pid)
    try:
        result = asyncio.run(asyncio.wait_for(run, 600))
    except (CountError, asyncio.TimeoutError, TimeoutError) as exc:
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
        return 1
    print(json.dumps(result.summary()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
