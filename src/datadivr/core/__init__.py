"""The protocol core, without I/O: parse and check a frame, route it, run its handler.

The :class:`Hub` takes a frame's text and hands out what to deliver to whom; the transports
around it (:mod:`datadivr.server`, :mod:`datadivr.client`) only move text. It imports nothing
of datadivr's but :mod:`datadivr.exceptions` and the logging set-up.

Each name is imported from its module when first used (PEP 562): ``datadivr.core._limits``
alone, which the command line reads to build its options, costs neither pydantic nor the
logging set-up.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datadivr.core._hub import (
        SERVER_ID,
        Answer,
        Deliver,
        Hub,
        Members,
    )
    from datadivr.core._lifecycle import (
        ClientInfo,
        DisconnectInfo,
        PresenceChange,
    )
    from datadivr.core._limits import (
        Limits,
    )
    from datadivr.core._message import (
        MessageBase,
        NotNull,
        Payload,
    )
    from datadivr.core._protocol import (
        Direction,
        EventSpec,
        MessageText,
        Protocol,
    )
    from datadivr.core._registry import (
        ConnectHook,
        DisconnectHook,
        Handler,
        HandlerContext,
        HandlerType,
        PresenceHook,
        Registration,
        Registry,
        ServicerBase,
        Side,
        default_registry,
        on_connect,
        on_disconnect,
        on_presence,
    )
    from datadivr.core._route import (
        Broadcast,
        ClusterAddress,
        Direct,
        Route,
    )

__all__ = [
    "SERVER_ID",
    "Answer",
    "Broadcast",
    "ClientInfo",
    "ClusterAddress",
    "ConnectHook",
    "Deliver",
    "Direct",
    "Direction",
    "DisconnectHook",
    "DisconnectInfo",
    "EventSpec",
    "Handler",
    "HandlerContext",
    "HandlerType",
    "Hub",
    "Limits",
    "Members",
    "MessageBase",
    "MessageText",
    "NotNull",
    "Payload",
    "PresenceChange",
    "PresenceHook",
    "Protocol",
    "Registration",
    "Registry",
    "Route",
    "ServicerBase",
    "Side",
    "default_registry",
    "on_connect",
    "on_disconnect",
    "on_presence",
]

#: The names imported when first used, by the module that defines them.
_LAZY: dict[str, tuple[str, ...]] = {
    "datadivr.core._hub": (
        "SERVER_ID",
        "Answer",
        "Deliver",
        "Hub",
        "Members",
    ),
    "datadivr.core._lifecycle": (
        "ClientInfo",
        "DisconnectInfo",
        "PresenceChange",
    ),
    "datadivr.core._limits": ("Limits",),
    "datadivr.core._message": (
        "MessageBase",
        "NotNull",
        "Payload",
    ),
    "datadivr.core._protocol": (
        "Direction",
        "EventSpec",
        "MessageText",
        "Protocol",
    ),
    "datadivr.core._registry": (
        "ConnectHook",
        "DisconnectHook",
        "Handler",
        "HandlerContext",
        "HandlerType",
        "PresenceHook",
        "Registration",
        "Registry",
        "ServicerBase",
        "Side",
        "default_registry",
        "on_connect",
        "on_disconnect",
        "on_presence",
    ),
    "datadivr.core._route": (
        "Broadcast",
        "ClusterAddress",
        "Direct",
        "Route",
    ),
}
_ORIGIN = {name: module for module, names in _LAZY.items() for name in names}


def __getattr__(name: str) -> Any:
    if name not in _ORIGIN:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_ORIGIN[name]), name)
    globals()[name] = value  # later lookups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
