"""The protocol's vocabulary, shared by the generator and the runtime (:mod:`datadivr`).

It lives here, with no dependency, because the generator must run without importing
:mod:`datadivr` (the package it may be about to replace), and the runtime must not define it
a second time.
"""

from __future__ import annotations

from enum import Enum

__all__ = ["Direction", "MessageText"]


class Direction(str, Enum):
    """Who may send an event (the values of ``x-datadivr.direction``)."""

    CLIENT_TO_SERVER = "client_to_server"
    """Clients send it; the server handles it."""
    SERVER_TO_CLIENT = "server_to_client"
    """Only the server sends it."""
    CLIENT_TO_CLIENT = "client_to_client"
    """Clients send it; the server relays it to the recipients in ``to`` (or handles it)."""
    BOTH = "both"
    """Clients and the server both send it."""

    @property
    def client_may_send(self) -> bool:
        """Whether a client may send the event."""
        return self is not Direction.SERVER_TO_CLIENT

    @property
    def server_may_send(self) -> bool:
        """Whether the server may send the event to a client."""
        return self is not Direction.CLIENT_TO_SERVER

    @property
    def client_may_receive(self) -> bool:
        """Whether a client may receive the event (from the server or relayed)."""
        return self is not Direction.CLIENT_TO_SERVER


class MessageText(str, Enum):
    """Whether an event requires the envelope's ``message`` text (``x-datadivr.message``)."""

    OPTIONAL = "optional"
    REQUIRED = "required"
