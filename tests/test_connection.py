"""A server connection's queue, writer, eviction and close, driven through an in-memory
transport: no sockets (the real thing runs in tests/integration/)."""

from __future__ import annotations

import asyncio

import pytest

from datadivr.server._connection import Connection


class FakeTransport:
    """A socket that records what is sent; ``stall`` holds sends until it is set."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.closed: tuple[int, str] | None = None
        self.stall: asyncio.Event | None = None
        self.fail: Exception | None = None

    async def send_text(self, data: str) -> None:
        if self.stall is not None:
            await self.stall.wait()
        if self.fail is not None:
            raise self.fail
        self.sent.append(data)

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)


class Evictions:
    """What the server's ``evict`` does to the connection, and a record of it."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, str]] = []

    def __call__(self, connection: Connection[FakeTransport], code: int, reason: str) -> None:
        connection.evicted = True
        connection.release_reader()
        self.calls.append((code, reason))


def _connection(
    max_frames: int = 8, max_bytes: int = 1024
) -> tuple[Connection[FakeTransport], FakeTransport, Evictions]:
    transport = FakeTransport()
    evictions = Evictions()
    connection = Connection("c", transport, max_frames, max_bytes, evictions)
    return connection, transport, evictions


async def _writing(connection: Connection[FakeTransport]) -> asyncio.Task[None]:
    """Start the writer and let it run up to its first wait."""
    connection.writer = asyncio.create_task(connection.write())
    await asyncio.sleep(0)
    return connection.writer


async def test_the_writer_sends_in_order_then_closes_after_the_last_frame() -> None:
    connection, transport, evictions = _connection()
    writer = await _writing(connection)
    for data in ("a", "b", "é"):
        connection.offer(data)
    assert connection.queued_bytes == 4  # counted in UTF-8
    connection.finish(1001, "server shutting down")
    connection.offer("late")  # after finish: not accepted
    await writer
    assert transport.sent == ["a", "b", "é"]
    assert transport.closed == (1001, "server shutting down")
    assert (len(connection.pending), connection.queued_bytes, evictions.calls) == (0, 0, [])


async def test_a_reader_that_stopped_reading_is_evicted_when_its_queue_is_full() -> None:
    connection, transport, evictions = _connection(max_frames=3)
    transport.stall = asyncio.Event()
    writer = await _writing(connection)
    connection.offer("0")
    await asyncio.sleep(0)  # the writer takes it, and is stuck sending it
    assert (transport.sent, len(connection.pending)) == ([], 0)
    for data in ("1", "2", "3"):
        connection.offer(data)
    assert (evictions.calls, connection.behind) == ([], True)
    connection.offer("4")
    assert evictions.calls == [(1013, "outbound queue full: client too slow")]
    connection.offer("5")  # evicted: nothing more is queued, evict is not called again
    assert [item[0] for item in connection.pending if isinstance(item, tuple)] == ["1", "2", "3"]
    assert len(evictions.calls) == 1
    writer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await writer


def test_the_queue_is_bounded_in_bytes_too() -> None:
    connection, _, evictions = _connection(max_bytes=10)
    connection.offer("x" * 30)  # one frame larger than the bound: taken by an empty queue
    assert not evictions.calls
    connection.discard_queue()
    connection.offer("x" * 8)
    connection.offer("y" * 3)
    assert evictions.calls == [(1013, "outbound queue full: client too slow")]
    assert connection.queued_bytes == 8


def test_finishing_behind_a_full_queue_evicts_with_the_close_code() -> None:
    connection, transport, evictions = _connection(max_frames=2)
    connection.offer("a")
    connection.offer("b")
    connection.finish(1001, "server shutting down")
    assert evictions.calls == [(1001, "server shutting down")]
    assert (connection.closing, transport.closed) == (False, None)


async def test_a_gone_peer_ends_the_writer_quietly() -> None:
    connection, transport, evictions = _connection()
    transport.fail = OSError("reset")
    writer = await _writing(connection)
    connection.offer("a")
    await writer
    assert (transport.sent, evictions.calls) == ([], [])


async def test_an_unexpected_write_failure_evicts_with_an_internal_error() -> None:
    connection, transport, evictions = _connection()
    transport.fail = ValueError("a bug")
    writer = await _writing(connection)
    connection.offer("a")
    await writer
    assert evictions.calls == [(1011, "internal error")]


async def test_the_reader_flushes_its_answers_itself_while_the_writer_sleeps() -> None:
    connection, transport, _ = _connection()
    writer = await _writing(connection)
    connection.offer("answer", wake=False)
    assert transport.sent == []
    await connection.flush()
    assert transport.sent == ["answer"]
    assert not writer.done()
    connection.finish(1000, "done")
    await writer
    assert transport.closed == (1000, "done")


async def test_a_reader_waiting_for_the_writer_is_released_once_it_caught_up() -> None:
    connection, transport, _ = _connection(max_frames=8)
    transport.stall = asyncio.Event()
    writer = await _writing(connection)
    for index in range(5):
        connection.offer(str(index))
    assert connection.behind
    drained = asyncio.create_task(connection.wait_drained())
    await asyncio.sleep(0)
    assert not drained.done()
    transport.stall.set()
    await drained
    assert len(connection.pending) * 4 <= connection.max_frames
    connection.finish(1000, "done")
    await writer
    assert transport.sent == ["0", "1", "2", "3", "4"]
