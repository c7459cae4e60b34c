"""The server's limits, and the plain checks that enforce them (no I/O)."""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from datadivr.exceptions import ProtocolError

__all__ = ["Limits"]

KiB = 1 << 10
MiB = 1 << 20


@dataclass(frozen=True)
class Flag:
    """How ``datadivr serve`` sets one limit. The flag and the environment variable are the
    field's name: ``max_frame_size`` is ``--max-frame-size`` and ``DATADIVR_MAX_FRAME_SIZE``.

    Attributes:
        help: The option's help, a line or two.
        min: The least value the command line accepts.
        default_text: What ``--help`` shows as the default instead of its value.
        zero_means_none: The limit is ``None`` when set to 0 (``--ping-interval 0``: no pings),
            and the option's default is 0 where the field's is ``None``.
    """

    help: str
    min: int | float = 1
    default_text: str | None = None
    zero_means_none: bool = False

    @staticmethod
    def of(metadata: Mapping[str, object]) -> Flag:
        """The flag in a field's metadata."""
        flag = metadata[_FLAG]
        assert isinstance(flag, Flag)
        return flag


_FLAG = "datadivr.flag"


def _flag(
    help: str,
    *,
    min: int | float = 1,
    default_text: str | None = None,
    zero_means_none: bool = False,
) -> dict[str, Flag]:
    """A limit field's metadata: its ``Flag``."""
    return {_FLAG: Flag(help, min, default_text, zero_means_none)}


@dataclass(frozen=True)
class Limits:
    """What one server accepts. Every limit has a default; ``datadivr serve`` sets each from a
    flag or a ``DATADIVR_…`` environment variable (see ``datadivr serve --help``).

    Attributes:
        max_frame_size: Bytes in one frame. A larger frame closes its connection with code
            1009; the transport never buffers more than this for it.
        max_depth: Nesting of arrays and objects in one message (the envelope counts as one);
            deeper messages get an ``error`` with code ``message_too_large``.
        max_items: Array elements and object members in one message, all containers
            together; more get an ``error`` with code ``message_too_large``.
        max_connections: Open connections on the server; more are refused with HTTP 503
            before the handshake completes.
        max_connections_per_address: Open connections from one remote address; more are
            refused with HTTP 503.
        queue_size: Outgoing frames a connection may have waiting. A reader that falls this
            far behind is disconnected with code 1013, so that it holds up no one else.
        queue_bytes: Bytes of outgoing frames a connection may have waiting; over it, the
            same as ``queue_size`` (one frame larger than this alone is still queued).
        rate: Messages per second one connection may send (a token bucket), or ``None`` for no
            limit. Excess messages get an ``error`` with code ``rate_limited``.
        burst: Messages one connection may send at once above ``rate``; defaults to one
            second's worth.
        ping_interval: Seconds between the server's pings (``None``: no pings).
        ping_timeout: Seconds to wait for the pong; a peer that does not answer is dropped.
            A half-open connection is thus gone within ``ping_interval + ping_timeout``.
        shutdown_timeout: Seconds a graceful shutdown waits for clients to take what was
            already accepted before it closes the rest.
        handshake_timeout: Seconds from a socket's arrival (or from the first byte of its
            next request) until its request line and headers are in and, for a WebSocket,
            the handshake is complete; a socket still short of that is closed, with HTTP 408
            where an answer is still possible.
        max_header_size: Bytes of a request's line and headers together; more are refused
            with HTTP 431 and the socket closed. A WebSocket handshake is also refused (431)
            for a single header line over 8 KiB or more than 128 headers.
    """

    # ``datadivr serve`` makes an option of each field, from its name, type, default and the
    # Flag in its metadata: a new limit is a field here, its line in Attributes above and its
    # check in __post_init__.
    max_frame_size: int = field(
        default=MiB,
        metadata=_flag("Bytes per frame; larger frames close the connection (1009)."),
    )
    max_depth: int = field(default=32, metadata=_flag("Nesting levels per message."))
    max_items: int = field(
        default=200_000, metadata=_flag("Array elements and object members per message.")
    )
    max_connections: int = field(
        default=10_000, metadata=_flag("Open connections; more are refused with HTTP 503.")
    )
    max_connections_per_address: int = field(
        default=1_000, metadata=_flag("Open connections from one address.")
    )
    queue_size: int = field(
        default=1024,
        metadata=_flag(
            "Outgoing frames waiting per connection; a reader this far behind is dropped (1013)."
        ),
    )
    queue_bytes: int = field(
        default=8 * MiB,
        metadata=_flag("Bytes of outgoing frames waiting per connection; over it, the same."),
    )
    rate: float | None = field(
        default=None,
        metadata=_flag(
            "Messages per second per connection; excess ones get rate_limited.",
            min=0.001,
            default_text="no limit",
        ),
    )
    burst: int | None = field(
        default=None,
        metadata=_flag(
            "Messages a connection may send at once above --rate.",
            default_text="one second's worth",
        ),
    )
    ping_interval: float | None = field(
        default=20.0,
        metadata=_flag(
            "Seconds between pings to each client; 0 for none.", min=0, zero_means_none=True
        ),
    )
    ping_timeout: float | None = field(
        default=20.0,
        metadata=_flag(
            "Seconds to wait for a pong before dropping the client; 0 to wait forever.",
            min=0,
            zero_means_none=True,
        ),
    )
    shutdown_timeout: float = field(
        default=10.0,
        metadata=_flag(
            "Seconds a graceful shutdown waits for clients to take what was accepted.", min=0
        ),
    )
    handshake_timeout: float = field(
        default=10.0,
        metadata=_flag(
            "Seconds a socket has to send its request's headers and finish its handshake; "
            "then it is closed (408).",
            min=0.001,
        ),
    )
    max_header_size: int = field(
        default=16 * KiB,
        metadata=_flag("Bytes of a request's line and headers; more are refused with 431."),
    )

    def __post_init__(self) -> None:
        for name in (
            "max_frame_size",
            "max_depth",
            "max_items",
            "max_connections",
            "max_connections_per_address",
            "queue_size",
            "queue_bytes",
            "max_header_size",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        for name in ("rate", "ping_interval", "ping_timeout"):
            value = getattr(self, name)
            if value is not None and not (value > 0 and math.isfinite(value)):
                raise ValueError(f"{name} must be positive and finite, or None, got {value!r}")
        if self.burst is not None and (isinstance(self.burst, bool) or self.burst < 1):
            raise ValueError(f"burst must be at least 1, got {self.burst!r}")
        if not (self.handshake_timeout > 0 and math.isfinite(self.handshake_timeout)):
            raise ValueError(
                f"handshake_timeout must be positive and finite, got {self.handshake_timeout!r}"
            )
        if not (self.shutdown_timeout >= 0 and math.isfinite(self.shutdown_timeout)):
            raise ValueError(
                f"shutdown_timeout must be finite and not negative, got {self.shutdown_timeout}"
            )

    def bucket(self, clock: Callable[[], float] = time.monotonic) -> TokenBucket | None:
        """A fresh token bucket for one connection, or ``None`` when there is no rate limit."""
        if self.rate is None:
            return None
        burst = self.burst if self.burst is not None else max(1, round(self.rate))
        return TokenBucket(self.rate, burst, clock)


class TokenBucket:
    """``rate`` tokens a second, at most ``burst`` saved up; each message takes one.

    Args:
        rate: Tokens added per second.
        burst: The bucket's size, and its content at the start.
        clock: Seconds, monotonic.
    """

    __slots__ = ("_clock", "_last", "_tokens", "burst", "rate")

    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._last = clock()

    def take(self) -> bool:
        """Take a token if there is one; ``False`` means over the limit."""
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False


# A JSON string, escapes included (unrolled so that long strings cost no backtracking).
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_EMPTY = re.compile(r"\[\s*\]|\{\s*\}")
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_INNERMOST = re.compile(r"\[\]|\{\}")


def check_structure(frame: str | bytes, *, max_depth: int, max_items: int) -> None:
    """Refuse a well-formed JSON frame that nests deeper than ``max_depth`` or holds more than
    ``max_items`` array elements and object members.

    It runs at C speed: a frame with few brackets and commas, which is nearly every frame,
    costs two ``str.count`` calls; others are measured with regular expressions, never with a
    Python loop per character.

    Raises:
        ProtocolError: ``message_too_large``, saying which limit was passed.
    """
    text = frame if isinstance(frame, str) else frame.decode("utf-8", "replace")
    opens = text.count("[") + text.count("{")
    if opens <= max_depth and opens + text.count(",") <= max_items:
        return  # the counts bound both depth and items from above
    bare = _STRING.sub('""', text)
    empty = len(_EMPTY.findall(bare)) if "[" in bare or "{" in bare else 0
    opens = bare.count("[") + bare.count("{")
    items = bare.count(",") + opens - empty  # each non-empty container: its commas + 1
    if items > max_items:
        raise ProtocolError(
            "message_too_large",
            f"the message holds {items} array elements and object members; "
            f"the limit is {max_items}",
        )
    if opens <= max_depth:
        return
    brackets = _NOT_BRACKET.sub("", bare)
    for _ in range(max_depth):
        brackets, removed = _INNERMOST.subn("", brackets)
        if not brackets or not removed:
            return
    raise ProtocolError(
        "message_too_large", f"the message nests deeper than the limit of {max_depth} levels"
    )


def head_size(method: bytes, target: bytes, headers: Iterable[tuple[bytes, bytes]]) -> int:
    """Bytes of a request's line and headers as they came (give or take optional spaces)."""
    line = len(method) + len(target) + len(b"  HTTP/1.1\r\n")
    return line + sum(len(name) + len(value) + len(b": \r\n") for name, value in headers) + 2


def utf8_size(text: str) -> int:
    """Bytes of ``text`` as UTF-8; constant time for ASCII text, which most frames are."""
    return len(text) if text.isascii() else len(text.encode())


def over_size(text: str, limit: int) -> bool:
    """Whether ``text`` is more than ``limit`` bytes as UTF-8; it is encoded only when its
    length alone cannot tell (a character is 1 to 4 bytes)."""
    return len(text) > limit or (len(text) * 4 > limit and utf8_size(text) > limit)
