"""The lane: a connection's frames handled as they arrive, under uvicorn's sans-I/O protocol.

Under uvicorn's WebSocket protocol alone, each frame goes through an ``asyncio.Queue`` to the
application's task, which wakes for it (uvicorn stops and restarts reading the socket around
every frame), and each answer comes back down the ASGI send chain (starlette's ``WebSocket``,
its exception wrapper, uvicorn's ``send``, websockets' frame writer). Once a connection is
accepted and greeted, the :class:`Lane` takes its transport over (``transport.set_protocol``):

- the frames websockets parses are handled in the callback that read them; a handler that
  returns without waiting runs to its end there, with no task and no queue;
- a handler that waits continues in a task of the lane's, and the connection's later frames
  wait for it, in order, with reading paused (as they would wait for the application's task);
- answers are written as frames straight to the transport, several in one write when several
  are ready (through websockets' own writer when an extension, compression, was negotiated);
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

from datadivr._logging import get_logger
from datadivr.core._requests import moved_reading
from datadivr.server._connection import Connection

__all__ = ["Lane"]

_log = get_logger("datadivr.server")

#: Handles one frame (text or bytes); ``False`` when the connection is to be read no more.
Handle = Callable[[str | bytes], Coroutine[Any, Any, bool]]

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
    went.
    """

    __slots__ = (
        "backlog",
        "blocked",
        "conn",
        "connection",
        "context",
        "finished",
        "fragments",
        "handle",
        "plain",
        "proto",
        "stopped",
        "task",
        "text",
        "transport",
    )

    def __init__(
        self, proto: WebSocketsSansIOProtocol, connection: Connection[Any], handle: Handle
    ) -> None:
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
        self.backlog: deque[str | bytes] = deque()  # frames read while a handler waits
        self.blocked = False  # a handler waits, or the client's answers pile up
        self.stopped = False
        self.task: asyncio.Task[None] | None = None
        self.fragments: list[bytes] = []
        self.text = True

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
        lane = cls(proto, connection, handle)
        # What uvicorn read before, for the application, is taken first, in order.
        early: list[Any] = []
        while not proto.queue.empty():
            early.append(proto.queue.get_nowait())
        if proto.frames:  # a message in fragments, begun
            lane.fragments = list(proto.frames)
            lane.text = proto.curr_msg_data_type == "text"
            proto.frames = []
        proto.transport.set_protocol(lane)
        if proto.read_paused:
            proto.read_paused = False
            proto.transport.resume_reading()
        connection.send_text = lane.send_text
        for event in early:
            if event["type"] == "websocket.receive":
                text = event.get("text")
                lane._message(text if text is not None else event.get("bytes") or b"")
            elif event["type"] == "websocket.disconnect":
                lane._finish(event.get("code", 1005), event.get("reason") or "")
        return lane

    # -- asyncio.Protocol ------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
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
            self.backlog.append(data)
            return
        coro = self.handle(data)
        try:
            waiting = self.context.run(coro.send, None)
        except StopIteration as done:
            if not done.value:
                self.stop()
            else:
                self._answered()
            return
        except Exception:
            _log.exception("unexpected failure while handling a frame")
            self.connection.evict(self.connection, 1011, "internal error")
            self.stop()
            return
        self._block(_Resume(coro, waiting), started=True)

    def _answered(self) -> None:
        """Done with a frame: write its answers, and read no more while they pile up."""
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
                if not self.backlog or self.stopped:
                    break
                keep = await self.handle(self.backlog.popleft())
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
        self.backlog.clear()
        if self.blocked and not self.transport.is_closing():
            self.transport.resume_reading()  # the close handshake needs the peer's close

    def _finish(self, code: int, reason: str) -> None:
        self.stopped = True
        self.backlog.clear()
        if not self.finished.done():
            self.finished.set_result((code, reason))

    # -- writing ---------------------------------------------------------------------------

    def flush(self) -> None:
        """Write what the connection has queued, now, when its writer is asleep and the
        transport takes more; else leave it to the writer."""
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
