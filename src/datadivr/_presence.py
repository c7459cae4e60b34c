"""Cluster presence: which node each remote client is connected to. No I/O.

A node keeps this mirror of the other nodes' clients so that routing stays synchronous: the
hub asks it whether a client id is connected somewhere else, the server asks it which node
to forward a direct message to. The broker keeps it current with join and leave notices, and
replaces it now and then with a full snapshot (the nodes' registrations, which expire when a
node stops refreshing them), so that a lost notice or a crashed node is corrected within one
sync period.

Notices and snapshots travel over different connections, so a notice can overtake the
snapshot it already shows, or come after a snapshot that does not show it yet. While a
snapshot is being read, the notices that arrive are recorded and applied again on top of it
(a join or a leave is idempotent), so none is undone by an older snapshot.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = ["Notice", "Presence"]


@dataclass(frozen=True)
class Notice:
    """A change of presence announced by a node.

    Attributes:
        kind: ``join`` or ``leave`` (one client), ``up`` (the node registered itself anew),
            ``down`` (the node stopped: every client of it is gone).
        node: The node's id.
        client_id: The client, for ``join`` and ``leave``.
    """

    kind: str
    node: str
    client_id: str = ""

    def encode(self) -> str:
        return f"{self.kind} {self.node} {self.client_id}".rstrip()

    @classmethod
    def decode(cls, text: str) -> Notice:
        """Read a notice.

        Raises:
            ValueError: it is not one.
        """
        parts = text.split(" ")
        if parts[0] in ("join", "leave") and len(parts) == 3 and parts[1] and parts[2]:
            return cls(parts[0], parts[1], parts[2])
        if parts[0] in ("up", "down") and len(parts) == 2 and parts[1]:
            return cls(parts[0], parts[1])
        raise ValueError(f"not a presence notice: {text[:100]!r}")


class Presence:
    """The clients of the other nodes, by node.

    Args:
        node: This node's id: its own notices and registration are left out.
    """

    def __init__(self, node: str) -> None:
        self.node = node
        self._nodes: dict[str, set[str]] = {}
        self._owner: dict[str, str] = {}
        self._replay: list[Notice] | None = None

    def __contains__(self, client_id: object) -> bool:
        return client_id in self._owner

    def __len__(self) -> int:
        """The number of remote clients."""
        return len(self._owner)

    def node_of(self, client_id: str) -> str | None:
        """The node ``client_id`` is connected to, when it is a remote client."""
        return self._owner.get(client_id)

    @property
    def nodes(self) -> dict[str, int]:
        """Every other node known, with its number of clients."""
        return {node: len(clients) for node, clients in self._nodes.items()}

    def apply(self, notice: Notice) -> bool:
        """Apply a notice; return whether it asks for a new snapshot (a node came up)."""
        if self._replay is not None:
            self._replay.append(notice)
        return self._apply(notice)

    def _apply(self, notice: Notice) -> bool:
        if notice.node == self.node:
            return False
        if notice.kind == "join":
            self._add(notice.node, notice.client_id)
        elif notice.kind == "leave":
            self._remove(notice.node, notice.client_id)
        elif notice.kind == "down":
            for client_id in self._nodes.pop(notice.node, ()):
                if self._owner.get(client_id) == notice.node:
                    del self._owner[client_id]
        return notice.kind == "up"

    def begin_sync(self) -> None:
        """A snapshot is being read: record the notices that arrive meanwhile."""
        self._replay = []

    def finish_sync(self, snapshot: Mapping[str, Iterable[str]]) -> None:
        """Replace the mirror with ``snapshot`` (node → client ids), then apply again the
        notices that arrived since :meth:`begin_sync`."""
        replay = self._replay or []
        self._replay = None
        self._nodes = {}
        self._owner = {}
        for node, clients in snapshot.items():
            if node != self.node:
                for client_id in clients:
                    self._add(node, client_id)
        for notice in replay:
            self._apply(notice)

    def abandon_sync(self) -> None:
        """The snapshot could not be read: keep the mirror as it is."""
        self._replay = None

    def _add(self, node: str, client_id: str) -> None:
        self._nodes.setdefault(node, set()).add(client_id)
        previous = self._owner.get(client_id)
        self._owner[client_id] = node
        if previous is not None and previous != node:
            self._remove(previous, client_id)  # owned by ``node`` now: only the set changes

    def _remove(self, node: str, client_id: str) -> None:
        clients = self._nodes.get(node)
        if clients is not None:
            clients.discard(client_id)
            if not clients:
                del self._nodes[node]
        if self._owner.get(client_id) == node:
            del self._owner[client_id]
