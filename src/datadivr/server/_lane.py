"""The lane: a connection's frames handled as they arrive, under uvicorn's sans-I/O protocol.

Under uvicorn's WebSocket protocol alone, each frame goes through an ``asyncio.Queue`` to the
application's task, which wakes for it (uvicorn stops and restarts reading the socket around
every frame), and each answer comes back down the ASGI send chain (starlette's ``WebSocket``,
its exception wrapper, uvicorn's ``send``, websockets' frame writer). Once a connection is
accepted and greeted, the :class:`Lane` takes its transport over (``transport.set_protocol``):

- its frames are handled in the callback that read them; a handler that returns without
  waiting runs to its end there, with no task and no queue. A whole, masked text or binary
  frame is read by the lane itself; every other frame (pings, pongs, closes, fragments, frames
  that break a rule, compressed frames) by websockets, whose parser the lane hands the stream
  to at a frame boundary and takes it back from at the next;
- a handler that waits continues in a task of the lane's, and the connection's later frames
  wait for it, in order, with reading paused (as they would wait for the application's task);
- answers are written as frames straight to the transport, those of the frames read at once
  in one write (through websockets' own writer when an extension, compression, was
  negotiated);
- pings, pongs and the closing handshake stay uvicorn's, on the same websockets state.

Where the lane cannot go (another ASGI server, a middleware that wraps ``receive``, Python
3.10, whose tasks cannot share a context), the ASGI path serves the connection as before.
"""

from __future__ import annotations

import asyncio
import contextvars
import struct
import sys
from collections import deque
from collections.abc import Callable, Coroutine, Generator
from typing import Any

from fastapi import WebSocket
from uvicorn.protocols.utils import ClientDisconnected
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import CloseCode, Frame, Opcode
from websockets.protocol import Protocol as WebSocketState
from websockets.protocol import State

try:
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover - websockets built without its C extension
    from websockets.utils import apply_mask

from datadivr._logging import get_logger
from datadivr.core._requests import moved_reading
from datadivr.server._connection import Connection

__all__ = ["Lane"]

_log = get_logger("datadivr.server")

#: Handles one frame (text or bytes); ``False`` when the connection is to be read no more.
Handle = Callable[[str | bytes], Coroutine[Any, Any, bool]]

#: Answers the lane lets wait for the end of what it read, at most: then they are written.
FLUSH_EVERY = 64
#: The first byte of a whole text frame and of a whole binary frame (FIN, no RSV bit).
_WHOLE_TEXT, _WHOLE_BINARY = 0x81, 0x82
#: The header of an unmasked, final text frame of each length under 126 bytes.
_SHORT = [bytes((0x81, n)) for n in range(126)]
_MEDIUM = struct.Struct("!BBH").pack
_LONG = struct.Struct("!BBQ").pack


def _frame(data: str) -> bytes:
    """``data`` as a final, unmasked text frame (RFC 6455, 5.2): what a server sends."""
    payload = data.encode()
    size = len(payload)
    if size < 126:
        return _SHORT[size] + payload
    if size < 65536:
        return _MEDIUM(0x81, 126, size) + payload
    return _LONG(0x81, 127, size) + payload


def _at_boundary(conn: WebSocketState) -> bool:
    """Whether websockets' parser of ``conn`` waits for the first byte of a frame: nothing
    buffered, and the parser at its loop's start (in ``at_eof``), not within a frame."""
    if conn.reader.buffer or conn.state is not State.OPEN:
        return False
    inner: Any = conn.parser
    for _ in range(8):  # the server's parser delegates to the frames' parser, which waits
        below = getattr(inner, "gi_yieldfrom", None)
        if below is None:
            break
        inner = below
    return getattr(getattr(inner, "gi_code", None), "co_name", "") == "at_eof"


class _Nowhere:
    """In place of uvicorn's queue for the application, once the lane reads the connection:
    what uvicorn puts there (the disconnect it also tells the lane of) goes nowhere."""

    __slots__ = ()

    def put_nowait(self, item: object) -> None:
        return None

    def empty(self) -> bool:
        return True


_NOWHERE: Any = _Nowhere()


class _Resume:
    """Awaiting it goes on with ``coro``, a coroutine that was started by hand and is waiting
    for ``waiting`` (what it yielded): what a task would have done had it started it."""

    __slots__ = ("coro", "waiting")

    def __init__(self, coro: Coroutine[Any, Any, bool], waiting: Any) -> None:
        self.coro = coro
        self.waiting = waiting

    def __await__(self) -> Generator[Any, Any, bool]:
        coro, waiting = self.coro, self.waiting
        while True:
            try:
                sent = yield waiting
            except BaseException as exc:  # cancellation included: the coroutine decides
                try:
                    waiting = coro.throw(exc)
                except StopIteration as done:
                    return bool(done.value)
            else:
                try:
                    waiting = coro.send(sent)
                except StopIteration as done:
                    return bool(done.value)


class Lane(asyncio.Protocol):
    """The protocol of an accepted connection's transport, in place of uvicorn's ``proto``,
    which keeps its state (websockets' parser, the keepalive pings, the close handshake).

    Use :meth:`attach`. ``finished`` holds the close code and reason once the peer closed or
    went, or the server closed (:meth:`close`).
    """

    __slots__ = (
        "backlog",
        "blocked",
        "buffer",
        "conn",
        "connection",
        "context",
        "fast",
        "finished",
        "fragments",
        "handle",
        "max_size",
        "plain",
        "proto",
        "stopped",
        "task",
        "text",
        "transport",
        "unflushed",
        "websocket",
    )

    def __init__(
        self,
        websocket: WebSocket,
        proto: WebSocketsSansIOProtocol,
        connection: Connection[Any],
        handle: Handle,
    ) -> None:
        self.websocket = websocket
        self.proto = proto
        self.conn = proto.conn
        self.transport = proto.transport
        self.connection = connection
        self.handle = handle
        # Frames are written by hand unless an extension (compression) changes them.
        self.plain = not proto.conn.extensions
        # One context for the connection's handlers, whether they finish in the callback that
        # read their frame or in the lane's task (a context variable set and reset across an
        # await must stay in one context).
        self.context = contextvars.copy_context()
        self.finished: asyncio.Future[tuple[int, str]] = asyncio.get_running_loop().create_future()
        # Frames read while a handler waits; made when first needed (an idle connection's
        # footprint counts).
        self.backlog: deque[str | bytes] | None = None
        self.blocked = False  # a handler waits, or the client's answers pile up
        self.stopped = False
        self.task: asyncio.Task[None] | None = None
        self.fragments: list[bytes] = []
        self.text = True
        self.unflushed = False  # answers wait for the end of what was read
        # Whole data frames are read by the lane while websockets' parser is at a boundary.
        self.fast = False
        self.buffer = bytearray()  # the start of a frame the lane reads, not yet complete
        self.max_size: int = proto.config.ws_max_size

    @classmethod
    def attach(
        cls, websocket: WebSocket, connection: Connection[Any], handle: Handle
    ) -> Lane | None:
        """Take over ``websocket``'s transport, if it is uvicorn's sans-I/O protocol's and
        the connection is open; ``None`` where the ASGI path must serve it."""
        if sys.version_info >= (3, 11):
            return cls._attach(websocket, connection, handle)
        return None

    @classmethod
    def _attach(
        cls, websocket: WebSocket, connection: Connection[Any], handle: Handle
    ) -> Lane | None:
        proto = getattr(getattr(websocket, "_receive", None), "__self__", None)
        if not isinstance(proto, WebSocketsSansIOProtocol):
            return None
        if not proto.handshake_complete or proto.close_sent or proto.disconnected:
            return None
        if proto.transport.is_closing():
            return None
        lane = cls(websocket, proto, connection, handle)
        # What uvicorn read before, for the application, is taken first, in order; from now
        # on what it would queue for the application (its word of a close) is the lane's
        # business, and its queue (some 2 KiB of deques) is let go.
        early: list[Any] = []
        while not proto.queue.empty():
            early.append(proto.queue.get_nowait())
        proto.queue = _NOWHERE
        if proto.frames:  # a message in fragments, begun
            lane.fragments = list(proto.frames)
            lane.text = proto.curr_msg_data_type == "text"
            proto.frames = []
        proto.transport.set_protocol(lane)
        if proto.read_paused:
            proto.read_paused = False
            proto.transport.resume_reading()
        connection.send_text = lane.send_text
        connection.close_with = lane.close
        connection.direct = lane.write_now
        lane.fast = lane.plain and _at_boundary(lane.conn)
        for event in early:
            if event["type"] == "websocket.receive":
                text = event.get("text")
                lane._message(text if text is not None else event.get("bytes") or b"")
            elif event["type"] == "websocket.disconnect":
                lane._finish(event.get("code", 1005), event.get("reason") or "")
        if lane.unflushed:
            lane._answered()
        return lane

    # -- asyncio.Protocol ------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self.fast:
            self._read(data)
        else:
            self._feed(data)
        if self.unflushed:
            self._answered()

    def _read(self, data: bytes) -> None:
        """Read whole, masked data frames; hand the stream to websockets at the first other."""
        buffer = self.buffer
        if buffer:
            buffer += data
            view: bytes | bytearray = buffer
        else:
            view = data
        end = len(view)
        at = 0
        while end - at >= 2:
            first, second = view[at], view[at + 1]
            size = second & 0x7F
            head = at + 2
            if size == 126:
                if end - head < 2:
                    break
                size = int.from_bytes(view[head : head + 2], "big")
                head += 2
            elif size == 127:
                if end - head < 8:
                    break
                size = int.from_bytes(view[head : head + 8], "big")
                head += 8
            if (
                (first != _WHOLE_TEXT and first != _WHOLE_BINARY)
                or not second & 0x80  # a client's frames are masked
                or size > self.max_size
                or self.fragments
            ):
                # Anything else is websockets' to read, from this frame on: its parser is
                # at this frame's start.
                self.fast = False
                self.buffer = bytearray()
                self._feed(bytes(view[at:]))
                return
            stop = head + 4 + size
            if stop > end:
                break
            payload = apply_mask(view[head + 4 : stop], view[head : head + 4])
            at = stop
            self._data(payload, first == _WHOLE_TEXT)
            if self.transport.is_closing():
                self.buffer = bytearray()  # nothing more is read from it
                return
        if at == 0 and buffer:
            return  # still the same incomplete frame, already in the buffer
        self.buffer = bytearray(view[at:]) if at < end else bytearray()

    def _feed(self, data: bytes) -> None:
        """Hand ``data`` to websockets' parser, and take back what it read."""
        if self.unflushed:
            self._answered()  # before whatever websockets writes (a pong, a close)
        conn = self.conn
        conn.receive_data(data)
        if conn.parser_exc is not None:
            # websockets refused the stream (a frame too large, bad framing): uvicorn closes.
            self.proto.handle_parser_exception()
            sent = conn.close_sent
            self._finish(sent.code if sent else 1002, sent.reason if sent else "")
            return
        for event in conn.events_received():
            if isinstance(event, Frame):
                self._frame(event)
        if self.plain and not self.fragments and _at_boundary(conn):
            self.fast = True

    def connection_lost(self, exc: Exception | None) -> None:
        received = self.conn.close_rcvd
        self.proto.connection_lost(exc)
        if received is not None:
            self._finish(received.code, received.reason)
        else:
            self._finish(1006, "")

    def eof_received(self) -> None:
        self.proto.eof_received()

    def pause_writing(self) -> None:
        self.proto.pause_writing()

    def resume_writing(self) -> None:
        self.proto.resume_writing()

    # -- reading ---------------------------------------------------------------------------

    def _frame(self, frame: Frame) -> None:
        opcode = frame.opcode
        if opcode is Opcode.TEXT or opcode is Opcode.BINARY:
            if frame.fin:
                self._data(frame.data, opcode is Opcode.TEXT)
            else:
                self.fragments = [bytes(frame.data)]
                self.text = opcode is Opcode.TEXT
        elif opcode is Opcode.CONT:
            self.fragments.append(bytes(frame.data))
            if frame.fin:
                data, self.fragments = b"".join(self.fragments), []
                self._data(data, self.text)
        elif opcode is Opcode.PING:
            self.proto.handle_ping()  # websockets queued the pong
        elif opcode is Opcode.PONG:
            self.proto.handle_pong(frame)
        else:  # CLOSE
            received = self.conn.close_rcvd
            self.proto.handle_close(frame)
            self._finish(received.code if received else 1005, received.reason if received else "")

    def _data(self, payload: bytes | bytearray | memoryview, text: bool) -> None:
        if self.proto.close_sent or self.stopped:
            return  # the server is past its close: no message is taken any more
        if not text:
            self._message(bytes(payload))
            return
        try:
            message = bytes(payload).decode()
        except UnicodeDecodeError:
            if self.unflushed:
                self._answered()  # the answers to the frames before it go out first
            self.conn.fail(CloseCode.INVALID_DATA, "invalid UTF-8 in a text frame")
            self.proto.handle_parser_exception()
            self._finish(CloseCode.INVALID_DATA, "invalid UTF-8 in a text frame")
            return
        self._message(message)

    def _message(self, data: str | bytes) -> None:
        """Handle one message now, or after those that wait."""
        if self.stopped:
            return
        if self.blocked:
            if self.backlog is None:
                self.backlog = deque()
            self.backlog.append(data)
            return
        coro = self.handle(data)
        try:
            waiting = self.context.run(coro.send, None)
        except StopIteration as done:
            if not done.value:
                self.stop()
            elif self.connection.pending:
                # Written at the end of what was read, in one write, unless many wait.
                self.unflushed = True
                if len(self.connection.pending) >= FLUSH_EVERY or self.connection.behind:
                    self._answered()
            return
        except Exception:
            _log.exception("unexpected failure while handling a frame")
            self.connection.evict(self.connection, 1011, "internal error")
            self.stop()
            return
        if self.connection.pending:
            self.flush()  # the answers to the frames before it do not wait for it
        self._block(_Resume(coro, waiting), started=True)

    def _answered(self) -> None:
        """Done with what was read: write the answers, and read no more while they pile up."""
        self.unflushed = False
        connection = self.connection
        if not connection.pending:
            connection.reading = False
            return
        self.flush()
        if connection.pending and connection.behind and not connection.evicted:
            self._block(self._drained(), started=False)

    async def _drained(self) -> bool:
        await self.connection.wait_drained()
        return True

    def _block(self, first: Any, *, started: bool) -> None:
        """Read no more until ``first`` (a handler that waits, or the writer catching up) is
        done, then take the frames read meanwhile, in order, in the lane's task."""
        self.blocked = True
        self.transport.pause_reading()
        loop = asyncio.get_running_loop()
        if sys.version_info >= (3, 11):
            task = loop.create_task(self._catch_up(first), context=self.context)
        else:  # never: attach() leaves 3.10 to the ASGI path
            task = loop.create_task(self._catch_up(first))
        self.task = task
        self.connection.reader = task
        if started:
            moved_reading(self.context, task)

    async def _catch_up(self, first: Any) -> None:
        connection = self.connection
        try:
            keep = await first
            while keep and not self.stopped:
                if connection.pending:
                    self.flush()
                    if connection.pending and connection.behind and not connection.evicted:
                        await connection.wait_drained()
                backlog = self.backlog
                if not backlog or self.stopped:
                    break
                keep = await self.handle(backlog.popleft())
            if not keep:
                self.stop()
        finally:
            self.task = None
            connection.reader = None
            self.blocked = False
            if not self.stopped and not self.transport.is_closing():
                self.transport.resume_reading()

    def stop(self) -> None:
        """Take no more messages (control frames still are read): the server is done with
        the client, and ``finished`` comes with the end of the close handshake."""
        if self.stopped:
            return
        self.stopped = True
        self.backlog = None
        if self.blocked and not self.transport.is_closing():
            self.transport.resume_reading()  # the close handshake needs the peer's close

    def _finish(self, code: int, reason: str) -> None:
        self.stopped = True
        self.backlog = None
        if not self.finished.done():
            self.finished.set_result((code, reason))

    # -- writing ---------------------------------------------------------------------------

    def flush(self) -> None:
        """Write what the connection has queued, now, when its writer is asleep and the
        transport takes more; else leave it to the writer."""
        self.unflushed = False
        connection = self.connection
        if not self.proto.writable.is_set():
            connection.reading = False
            connection.wake_writer()
            return
        frames = connection.take()
        if frames:
            self.write(frames)

    def write(self, frames: list[str]) -> None:
        proto = self.proto
        if proto.close_sent or proto.disconnected:
            self.connection.discard_queue()
            return
        if self.plain:
            self.transport.write(
                _frame(frames[0]) if len(frames) == 1 else b"".join(map(_frame, frames))
            )
            return
        conn = self.conn
        for data in frames:
            conn.send_text(data.encode())
        self.transport.write(b"".join(conn.data_to_send()))

    def write_now(self, data: str) -> bool:
        """Write one frame now, if the transport takes more; whether it did."""
        proto = self.proto
        if not proto.writable.is_set() or proto.close_sent or proto.disconnected:
            return False
        self.write([data])
        return True

    async def close(self, code: int, reason: str) -> None:
        """Send a close frame: the server is done with the client, whose close frame in
        answer still completes the handshake (as under the ASGI path, the connection ends for
        the application now)."""
        try:
            await self.websocket.close(code, reason)
        finally:
            self._finish(code, reason)

    async def send_text(self, data: str) -> None:
        """The connection's writer sends ``data`` with this."""
        proto = self.proto
        if not proto.writable.is_set():
            await proto.writable.wait()
        if proto.disconnected:
            raise ClientDisconnected
        if proto.close_sent:
            raise RuntimeError("the connection is closing")
        self.write([data])
