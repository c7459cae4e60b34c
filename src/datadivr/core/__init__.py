"""The protocol core, without I/O: parse and check a frame, route it, run its handler.

The :class:`Hub` takes a frame's text and hands out what to deliver to whom; the transports
around it (:mod:`datadivr.server`, :mod:`datadivr.client`) only move text. It imports nothing
of datadivr's but :mod:`datadivr.exceptions` and the logging set-up.
"""

from datadivr.core._hub import SERVER_ID, Answer, Deliver, Hub, Members
from datadivr.core._lifecycle import ClientInfo, DisconnectInfo, PresenceChange
from datadivr.core._limits import Limits
from datadivr.core._message import MessageBase, NotNull, Payload
from datadivr.core._protocol import Direction, EventSpec, MessageText, Protocol
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
from datadivr.core._route import Broadcast, ClusterAddress, Direct, Route

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
