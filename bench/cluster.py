"""Cross-node throughput and latency over Redis, next to one node, in one run.

Three setups, each started fresh for every measurement (``datadivr serve`` processes on
127.0.0.1, log level warning, one ``redis-server`` with no persistence):

- ``1 node``: one server, the in-memory default;
- ``1 node + Redis``: one server with ``--broker redis://…`` (what the broker costs a node
  alone: every broadcast is published once);
- ``2 nodes``: two servers sharing Redis, every message crossing from one to the other.

Three workloads, driven from this process (its clock times both ends):

- ``one at a time``: one pair of clients, each direct message sent once the previous one
  arrived: the latency of one hop, without queueing;
- ``direct``: 8 pairs of clients; each sender sends direct messages (``to`` = its partner)
  in bursts of 32 and waits until the partner has all of them;
- ``broadcast``: one sender, 16 listeners (``2 nodes``: half on each), ``to: others`` in
  bursts of 16, each burst awaited at every listener.

Every message is counted at its recipient (a shortfall or a duplicate fails the run);
latency is from the sender's ``send`` to the recipient's ``recv``, p50 and p99 over all
deliveries. Request/reply is left out: a handled event is answered by the sender's own node.

    python -m bench.cluster            # the full run (a minute or two)
    python -m bench.cluster --smoke    # seconds: proves the harness still works
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import websockets
from tests.commands import CLI_ENV, DATADIVR
from tests.redis_server import RedisServer, redis_binary

from bench.spec import ROOT

__all__ = ["main"]

RESULTS = ROOT / "bench" / "results"
SETUPS = ("1 node", "1 node + Redis", "2 nodes")
TIMEOUT = 30.0


@dataclass(frozen=True)
class Node:
    """A ``datadivr serve`` process that answers ``/health``."""

    url: str
    health: str


@dataclass
class Sample:
    """One workload on one setup: deliveries, the time they took, their latencies."""

    delivered: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.delivered / self.seconds if self.seconds else 0.0

    def summary(self) -> dict[str, float]:
        ordered = sorted(self.latencies)
        return {
            "delivered": self.delivered,
            "msgs_per_s": round(self.rate, 1),
            "p50_ms": round(1000 * ordered[len(ordered) // 2], 3),
            "p99_ms": round(1000 * ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 3),
        }


class Listener:
    """A client that counts and times what it receives (``message`` = ``<tag> <seq>``)."""

    def __init__(self, ws: websockets.ClientConnection, client_id: str) -> None:
        self.ws = ws
        self.client_id = client_id
        self.got: dict[str, int] = {}
        self.latencies: list[float] = []
        self.sent_at: dict[str, float] = {}
        self.wanted = 0
        self.arrived = asyncio.Event()
        self.task = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def open(cls, node: Node) -> Listener:
        ws = await websockets.connect(node.url, max_queue=None, compression=None)
        welcome = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        return cls(ws, welcome["payload"]["client_id"])

    async def _read(self) -> None:
        async for frame in self.ws:
            now = time.perf_counter()
            message = json.loads(frame)
            key = message.get("message")
            if message["event_name"] != "msg" or key is None:
                raise AssertionError(f"unexpected frame: {frame!r}")
            if key in self.got:
                raise AssertionError(f"{key!r} arrived twice at {self.client_id}")
            self.got[key] = 1
            self.latencies.append(now - self.sent_at[key])
            if len(self.got) >= self.wanted:
                self.arrived.set()

    async def expect(self, total: int) -> None:
        """Wait until ``total`` distinct messages arrived."""
        self.wanted = total
        if len(self.got) < total:
            self.arrived.clear()
            await asyncio.wait_for(self.arrived.wait(), TIMEOUT)

    async def close(self) -> None:
        await self.ws.close()
        with contextlib.suppress(Exception):
            await self.task


async def _send(sender: Listener, to: str, keys: list[str], listeners: list[Listener]) -> None:
    for key in keys:
        now = time.perf_counter()
        for listener in listeners:
            listener.sent_at[key] = now
        await sender.ws.send(json.dumps({"event_name": "msg", "to": to, "message": key}))


async def direct(nodes: list[Node], pairs: int, count: int, burst: int) -> Sample:
    senders = [await Listener.open(nodes[0]) for _ in range(pairs)]
    partners = [await Listener.open(nodes[-1]) for _ in range(pairs)]
    if len(nodes) > 1:
        await _ready(nodes[0], remote=pairs)
    sample = Sample()
    started = time.perf_counter()

    async def run(index: int) -> None:
        sender, partner = senders[index], partners[index]
        for first in range(0, count, burst):
            keys = [f"d{index} {seq}" for seq in range(first, min(count, first + burst))]
            await _send(sender, partner.client_id, keys, [partner])
            await partner.expect(first + len(keys))

    await asyncio.gather(*(run(i) for i in range(pairs)))
    sample.seconds = time.perf_counter() - started
    for partner in partners:
        if len(partner.got) != count:
            raise AssertionError(f"{partner.client_id} got {len(partner.got)} of {count}")
        sample.delivered += len(partner.got)
        sample.latencies += partner.latencies
    for client in senders + partners:
        if client in senders and client.got:
            raise AssertionError("a sender received messages")
        await client.close()
    return sample


async def broadcast(nodes: list[Node], listeners: int, count: int, burst: int) -> Sample:
    sender = await Listener.open(nodes[0])
    crowd = [await Listener.open(nodes[i % len(nodes)]) for i in range(listeners)]
    if len(nodes) > 1:
        await _ready(nodes[0], remote=listeners // 2)
    sample = Sample()
    started = time.perf_counter()
    for first in range(0, count, burst):
        keys = [f"b {seq}" for seq in range(first, min(count, first + burst))]
        await _send(sender, "others", keys, crowd)
        await asyncio.gather(*(listener.expect(first + len(keys)) for listener in crowd))
    sample.seconds = time.perf_counter() - started
    for listener in crowd:
        if len(listener.got) != count:
            raise AssertionError(f"{listener.client_id} got {len(listener.got)} of {count}")
        sample.delivered += count
        sample.latencies += listener.latencies
    if sender.got:
        raise AssertionError("the sender got its own 'others' broadcast")
    for client in [sender, *crowd]:
        await client.close()
    return sample


async def _ready(node: Node, remote: int = 0) -> None:
    """Wait until ``node`` answers, has its broker connected, and knows ``remote`` clients of
    another node (polled: the state is in another process; bounded in time)."""
    deadline = time.monotonic() + TIMEOUT
    async with httpx.AsyncClient() as http:
        while True:
            with contextlib.suppress(httpx.TransportError):
                broker = (await http.get(node.health)).json()["broker"]
                if broker.get("available", True) and broker.get("remote_clients", 0) >= remote:
                    return
            if time.monotonic() > deadline:
                raise AssertionError(f"{node.url} never got ready ({remote} remote clients)")
            await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def _node(*args: str) -> AsyncIterator[Node]:
    """``datadivr serve`` at log level warning on a free port, once it is ready."""
    port = _free_port()
    proc = await asyncio.create_subprocess_exec(
        *DATADIVR, "serve", "--port", str(port), "--log-level", "warning",
        "--queue-size", "100000", *args,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=CLI_ENV,
    )  # fmt: skip
    node = Node(f"ws://127.0.0.1:{port}/ws", f"http://127.0.0.1:{port}/health")
    try:
        await _ready(node)
        yield node
    finally:
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), TIMEOUT)
        except (asyncio.TimeoutError, TimeoutError):
            proc.kill()
            await proc.wait()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def _setup(name: str, redis: RedisServer) -> AsyncIterator[list[Node]]:
    args = {
        "1 node": [[]],
        "1 node + Redis": [["--broker", redis.url]],
        "2 nodes": [["--broker", redis.url], ["--broker", redis.url]],
    }[name]
    async with contextlib.AsyncExitStack() as stack:
        yield list(await asyncio.gather(*(stack.enter_async_context(_node(*a)) for a in args)))


async def measure(rounds: int, sizes: dict[str, int]) -> dict[str, Any]:
    results: dict[str, dict[str, list[dict[str, float]]]] = {
        workload: {setup: [] for setup in SETUPS}
        for workload in ("one at a time", "direct", "broadcast")
    }
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as directory:
        redis = RedisServer(Path(directory))
        redis.start()
        try:
            for round_ in range(rounds):
                for setup in SETUPS:
                    async with _setup(setup, redis) as nodes:
                        one = await direct(nodes, 1, sizes["one"], 1)
                        d = await direct(nodes, sizes["pairs"], sizes["direct"], 32)
                        b = await broadcast(nodes, sizes["listeners"], sizes["broadcast"], 16)
                    results["one at a time"][setup].append(one.summary())
                    results["direct"][setup].append(d.summary())
                    results["broadcast"][setup].append(b.summary())
                    print(
                        f"round {round_ + 1}/{rounds} {setup:15} one at a time p50 "
                        f"{one.summary()['p50_ms']:.2f} ms | direct {d.rate:9.0f} msg/s "
                        f"p50 {d.summary()['p50_ms']:.2f} ms | broadcast {b.rate:9.0f} "
                        f"deliveries/s p50 {b.summary()['p50_ms']:.2f} ms",
                        flush=True,
                    )
        finally:
            redis.stop()
    return {
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "cpus": _cpus(),
            "redis": _redis_version(),
            "load_average_before": [round(x, 2) for x in load_before],
        },
        "rounds": rounds,
        "sizes": sizes,
        "results": {
            workload: {setup: _median(samples) for setup, samples in by_setup.items()}
            for workload, by_setup in results.items()
        },
        "samples": results,
    }


def _median(samples: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(s[key] for s in samples) for key in samples[0]}


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 0


def _redis_version() -> str:
    out = subprocess.run([redis_binary(), "--version"], capture_output=True, text=True, check=False)
    return out.stdout.strip()


def markdown(report: dict[str, Any]) -> str:
    sizes = report["sizes"]
    lines = [
        "# Cluster benchmark: cross-node over Redis next to one node",
        "",
        f"{report['when']}, Python {report['machine']['python']}, "
        f"{report['machine']['cpus']} CPUs, {report['machine']['redis']}; median of "
        f"{report['rounds']} rounds; every server, Redis and the load client share the CPUs "
        f"(load average before the run: {report['machine']['load_average_before'][0]}).",
        "",
        f"- one at a time: 1 pair, {sizes['one']} direct messages, each sent once the "
        "previous one arrived;",
        f"- direct: {sizes['pairs']} pairs x {sizes['direct']} messages, bursts of 32 "
        "(`2 nodes`: every sender on one node, every recipient on the other);",
        f"- broadcast: 1 sender, {sizes['listeners']} listeners (`2 nodes`: half on each), "
        f"{sizes['broadcast']} messages `to: others` in bursts of 16.",
        "",
        "| workload | setup | deliveries | msgs/s | p50 ms | p99 ms |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for workload, by_setup in report["results"].items():
        for setup, figures in by_setup.items():
            lines.append(
                f"| {workload} | {setup} | {figures['delivered']:.0f} | "
                f"{figures['msgs_per_s']:.0f} | {figures['p50_ms']:.2f} | {figures['p99_ms']:.2f} |"
            )
    lines += [
        "",
        "Every message was counted at its recipient: none missing, none twice.",
        "",
        "`python -m bench.cluster` (`make bench-cluster`) wrote this file and `cluster.json`.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="seconds: a tiny run")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    if args.smoke:
        rounds, sizes = 1, {"one": 20, "pairs": 2, "direct": 64, "listeners": 4, "broadcast": 32}
    else:
        rounds = args.rounds
        sizes = {"one": 500, "pairs": 8, "direct": 1000, "listeners": 16, "broadcast": 1000}
    report = asyncio.run(measure(rounds, sizes))
    if args.smoke:
        print("smoke run: results not written")
        return 0
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "cluster.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (RESULTS / "cluster.md").write_text(markdown(report), encoding="utf-8")
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
