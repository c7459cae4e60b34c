"""datadivr: a schema-first, code-generated SDK for real-time messaging over WebSocket.

The protocol's typed models, handlers and client are generated from the JSON Schema files
into :mod:`datadivr.protocol`; everything is re-exported here. Generated code imports only
:mod:`datadivr.runtime`, the stable contract between generated code and the runtime.
"""

from datadivr import exceptions, protocol, runtime
from datadivr._auth import Authenticate, Identity, token_authenticator
from datadivr._backplane import Backplane, ClusterNode, MemoryBackplane
from datadivr._client import BaseClient, ClientState
from datadivr._core import SERVER_ID, Answer, Deliver, Hub, Members
from datadivr._error_message import create_error_message
from datadivr._limits import Limits
from datadivr._message import MessageBase, NotNull, Payload
from datadivr._protocol import Direction, EventSpec, MessageText, Protocol
from datadivr._reconnect import Reconnect
from datadivr._registry import (
    Handler,
    HandlerContext,
    HandlerType,
    Registration,
    Registry,
    ServicerBase,
    Side,
    default_registry,
)
from datadivr._route import Broadcast, ClusterAddress, Direct, Route
from datadivr._server import DEFAULT_QUEUE_SIZE, Server, create_app
from datadivr._serving import UvicornServer, WebSocketProtocol, run, uvicorn_config
from datadivr.exceptions import (
    ConnectError,
    ConnectionClosedError,
    ConnectRefusedError,
    DatadivrError,
    HandlerError,
    HandlerNotImplementedError,
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
    Violation,
)
from datadivr.protocol import *  # noqa: F403

__version__ = "0.4.0.dev0"

__all__ = [
    "DEFAULT_QUEUE_SIZE",
    "SERVER_ID",
    "Answer",
    "Authenticate",
    "Backplane",
    "BaseClient",
    "Broadcast",
    "ClientState",
    "ClusterAddress",
    "ClusterNode",
    "ConnectError",
    "ConnectRefusedError",
    "ConnectionClosedError",
    "DatadivrError",
    "Deliver",
    "Direct",
    "Direction",
    "EventSpec",
    "Handler",
    "HandlerContext",
    "HandlerError",
    "HandlerNotImplementedError",
    "HandlerType",
    "Hub",
    "Identity",
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
    "UvicornServer",
    "Violation",
    "WebSocketProtocol",
    "create_app",
    "create_error_message",
    "default_registry",
    "exceptions",
    "protocol",
    "run",
    "runtime",
    "token_authenticator",
    "uvicorn_config",
]
__all__ += protocol.__all__
