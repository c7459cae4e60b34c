"""The backplane: how the servers of one cluster reach each other's clients.

A server delivers every frame to its own connections itself, and hands the backplane what
must reach the clients of other nodes: a broadcast (``all``, ``others``), or a direct
message to a client id connected elsewhere. The backplane tells the hub which client ids
are connected on other nodes, so that routing stays synchronous and a direct message to an
unknown id gets ``unknown_recipient`` as on one node.

- :class:`MemoryBackplane`, the default: one process, nothing to reach.
- :class:`datadivr.broker.RedisBackplane`: Redis pub/sub (``--broker redis://…``).

This module is the interface, and knows none of the other implementations:
:func:`datadivr.broker.backplane_for` chooses one by URL.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from datadivr.core._route import Route

__all__ = ["Backplane", "ClusterNode", "MemoryBackplane"]


class ClusterNode(Protocol):
    """What a backplane needs of the server it serves."""

    def deliver_local(self, route: Route, data: str) -> None:
        """Deliver a frame that came from another node to this node's connections."""

    def refuse(self, origin: str | None, data: str, code: str, reason: str) -> None:
        """Tell ``origin`` (a client of this node, or ``None`` for the server itself) that
        the frame ``data`` did not reach its remote recipients, with an ``error`` of
        ``code``."""

    def local_clients(self) -> Iterable[str]:
        """The ids of this node's clients."""

    def presence_changed(self, client_id: str, node: str, joined: bool) -> None:
        """A client of another node ``node`` joined (``joined``) or left, as this node learnt:
        at once from the node's notice, or, for a node that died without a word, once its
        registration expired. It must not block."""


class Backplane(ABC):
    """Connects the nodes of a cluster. Its methods other than :meth:`start` and
    :meth:`stop` are called from the server's synchronous code and must not block."""

    #: Whether other nodes may exist: the server hands frames to :meth:`publish` only then.
    spans_nodes: bool = False

    async def start(self, node: ClusterNode) -> None:  # noqa: B027 (optional hook)
        """Begin serving ``node`` (the app's startup)."""

    async def stop(self) -> None:  # noqa: B027 (optional hook)
        """Leave the cluster (the app's shutdown): this node's clients are gone."""

    def __contains__(self, client_id: object) -> bool:
        """Whether ``client_id`` is connected to another node."""
        return False

    def remote_clients(self) -> Mapping[str, str]:
        """The clients of the other nodes, by id, with the id of the node each is
        connected to, as this node knows them."""
        return {}

    def joined(self, client_id: str) -> None:  # noqa: B027 (optional hook)
        """A client connected to this node."""

    def left(self, client_id: str) -> None:  # noqa: B027 (optional hook)
        """A client of this node disconnected."""

    @abstractmethod
    def publish(self, route: Route, data: str) -> None:
        """Take ``data`` to the recipients ``route`` names on other nodes (the server has
        delivered it to its own). A failure is reported to ``route.origin`` through
        :meth:`ClusterNode.refuse`, never raised."""

    def status(self) -> dict[str, Any]:
        """What the health endpoint shows of the backplane."""
        return {"kind": "memory"}


class MemoryBackplane(Backplane):
    """One process: every client is local, nothing crosses a node."""

    def publish(self, route: Route, data: str) -> None:
        """Nothing to do: there is no other node."""


def safe_url(url: str) -> str:
    """``url`` without its password, for logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))
