"""Routes: where a frame goes, and every rule that depends on it.

A route kind decides, in its own methods, everything that differs between kinds: which of a
node's connections get the frame (:meth:`Broadcast.recipients`), whether other nodes may hold
recipients (:meth:`Broadcast.beyond`), and how a backplane carries it to them
(:meth:`Broadcast.address`, undone by :meth:`ClusterAddress.route`). The hub makes routes; the
server's fan-out and the backplanes only call these methods, so a new kind of route is added
here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple, TypeVar

__all__ = ["Broadcast", "ClusterAddress", "Direct", "Route"]

_C = TypeVar("_C")
_NOBODY = object()  # the excluded client is not connected here: no connection is this


class ClusterAddress(NamedTuple):
    """Where a backplane takes a frame among the nodes of a cluster, and what the receiving
    node rebuilds its route from."""

    node: str | None
    """The one node that holds the recipient; ``None``: every other node."""
    header: str
    """The route's own part of what the backplane carries (no line breaks): the excluded
    client of a broadcast, the recipient of a direct message."""

    def route(self) -> Route:
        """The route the sending node's :meth:`Broadcast.address` or :meth:`Direct.address`
        made this address of, as the receiving node delivers it."""
        if self.node is None:
            return Broadcast(self.header or None)
        return Direct(self.header)


@dataclass(frozen=True)
class Broadcast:
    """Every connected client, except ``exclude`` when set (``to: "others"``).

    ``origin`` is the client whose message this is (``None`` for the server's own), for a
    transport that must tell it its message could not reach every recipient.
    """

    exclude: str | None = None
    origin: str | None = field(default=None, compare=False)

    def recipients(self, clients: Mapping[str, _C]) -> Iterable[tuple[str, _C]]:
        """The ones of a node's ``clients`` (by id) that get the frame."""
        if self.exclude is None:
            return clients.items()
        # Filtered in C, not in a generator: this runs once per recipient of every broadcast.
        # Only the excluded client's own pair is equal to this one.
        return filter((self.exclude, clients.get(self.exclude, _NOBODY)).__ne__, clients.items())

    def beyond(self, clients: Container[str]) -> bool:
        """Whether clients of other nodes may get the frame too, ``clients`` being this
        node's: a broadcast reaches every node."""
        return True

    def address(self, node_of: Callable[[str], str | None]) -> ClusterAddress:
        """Where a backplane takes the frame: every other node.

        Args:
            node_of: The node a client id is connected to, ``None`` when none is known.
        """
        return ClusterAddress(None, self.exclude or "")

    def unreached(self) -> str:
        """Who misses the frame when the backplane cannot carry it, for the ``error`` to its
        sender."""
        return "clients on other nodes did not get this message"


@dataclass(frozen=True)
class Direct:
    """One client; ``origin`` as for :class:`Broadcast`."""

    client_id: str
    origin: str | None = field(default=None, compare=False)

    def recipients(self, clients: Mapping[str, _C]) -> Iterable[tuple[str, _C]]:
        """The ones of a node's ``clients`` (by id) that get the frame: the recipient, when
        it is connected to this node."""
        client = clients.get(self.client_id)
        return () if client is None else ((self.client_id, client),)

    def beyond(self, clients: Container[str]) -> bool:
        """Whether the recipient may be a client of another node, ``clients`` being this
        node's."""
        return self.client_id not in clients

    def address(self, node_of: Callable[[str], str | None]) -> ClusterAddress | None:
        """Where a backplane takes the frame: the recipient's node; ``None`` when no node
        holds it any more (it left after the frame was routed: dropped, as on one node).

        Args:
            node_of: The node a client id is connected to, ``None`` when none is known.
        """
        node = node_of(self.client_id)
        return None if node is None else ClusterAddress(node, self.client_id)

    def unreached(self) -> str:
        """Who misses the frame when the backplane cannot carry it, for the ``error`` to its
        sender."""
        return f"client {self.client_id!r} is on another node"


Route = Broadcast | Direct
"""Where a frame goes."""
