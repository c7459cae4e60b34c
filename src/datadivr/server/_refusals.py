"""Refused handshakes and sockets, logged as a count per reason at most once per interval.

Anyone who can reach the server can have a handshake refused (a wrong token, a foreign
``Origin``, one connection too many, headers too large or too slow), as often as they like: a
line per refusal would let them write the log at will. :class:`RefusalLog` writes the first
refusal after a quiet interval at once, counts the ones that follow, and writes their counts
when the interval is over. The app (``datadivr.server._server``) and the transport
(``datadivr.server._uvicorn``) share one.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any, Protocol

__all__ = ["REFUSAL_LOG_INTERVAL", "RefusalLog"]

#: Seconds between two summaries of refused handshakes.
REFUSAL_LOG_INTERVAL = 10.0
#: Addresses counted per interval; refusals from further ones count only towards their reason.
MAX_ADDRESSES = 1000
#: The addresses a summary names: those refused most often.
SHOWN_ADDRESSES = 3


class Timer(Protocol):
    """What ``call_later`` returns (an ``asyncio.TimerHandle``)."""

    def cancel(self) -> None: ...


CallLater = Callable[[float, Callable[[], None]], Timer]


def _loop_call_later(delay: float, callback: Callable[[], None]) -> Timer:
    return asyncio.get_running_loop().call_later(delay, callback)


class RefusalLog:
    """Counts refused handshakes per reason and logs them at most once per ``interval``.

    Each line (``connections refused``, at WARNING) holds the number of refusals since the
    last one, per status and reason, and the addresses refused most often. A refusal after a
    quiet interval is written at once; the refusals that follow within the interval are written
    together when it ends (a timer), or by :meth:`flush`. Each refusal is also logged on its
    own, with its address, at DEBUG.

    Args:
        log: A structlog logger (:func:`datadivr._logging.get_logger`).
        interval: Seconds between two lines.
        clock: Monotonic seconds (``time.monotonic``).
        call_later: Schedules the end of an interval; the running event loop's by default.
        context: What else each line says (the open and pending sockets, say).
    """

    def __init__(
        self,
        log: Any,
        *,
        interval: float = REFUSAL_LOG_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
        call_later: CallLater = _loop_call_later,
        context: Callable[[], Mapping[str, object]] | None = None,
    ) -> None:
        self._log = log
        self._context = context
        self.interval = interval
        self._clock = clock
        self._call_later = call_later
        self._reasons: Counter[str] = Counter()
        self._addresses: Counter[str] = Counter()
        self._written: float | None = None  # when the last line was written
        self._timer: Timer | None = None

    def refused(self, status: int | None, reason: str, address: str) -> None:
        """Count one refused handshake or socket (``status``: the HTTP status it was answered
        with, ``None`` for none); write the counts if no line was written lately."""
        self._log.debug("connection refused", status=status, reason=reason, address=address)
        self._reasons[reason if status is None else f"{status} {reason}"] += 1
        if address in self._addresses or len(self._addresses) < MAX_ADDRESSES:
            self._addresses[address] += 1
        now = self._clock()
        if self._written is None or now - self._written >= self.interval:
            self.flush()
        elif self._timer is None:
            self._timer = self._call_later(self._written + self.interval - now, self._due)

    def flush(self) -> None:
        """Write what was counted and not yet written (at the end of an interval, and when the
        server shuts down)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._reasons:
            return
        self._log.warning(
            "connections refused",
            refused=sum(self._reasons.values()),
            reasons=dict(self._reasons.most_common()),
            addresses=dict(self._addresses.most_common(SHOWN_ADDRESSES)),
            **(self._context() if self._context is not None else {}),
        )
        self._reasons.clear()
        self._addresses.clear()
        self._written = self._clock()

    def _due(self) -> None:
        self._timer = None
        self.flush()
