"""What refusing invalid frames costs a bystander: a real ``datadivr serve`` process, 8
connections each sending a ``sum_event`` whose 100,000 numbers are all empty strings (about
300 KB, under every limit) twice, while one more connection does ``sum_event`` round trips.
Reports the bystander's worst and median round trip, as median over the rounds.

    python -m bench.flood                                  # 5 rounds
    python -m bench.flood --json bench/results/flood.json  # and keep the figures
    python -m bench.flood --smoke                          # 1 round
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import websockets

from bench.run import SERVERS, _server

__all__ = ["ATTACKERS", "FRAMES_EACH", "flood_frame", "main"]

#: Connections sending the invalid frame, and how many times each sends it.
ATTACKERS = 8
FRAMES_EACH = 2
_ELEMENTS = 100_000


def flood_frame(elements: int = _ELEMENTS) -> str:
    """A ``sum_event`` whose numbers are all strings: one failure per element."""
    payload = {"numbers": [""] * elements}
    return json.dumps({"event_name": "sum_event", "payload": payload}, separators=(",", ":"))


async def _attacker(url: str, frame: str, start: asyncio.Event) -> int:
    refused = 0
    async with websockets.connect(url, max_size=None, compression=None) as ws:
        json.loads(await ws.recv())  # welcome
        await start.wait()
        for _ in range(FRAMES_EACH):
            await ws.send(frame)
        while refused < FRAMES_EACH:
            answer = json.loads(await asyncio.wait_for(ws.recv(), 60))
            if answer["event_name"] == "error":
                assert answer["payload"]["code"] == "validation_error", answer
                refused += 1
    return refused


async def _bystander(url: str, start: asyncio.Event, done: asyncio.Event) -> list[float]:
    rtts: list[float] = []
    async with websockets.connect(url, compression=None) as ws:
        json.loads(await ws.recv())  # welcome
        start.set()
        deadline = time.monotonic() + 30  # bounded whatever happens
        while not done.is_set() and time.monotonic() < deadline:
            sent = time.perf_counter()
            await ws.send('{"event_name":"sum_event","payload":{"numbers":[1,2]},"id":"b"}')
            answer = json.loads(await asyncio.wait_for(ws.recv(), 30))
            rtts.append(time.perf_counter() - sent)
            assert answer["payload"] == 3.0, answer
    return rtts


async def one_round(port: int) -> dict[str, Any]:
    """One flood against the server on ``port``: the bystander's round trips, in ms."""
    url = f"ws://127.0.0.1:{port}/ws"
    frame = flood_frame()
    start, done = asyncio.Event(), asyncio.Event()
    bystander = asyncio.create_task(_bystander(url, start, done))
    refused = await asyncio.gather(*(_attacker(url, frame, start) for _ in range(ATTACKERS)))
    done.set()
    rtts = [1000 * r for r in await bystander]
    assert sum(refused) == ATTACKERS * FRAMES_EACH
    return {"round_trips": len(rtts), "worst_ms": max(rtts), "median_ms": statistics.median(rtts)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="one round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", type=Path, help="write the figures here as JSON")
    args = parser.parse_args(argv)
    rounds = 1 if args.smoke else args.rounds
    results = []
    for _ in range(rounds):
        with _server(SERVERS["DATADIVR"]) as (port, _):
            results.append(asyncio.run(one_round(port)))
    worst = statistics.median(r["worst_ms"] for r in results)
    median = statistics.median(r["median_ms"] for r in results)
    each = ", ".join(f"{r['worst_ms']:.0f}" for r in results)
    print(
        f"flood: {ATTACKERS} connections x {FRAMES_EACH} frames of {_ELEMENTS:,} wrong numbers; "
        f"bystander round trip over {rounds} rounds: worst {worst:.1f} ms (median of rounds; "
        f"all: {each}), median {median:.1f} ms"
    )
    if args.json is not None:
        figures = {
            "attackers": ATTACKERS,
            "frames_each": FRAMES_EACH,
            "elements": _ELEMENTS,
            "worst_ms": round(worst, 1),
            "median_ms": round(median, 1),
            "rounds": results,
        }
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
