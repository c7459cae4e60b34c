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
    CLIENT_REPLY = "client_reply"
    """A client sends it only to answer the server's request: it is the ``reply`` of an event
    the server sends, and the server refuses it when no request of the server waits for it."""

    @property
    def client_may_send(self) -> bool:
        """Whether a client may send the event of its own accord (a ``client_reply`` only
        answers: see :attr:`client_may_answer`)."""
        return self not in (Direction.SERVER_TO_CLIENT, Direction.CLIENT_REPLY)

    @property
    def client_may_answer(self) -> bool:
        """Whether a client may send the event as the answer to the server's request."""
        return self is not Direction.SERVER_TO_CLIENT

    @property
    def server_may_send(self) -> bool:
        """Whether the server may send the event to a client."""
        return self not in (Direction.CLIENT_TO_SERVER, Direction.CLIENT_REPLY)

    @property
    def client_may_receive(self) -> bool:
        """Whether a client may receive the event (from the server or relayed)."""
        return self not in (Direction.CLIENT_TO_SERVER, Direction.CLIENT_REPLY)


class MessageText(str, Enum):
    """Whether an event requires the envelope's ``message`` text (``x-datadivr.message``)."""

    OPTIONAL = "optional"
    REQUIRED = "required"
