"""datadivr: a schema-first, code-generated SDK for real-time messaging over WebSocket.

Everything here works with any protocol. A protocol's typed models, handlers and client are
generated from its JSON Schema files into a package of its own (``datadivr generate``), which
imports only :mod:`datadivr.runtime`, the stable contract between generated code and the
runtime. The demo protocol that ``datadivr serve`` runs when nothing else is configured is
:mod:`datadivr.demo`.

Only :mod:`datadivr.exceptions` is imported with the package: every other name is imported
from its subsystem when first used (PEP 562), so that a client-only program, or ``datadivr
--help``, does not pay for FastAPI, uvicorn and the validators it does not use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from datadivr import exceptions
from datadivr.exceptions import (
    ClientGoneError,
    ClientOnOtherNodeError,
    ConnectError,
    ConnectionClosedError,
    ConnectRefusedError,
    DatadivrError,
    HandlerError,
    HandlerNotImplementedError,
    IncompatibleProtocolError,
    IncompatibleProtocolWarning,
    InvalidStateError,
    MessageTooBigError,
    MessageValidationError,
    PolicyViolationError,
    ProtocolError,
    RegistrationError,
    RemoteError,
    RequestTimeoutError,
    RuntimeVersionError,
    SchemaError,
    SendBufferFullError,
    ServerOverloadedError,
    ServerShutdownError,
    TooManyRequestsError,
    UnknownClientError,
    Violation,
)

if TYPE_CHECKING:
    from datadivr import runtime
    from datadivr._error_message import create_error_message
    from datadivr.broker import (
        Backplane,
        ClusterNode,
        MemoryBackplane,
    )
    from datadivr.client import (
        BaseClient,
        ClientState,
        Reconnect,
    )
    from datadivr.core import (
        SERVER_ID,
        Answer,
        Broadcast,
        ClientInfo,
        ClusterAddress,
        ConnectHook,
        Deliver,
        Direct,
        Direction,
        DisconnectHook,
        DisconnectInfo,
        EventSpec,
        Handler,
        HandlerContext,
        HandlerType,
        Hub,
        Limits,
        Members,
        MessageBase,
        MessageText,
        NotNull,
        Payload,
        PresenceChange,
        PresenceHook,
        Protocol,
        Registration,
        Registry,
        Route,
        ServicerBase,
        Side,
        default_registry,
        on_connect,
        on_disconnect,
        on_presence,
    )
    from datadivr.server import (
        DEFAULT_QUEUE_SIZE,
        Authenticate,
        Identity,
        Server,
        UvicornServer,
        WebSocketProtocol,
        create_app,
        run,
        token_authenticator,
        uvicorn_config,
    )

__version__ = "0.4.0.dev0"

__all__ = [
    "DEFAULT_QUEUE_SIZE",
    "SERVER_ID",
    "Answer",
    "Authenticate",
    "Backplane",
    "BaseClient",
    "Broadcast",
    "ClientGoneError",
    "ClientInfo",
    "ClientOnOtherNodeError",
    "ClientState",
    "ClusterAddress",
    "ClusterNode",
    "ConnectError",
    "ConnectHook",
    "ConnectRefusedError",
    "ConnectionClosedError",
    "DatadivrError",
    "Deliver",
    "Direct",
    "Direction",
    "DisconnectHook",
    "DisconnectInfo",
    "EventSpec",
    "Handler",
    "HandlerContext",
    "HandlerError",
    "HandlerNotImplementedError",
    "HandlerType",
    "Hub",
    "Identity",
    "IncompatibleProtocolError",
    "IncompatibleProtocolWarning",
    "InvalidStateError",
    "Limits",
    "Members",
    "MemoryBackplane",
    "MessageBase",
    "MessageText",
    "MessageTooBigError",
    "MessageValidationError",
    "NotNull",
    "Payload",
    "PolicyViolationError",
    "PresenceChange",
    "PresenceHook",
    "Protocol",
    "ProtocolError",
    "Reconnect",
    "Registration",
    "RegistrationError",
    "Registry",
    "RemoteError",
    "RequestTimeoutError",
    "Route",
    "RuntimeVersionError",
    "SchemaError",
    "SendBufferFullError",
    "Server",
    "ServerOverloadedError",
    "ServerShutdownError",
    "ServicerBase",
    "Side",
    "TooManyRequestsError",
    "UnknownClientError",
    "UvicornServer",
    "Violation",
    "WebSocketProtocol",
    "create_app",
    "create_error_message",
    "default_registry",
    "exceptions",
    "on_connect",
    "on_disconnect",
    "on_presence",
    "run",
    "runtime",
    "token_authenticator",
    "uvicorn_config",
]

#: The names imported when first used, by the module that defines them.
_LAZY: dict[str, tuple[str, ...]] = {
    "datadivr._error_message": ("create_error_message",),
    "datadivr.broker": (
        "Backplane",
        "ClusterNode",
        "MemoryBackplane",
    ),
    "datadivr.client": (
        "BaseClient",
        "ClientState",
        "Reconnect",
    ),
    "datadivr.core": (
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
    ),
    "datadivr.server": (
        "DEFAULT_QUEUE_SIZE",
        "Authenticate",
        "Identity",
        "Server",
        "UvicornServer",
        "WebSocketProtocol",
        "create_app",
        "run",
        "token_authenticator",
        "uvicorn_config",
    ),
}
_ORIGIN = {name: module for module, names in _LAZY.items() for name in names}
#: Submodules imported when first named: ``datadivr.runtime``, which ``__all__`` lists, and the
#: subsystems, which the package imported when it imported every name (``datadivr.server``
#: after ``import datadivr`` alone keeps working).
_SUBMODULES = frozenset({"runtime", "broker", "client", "core", "server", "validation"})


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        value: Any = importlib.import_module(f"{__name__}.{name}")
    elif name in _ORIGIN:
        value = getattr(importlib.import_module(_ORIGIN[name]), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # later lookups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
