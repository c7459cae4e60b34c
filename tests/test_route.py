"""Routes: the one place where what depends on a route's kind is decided."""

from __future__ import annotations

import pytest

from datadivr import Broadcast, ClusterAddress, Direct, Route

CLIENTS = {"a": "conn-a", "b": "conn-b", "c": "conn-c"}
NODES = {"remote": "node-2"}


@pytest.mark.parametrize(
    ("route", "recipients", "beyond"),
    [
        (Broadcast(), ["a", "b", "c"], True),
        (Broadcast(exclude="b"), ["a", "c"], True),
        (Broadcast(exclude="remote"), ["a", "b", "c"], True),
        (Direct("b"), ["b"], False),
        (Direct("remote"), [], True),
    ],
)
def test_a_route_names_its_recipients_on_this_node_and_beyond(
    route: Route, recipients: list[str], beyond: bool
) -> None:
    assert list(route.recipients(CLIENTS)) == [(c, CLIENTS[c]) for c in recipients]
    assert route.beyond(CLIENTS) is beyond


@pytest.mark.parametrize(
    ("route", "address", "received"),
    [
        (Broadcast(origin="a"), ClusterAddress(None, ""), Broadcast()),
        (Broadcast(exclude="a", origin="a"), ClusterAddress(None, "a"), Broadcast(exclude="a")),
        (Direct("remote", origin="a"), ClusterAddress("node-2", "remote"), Direct("remote")),
    ],
)
def test_a_route_crosses_the_cluster_and_comes_back_the_same(
    route: Route, address: ClusterAddress, received: Route
) -> None:
    assert route.address(NODES.get) == address
    assert address.route() == received == route
    assert received.origin is None  # the origin stays with the node that sent it


def test_a_direct_route_to_a_client_no_node_holds_has_no_address() -> None:
    assert Direct("gone").address(NODES.get) is None


def test_a_route_says_who_misses_what_the_backplane_cannot_carry() -> None:
    assert Broadcast().unreached() == "clients on other nodes did not get this message"
    assert Direct("x").unreached() == "client 'x' is on another node"
