"""The cluster presence mirror, without Redis: notices, snapshots, and their races."""

from __future__ import annotations

import pytest

from datadivr.broker._presence import Notice, Presence


def test_notices_round_trip() -> None:
    for notice in (Notice("join", "n1", "c1"), Notice("leave", "n1", "c1"), Notice("up", "n1")):
        assert Notice.decode(notice.encode()) == notice
    assert Notice("down", "n2").encode() == "down n2"


@pytest.mark.parametrize(
    "text", ["", "join n1", "leave", "up", "up n1 c1", "hello n1 c1", "join  c1"]
)
def test_malformed_notices_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a presence notice"):
        Notice.decode(text)


def test_joins_and_leaves_of_other_nodes() -> None:
    presence = Presence("me")
    presence.apply(Notice("join", "n1", "a"))
    presence.apply(Notice("join", "n1", "b"))
    presence.apply(Notice("join", "n2", "c"))
    presence.apply(Notice("join", "me", "mine"))  # this node's own: left out
    assert "a" in presence
    assert "c" in presence
    assert "mine" not in presence
    assert presence.node_of("c") == "n2"
    assert presence.nodes == {"n1": 2, "n2": 1}
    presence.apply(Notice("leave", "n1", "a"))
    presence.apply(Notice("leave", "n1", "a"))  # idempotent
    assert "a" not in presence
    assert len(presence) == 2
    presence.apply(Notice("leave", "n2", "c"))
    assert presence.nodes == {"n1": 1, "n2": 0}  # a node without clients is still a node


def test_a_node_going_down_takes_its_clients() -> None:
    presence = Presence("me")
    for client in ("a", "b"):
        presence.apply(Notice("join", "n1", client))
    presence.apply(Notice("join", "n2", "c"))
    assert presence.apply(Notice("down", "n1")) is False
    assert presence.nodes == {"n2": 1}
    assert len(presence) == 1


def test_a_node_coming_up_asks_for_a_snapshot() -> None:
    assert Presence("me").apply(Notice("up", "n1")) is True
    assert Presence("me").apply(Notice("up", "me")) is False


def test_a_node_coming_up_is_known_without_clients() -> None:
    presence = Presence("me")
    presence.apply(Notice("up", "n1"))
    assert presence.nodes == {"n1": 0}


def test_a_snapshot_replaces_the_mirror() -> None:
    presence = Presence("me")
    presence.apply(Notice("join", "gone", "stale"))
    presence.begin_sync()
    presence.finish_sync({"n1": ["a", "b"], "me": ["mine"]}, now=0)
    assert presence.nodes == {"n1": 2}
    assert "stale" not in presence
    assert "mine" not in presence


def test_notices_during_a_snapshot_are_applied_again_over_it() -> None:
    """A join read too late and a leave read too early by the snapshot both survive it."""
    presence = Presence("me")
    presence.apply(Notice("join", "n1", "old"))
    presence.begin_sync()
    presence.apply(Notice("join", "n1", "new"))  # not in the snapshot yet
    presence.apply(Notice("leave", "n1", "old"))  # still in the snapshot
    presence.finish_sync({"n1": ["old"]}, now=0)
    assert "new" in presence
    assert "old" not in presence
    # Outside a snapshot nothing is recorded.
    presence.begin_sync()
    presence.finish_sync({}, now=0)
    assert len(presence) == 0


def test_an_abandoned_snapshot_keeps_the_mirror() -> None:
    presence = Presence("me")
    presence.apply(Notice("join", "n1", "a"))
    presence.begin_sync()
    presence.apply(Notice("join", "n1", "b"))
    presence.abandon_sync()
    assert presence.nodes == {"n1": 2}
    presence.begin_sync()
    presence.finish_sync({}, now=0)
    assert len(presence) == 0  # nothing from before the abandoned sync is replayed


def test_a_client_id_moving_node_is_owned_by_the_last() -> None:
    presence = Presence("me")
    presence.apply(Notice("join", "n1", "a"))
    presence.apply(Notice("join", "n2", "a"))
    assert presence.node_of("a") == "n2"
    assert presence.nodes == {"n1": 0, "n2": 1}
    presence.apply(Notice("leave", "n1", "a"))  # the old node's late leave
    assert presence.node_of("a") == "n2"


# -- a broker that restarted ---------------------------------------------------------------


def _reconnected(now: float = 100.0) -> Presence:
    """A node that knew n1 (a, b) and n2 (c, no longer any: a node record alone), then lost
    the broker and reconnected to it at ``now``, with a grace of 10 s."""
    presence = Presence("me", grace=10)
    presence.begin_sync()
    presence.finish_sync({"n1": ["a", "b"], "n2": []}, now=0)
    assert not presence.awaiting
    presence.reconnected(now)
    return presence


def test_after_a_reconnection_a_snapshot_without_a_known_node_keeps_it() -> None:
    """The broker restarted empty: the other nodes have not registered again yet."""
    presence = _reconnected()
    assert presence.awaiting
    assert presence.awaited("n1")
    assert presence.awaited("n2")
    presence.begin_sync()
    presence.finish_sync({"me": ["mine"]}, now=100.1)
    assert presence.nodes == {"n1": 2, "n2": 0}
    assert presence.node_of("a") == "n1"
    assert presence.awaited("n1")


def test_an_awaited_node_is_back_with_a_notice_or_a_snapshot() -> None:
    presence = _reconnected()
    assert presence.apply(Notice("up", "n1")) is True  # registered again: read it
    assert not presence.awaited("n1")
    assert presence.awaited("n2")
    presence.begin_sync()
    presence.finish_sync({"n1": ["a"], "n2": ["d"]}, now=100.5)
    assert not presence.awaiting
    assert presence.nodes == {"n1": 1, "n2": 1}
    assert "b" not in presence  # left during the outage: the snapshot says so
    # Back, a node is held to the snapshots again: one without it means it is gone.
    presence.begin_sync()
    presence.finish_sync({"n1": ["a"]}, now=101)
    assert presence.nodes == {"n1": 1}


def test_any_notice_of_an_awaited_node_shows_it_back() -> None:
    presence = _reconnected()
    presence.apply(Notice("join", "n1", "e"))
    presence.apply(Notice("leave", "n2", "x"))
    assert not presence.awaiting
    assert presence.nodes == {"n1": 3, "n2": 0}


def test_an_awaited_node_that_never_comes_back_is_forgotten_after_the_grace() -> None:
    presence = _reconnected(now=100)
    presence.begin_sync()
    presence.finish_sync({}, now=109.9)
    assert presence.nodes == {"n1": 2, "n2": 0}
    presence.begin_sync()
    presence.finish_sync({}, now=110)
    assert presence.nodes == {}
    assert len(presence) == 0
    assert not presence.awaiting


def test_an_awaited_node_that_stops_is_forgotten_at_once() -> None:
    presence = _reconnected()
    presence.apply(Notice("down", "n1"))
    assert presence.nodes == {"n2": 0}
    assert not presence.awaited("n1")


def test_a_second_reconnection_awaits_every_node_again() -> None:
    presence = _reconnected(now=100)
    presence.apply(Notice("up", "n1"))
    presence.reconnected(200)
    presence.begin_sync()
    presence.finish_sync({}, now=209)
    assert presence.nodes == {"n1": 2, "n2": 0}


def test_an_awaited_node_s_notices_during_a_snapshot_survive_it() -> None:
    presence = _reconnected()
    presence.begin_sync()
    presence.apply(Notice("join", "n1", "late"))  # registered after the snapshot was read
    presence.finish_sync({}, now=100.1)
    assert presence.node_of("late") == "n1"
    assert not presence.awaited("n1")
    assert presence.awaited("n2")


# -- changes, as the server is told of them (on_presence hooks) ------------------------------


def _told() -> tuple[Presence, list[tuple[str, str, bool]]]:
    changes: list[tuple[str, str, bool]] = []
    presence = Presence("me", grace=10, changed=lambda *change: changes.append(change))
    return presence, changes


def test_each_join_and_leave_is_told_once() -> None:
    presence, changes = _told()
    presence.apply(Notice("join", "n1", "a"))
    presence.apply(Notice("join", "n1", "a"))  # again: no change
    presence.apply(Notice("join", "me", "mine"))  # this node's own: not told
    presence.apply(Notice("leave", "n1", "a"))
    presence.apply(Notice("leave", "n1", "a"))
    presence.apply(Notice("leave", "n2", "nobody"))
    assert changes == [("a", "n1", True), ("a", "n1", False)]


def test_a_node_going_down_is_told_as_its_clients_leaving() -> None:
    presence, changes = _told()
    presence.apply(Notice("join", "n1", "a"))
    presence.apply(Notice("join", "n1", "b"))
    changes.clear()
    presence.apply(Notice("down", "n1"))
    assert sorted(changes) == [("a", "n1", False), ("b", "n1", False)]


def test_a_client_moving_node_left_one_and_joined_the_other() -> None:
    presence, changes = _told()
    presence.apply(Notice("join", "n1", "a"))
    presence.apply(Notice("join", "n2", "a"))
    presence.apply(Notice("leave", "n1", "a"))  # late, from the old node: no change
    assert changes == [("a", "n1", True), ("a", "n1", False), ("a", "n2", True)]


def test_a_snapshot_tells_only_the_difference() -> None:
    presence, changes = _told()
    presence.apply(Notice("join", "n1", "a"))
    presence.apply(Notice("join", "n1", "b"))
    changes.clear()
    presence.begin_sync()
    presence.apply(Notice("join", "n2", "c"))  # arrives while the snapshot is read
    assert changes == [("c", "n2", True)]
    # The snapshot misses c (read before it joined) and b (a node that died took it along,
    # its registration expired), and shows d, whose join notice was lost.
    presence.finish_sync({"n1": ["a", "d"]}, now=0.0)
    assert sorted(changes[1:]) == [("b", "n1", False), ("d", "n1", True)]
    assert presence.clients() == {"a": "n1", "c": "n2", "d": "n1"}
