"""Connection counting without sockets: limits per address and in all, pending sockets let go
for newer ones, the address key and the socket budget."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from datadivr.server._admission import (
    FULL,
    TOO_MANY_FROM_ADDRESS,
    Admission,
    Slot,
    SlotState,
    address_key,
    socket_budget,
)


class Evictions:
    """Evict callbacks that record which socket was let go."""

    def __init__(self) -> None:
        self.evicted: list[str] = []

    def of(self, name: str) -> Callable[[], None]:
        return lambda: self.evicted.append(name)


def opened(admission: Admission, address: str, evict: Callable[[], None] | None = None) -> Slot:
    slot = admission.open(address, evict)
    assert isinstance(slot, Slot), slot
    return slot


def test_a_socket_over_the_per_address_limit_is_refused_and_others_are_not() -> None:
    admission = Admission(max_connections=10, max_connections_per_address=2)
    events = Evictions()
    first = opened(admission, "10.0.0.1", events.of("first"))
    opened(admission, "10.0.0.1", events.of("second"))
    assert admission.open("10.0.0.1", events.of("third")) == TOO_MANY_FROM_ADDRESS
    assert events.evicted == []  # pending sockets of the same address are not let go
    opened(admission, "10.0.0.2")
    assert (admission.total, admission.count("10.0.0.1"), admission.count("10.0.0.2")) == (3, 2, 1)
    admission.close(first)
    admission.close(first)  # twice: counted once
    assert admission.count("10.0.0.1") == 1
    opened(admission, "10.0.0.1")


def test_a_full_server_lets_the_oldest_pending_socket_go_else_refuses() -> None:
    admission = Admission(max_connections=3, max_connections_per_address=10)
    events = Evictions()
    old = opened(admission, "a", events.of("old"))
    young = opened(admission, "b", events.of("young"))
    websocket = opened(admission, "c")  # no evict: an admitted connection
    assert websocket.state is SlotState.OPEN
    newer = opened(admission, "d", events.of("newer"))
    assert events.evicted == ["old"]
    assert old.closed
    assert (admission.total, admission.count("a")) == (3, 0)
    # a socket whose request is being answered is not pending; nor is an admitted WebSocket
    admission.set_state(young, SlotState.BUSY)
    admission.set_state(newer, SlotState.OPEN)
    assert admission.pending == 0
    assert admission.open("e", events.of("e")) == FULL
    # pending again (a kept-alive socket waiting for its next request): it may go
    admission.set_state(young, SlotState.PENDING)
    opened(admission, "e", events.of("e"))
    assert events.evicted == ["old", "young"]
    assert admission.evicted == 2


def test_the_socket_budget_lowers_the_capacity() -> None:
    admission = Admission(max_connections=10, max_connections_per_address=10, max_sockets=2)
    assert admission.capacity == 2
    opened(admission, "a")
    opened(admission, "a")
    assert admission.open("b") == FULL
    admission.max_sockets = None
    assert admission.capacity == 10


def test_evict_pending_closes_every_pending_socket_and_only_those() -> None:
    admission = Admission(max_connections=10, max_connections_per_address=10)
    events = Evictions()
    for name in "abc":
        opened(admission, name, events.of(name))
    busy = opened(admission, "d", events.of("d"))
    admission.set_state(busy, SlotState.BUSY)
    opened(admission, "e")
    assert admission.evict_pending() == 3
    assert events.evicted == ["a", "b", "c"]
    assert admission.total == 2


def test_a_slot_without_evict_cannot_be_pending() -> None:
    admission = Admission(max_connections=10, max_connections_per_address=10)
    with pytest.raises(ValueError, match="evict"):
        admission.set_state(opened(admission, "a"), SlotState.PENDING)


@pytest.mark.parametrize(
    ("host", "key"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("::ffff:192.0.2.7", "192.0.2.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("/run/datadivr.sock", "/run/datadivr.sock"),
        (None, "unknown"),
    ],
)
def test_address_key(host: str | None, key: str) -> None:
    assert address_key(host) == key


def test_socket_budget_keeps_a_reserve() -> None:
    assert socket_budget(None) is None
    assert socket_budget(256) == 192
    assert socket_budget(1024) == 960
    assert socket_budget(65536) == 61440
    assert socket_budget(10) == 1
