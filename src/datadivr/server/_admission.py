"""Who gets a socket: the connection limits counted per socket, from its arrival (no I/O).

The transport (``datadivr.server._uvicorn``) opens a :class:`Slot` for every socket it accepts, before
a byte is read, so that sockets still in their handshake count against the limits as much as
open WebSocket connections do; the app (``datadivr.server._server``) opens one per WebSocket only when
it runs under a server that did not.
"""

from __future__ import annotations

import enum
import ipaddress
from collections import Counter
from collections.abc import Callable

__all__ = [
    "COUNTED",
    "FULL",
    "TOO_MANY_FROM_ADDRESS",
    "Admission",
    "Slot",
    "SlotState",
    "address_key",
    "socket_budget",
]

#: Why a socket was refused, as its 503 says.
FULL = "the server is full"
TOO_MANY_FROM_ADDRESS = "too many connections from this address"
#: The ASGI scope extension that says the transport counted the socket already.
COUNTED = "datadivr.counted"


def address_key(host: str | None) -> str:
    """The remote address that connection limits count: an IPv6 host by its /64 network, as
    one host usually owns a whole /64."""
    if host is None:
        return "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host  # a Unix socket path or the like
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def socket_budget(open_files: int | None) -> int | None:
    """How many sockets to hold at most with ``open_files`` file descriptors (the soft
    ``RLIMIT_NOFILE``; ``None``: no limit): all but a reserve of a sixteenth, at least 64,
    for the listening socket, the log, the broker, the files the server reads, and the
    sockets accepted and not yet counted or closed and not yet released."""
    if open_files is None:
        return None
    return max(1, open_files - max(64, open_files // 16))


class SlotState(enum.Enum):
    """What a counted socket is doing."""

    PENDING = "pending"
    """Waiting for a request's line and headers, or for the app to accept its WebSocket: the
    first to be let go (evicted) when the server is full."""
    BUSY = "busy"
    """An HTTP request being answered."""
    OPEN = "open"
    """An admitted WebSocket connection."""


class Slot:
    """One counted socket.

    Args:
        address: Its remote address, as :func:`address_key` gives it.
        evict: Closes the socket; ``None`` for one that may not be evicted.
    """

    __slots__ = ("address", "closed", "evict", "state")

    def __init__(self, address: str, evict: Callable[[], None] | None) -> None:
        self.address = address
        self.evict = evict
        self.state = SlotState.PENDING if evict is not None else SlotState.OPEN
        self.closed = False


class Admission:
    """The open sockets, counted in total and per remote address.

    A socket over ``max_connections_per_address`` is refused. One over the total, which is
    ``max_connections`` or ``max_sockets`` (what the open-file limit allows) whichever is
    lower, takes the place of the oldest pending socket, if there is one, else is refused.

    Args:
        max_connections: Sockets in all.
        max_connections_per_address: Sockets from one address.
        max_sockets: Sockets the process can hold (see :func:`socket_budget`); ``None`` for
            no limit of its own.
    """

    def __init__(
        self,
        max_connections: int,
        max_connections_per_address: int,
        max_sockets: int | None = None,
    ) -> None:
        self.max_connections = max_connections
        self.max_connections_per_address = max_connections_per_address
        self.max_sockets = max_sockets
        self.total = 0
        self.evicted = 0  # sockets let go for a newer one, all along
        self._per_address: Counter[str] = Counter()
        self._pending: dict[Slot, None] = {}  # oldest first

    @property
    def capacity(self) -> int:
        """The sockets that may be open at once."""
        if self.max_sockets is None:
            return self.max_connections
        return min(self.max_connections, self.max_sockets)

    def count(self, address: str) -> int:
        """The open sockets from ``address``."""
        return self._per_address[address]

    @property
    def pending(self) -> int:
        """The open sockets in :attr:`SlotState.PENDING`."""
        return len(self._pending)

    def open(self, address: str, evict: Callable[[], None] | None = None) -> Slot | str:
        """Count a new socket from ``address``: its :class:`Slot`, or why it is refused.

        Args:
            address: The remote address (:func:`address_key`).
            evict: Closes the socket; given, it starts :attr:`SlotState.PENDING` and may be
                evicted for a newer socket while it is; else it starts
                :attr:`SlotState.OPEN`.
        """
        if self._per_address[address] >= self.max_connections_per_address:
            return TOO_MANY_FROM_ADDRESS
        if self.total >= self.capacity and not self._evict_oldest():
            return FULL
        slot = Slot(address, evict)
        self.total += 1
        self._per_address[address] += 1
        if slot.state is SlotState.PENDING:
            self._pending[slot] = None
        return slot

    def set_state(self, slot: Slot, state: SlotState) -> None:
        """Move ``slot`` to ``state``; only a slot with an ``evict`` may be pending."""
        if slot.closed or slot.state is state:
            return
        if state is SlotState.PENDING:
            if slot.evict is None:
                raise ValueError("a slot without evict cannot be pending")
            self._pending[slot] = None
        else:
            self._pending.pop(slot, None)
        slot.state = state

    def close(self, slot: Slot) -> None:
        """The socket is gone; closing it again does nothing."""
        if slot.closed:
            return
        slot.closed = True
        self._pending.pop(slot, None)
        self.total -= 1
        self._per_address[slot.address] -= 1
        if not self._per_address[slot.address]:
            del self._per_address[slot.address]

    def evict_pending(self) -> int:
        """Close every pending socket (at shutdown); returns how many."""
        count = 0
        while self._evict_oldest():
            count += 1
        return count

    def _evict_oldest(self) -> bool:
        if not self._pending:
            return False
        slot = next(iter(self._pending))
        self.close(slot)
        self.evicted += 1
        assert slot.evict is not None  # only those are pending
        slot.evict()
        return True
