"""Frames that fail validation everywhere do not hold up a bystander: a real ``datadivr
serve`` process, 8 connections each sending a ``sum_event`` whose 100,000 numbers are all
strings, twice, while a bystander does round trips. How long the bystander waits is a figure of
the benchmark (``python -m bench.flood``), not a test bound."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from datadivr.core._violations import MAX_DETAILS
from tests.integration.hostile import serve_process

ATTACKERS = 8
FRAMES_EACH = 2
FRAME = json.dumps({"event_name": "sum_event", "payload": {"numbers": [""] * 100_000}})


async def attack(url: str, start: asyncio.Event) -> list[dict[str, object]]:
    async with connect(url, max_size=None, compression=None) as ws:
        json.loads(await ws.recv())  # welcome
        await start.wait()
        for n in range(FRAMES_EACH):
            await ws.send(FRAME.replace('"payload"', f'"id": "bad-{n}", "payload"', 1))
        return [json.loads(await asyncio.wait_for(ws.recv(), 30)) for _ in range(FRAMES_EACH)]


async def stand_by(url: str, start: asyncio.Event, done: asyncio.Event) -> int:
    answered = 0
    async with connect(url, compression=None) as ws:
        json.loads(await ws.recv())  # welcome
        start.set()
        for n in range(10_000):  # bounded; ends when the attack is over
            if done.is_set() and n >= 3:
                break
            await ws.send(json.dumps({"event_name": "sum_event", "id": f"q{n}",
                                      "payload": {"numbers": [n, 1]}}))  # fmt: skip
            answer = json.loads(await asyncio.wait_for(ws.recv(), 30))
            assert answer["event_name"] == "sum_handler_result", answer
            assert answer["reply_to"] == f"q{n}"
            assert answer["payload"] == n + 1
            answered += 1
    return answered


@pytest.mark.timeout(120)
async def test_a_flood_of_invalid_frames_gets_typed_errors_and_spares_a_bystander(
    tmp_path: Path,
) -> None:
    with serve_process(tmp_path) as server:
        start, done = asyncio.Event(), asyncio.Event()
        bystander = asyncio.create_task(stand_by(server.url, start, done))
        answers = await asyncio.gather(*(attack(server.url, start) for _ in range(ATTACKERS)))
        done.set()
        assert await bystander >= 3
        assert server.alive()
    for replies in answers:
        assert [r["reply_to"] for r in replies] == [f"bad-{n}" for n in range(FRAMES_EACH)]
        for reply in replies:
            assert reply["event_name"] == "error"
            payload = reply["payload"]
            assert isinstance(payload, dict)
            assert payload["code"] == "validation_error"
            assert payload["event_name"] == "sum_event"
            assert 1 <= len(payload["details"]) <= MAX_DETAILS
            assert payload["details"][0]["path"] == "$.payload.numbers[0]"
            # Refused at its first failure: the server did not build the other 99,999 (it
            # would say how many there were).
            assert reply["message"].endswith("(and maybe more)"), reply["message"]
