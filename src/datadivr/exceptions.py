"""The errors datadivr raises, all under one root.

::

    DatadivrError
    ├── ProtocolError (ValueError)          a frame or message breaks the protocol
    │   └── MessageValidationError          … with one Violation per failure (JSON path, reason)
    ├── ConnectError (ConnectionError)      the client could not connect (refused, bad URL, no welcome)
    │   └── ConnectRefusedError             … the server refused the handshake (HTTP status: 403, 503)
    ├── ConnectionClosedError               the WebSocket closed (code, reason); by code:
    │   ├── ServerShutdownError             1001 going away, 1012 service restart
    │   ├── PolicyViolationError            1008 policy violation (not authorised, not allowed)
    │   ├── MessageTooBigError              1009 a message was over the peer's size limit
    │   ├── ServerOverloadedError           1013 try again later (server full, client too slow)
    │   └── ClientGoneError                 a client the server asked disconnected before it answered
    ├── SendBufferFullError                 too many messages sent while reconnecting
    ├── RequestTimeoutError (TimeoutError)  no reply arrived in time
    ├── RemoteError                         the other side answered a request with an `error`
    ├── UnknownClientError (LookupError)    the server asked a client that is not connected to it
    │   └── ClientOnOtherNodeError          … one connected to another node of the cluster
    ├── TooManyRequestsError                too many of the server's requests wait for one client
    ├── InvalidStateError (RuntimeError)    an operation in the wrong connection state
    ├── HandlerError                        raised by a handler: sent to the sender as an `error`
    │   └── HandlerNotImplementedError (NotImplementedError)
    ├── RegistrationError (ValueError)      a handler registered twice, or for the wrong side
    ├── RuntimeVersionError (ImportError)   a generated package made for an unsupported runtime API
    └── IncompatibleProtocolError           the server's protocol breaks the client's (the diff)

    SchemaError (ValueError)                a schema folder the generator cannot use (file, reason)

``SchemaError`` is the generator's (:mod:`datadivr_codegen.errors`), re-exported here; it stands
outside the tree because the generator must run without importing the package it regenerates.
``IncompatibleProtocolWarning`` (a ``UserWarning``) is what a client told to go on warns with
instead of raising ``IncompatibleProtocolError``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from datadivr_codegen.errors import SchemaError

if TYPE_CHECKING:
    from datadivr.compat import ProtocolDiff

__all__ = [
    "ClientGoneError",
    "ClientOnOtherNodeError",
    "ConnectError",
    "ConnectRefusedError",
    "ConnectionClosedError",
    "DatadivrError",
    "HandlerError",
    "HandlerNotImplementedError",
    "IncompatibleProtocolError",
    "IncompatibleProtocolWarning",
    "InvalidStateError",
    "MessageTooBigError",
    "MessageValidationError",
    "PolicyViolationError",
    "ProtocolError",
    "RegistrationError",
    "RemoteError",
    "RequestTimeoutError",
    "RuntimeVersionError",
    "SchemaError",
    "SendBufferFullError",
    "ServerOverloadedError",
    "ServerShutdownError",
    "TooManyRequestsError",
    "UnknownClientError",
    "Violation",
]


@dataclass(frozen=True)
class Violation:
    """One reason a message was refused.

    Attributes:
        path: JSON path of the failing value, e.g. ``$.payload.numbers[2]``.
        reason: What is wrong with the value, in words.
        kind: The JSON Schema keyword that failed, e.g. ``required`` or ``type``.
    """

    path: str
    reason: str
    kind: str | None = None

    def as_dict(self) -> dict[str, str]:
        """The detail as the ``error`` payload's ``details`` entry."""
        data = {"path": self.path, "reason": self.reason}
        if self.kind is not None:
            data["kind"] = self.kind
        return data


class DatadivrError(Exception):
    """Root of every error datadivr raises."""


class ProtocolError(DatadivrError, ValueError):
    """A frame or message breaks the protocol.

    Attributes:
        code: The ``error`` code the server sends for it (``invalid_json``, ``unknown_event`` …).
        event_name: The event of the message, when it could be read.
        details: One entry per failure.
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        event_name: str | None = None,
        details: Sequence[Violation] = (),
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.event_name = event_name
        self.details = tuple(details)


class MessageValidationError(ProtocolError):
    """A message failed its schema; ``details`` holds the JSON path of each failure."""


class ConnectError(DatadivrError, ConnectionError):
    """The client could not connect: refused, unreachable, a bad URL, a refused handshake, or
    no ``welcome`` in time.

    Attributes:
        status: The HTTP status with which the server refused the handshake (e.g. 403 for a
            wrong token or origin, 503 when it is full), or ``None`` when there was no answer.
    """

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ConnectRefusedError(ConnectError):
    """The server answered the WebSocket handshake with an HTTP error status (``status``)."""

    status: int

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message, status=status)


class ConnectionClosedError(DatadivrError):
    """The WebSocket connection is closed.

    The client raises the subclass that names the close code, when there is one; build it
    with :meth:`from_code`.

    Attributes:
        code: The close code (1000 for a normal close), if known.
        reason: The close reason sent by the peer, if any.
    """

    def __init__(self, code: int | None = None, reason: str = "") -> None:
        super().__init__(f"connection closed (code={code}, reason={reason!r})")
        self.code = code
        self.reason = reason

    @classmethod
    def from_code(cls, code: int | None, reason: str = "") -> ConnectionClosedError:
        """The error for a close with ``code``: the subclass that names it, or this class.

        Args:
            code: The close code, if known.
            reason: The close reason, if any.

        Returns:
            A :class:`ServerShutdownError` for 1001 and 1012, a :class:`PolicyViolationError`
            for 1008, a :class:`MessageTooBigError` for 1009, a :class:`ServerOverloadedError`
            for 1013, and a plain :class:`ConnectionClosedError` for any other code (whichever
            class it is called on).
        """
        error_type = ConnectionClosedError
        if code is not None:
            error_type = _CLOSED_ERRORS.get(code, ConnectionClosedError)
        return error_type(code, reason)


class ServerShutdownError(ConnectionClosedError):
    """The server is going away (1001) or restarting (1012): reconnecting may succeed."""


class PolicyViolationError(ConnectionClosedError):
    """The server closed with 1008 (policy violation): e.g. not authorised, or not allowed."""


class MessageTooBigError(ConnectionClosedError):
    """The peer closed with 1009: a message was over its size limit."""


class ServerOverloadedError(ConnectionClosedError):
    """The server closed with 1013 (try again later): it is full, or this client was too slow
    to read what it was sent."""


class ClientGoneError(ConnectionClosedError):
    """A client the server sent a request to disconnected before it answered.

    Attributes:
        client_id: The client that was asked.
    """

    def __init__(self, client_id: str, event_name: str) -> None:
        super().__init__()
        self.client_id = client_id
        self.args = (f"client {client_id!r} disconnected before it answered {event_name!r}",)


#: The error raised for each close code that has its own.
_CLOSED_ERRORS: dict[int, type[ConnectionClosedError]] = {
    1001: ServerShutdownError,
    1008: PolicyViolationError,
    1009: MessageTooBigError,
    1012: ServerShutdownError,
    1013: ServerOverloadedError,
}


class SendBufferFullError(DatadivrError):
    """A message was sent while the client is reconnecting and its send buffer is full; that
    message is not sent (the ones already buffered still are).

    Attributes:
        buffer_size: How many messages the buffer holds.
    """

    def __init__(self, buffer_size: int) -> None:
        super().__init__(
            f"the send buffer is full ({buffer_size} messages waiting for the connection "
            "to come back): message not sent"
        )
        self.buffer_size = buffer_size


class RequestTimeoutError(DatadivrError, TimeoutError):
    """No reply to a request arrived within its timeout."""


class RemoteError(DatadivrError):
    """The other side answered a request with an ``error`` message.

    Attributes:
        code: The error's machine-readable code.
        details: The error's details, as sent.
    """

    def __init__(self, code: str, message: str, details: Sequence[Violation] = ()) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.details = tuple(details)


class UnknownClientError(DatadivrError, LookupError):
    """The server sent a request to a client id that is not connected to it.

    Attributes:
        client_id: The id asked for.
    """

    def __init__(self, client_id: str, message: str | None = None) -> None:
        super().__init__(message or f"no client {client_id!r} is connected")
        self.client_id = client_id


class ClientOnOtherNodeError(UnknownClientError):
    """The server sent a request to a client of another node of its cluster: a server's request
    goes only to its own node's clients (their answers come back to the node that reads them).
    Send it from the node the client is connected to, or use ``send`` and a handler."""

    def __init__(self, client_id: str) -> None:
        super().__init__(
            client_id,
            f"client {client_id!r} is connected to another node of the cluster: the server "
            "sends requests only to the clients of its own node",
        )


class TooManyRequestsError(DatadivrError):
    """The server has as many requests waiting for one client's answers as it allows; this one
    was not sent.

    Attributes:
        client_id: The client asked.
        limit: How many requests may wait for one client.
    """

    def __init__(self, client_id: str, limit: int) -> None:
        super().__init__(
            f"{limit} requests are waiting for client {client_id!r}'s answers already: "
            "this one was not sent"
        )
        self.client_id = client_id
        self.limit = limit


class InvalidStateError(DatadivrError, RuntimeError):
    """An operation was attempted in a connection state that does not allow it."""


class HandlerError(DatadivrError):
    """Raise it in a handler to answer the sender with an ``error`` (code ``handler_error``).

    Its message is sent to the client as is, so it must not carry secrets.
    """

    code = "handler_error"

    def __init__(self, message: str, *, details: Sequence[Violation] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.details = tuple(details)


class HandlerNotImplementedError(HandlerError, NotImplementedError):
    """A generated servicer method that the application did not implement."""

    code = "no_handler"


class RegistrationError(DatadivrError, ValueError):
    """A handler cannot be registered: unknown event, wrong side, or registered twice."""


class RuntimeVersionError(DatadivrError, ImportError):
    """A generated package was made for a runtime API version the installed datadivr does not
    support (see :mod:`datadivr.runtime`); importing the package raises it at once.

    Attributes:
        package: The generated package, e.g. ``chat_protocol``.
        generated_version: The runtime API version the package was generated for.
        runtime_version: The installed runtime's API version.
        supported: The generated versions the installed runtime supports.
        command: The command that regenerates the package with the installed datadivr.
    """

    def __init__(
        self,
        package: str,
        *,
        generated_version: object,
        runtime_version: int,
        supported: range,
        command: str,
    ) -> None:
        self.package = package
        self.generated_version = generated_version
        self.runtime_version = runtime_version
        self.supported = supported
        self.command = command
        if supported.start == supported.stop - 1:
            accepts = f"version {supported.start} only"
        else:
            accepts = f"versions {supported.start} to {supported.stop - 1}"
        newer = isinstance(generated_version, int) and generated_version >= supported.stop
        remedy = (
            "upgrade datadivr to a release that supports it, or regenerate the package with "
            "the installed one"
            if newer
            else "regenerate the package with the installed datadivr"
        )
        super().__init__(
            f"{package} was generated for datadivr runtime API version {generated_version!r}, "
            f"but the installed datadivr has runtime API version {runtime_version} (it "
            f"imports packages generated for {accepts}): {remedy}: {command}",
            name=package,
        )


class IncompatibleProtocolError(DatadivrError):
    """The server speaks a protocol that breaks this client's: the typed client found it out
    from the server's ``welcome`` (another fingerprint) and the diff of the two protocols, and
    closed the connection before any request was sent.

    The message is the diff's headline for clients: the first change that breaks them and
    how many more there are.

    Attributes:
        headline: The diff's headline for clients.
        diff: The whole diff, from the client's protocol (old) to the server's (new).
        client_fingerprint: The fingerprint of the client's protocol.
        server_fingerprint: The fingerprint the server's ``welcome`` named.
    """

    def __init__(
        self,
        headline: str,
        *,
        diff: ProtocolDiff,
        client_fingerprint: str,
        server_fingerprint: str,
    ) -> None:
        super().__init__(headline)
        self.headline = headline
        self.diff = diff
        self.client_fingerprint = client_fingerprint
        self.server_fingerprint = server_fingerprint


class IncompatibleProtocolWarning(UserWarning):
    """The server's protocol breaks this client's, and the client was told to go on anyway
    (``on_incompatible="warn"``): the text is that of :class:`IncompatibleProtocolError`."""
