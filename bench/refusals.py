"""What refusing a broken frame costs, now that its ``details`` are the reference validator's.

Run ``uv run python -m bench.refusals`` (seconds) or ``--smoke`` (CI); ``--json PATH`` also
writes every figure.

For each frame of the demo protocol, per operation (the median of the repeats):

- **valid**: ``PROTOCOL.parse`` of a valid frame, for scale;
- **refused**: ``PROTOCOL.refusal`` of a broken frame, what the server (and the enforcing proxy)
  answers with: the models refuse it, then the reference validator (jsonschema) reports on it,
  for a frame of at most ``EXHAUSTIVE_ITEMS`` items;
- **translated**: the same frame's refusal from the models' errors alone, translated into the
  same vocabulary (what a larger frame gets): the cost without the reference validator.
"""

from __future__ import annotations

import argparse
import json
import statistics
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from datadivr.core._protocol import _first_errors
from datadivr.core._violations import MAX_DETAILS, violations
from datadivr.demo import PROTOCOL

UUID = "6f1c1c5e-8d7b-4b7e-9a51-3f6f2b1d9c10"

FRAMES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "sum_event, one wrong number": (
        {"event_name": "sum_event", "payload": {"numbers": [1, 2, 3]}},
        {"event_name": "sum_event", "payload": {"numbers": [1, "2", 3]}},
    ),
    "msg, no message": (
        {"event_name": "msg", "message": "hi"},
        {"event_name": "msg"},
    ),
    "scene_update, not a uuid": (
        {"event_name": "scene_update", "payload": {"scene_id": UUID, "revision": 0, "objects": []}},
        {"event_name": "scene_update", "payload": {"scene_id": "x", "revision": 0, "objects": []}},
    ),
    "sum_event, 1,000 wrong numbers": (
        {"event_name": "sum_event", "payload": {"numbers": [1] * 1000}},
        {"event_name": "sum_event", "payload": {"numbers": ["x"] * 1000}},
    ),
}


def _translated(frame: str) -> object:
    try:
        PROTOCOL.adapter.validate_json(frame, by_alias=True, by_name=False)
    except ValidationError as exc:
        # As the server reads them: the first MAX_DETAILS errors only.
        return violations(_first_errors(exc, MAX_DETAILS), skip=1)
    raise AssertionError("the models take a broken frame")


def _median(operation: Callable[[], object], repeats: int, number: int) -> float:
    operation()
    return statistics.median(timeit.repeat(operation, number=number, repeat=repeats)) / number


def run(*, smoke: bool) -> list[dict[str, Any]]:
    repeats, number = (3, 5) if smoke else (7, 200)
    rows = []
    for name, (valid, broken) in FRAMES.items():
        good, bad = json.dumps(valid), json.dumps(broken)
        assert PROTOCOL.refusal(good) is None
        error = PROTOCOL.refusal(bad)
        assert error is not None
        assert error.code == "validation_error"
        loops = max(1, number // 20) if "1,000" in name else number
        rows.append(
            {
                "frame": name,
                "valid_us": _median(lambda f=good: PROTOCOL.parse(f), repeats, loops) * 1e6,
                "refused_us": _median(lambda f=bad: PROTOCOL.refusal(f), repeats, loops) * 1e6,
                "translated_us": _median(lambda f=bad: _translated(f), repeats, loops) * 1e6,
                "details": len(error.details),
            }
        )
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="a few loops, for CI")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    rows = run(smoke=args.smoke)
    table = Table(title="Refusing a frame (µs per frame, median)")
    for column in ("frame", "valid", "refused", "translated", "details"):
        table.add_column(column, justify="left" if column == "frame" else "right")
    for row in rows:
        table.add_row(
            row["frame"],
            f"{row['valid_us']:.1f}",
            f"{row['refused_us']:.1f}",
            f"{row['translated_us']:.1f}",
            str(row["details"]),
        )
    Console().print(table)
    if args.json is not None:
        args.json.write_text(json.dumps({"refusals": rows}, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
