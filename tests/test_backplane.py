"""Choosing a backplane, the hub's cluster hooks, and the Redis backplane's refusals, without
sockets (the real thing runs in tests/integration/test_cluster.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from datadivr import Broadcast, Direct, Hub, MemoryBackplane, Registry, Route
from datadivr.broker import RedisBackplane, backplane_for
from datadivr.broker._backplane import safe_url
from datadivr.broker._presence import Notice
from datadivr.demo import PROTOCOL


def test_the_default_is_one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATADIVR_BROKER", raising=False)
    assert isinstance(backplane_for(None), MemoryBackplane)
    assert isinstance(backplane_for("memory://"), MemoryBackplane)
    backplane = MemoryBackplane()
    assert backplane_for(backplane) is backplane
    assert "anyone" not in backplane
    assert backplane.status() == {"kind": "memory"}


def test_the_environment_names_the_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATADIVR_BROKER", "redis://127.0.0.1:1/0")
    backplane = backplane_for(None, presence_ttl=3)
    assert isinstance(backplane, RedisBackplane)
    assert (backplane.url, backplane.presence_ttl, backplane.heartbeat) == (
        "redis://127.0.0.1:1/0",
        3,
        1,
    )


def test_an_unknown_broker_is_refused_without_its_password() -> None:
    with pytest.raises(ValueError, match="unknown broker") as caught:
        backplane_for("amqp://user:secret@host/")
    assert "secret" not in str(caught.value)


def test_safe_url_hides_the_password() -> None:
    assert safe_url("redis://:pw@host:6379/0") == "redis://:***@host:6379/0"
    assert safe_url("redis://user:pw@host/0") == "redis://user:***@host/0"
    assert safe_url("redis://host:6379/0") == "redis://host:6379/0"


@pytest.mark.parametrize(
    ("option", "value"),
    [("presence_ttl", 0.1), ("max_pending", 0), ("reconnect_max", 0), ("reconnect_max", 8)],
)
def test_redis_options_are_checked(option: str, value: float) -> None:
    with pytest.raises(ValueError, match=option):
        RedisBackplane("redis://127.0.0.1:1", **{option: value})


def test_a_node_retries_at_least_every_third_of_the_ttl() -> None:
    """So that it is back well before the others stop awaiting it (presence_ttl)."""
    assert RedisBackplane("redis://127.0.0.1:1").reconnect_max == 5.0
    assert RedisBackplane("redis://127.0.0.1:1", presence_ttl=1.5).reconnect_max == 0.5
    assert RedisBackplane("redis://127.0.0.1:1", reconnect_max=7.5).reconnect_max == 7.5
    shortest = RedisBackplane("redis://127.0.0.1:1", presence_ttl=0.3)
    assert shortest.reconnect_max == pytest.approx(0.1)


class Members:
    """Another node's clients, as a backplane would show them to the hub."""

    def __init__(self, *remote: str) -> None:
        self.remote = set(remote)
        self.events: list[tuple[str, str]] = []

    def __contains__(self, client_id: object) -> bool:
        return client_id in self.remote

    def joined(self, client_id: str) -> None:
        self.events.append(("joined", client_id))

    def left(self, client_id: str) -> None:
        self.events.append(("left", client_id))


def test_the_hub_routes_to_clients_of_other_nodes() -> None:
    sent: list[tuple[Route, str]] = []
    members = Members("remote")
    hub = Hub(PROTOCOL, Registry(), lambda route, data: sent.append((route, data)), members=members)
    hub.connect(client_id="local")
    assert members.events == [("joined", "local")]
    with pytest.raises(ValueError, match="taken"):
        hub.connect(client_id="remote")  # cluster-wide ids
    sent.clear()
    hub.send(PROTOCOL.events["msg"].message_type(to="remote", message="hi"))
    hub.send(PROTOCOL.events["msg"].message_type(to="all", message="hi"))
    [(direct, _), (broadcast, _)] = sent
    assert direct == Direct("remote")
    assert direct.origin is None
    assert broadcast == Broadcast()
    hub.disconnect("local")
    hub.disconnect("local")  # idempotent: told once
    assert members.events == [("joined", "local"), ("left", "local")]


async def test_routes_carry_their_origin() -> None:
    sent: list[tuple[Route, str]] = []
    hub = Hub(
        PROTOCOL, Registry(), lambda route, data: sent.append((route, data)), members=Members("r")
    )
    hub.connect(client_id="me")
    sent.clear()
    for to in ("all", "others", "r"):
        await hub.receive("me", json.dumps({"event_name": "msg", "to": to, "message": "x"}))
    assert [(route, route.origin) for route, _ in sent] == [
        (Broadcast(), "me"),
        (Broadcast(exclude="me"), "me"),
        (Direct("r"), "me"),
    ]


def test_new_ids_avoid_the_clients_of_other_nodes(monkeypatch: pytest.MonkeyPatch) -> None:
    ids = iter(["taken", "free"])
    monkeypatch.setattr("datadivr.core._hub.secrets.token_hex", lambda n: next(ids))
    hub = Hub(PROTOCOL, Registry(), lambda route, data: None, members=Members("taken"))
    assert hub.new_client_id() == "free"


class FakeNode:
    """What a server does for the backplane, recorded."""

    def __init__(self, *clients: str) -> None:
        self.clients = list(clients)
        self.refused: list[tuple[str | None, str, str]] = []
        self.delivered: list[tuple[Route, str]] = []
        self.changes: list[tuple[str, str, bool]] = []

    def deliver_local(self, route: Route, data: str) -> None:
        self.delivered.append((route, data))

    def refuse(self, origin: str | None, data: str, code: str, reason: str) -> None:
        self.refused.append((origin, code, reason))

    def local_clients(self) -> list[str]:
        return self.clients

    def presence_changed(self, client_id: str, node: str, joined: bool) -> None:
        self.changes.append((client_id, node, joined))


def _backplane(node: FakeNode, **options: Any) -> RedisBackplane:
    backplane = RedisBackplane("redis://127.0.0.1:1", **options)
    backplane._node = node
    backplane.presence.apply(Notice("join", "other", "remote"))
    return backplane


def test_while_the_broker_is_down_remote_recipients_are_refused() -> None:
    node = FakeNode("me")
    backplane = _backplane(node)
    assert backplane.available is False
    backplane.publish(Broadcast(exclude="me", origin="me"), "{}")
    backplane.publish(Direct("remote", origin="me"), "{}")
    backplane.publish(Direct("gone", origin="me"), "{}")  # left meanwhile: as on one node
    assert [(origin, code) for origin, code, _ in node.refused] == [
        ("me", "broker_unavailable"),
        ("me", "broker_unavailable"),
    ]
    assert "unavailable" in node.refused[0][2]
    # With no known remote client, a broadcast has nobody to miss.
    node.refused.clear()
    backplane.presence.apply(Notice("down", "other"))
    backplane.publish(Broadcast(origin="me"), "{}")
    assert node.refused == []
    assert backplane.status() == {
        "kind": "redis",
        "available": False,
        "node": backplane.node_id,
        "nodes": 0,
        "remote_clients": 0,
    }


def test_a_full_publish_queue_refuses_and_an_outage_refuses_what_waits() -> None:
    node = FakeNode("me")
    backplane = _backplane(node, max_pending=2)
    backplane.available = True
    for _ in range(3):
        backplane.publish(Direct("remote", origin="me"), '{"id":"x"}')
    assert [code for _, code, reason in node.refused] == ["broker_unavailable"]
    assert "not keeping up" in node.refused[0][2]
    node.refused.clear()
    backplane._set_down(reason="the broker is unavailable")
    assert [code for _, code, _ in node.refused] == ["broker_unavailable"] * 2
    assert backplane.available is False
    assert not backplane._pending


def _published(backplane: RedisBackplane) -> tuple[Any, ...]:
    """The message the backplane queued last, taken off its queue."""
    op = backplane._pending.pop()
    assert op[0] == "msg"
    return op


def test_no_subscriber_on_a_node_s_channel_means_gone_unless_the_node_is_awaited() -> None:
    """After the broker restarted, a node known before that has not reconnected yet is not
    gone: its client is refused with broker_unavailable, not unknown_recipient."""
    node = FakeNode("me")
    backplane = _backplane(node)
    backplane.available = True
    backplane.publish(Direct("remote", origin="me"), "{}")
    op = _published(backplane)
    assert backplane._expected(op) is False
    backplane._check(op, 0, False)
    assert [(origin, code) for origin, code, _ in node.refused] == [("me", "unknown_recipient")]
    node.refused.clear()
    backplane.presence.reconnected(now=0)
    backplane.publish(Direct("remote", origin="me"), "{}")
    op = _published(backplane)
    assert backplane._expected(op) is True
    backplane._check(op, 0, True)
    assert [(origin, code) for origin, code, _ in node.refused] == [("me", "broker_unavailable")]
    assert "not reconnected" in node.refused[0][2]
    node.refused.clear()
    backplane.publish(Direct("remote", origin="me"), "{}")
    backplane._check(_published(backplane), 1, True)  # it was back already: delivered
    assert node.refused == []


def test_a_broadcast_that_missed_a_known_node_is_refused() -> None:
    node = FakeNode("me")
    backplane = _backplane(node)
    backplane.available = True
    backplane.publish(Broadcast(origin="me"), "{}")
    op = _published(backplane)
    assert backplane._expected(op) is None  # no node awaited: Redis's count is not needed
    backplane.presence.reconnected(now=0)
    assert backplane._expected(op) == 2
    backplane._check(op, 2, 2)  # this node and the other: everyone got it
    assert node.refused == []
    backplane._check(op, 1, 2)  # the other was not subscribed
    assert [(origin, code) for origin, code, _ in node.refused] == [("me", "broker_unavailable")]
    assert "not every node has reconnected" in node.refused[0][2]
