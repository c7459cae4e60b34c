"""The Redis backplane: the nodes of a cluster meet on Redis pub/sub (redis-py's asyncio client).

Channels and keys, under a prefix (``datadivr`` unless told otherwise):

- ``<prefix>:all``: broadcasts (``all``, ``others``), published once per message as
  ``<origin node>\\n<excluded client or nothing>\\n<frame>``; every node delivers them to its
  own connections, except the node they came from (it has done so already).
- ``<prefix>:node:<node>``: direct messages to a client of that node, ``<client id>\\n<frame>``.
- ``<prefix>:presence``: join, leave, up and down notices (:class:`~datadivr.broker._presence.Notice`).
- ``<prefix>:nodes:<node>``: the node's record, and ``<prefix>:clients:<node>``: a set of its
  client ids, both with a time to live that the node refreshes every third of it (in one
  transaction, so that a snapshot never sees half of it). A node that dies stops refreshing
  them, so it and its clients drop out of every other node's mirror within ``presence_ttl``
  plus one sync period (a third of ``presence_ttl``), the stated bound.

Every write to Redis goes through one task and one ordered queue, so a client's messages and
presence changes reach Redis in the order they happened and each frame is published once.

When Redis cannot be reached, local delivery goes on; a message with recipients on other
nodes is answered with an ``error`` of code ``broker_unavailable`` to its sender, and the
backplane reconnects with exponential backoff (0.1 s doubling to ``reconnect_max``), then
registers itself and its clients anew and reads the others' again.

A restarted Redis has lost every registration, and the other nodes register again only once
they have reconnected too. Until then (``presence_ttl`` at most) the nodes known before are
*awaited* (:class:`~datadivr.broker._presence.Presence`): their clients stay in the mirror, a direct
message to one that finds no subscriber on its node's channel is refused with
``broker_unavailable`` (not ``unknown_recipient``: it is not known to be gone), and a
broadcast that Redis handed to fewer nodes than are known is refused with
``broker_unavailable`` too (an awaited node may have missed it).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
import time
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

from datadivr._logging import get_logger
from datadivr.broker._backplane import Backplane, ClusterNode, safe_url
from datadivr.broker._presence import Notice, Presence
from datadivr.core._route import ClusterAddress, Route

try:
    from redis.asyncio import Redis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff
    from redis.exceptions import RedisError
except ImportError as exc:  # pragma: no cover - the redis extra is a dev dependency
    raise ImportError("the Redis broker needs redis-py: pip install 'datadivr[redis]'") from exc

__all__ = ["DEFAULT_PRESENCE_TTL", "RedisBackplane"]

#: Seconds a node's registration outlives its last refresh.
DEFAULT_PRESENCE_TTL = 15.0
#: Frames waiting to be published before new ones are refused with ``broker_unavailable``.
DEFAULT_MAX_PENDING = 10_000
#: Operations written to Redis in one round trip.
_BATCH = 512
_UNAVAILABLE = "broker_unavailable"
_log = get_logger("datadivr.broker")


class _Down(Exception):
    """The connection to Redis is lost (raised inside the backplane's own tasks)."""


class RedisBackplane(Backplane):
    """Scale out over Redis pub/sub.

    Args:
        url: The Redis URL (``redis://host:port/db``, ``rediss://…``, ``unix://…``).
        prefix: Put before every channel and key, so that clusters can share a Redis.
        presence_ttl: Seconds after its last refresh that a node's clients are forgotten;
            a dead node's clients vanish from the others within ``presence_ttl * 4 / 3``.
        max_pending: Frames that may wait to be published; past it, while Redis is too slow,
            new ones are refused with ``broker_unavailable``.
        reconnect_max: The longest wait, in seconds, between two attempts to reconnect:
            a third of ``presence_ttl`` unless told, at most half of it, so that a node
            that lost Redis is back well before the others stop awaiting it.
    """

    spans_nodes = True

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "datadivr",
        presence_ttl: float = DEFAULT_PRESENCE_TTL,
        max_pending: int = DEFAULT_MAX_PENDING,
        reconnect_max: float | None = None,
    ) -> None:
        if presence_ttl < 0.3:
            raise ValueError("presence_ttl must be at least 0.3 seconds")
        if max_pending < 1:
            raise ValueError("max_pending must be at least 1")
        if reconnect_max is None:
            reconnect_max = presence_ttl / 3
        if not 0 < reconnect_max <= presence_ttl / 2:
            raise ValueError(
                "reconnect_max must be more than 0 and at most half of presence_ttl: the other "
                "nodes await a node that lost the broker for presence_ttl after they reconnect"
            )
        self.url = url
        self.prefix = prefix
        self.presence_ttl = presence_ttl
        self.heartbeat = presence_ttl / 3
        self.max_pending = max_pending
        self.reconnect_max = reconnect_max
        self.node_id = secrets.token_hex(8)
        self.presence = Presence(self.node_id, grace=presence_ttl, changed=self._changed)
        self.available = False
        self._all = f"{prefix}:all"
        self._notices = f"{prefix}:presence"
        self._keys = f"{prefix}:clients:"
        self._key = self._keys + self.node_id
        self._records = f"{prefix}:nodes:"
        self._record = self._records + self.node_id
        self._inbox = self._channel(self.node_id)
        # ("msg", channel, payload, origin, frame, node or None for all)
        # | ("join" | "leave", client_id) | ("refresh",)
        self._pending: deque[tuple[Any, ...]] = deque()
        self._wake = asyncio.Event()
        self._resync = asyncio.Event()
        self._presence_live = False
        self._node: ClusterNode | None = None
        self._client: Redis | None = None
        self._task: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self._idle = asyncio.Event()

    def _channel(self, node: str) -> str:
        return f"{self.prefix}:node:{node}"

    def _envelope(self, address: ClusterAddress, data: str) -> tuple[str, str]:
        """The channel and the payload that take ``data`` to ``address``; undone by
        :meth:`_opened`."""
        if address.node is None:
            return self._all, f"{self.node_id}\n{address.header}\n{data}"
        return self._channel(address.node), f"{address.header}\n{data}"

    def _opened(self, channel: str, payload: str) -> tuple[ClusterAddress, str] | None:
        """The address and the frame of a payload received on ``channel`` (one of this node's
        subscriptions but the presence channel); ``None`` for one that this node sent itself
        or that no node wrote."""
        every_node = channel == self._all
        parts = payload.split("\n", 2 if every_node else 1)
        if len(parts) < (3 if every_node else 2):
            # Not written by a node: something else publishes on these channels.
            _log.warning("ignored a foreign message", channel=channel, data=payload[:200])
            return None
        if every_node:
            origin, header, frame = parts
            if origin == self.node_id:
                return None  # delivered to this node's clients when it was sent
            return ClusterAddress(None, header), frame
        header, frame = parts
        return ClusterAddress(self.node_id, header), frame

    # -- the server's side ----------------------------------------------------------------

    def __contains__(self, client_id: object) -> bool:
        return client_id in self.presence

    def remote_clients(self) -> Mapping[str, str]:
        return self.presence.clients()

    def _changed(self, client_id: str, node: str, joined: bool) -> None:
        if self._node is not None:
            self._node.presence_changed(client_id, node, joined)

    def joined(self, client_id: str) -> None:
        if self._presence_live:
            self._push(("join", client_id))

    def left(self, client_id: str) -> None:
        if self._presence_live:
            self._push(("leave", client_id))

    def publish(self, route: Route, data: str) -> None:
        address = route.address(self.presence.node_of)
        if address is None:
            return  # its recipient left after the message was routed, as on one node
        owner = address.node
        if not self.available:
            # A frame for every node misses someone only when other nodes have clients.
            if owner is not None or len(self.presence):
                self._refuse(route.origin, data, f"the broker is unavailable: {route.unreached()}")
            return
        channel, payload = self._envelope(address, data)
        if len(self._pending) >= self.max_pending:
            self._refuse(
                route.origin,
                data,
                "the broker is not keeping up: clients on other nodes did not get this message",
            )
            return
        self._push(("msg", channel, payload, route.origin, data, owner))

    def status(self) -> dict[str, Any]:
        return {
            "kind": "redis",
            "available": self.available,
            "node": self.node_id,
            "nodes": len(self.presence.nodes),
            "remote_clients": len(self.presence),
        }

    def _push(self, op: tuple[Any, ...]) -> None:
        self._pending.append(op)
        self._wake.set()

    def _refuse(self, origin: str | None, data: str, reason: str, code: str = _UNAVAILABLE) -> None:
        if self._node is not None:
            self._node.refuse(origin, data, code, reason)

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self, node: ClusterNode) -> None:
        """Connect in the background: the server accepts clients at once, and serves them
        locally until Redis is reached. Returns once the first attempt succeeded or failed."""
        self._node = node
        self._wake = asyncio.Event()
        self._resync = asyncio.Event()
        self._connected = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._supervise())
        await self._connected.wait()

    async def stop(self) -> None:
        """Publish what is queued (for up to a second), deregister, disconnect."""
        task, self._task = self._task, None
        if task is None:
            return
        client = self._client
        if self.available and client is not None:
            self._idle.clear()
            if self._pending:  # the publisher task tells when it has emptied the queue
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._idle.wait(), 1.0)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if self.available and client is not None:
            with contextlib.suppress(RedisError, OSError):
                async with client.pipeline(transaction=False) as pipe:
                    pipe.delete(self._key, self._record)
                    pipe.publish(self._notices, Notice("down", self.node_id).encode())
                    await pipe.execute()
            _log.info("left the cluster", node=self.node_id)
        self._set_down(reason=None)
        if client is not None:
            with contextlib.suppress(RedisError, OSError):
                await client.aclose()
        self._client = None

    async def _supervise(self) -> None:
        backoff = 0.1
        down_since: float | None = None
        where = safe_url(self.url)
        while True:
            client = Redis.from_url(
                self.url,
                decode_responses=True,
                retry=Retry(NoBackoff(), 0),  # a lost connection is an outage, handled here
                socket_connect_timeout=2,
                socket_timeout=max(2.0, self.heartbeat),
                client_name=f"datadivr-{self.node_id}",
            )
            pubsub: Any = client.pubsub()
            try:
                await pubsub.subscribe(self._all, self._notices, self._inbox)
                self._client = client
                self._presence_live = True
                self.presence.reconnected(time.monotonic())
                await self._register(client)
                await self._sync(client)
                self.available = True
                if down_since is None:
                    _log.info("broker connected", broker=where, node=self.node_id)
                else:
                    _log.warning(
                        "broker reconnected",
                        broker=where,
                        node=self.node_id,
                        outage_seconds=round(time.monotonic() - down_since, 3),
                    )
                down_since = None
                backoff = 0.1
                self._connected.set()
                await self._serve(client, pubsub)
            except Exception as exc:
                if not isinstance(exc, (RedisError, OSError, asyncio.TimeoutError, _Down)):
                    _log.exception("the broker connection failed unexpectedly")
                if down_since is None:
                    down_since = time.monotonic()
                    _log.warning(
                        "broker unavailable: serving local clients only, reconnecting",
                        broker=where,
                        node=self.node_id,
                        error=str(exc) or type(exc).__name__,
                    )
                self._set_down(reason="the broker is unavailable")
                self._client = None
                with contextlib.suppress(Exception):
                    await client.aclose()
                self._connected.set()
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
            await asyncio.sleep(backoff * random.uniform(0.5, 1.0))
            backoff = min(backoff * 2, self.reconnect_max)

    def _set_down(self, reason: str | None) -> None:
        """Redis is out of reach: refuse what waits to be published, stop queueing."""
        self.available = False
        self._presence_live = False
        pending, self._pending = self._pending, deque()
        for op in pending:
            if op[0] == "msg" and reason is not None:
                self._refuse(
                    op[3], op[4], reason + ": clients on other nodes did not get this message"
                )

    async def _serve(self, client: Redis, pubsub: Any) -> None:
        """Run the subscriber, the publisher and the heartbeat until one of them fails."""
        tasks = [
            asyncio.ensure_future(self._receive(pubsub)),
            asyncio.ensure_future(self._publish(client)),
            asyncio.ensure_future(self._beat(client)),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            receiver = tasks[0]
            if receiver not in done:
                # What Redis sent before it went is still to be read: the subscriber ends on
                # its own at the end of the connection (at most a second for a silent one).
                await asyncio.wait([receiver], timeout=min(1.0, self.heartbeat))
            for task in done:
                task.result()  # raises what ended it
            raise _Down("a backplane task ended")
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    # -- the tasks -------------------------------------------------------------------------

    async def _receive(self, pubsub: Any) -> None:
        node = self._node
        assert node is not None
        while True:
            # A read with its own timeout, not listen(): some redis-py versions apply the
            # socket timeout to a blocking pub/sub read, which would make a quiet cluster look
            # like an outage.
            message = await pubsub.get_message(
                ignore_subscribe_messages=True, timeout=self.heartbeat
            )
            if message is None or message["type"] != "message":
                continue
            channel = message["channel"]
            data = message["data"]
            if channel == self._notices:
                try:
                    notice = Notice.decode(data)
                except ValueError:
                    _log.warning("ignored a malformed presence notice", notice=data[:200])
                    continue
                if self.presence.apply(notice):
                    self._resync.set()
                continue
            opened = self._opened(channel, data)
            if opened is not None:
                address, frame = opened
                node.deliver_local(address.route(), frame)

    async def _publish(self, client: Redis) -> None:
        pending = self._pending
        while True:
            while not pending:
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
            if pending[0][0] == "refresh":
                # The registration is rewritten in a transaction of its own, so that no
                # snapshot reads it half written; it keeps its place among joins and leaves.
                pending.popleft()
                async with client.pipeline(transaction=True) as registration:
                    self._write_registration(registration)
                    await registration.execute()
                continue
            batch: list[tuple[Any, ...]] = []
            while pending and len(batch) < _BATCH and pending[0][0] != "refresh":
                batch.append(pending.popleft())
            pipe = client.pipeline(transaction=False)
            # For each message: where its result is, and what it tells (see _check).
            sent: list[tuple[int, tuple[Any, ...], int | bool]] = []
            for op in batch:
                kind = op[0]
                if kind == "msg":
                    expected = self._expected(op)
                    if expected is not None:
                        sent.append((len(pipe), op, expected))
                    pipe.publish(op[1], op[2])
                elif kind == "join":
                    pipe.sadd(self._key, op[1])
                    pipe.pexpire(self._key, self._ttl_ms())
                    pipe.publish(self._notices, Notice("join", self.node_id, op[1]).encode())
                else:
                    pipe.srem(self._key, op[1])
                    pipe.publish(self._notices, Notice("leave", self.node_id, op[1]).encode())
            try:
                results = await pipe.execute()
            except BaseException:
                # Failed, or cancelled because the subscriber saw the outage first: either way
                # this batch may not have been published, and its senders are told.
                for op in batch:
                    if op[0] == "msg":
                        self._refuse(
                            op[3],
                            op[4],
                            "the connection to the broker was lost: clients on other nodes may not have got this message",
                        )
                raise
            for index, op, expected in sent:
                self._check(op, results[index], expected)

    def _expected(self, op: tuple[Any, ...]) -> int | bool | None:
        """What the number of subscribers Redis handed a message to must be checked against,
        taken as it is published: for a direct message, whether its recipient's node is
        awaited; for a broadcast while a node is awaited, the number of nodes known (this one
        included), which all subscribe to broadcasts; ``None``: nothing to check."""
        if op[5] is not None:
            return self.presence.awaited(op[5])
        if self.presence.awaiting:
            return 1 + len(self.presence.nodes)
        return None

    def _check(self, op: tuple[Any, ...], receivers: int, expected: int | bool) -> None:
        """Refuse a message that Redis handed to fewer nodes than it had to reach.

        ``expected``: for a direct message, whether its recipient's node was awaited when it
        was published; for a broadcast, the number of nodes known then (itself included).
        """
        if op[5] is None:
            if receivers < expected:
                self._refuse(
                    op[3],
                    op[4],
                    "the broker is back, but not every node has reconnected to it yet: clients "
                    "on other nodes may not have got this message",
                )
        elif receivers == 0:
            client_id = op[2].partition("\n")[0]
            if expected:
                # Known from before the broker's outage, and not back yet: not known to be gone.
                self._refuse(
                    op[3],
                    op[4],
                    f"the node of client {client_id!r} has not reconnected to the broker yet: "
                    "it did not get this message",
                )
            else:
                # No node listens on that channel: the recipient's node is gone.
                self._refuse(
                    op[3],
                    op[4],
                    f"no client {client_id!r} is connected: its node is gone",
                    "unknown_recipient",
                )

    async def _beat(self, client: Redis) -> None:
        """Refresh this node's registration and read the others' every third of the TTL, and
        at once when a node comes up."""
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._resync.wait(), self.heartbeat)
            self._resync.clear()
            self._push(("refresh",))
            await self._sync(client)

    # -- presence in Redis ------------------------------------------------------------------

    def _ttl_ms(self) -> int:
        return int(self.presence_ttl * 1000)

    def _write_registration(self, pipe: Any) -> None:
        """This node's record and whole client set, with a fresh TTL (the heartbeat, and the
        repair after Redis lost them)."""
        pipe.set(self._record, "1", px=self._ttl_ms())
        pipe.delete(self._key)
        clients = list(self._local_clients())
        if clients:
            pipe.sadd(self._key, *clients)
            pipe.pexpire(self._key, self._ttl_ms())

    def _local_clients(self) -> Iterable[str]:
        return self._node.local_clients() if self._node is not None else ()

    async def _register(self, client: Redis) -> None:
        async with client.pipeline(transaction=True) as pipe:
            self._write_registration(pipe)
            pipe.publish(self._notices, Notice("up", self.node_id).encode())
            await pipe.execute()

    async def _sync(self, client: Redis) -> None:
        """Replace the presence mirror with what the nodes registered."""
        self.presence.begin_sync()
        try:
            records = self._records
            nodes = [
                key[len(records) :]
                async for key in client.scan_iter(match=records + "*", count=1000)
            ]
            async with client.pipeline(transaction=False) as pipe:
                for node in nodes:
                    pipe.smembers(self._keys + node)
                members = await pipe.execute()
        except BaseException:
            self.presence.abandon_sync()
            raise
        self.presence.finish_sync(dict(zip(nodes, members, strict=True)), time.monotonic())
