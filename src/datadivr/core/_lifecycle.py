"""Lifecycle hooks: what the server tells the application when a client connects and leaves.

``on_connect`` hooks run once a client's handshake is accepted, it is registered and its
``welcome`` is queued, before its first message is handled; ``on_disconnect`` hooks run once
for every connection that got ``on_connect``, however it ended (the client closed it, its
socket vanished, it was evicted, the server shut down). A hook that raises is logged with the
client's id; the connection and the other hooks carry on. The server calls :func:`run_hooks`
from one place (``datadivr.server._server``); nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from datadivr._logging import get_logger

if TYPE_CHECKING:
    from datadivr.core._registry import HandlerContext

__all__ = ["ClientInfo", "DisconnectInfo", "PresenceChange"]

_log = get_logger("datadivr.server")


@dataclass(frozen=True)
class ClientInfo:
    """A connected client, as ``on_connect`` hooks see it.

    Attributes:
        client_id: The id the server gave it (its ``welcome`` carries it).
        identity: What the authentication hook returned for it (``ctx.identity`` in its
            handlers); ``None`` when the server authenticates no one.
        address: Its remote ``host:port``, when the transport knows it.
    """

    client_id: str
    identity: Any = None
    address: str | None = None


@dataclass(frozen=True)
class DisconnectInfo(ClientInfo):
    """A client that left, as ``on_disconnect`` hooks see it.

    Attributes:
        code: The WebSocket close code: the client's own (``1000`` for a normal close),
            ``1006`` when its connection was lost without a close frame, the server's when
            the server closed it (``1001`` at shutdown; ``1013``, ``1009`` or ``1011`` when
            it was evicted).
        reason: The close reason, ``""`` when none was given.
    """

    code: int = 1006
    reason: str = ""


@dataclass(frozen=True)
class PresenceChange:
    """A client of another node of the cluster that joined or left, as ``on_presence``
    hooks see it.

    Attributes:
        client_id: The client's id.
        node: The id of the node it is (or was) connected to.
        joined: ``True`` when it joined, ``False`` when it left: closed, lost, evicted, or
            its node stopped or died.
    """

    client_id: str
    node: str
    joined: bool


async def run_hooks(
    kind: str,
    hooks: Sequence[Callable[[Any, HandlerContext], Awaitable[None]]],
    client: ClientInfo | PresenceChange,
    ctx: HandlerContext,
) -> None:
    """Run ``hooks`` in order; a hook that raises is logged and the next one runs.

    Args:
        kind: ``on_connect``, ``on_disconnect`` or ``on_presence``, for the log.
        hooks: The hooks, as the registry holds them.
        client: What they are told.
        ctx: What they may send with.
    """
    for hook in hooks:
        try:
            await hook(client, ctx)
        except Exception:
            _log.exception(
                f"{kind} hook failed",
                client_id=client.client_id,
                hook=getattr(hook, "__qualname__", repr(hook)),
            )
