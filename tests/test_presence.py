"""The cluster presence mirror, without Redis: notices, snapshots, and their races."""

from __future__ import annotations

import pytest

from datadivr._presence import Notice, Presence


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
    assert presence.nodes == {"n1": 1}


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


def test_a_snapshot_replaces_the_mirror() -> None:
    presence = Presence("me")
    presence.apply(Notice("join", "gone", "stale"))
    presence.begin_sync()
    presence.finish_sync({"n1": ["a", "b"], "me": ["mine"]})
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
    presence.finish_sync({"n1": ["old"]})
    assert "new" in presence
    assert "old" not in presence
    # Outside a snapshot nothing is recorded.
    presence.begin_sync()
    presence.finish_sync({})
    assert len(presence) == 0


def test_an_abandoned_snapshot_keeps_the_mirror() -> None:
    presence = Presence("me")
    presence.apply(Notice("join", "n1", "a"))
    presence.begin_sync()
    presence.apply(Notice("join", "n1", "b"))
    presence.abandon_sync()
    assert presence.nodes == {"n1": 2}
    presence.begin_sync()
    presence.finish_sync({})
    assert len(presence) == 0  # nothing from before the abandoned sync is replayed


def test_a_client_id_moving_node_is_owned_by_the_last() -> None:
    presence = Presence("me")
    presence.apply(Notice("join", "n1", "a"))
    presence.apply(Notice("join", "n2", "a"))
    assert presence.node_of("a") == "n2"
    assert presence.nodes == {"n2": 1}
    presence.apply(Notice("leave", "n1", "a"))  # the old node's late leave
    assert presence.node_of("a") == "n2"
