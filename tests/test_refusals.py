"""The refusal log without sockets: a clock and a timer of the test's own."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from datadivr.server._refusals import MAX_ADDRESSES, RefusalLog

NOT_AUTHENTICATED = (403, "not authenticated")
FULL = (503, "the server is full")


class Recorder:
    """A logger that keeps what it was asked to log."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str, dict[str, Any]]] = []

    def debug(self, event: str, **fields: Any) -> None:
        self.lines.append(("debug", event, fields))

    def warning(self, event: str, **fields: Any) -> None:
        self.lines.append(("warning", event, fields))

    def summaries(self) -> list[dict[str, Any]]:
        return [fields for level, _, fields in self.lines if level != "debug"]


class Timers:
    """``call_later`` that runs nothing until the test fires the timers."""

    def __init__(self) -> None:
        self.pending: list[tuple[float, Callable[[], None], Timer]] = []

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        timer = Timer()
        self.pending.append((delay, callback, timer))
        return timer

    def fire(self) -> None:
        pending, self.pending = self.pending, []
        for _, callback, timer in pending:
            if not timer.cancelled:
                callback()


class Timer:
    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def refusal_log() -> tuple[RefusalLog, Recorder, Clock, Timers]:
    recorder, clock, timers = Recorder(), Clock(), Timers()
    log = RefusalLog(recorder, interval=10.0, clock=clock, call_later=timers.call_later)
    return log, recorder, clock, timers


def test_the_first_refusal_is_logged_at_once() -> None:
    log, recorder, _, timers = refusal_log()
    log.refused(*NOT_AUTHENTICATED, "10.0.0.1")
    assert recorder.summaries() == [
        {"refused": 1, "reasons": {"403 not authenticated": 1}, "addresses": {"10.0.0.1": 1}}
    ]
    assert timers.pending == []


def test_a_flood_is_one_line_per_interval_with_counts_per_reason() -> None:
    log, recorder, clock, timers = refusal_log()
    log.refused(*NOT_AUTHENTICATED, "10.0.0.1")
    for n in range(1000):
        clock.now += 0.001
        log.refused(*(FULL if n % 4 == 0 else NOT_AUTHENTICATED), f"10.0.0.{n % 3 + 1}")
    assert len(recorder.summaries()) == 1
    assert [delay for delay, _, _ in timers.pending] == [pytest.approx(10.0 - 0.001)]  # one
    timers.fire()
    [_, summary] = recorder.summaries()
    assert summary["refused"] == 1000
    assert summary["reasons"] == {"403 not authenticated": 750, "503 the server is full": 250}
    assert sum(summary["addresses"].values()) == 1000
    # Every refusal is also at debug level, for whoever asks for that much.
    assert sum(event == "connection refused" for _, event, _ in recorder.lines) == 1001


def test_a_refusal_after_a_quiet_interval_is_logged_at_once() -> None:
    log, recorder, clock, timers = refusal_log()
    log.refused(*NOT_AUTHENTICATED, "10.0.0.1")
    clock.now += 10.0
    log.refused(*FULL, "10.0.0.2")
    assert [s["reasons"] for s in recorder.summaries()] == [
        {"403 not authenticated": 1},
        {"503 the server is full": 1},
    ]
    assert timers.pending == []


def test_flush_writes_what_is_left_and_cancels_the_timer() -> None:
    log, recorder, clock, timers = refusal_log()
    log.refused(*NOT_AUTHENTICATED, "10.0.0.1")
    clock.now += 1
    log.refused(*NOT_AUTHENTICATED, "10.0.0.1")
    log.flush()
    assert [s["refused"] for s in recorder.summaries()] == [1, 1]
    timers.fire()  # cancelled: nothing more
    log.flush()  # nothing counted: nothing written
    assert len(recorder.summaries()) == 2


def test_addresses_counted_are_bounded() -> None:
    log, recorder, _, timers = refusal_log()
    log.refused(*NOT_AUTHENTICATED, "first")
    for n in range(MAX_ADDRESSES * 2):
        log.refused(*NOT_AUTHENTICATED, f"10.{n // 65536}.{n // 256 % 256}.{n % 256}")
    log.refused(*NOT_AUTHENTICATED, "10.0.0.0")  # one that is counted already
    assert len(log._addresses) == MAX_ADDRESSES
    timers.fire()
    summary = recorder.summaries()[-1]
    assert summary["refused"] == MAX_ADDRESSES * 2 + 1
    assert summary["addresses"]["10.0.0.0"] == 2
    assert len(summary["addresses"]) == 3


def test_a_socket_closed_without_an_answer_counts_by_its_reason_and_lines_carry_context() -> None:
    recorder, clock, timers = Recorder(), Clock(), Timers()
    log = RefusalLog(
        recorder,
        clock=clock,
        call_later=timers.call_later,
        context=lambda: {"open": 3, "pending": 1},
    )
    log.refused(None, "accept() failed: no file descriptor left", "unknown")
    log.refused(408, "the handshake took too long", "10.0.0.1")
    timers.fire()
    assert recorder.summaries() == [
        {
            "refused": 1,
            "reasons": {"accept() failed: no file descriptor left": 1},
            "addresses": {"unknown": 1},
            "open": 3,
            "pending": 1,
        },
        {
            "refused": 1,
            "reasons": {"408 the handshake took too long": 1},
            "addresses": {"10.0.0.1": 1},
            "open": 3,
            "pending": 1,
        },
    ]
