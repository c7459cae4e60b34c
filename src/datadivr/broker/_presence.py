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

A snapshot is the broker's word only about the nodes it has seen since this node connected
to it. A broker that restarted has lost every registration, and the other nodes register
again only once they have reconnected too, each after its own backoff. So when this node
reconnects, the nodes it knew are *awaited*: a snapshot without them leaves them and their
clients in the mirror, until they show up again (a notice of theirs, or a snapshot with
them) or ``grace`` seconds have passed (then they are taken for dead, and forgotten).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

__all__ = ["Changed", "Notice", "Presence"]

Changed = Callable[[str, str, bool], None]
"""Told of every change of the mirror: a client id, its node, and whether it joined (``True``)
or left (``False``). A client that moved from one node to another left one and joined the
other."""


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
    """The other nodes and their clients.

    Args:
        node: This node's id: its own notices and registration are left out.
        grace: Seconds an awaited node is kept, after this node reconnects to the broker,
            before it is taken for dead.
        changed: Told of every client that joined or left the mirror, once per change: a
            snapshot that only repeats what notices told is no change.
    """

    def __init__(self, node: str, grace: float = 15.0, changed: Changed | None = None) -> None:
        self.node = node
        self.grace = grace
        self.changed = changed
        self._nodes: dict[str, set[str]] = {}
        self._owner: dict[str, str] = {}
        # Nodes known from before this node's last reconnection, not seen since: deadline.
        self._awaited: dict[str, float] = {}
        self._replay: list[Notice] | None = None

    def __contains__(self, client_id: object) -> bool:
        return client_id in self._owner

    def __len__(self) -> int:
        """The number of remote clients."""
        return len(self._owner)

    def clients(self) -> dict[str, str]:
        """Every remote client, by id, with its node."""
        return dict(self._owner)

    def node_of(self, client_id: str) -> str | None:
        """The node ``client_id`` is connected to, when it is a remote client."""
        return self._owner.get(client_id)

    @property
    def nodes(self) -> dict[str, int]:
        """Every other node known (those without clients too), with its number of clients."""
        return {node: len(clients) for node, clients in self._nodes.items()}

    def awaited(self, node: str) -> bool:
        """Whether ``node`` is known from before this node reconnected, and not seen since:
        not being subscribed to the broker does not show that it is gone."""
        return node in self._awaited

    @property
    def awaiting(self) -> bool:
        """Whether some node is :meth:`awaited`."""
        return bool(self._awaited)

    def reconnected(self, now: float) -> None:
        """This node (re)connected to the broker, which may have lost every registration:
        every node known is awaited until ``now + grace``."""
        self._awaited = dict.fromkeys(self._nodes, now + self.grace)

    def apply(self, notice: Notice) -> bool:
        """Apply a notice; return whether it asks for a new snapshot (a node came up)."""
        if self._replay is not None:
            self._replay.append(notice)
        return self._apply(notice)

    def _apply(self, notice: Notice) -> bool:
        if notice.node == self.node:
            return False
        if notice.kind == "down":
            self._drop(notice.node)
            return False
        # The node is connected to the broker now: it is no longer awaited.
        self._awaited.pop(notice.node, None)
        if notice.kind == "join":
            before = self._owner.get(notice.client_id)
            self._add(notice.node, notice.client_id)
            if before != notice.node:
                if before is not None:
                    self._tell(notice.client_id, before, False)
                self._tell(notice.client_id, notice.node, True)
        elif notice.kind == "leave":
            if self._owner.get(notice.client_id) == notice.node:
                self._remove(notice.node, notice.client_id)
                self._tell(notice.client_id, notice.node, False)
            else:
                self._remove(notice.node, notice.client_id)
        else:  # up
            self._nodes.setdefault(notice.node, set())
        return notice.kind == "up"

    def begin_sync(self) -> None:
        """A snapshot is being read: record the notices that arrive meanwhile."""
        self._replay = []

    def finish_sync(self, snapshot: Mapping[str, Iterable[str]], now: float) -> None:
        """Replace the mirror with ``snapshot`` (node → client ids; the nodes registered),
        keeping the awaited nodes it lacks until their deadline, then apply again the notices
        that arrived since :meth:`begin_sync`."""
        replay = self._replay or []
        self._replay = None
        before = self._owner
        changed, self.changed = self.changed, None  # told once, of the difference
        kept = {
            node: self._nodes[node]
            for node, deadline in self._awaited.items()
            if node not in snapshot and deadline > now and node in self._nodes
        }
        self._awaited = {node: self._awaited[node] for node in kept}
        self._nodes = {}
        self._owner = {}
        for node, members in (*kept.items(), *snapshot.items()):
            if node != self.node:
                self._nodes.setdefault(node, set())
                for client_id in members:
                    self._add(node, client_id)
        for notice in replay:
            self._apply(notice)
        self.changed = changed
        after = self._owner
        for client_id, node in before.items():
            if after.get(client_id) != node:
                self._tell(client_id, node, False)
        for client_id, node in after.items():
            if before.get(client_id) != node:
                self._tell(client_id, node, True)

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
        if self._owner.get(client_id) == node:
            del self._owner[client_id]

    def _drop(self, node: str) -> None:
        self._awaited.pop(node, None)
        for client_id in self._nodes.pop(node, ()):
            if self._owner.get(client_id) == node:
                del self._owner[client_id]
                self._tell(client_id, node, False)

    def _tell(self, client_id: str, node: str, joined: bool) -> None:
        if self.changed is not None:
            self.changed(client_id, node, joined)
