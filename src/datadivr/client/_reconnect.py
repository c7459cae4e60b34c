"""Reconnecting after a dropped connection: the policy, its backoff, and what is worth retrying.

All of it is plain code without I/O; the client's :class:`~datadivr.client._session.Session` runs it.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["Reconnect"]

#: Close codes after which a new connection would be refused again: 1008 is the server's
#: "policy violation" (not authorised, origin not allowed …).
FINAL_CLOSE_CODES = frozenset({1008})


@dataclass(frozen=True, kw_only=True)
class Reconnect:
    """How a client reconnects when its connection drops (anything but its own ``close()``).

    The wait before attempt *n* is ``min(max_delay, initial_delay * factor ** (n - 1))``,
    multiplied by a random factor in ``[1 - jitter, 1]`` so that clients dropped together do
    not all come back at the same instant. Each drop starts the sequence again. All settings
    are keyword-only::

        Client(url, reconnect=Reconnect(max_delay=30, max_attempts=20))

    Raises:
        ValueError: a setting is out of range.
    """

    initial_delay: float = 0.1
    """Seconds before the first attempt (before jitter)."""
    max_delay: float = 10.0
    """The longest wait between two attempts, in seconds (before jitter)."""
    factor: float = 2.0
    """How much longer each wait is than the one before (at least 1)."""
    jitter: float = 0.5
    """The fraction of each wait that is random, from 0 (none) to 1."""
    max_attempts: int | None = None
    """Attempts after each drop before giving up; ``None`` to try forever."""
    buffer_size: int = 1000
    """Outgoing messages kept while reconnecting and sent, in order, once the connection is
    back; one more raises :class:`~datadivr.exceptions.SendBufferFullError` (0: none kept)."""

    def __post_init__(self) -> None:
        if self.initial_delay < 0:
            raise ValueError(f"initial_delay must not be negative, got {self.initial_delay}")
        if self.max_delay < self.initial_delay:
            raise ValueError(
                f"max_delay must be at least initial_delay ({self.initial_delay}), "
                f"got {self.max_delay}"
            )
        if self.factor < 1:
            raise ValueError(f"factor must be at least 1, got {self.factor}")
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"jitter must be between 0 and 1, got {self.jitter}")
        if self.max_attempts is not None and self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1 or None, got {self.max_attempts}")
        if self.buffer_size < 0:
            raise ValueError(f"buffer_size must not be negative, got {self.buffer_size}")

    def delays(self, rng: random.Random | None = None) -> Iterator[float]:
        """The wait before each attempt, in seconds: ``max_attempts`` of them, or endless.

        Args:
            rng: The source of the jitter; a seeded ``random.Random`` gives a repeatable
                sequence. A new unseeded one when omitted.

        Returns:
            An iterator of waits; it ends when the attempts are used up.
        """
        rng = rng if rng is not None else random.Random()
        base = self.initial_delay
        attempt = 0
        while self.max_attempts is None or attempt < self.max_attempts:
            attempt += 1
            yield base * rng.uniform(1 - self.jitter, 1)
            # Capped at each step, so it never overflows however long it runs.
            base = min(base * self.factor, self.max_delay)


def retry_after_close(code: int | None) -> bool:
    """Whether a connection closed with ``code`` is worth reconnecting."""
    return code not in FINAL_CLOSE_CODES


def retry_after_refusal(status: int | None) -> bool:
    """Whether a handshake refused with HTTP ``status`` (``None``: no answer at all, e.g. a
    refused TCP connection) is worth trying again.

    Server errors (5xx: 503 full or shutting down), 408 and 429 are passing; any other client
    error (401, 403 wrong token or origin, 404 wrong path) would be refused again.
    """
    return status is None or status >= 500 or status in (408, 429)
