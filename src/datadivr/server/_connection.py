"""A client's connection on the server: its bounded outbound queue, written by one task.

:class:`Connection` is the transport-free part of a server connection: it queues frames for
one client, writes them in order (from the writer task, or from the reader's own task when it
is done with a frame), hands a client that stopped reading to ``evict``, and closes once what
was queued is written. It talks to the socket through :class:`Transport` only (starlette's
``WebSocket`` is one), so another transport, or a test's in-memory fake, reuses it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from datadivr._logging import get_logger
from datadivr.core._limits import utf8_size

if TYPE_CHECKING:
    from datadivr.server._lane import Lane

__all__ = ["Connection", "Transport"]

_log = get_logger("datadivr.server")


class Transport(Protocol):
    """What a :class:`Connection` needs of its socket."""

    async def send_text(self, data: str) -> None:
        """Send one text frame; raise one of the connection's ``gone`` exceptions when the
        peer is gone."""

    async def close(self, code: int, reason: str) -> None:
        """Send a close frame with ``code`` and ``reason``."""


_T = TypeVar("_T", bound=Transport)

#: What a transport raises when its peer is gone, unless told otherwise.
GONE: tuple[type[Exception], ...] = (RuntimeError, OSError)


@dataclass(frozen=True)
class _Close:
    """Queued after the last frame: the writer closes the connection once it got that far."""

    code: int
    reason: str


class Connection(Generic[_T]):
    """One client's socket and its bounded outbound queue, written by one task.

    The queue is a bare deque with futures made only while someone waits: an ``asyncio.Queue``
    and ``Event`` cost some 5 KiB per connection, most of an idle connection's footprint.

    Args:
        client_id: The client's id, for logs.
        transport: The socket.
        max_frames: Frames the queue holds; one more means the client stopped reading.
        max_bytes: Bytes the queue holds (a single frame may exceed it in an empty queue).
        evict: Called with the connection, a close code and a reason when it must be dropped
            at once (its queue is full, or writing failed); it must not block.
        reader: The task that reads the socket (answers it queues wait for :meth:`flush`), and
            runs the connection (:attr:`task`); ``None`` while frames are handled outside
            any task (:class:`~datadivr.server._lane.Lane`).
        gone: What ``transport`` raises when its peer is gone: the reading side cleans up.
    """

    __slots__ = (
        "_deferred",
        "_drained",
        "_wake",
        "abandoned",
        "client_id",
        "close_with",
        "closed_with",
        "closing",
        "direct",
        "evict",
        "evicted",
        "farewell",
        "gone",
        "greeted",
        "lane",
        "max_bytes",
        "max_frames",
        "pending",
        "queued_bytes",
        "reader",
        "reading",
        "send_text",
        "sending",
        "task",
        "transport",
        "writer",
    )

    def __init__(
        self,
        client_id: str,
        transport: _T,
        max_frames: int,
        max_bytes: int,
        evict: Callable[[Connection[_T], int, str], None],
        *,
        reader: asyncio.Task[Any] | None = None,
        gone: tuple[type[Exception], ...] = GONE,
    ) -> None:
        self.client_id = client_id
        self.transport = transport
        # How a frame is written; a transport may hand the writing to a leaner path.
        self.send_text: Callable[[str], Awaitable[None]] = transport.send_text
        self.close_with: Callable[[int, str], Awaitable[None]] = transport.close
        # Writes a frame at once, if the transport takes it now (``False`` when not).
        self.direct: Callable[[str], bool] | None = None
        self.gone = gone
        self.max_frames = max_frames
        self.max_bytes = max_bytes
        self.evict = evict
        self.reader = reader
        self.task = reader  # what runs the connection: cancelled when the client is abandoned
        # Each frame with its size in bytes, counted once when queued, whatever the recipients.
        self.pending: deque[tuple[str, int] | _Close] = deque()
        self.queued_bytes = 0
        self.writer: asyncio.Task[None] | None = None
        self.evicted = False
        self.closing = False
        # The close code and reason the server chose (eviction, shutdown), for on_disconnect.
        self.closed_with: tuple[int, str] | None = None
        self.greeted = False  # its on_connect hooks are done
        self.lane: Lane | None = None  # what reads its frames, when not the reader task
        self.farewell = False  # its on_disconnect hooks are started
        # While the reader handles one of the client's frames, the answers wait for it to be
        # done (flush); were it to wait for something, the writer is woken after all.
        self.reading = False
        self.sending = False  # the reader is sending what is queued: the writer must wait
        self._deferred = False  # a wake-up of the writer is scheduled
        self.abandoned = False
        self._wake: asyncio.Future[None] | None = None  # the writer waits for a frame
        self._drained: asyncio.Future[None] | None = None  # the reader waits for the writer

    @property
    def behind(self) -> bool:
        """Whether half the queue is taken: the reader stops taking this client's frames
        until the writer caught up, so a client that sends faster than it reads is slowed
        down, not disconnected."""
        return len(self.pending) * 2 >= self.max_frames or self.queued_bytes * 2 >= self.max_bytes

    def offer(self, data: str, size: int | None = None, *, wake: bool = True) -> None:
        """Queue a frame of ``size`` bytes; a full queue means the client stopped reading.

        ``wake=False``: the reader is about to :meth:`flush`, the writer need not be woken.

        With nothing queued before it, the writer asleep and a transport that writes at once
        (:attr:`direct`), the frame is written now instead of waking the writer for it.
        """
        if self.evicted or self.closing:
            return
        if wake and self.direct is not None and not self.pending:
            asleep = self._wake
            if (
                asleep is not None
                and not asleep.done()
                and not self.reading
                and not self.sending
                and self.direct(data)
            ):
                return
        if size is None:
            size = utf8_size(data)
        if len(self.pending) >= self.max_frames or (
            self.queued_bytes + size > self.max_bytes and self.queued_bytes
        ):
            self.evict(self, 1013, "outbound queue full: client too slow")
            return
        self.pending.append((data, size))
        self.queued_bytes += size
        if wake:
            self.wake_writer()

    def wake_writer(self) -> None:
        """Have the writer send what is queued (on the next turn of the loop when the reader
        is about to send it itself)."""
        if self.sending:
            return  # flush() sends it
        if self.reading and asyncio.current_task() is self.reader:
            # Queued by the reader's own handler (ctx.send): the reader sends it when done
            # with the frame, in this same step of the event loop; were the handler to wait
            # for something first, the writer is woken on the next turn of the loop.
            if not self._deferred:
                self._deferred = True
                asyncio.get_running_loop().call_soon(self._deferred_wake)
            return
        wake = self._wake
        if wake is not None and not wake.done():
            wake.set_result(None)

    def _deferred_wake(self) -> None:
        self._deferred = False
        if self.pending and not self.sending:
            wake = self._wake
            if wake is not None and not wake.done():
                wake.set_result(None)

    async def flush(self) -> None:
        """Done with a frame of the client's: send what is queued, from the reader's own task
        while the writer is asleep, else leave it to the writer.

        Sending only waits when the client does not read; this reader then reads no more
        from it, as when it is :attr:`behind`. One task sends at a time.
        """
        self.reading = False
        wake = self._wake
        pending = self.pending
        if not pending or wake is None or wake.done():
            return  # nothing to send, or the writer is at work or about to be
        self.sending = True
        try:
            while pending and not self.evicted:
                item = pending[0]
                if isinstance(item, _Close):
                    break  # the writer closes
                pending.popleft()
                data, size = item
                self.queued_bytes -= size
                await self.send_text(data)
        except self.gone:
            self.discard_queue()  # the connection is gone; the reading side sees it next
        finally:
            self.sending = False
            if pending:
                self.wake_writer()

    def take(self) -> list[str]:
        """Done with a frame: take what is queued, to be written at once by the reading side,
        while the writer is asleep (else it is the writer's, which is at work or about to be).

        Stops at a queued close, which is the writer's.
        """
        self.reading = False
        wake = self._wake
        pending = self.pending
        if not pending or wake is None or wake.done() or self.sending or self.evicted:
            return []
        frames: list[str] = []
        while pending:
            item = pending[0]
            if isinstance(item, _Close):
                self.wake_writer()
                break
            pending.popleft()
            frames.append(item[0])
            self.queued_bytes -= item[1]
        return frames

    def release_reader(self) -> None:
        """Let a reader waiting for the writer go on (it caught up, or it is gone)."""
        drained = self._drained
        if drained is not None and not drained.done():
            drained.set_result(None)

    async def wait_drained(self) -> None:
        """Wait until the writer has sent most of what is queued."""
        self._drained = asyncio.get_running_loop().create_future()
        try:
            await self._drained
        finally:
            self._drained = None

    def discard_queue(self) -> None:
        """Drop what is queued (the connection is being dropped)."""
        self.pending.clear()
        self.queued_bytes = 0

    def finish(self, code: int, reason: str) -> None:
        """Close once every frame already queued is written."""
        if self.evicted or self.closing:
            return
        if len(self.pending) >= self.max_frames:
            # A full queue behind: a reader too slow to flush it in time anyway.
            self.evict(self, code, reason)
            return
        self.closed_with = (code, reason)
        self.closing = True
        self.pending.append(_Close(code, reason))
        self.wake_writer()

    async def write(self) -> None:
        """The writer task: send queued frames until the queued close, or the peer is gone."""
        pending = self.pending
        loop = asyncio.get_running_loop()
        try:
            while True:
                while not pending or self.sending:
                    self._wake = loop.create_future()
                    try:
                        await self._wake
                    finally:
                        self._wake = None
                item = pending.popleft()
                if isinstance(item, _Close):
                    await self.close_with(item.code, item.reason)
                    return
                data, size = item
                self.queued_bytes -= size
                await self.send_text(data)
                if self._drained is not None and len(pending) * 4 <= self.max_frames:
                    self.release_reader()
        except self.gone:
            return  # the connection is gone; the reading side cleans up
        except Exception:
            _log.exception("cannot write to the client", client_id=self.client_id)
            self.evict(self, 1011, "internal error")
        finally:
            self.release_reader()  # no more writing: the reader must not wait for it
