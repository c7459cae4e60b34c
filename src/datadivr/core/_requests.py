"""The server's requests to its clients: which wait for an answer, and what settles them. No I/O.

The hub sends a request (a message of an event with a ``reply``) to one client with an ``id``
and waits; the client's message whose ``reply_to`` is that id, when it is the request's reply
or an ``error``, settles it. A client that disconnects fails its requests with
:class:`~datadivr.exceptions.ClientGoneError`. :class:`PendingRequests` holds the waiting
requests, bounded per client, and is tested with plain futures.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from contextvars import Context, ContextVar, Token
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from datadivr.core._message import MessageBase
from datadivr.exceptions import (
    ClientGoneError,
    InvalidStateError,
    ProtocolError,
    RemoteError,
    TooManyRequestsError,
    Violation,
)

__all__ = [
    "DEFAULT_REQUEST_TIMEOUT",
    "MAX_PENDING_PER_CLIENT",
    "Asks",
    "PendingRequests",
    "Waiter",
    "check_not_reading",
    "reading",
    "remote_error",
    "reply_of",
]

_M = TypeVar("_M", bound=MessageBase)
_R_co = TypeVar("_R_co", bound=MessageBase, covariant=True)

#: Seconds the server waits for a client's answer when the request names no timeout.
DEFAULT_REQUEST_TIMEOUT = 10.0
#: Requests of the server that may wait for one client's answers at once.
MAX_PENDING_PER_CLIENT = 256


# The client whose frames the running task reads (its handlers and hooks run in that task),
# and the task. A task started from a handler inherits the variable but is another task: it
# may wait for that client's answer, which the reading task reads meanwhile.
class _Reading:
    """Who reads a client's frames: the client, and the task (``None`` while a handler runs
    in the callback that read its frame, before it waits for anything)."""

    __slots__ = ("client_id", "task")

    def __init__(self, client_id: str, task: asyncio.Task[Any] | None) -> None:
        self.client_id = client_id
        self.task = task


_reading: ContextVar[_Reading | None] = ContextVar("datadivr_reading", default=None)


@contextlib.contextmanager
def reading(client_id: str) -> Iterator[None]:
    """Mark the running task as the one that reads ``client_id``'s frames, for as long as it
    runs a handler of that client's message or one of its hooks."""
    token = _reading.set(_Reading(client_id, asyncio.current_task()))
    try:
        yield
    finally:
        _reading.reset(token)


def enter_reading(client_id: str) -> Token[_Reading | None]:
    """:func:`reading` without a context manager, for the hub's path of every message: mark
    the running task as the one that reads ``client_id``'s frames until :func:`leave_reading`."""
    return _reading.set(_Reading(client_id, asyncio.current_task()))


def leave_reading(mark: Token[_Reading | None]) -> None:
    """End what :func:`enter_reading` began."""
    _reading.reset(mark)


def moved_reading(context: Context, task: asyncio.Task[Any]) -> None:
    """A handler started outside any task (in the callback that read its frame) goes on in
    ``task``, run in ``context``: that task reads its client's frames now."""
    marked = context.get(_reading)
    if marked is not None:
        marked.task = task


def check_not_reading(client_id: str) -> None:
    """Refuse to wait for ``client_id``'s answer in the task that reads its frames.

    Raises:
        InvalidStateError: the running task runs a handler of ``client_id``'s message or one of
            its hooks: the answer would be read only once it returns.
    """
    marked = _reading.get()
    if (
        marked is not None
        and marked.client_id == client_id
        and marked.task is asyncio.current_task()
    ):
        raise InvalidStateError(
            f"a handler or hook of client {client_id!r} cannot wait for that client's answer: "
            "its next message is read once the handler returns; ask it from a task of its own "
            "(asyncio.create_task) or after answering"
        )


class Asks(Protocol[_R_co]):
    """A message the server may send as a request, typed by its reply: the generated message
    class of each such event declares ``__reply__`` (the reply's message class), so that
    ``await ctx.request(client_id, message)`` has the reply's type."""

    @property
    def __reply__(self) -> type[_R_co]:
        """The message class a client answers it with."""
        ...


class Waiter(Protocol):
    """What a request waits on: an ``asyncio.Future`` (or a ``concurrent.futures.Future``)."""

    def done(self) -> bool: ...
    def set_result(self, result: MessageBase, /) -> None: ...
    def set_exception(self, exception: BaseException, /) -> None: ...


@dataclass(frozen=True)
class _Pending:
    waiter: Waiter
    reply_type: type[MessageBase]
    event_name: str


class PendingRequests:
    """The server's requests that wait for their clients' answers, by client and request id.

    Args:
        max_per_client: How many requests may wait for one client at once.
    """

    def __init__(self, max_per_client: int = MAX_PENDING_PER_CLIENT) -> None:
        self.max_per_client = max_per_client
        self._by_client: dict[str, dict[str, _Pending]] = {}

    def add(
        self,
        client_id: str,
        request_id: str,
        waiter: Waiter,
        reply_type: type[MessageBase],
        event_name: str,
    ) -> None:
        """Wait for ``client_id``'s answer to the request ``request_id``.

        Raises:
            TooManyRequestsError: ``max_per_client`` requests wait for that client already.
            ValueError: a request with that id waits for that client already.
        """
        pending = self._by_client.setdefault(client_id, {})
        if request_id in pending:
            raise ValueError(f"a request with id {request_id!r} waits for {client_id!r} already")
        if len(pending) >= self.max_per_client:
            raise TooManyRequestsError(client_id, self.max_per_client)
        pending[request_id] = _Pending(waiter, reply_type, event_name)

    def remove(self, client_id: str, request_id: str) -> None:
        """Stop waiting for the request (answered, timed out or failed); idempotent."""
        pending = self._by_client.get(client_id)
        if pending is not None:
            pending.pop(request_id, None)
            if not pending:
                del self._by_client[client_id]

    def settle(self, client_id: str, message: MessageBase) -> bool:
        """Whether ``message`` from ``client_id`` answers one of its waiting requests (its
        ``reply_to`` names one, and it is that request's reply or an ``error``); it then
        settles that request."""
        if message.reply_to is None:
            return False
        pending = self._by_client.get(client_id)
        entry = pending.get(message.reply_to) if pending is not None else None
        if entry is None:
            return False
        if not (isinstance(message, entry.reply_type) or message.event_name == "error"):
            return False
        if not entry.waiter.done():
            entry.waiter.set_result(message)
        self.remove(client_id, message.reply_to)
        return True

    def client_gone(self, client_id: str) -> None:
        """``client_id`` disconnected: each of its waiting requests fails with
        :class:`~datadivr.exceptions.ClientGoneError`."""
        for entry in self._by_client.pop(client_id, {}).values():
            if not entry.waiter.done():
                entry.waiter.set_exception(ClientGoneError(client_id, entry.event_name))

    def waiting(self, client_id: str | None = None) -> int:
        """How many requests wait: for ``client_id``, or for every client."""
        if client_id is not None:
            return len(self._by_client.get(client_id, ()))
        return sum(len(pending) for pending in self._by_client.values())


def reply_of(request: MessageBase, reply: MessageBase, reply_type: type[_M]) -> _M:
    """The answer to ``request`` as a ``reply_type``.

    Raises:
        RemoteError: the answer is an ``error``.
        ProtocolError: the answer is not a ``reply_type``.
    """
    if reply.event_name == "error":
        raise remote_error(reply)
    if not isinstance(reply, reply_type):
        raise ProtocolError(
            "invalid_message",
            f"expected {reply_type.__name__} in reply to {request.event_name!r}, "
            f"got {reply.event_name!r}",
            event_name=reply.event_name,
        )
    return reply


def remote_error(reply: MessageBase) -> RemoteError:
    """The :class:`~datadivr.exceptions.RemoteError` an ``error`` message answers a request with."""
    payload = reply.payload
    code = str(getattr(payload, "code", "error"))
    raw_details = getattr(payload, "details", None) or []
    details = [
        Violation(
            str(getattr(d, "path", "")), str(getattr(d, "reason", "")), getattr(d, "kind", None)
        )
        for d in raw_details
    ]
    return RemoteError(code, reply.message or code, details)
