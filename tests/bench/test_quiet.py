"""``python -m bench.quiet``: uvicorn's main loop turning once a second for a counted server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any, cast

import pytest

from bench import quiet

ROOT = Path(__file__).resolve().parents[2]


class Ticking:
    """Stands in for a uvicorn server: asks to exit on its third tick."""

    def __init__(self) -> None:
        self.ticks: list[int] = []

    async def on_tick(self, counter: int) -> bool:
        self.ticks.append(counter)
        return len(self.ticks) == 3


async def test_each_turn_counts_as_a_second_of_uvicorn_turns(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(quiet, "TICK_SECONDS", 0)
    server = Ticking()
    await quiet._main_loop(cast(Any, server))
    # on_tick updates the date header when the counter is a multiple of 10: on every turn.
    assert server.ticks == [0, 10, 20]


def test_it_runs_the_module_it_is_given() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.quiet", "-m", "json.tool", "--compact"],
        input='{"a": [1, 2]}',
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout) == (0, '{"a":[1,2]}\n'), done.stderr


def test_without_a_module_it_says_how_to_call_it() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.quiet", "datadivr"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "usage: python -m bench.quiet -m MODULE [ARGS...]" in done.stderr
