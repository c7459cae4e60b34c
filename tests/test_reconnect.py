"""The reconnect policy without sockets: backoff, what is retried, which error a close raises."""

from __future__ import annotations

import dataclasses
import random
from itertools import islice
from typing import Any

import pytest
import websockets
from websockets.frames import Close

from datadivr import (
    BaseClient,
    ClientState,
    ConnectError,
    ConnectionClosedError,
    ConnectRefusedError,
    DatadivrError,
    MessageTooBigError,
    PolicyViolationError,
    Reconnect,
    SendBufferFullError,
    ServerOverloadedError,
    ServerShutdownError,
)
from datadivr.client._reconnect import retry_after_close, retry_after_refusal

# -- backoff -----------------------------------------------------------------------------------


def test_defaults() -> None:
    policy = Reconnect()
    assert (policy.initial_delay, policy.max_delay, policy.factor, policy.jitter) == (
        0.1,
        10.0,
        2.0,
        0.5,
    )
    assert policy.max_attempts is None
    assert policy.buffer_size == 1000


def test_without_jitter_the_waits_grow_by_the_factor_up_to_the_cap() -> None:
    policy = Reconnect(initial_delay=0.1, max_delay=1.0, factor=2.0, jitter=0, max_attempts=7)
    assert list(policy.delays()) == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0])


def test_a_factor_of_one_waits_the_same_each_time() -> None:
    policy = Reconnect(initial_delay=0.5, factor=1, jitter=0, max_attempts=3)
    assert list(policy.delays()) == [0.5, 0.5, 0.5]


def test_max_attempts_is_the_number_of_waits() -> None:
    for attempts in (1, 2, 10):
        assert len(list(Reconnect(max_attempts=attempts).delays())) == attempts


def test_without_max_attempts_it_never_ends_nor_overflows() -> None:
    policy = Reconnect(initial_delay=1, max_delay=30, factor=10, jitter=0)
    waits = list(islice(policy.delays(), 5000))
    assert len(waits) == 5000
    assert waits[:3] == [1, 10, 30]
    assert set(waits[2:]) == {30}


@pytest.mark.parametrize("jitter", [0.1, 0.5, 1.0])
def test_jitter_stays_within_its_fraction(jitter: float) -> None:
    policy = Reconnect(initial_delay=0.1, max_delay=2.0, jitter=jitter, max_attempts=200)
    plain = list(dataclasses.replace(policy, jitter=0).delays())
    jittered = list(policy.delays(random.Random(7)))
    for wait, base in zip(jittered, plain, strict=True):
        assert base * (1 - jitter) <= wait <= base
    factors = {round(wait / base, 9) for wait, base in zip(jittered, plain, strict=True)}
    assert len(factors) > 100  # it does vary


def test_a_seeded_random_repeats_the_sequence() -> None:
    policy = Reconnect(max_attempts=20)
    assert list(policy.delays(random.Random(1))) == list(policy.delays(random.Random(1)))
    assert list(policy.delays(random.Random(1))) != list(policy.delays(random.Random(2)))


def test_each_sequence_starts_over() -> None:
    policy = Reconnect(jitter=0, max_attempts=3)
    assert list(policy.delays()) == list(policy.delays())


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"initial_delay": -1}, "initial_delay"),
        ({"initial_delay": 2, "max_delay": 1}, "max_delay"),
        ({"factor": 0.5}, "factor"),
        ({"jitter": -0.1}, "jitter"),
        ({"jitter": 1.5}, "jitter"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"buffer_size": -1}, "buffer_size"),
    ],
)
def test_settings_out_of_range_are_refused(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Reconnect(**settings)


def test_the_policy_is_frozen_and_keyword_only() -> None:
    policy = Reconnect()
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.max_attempts = 3  # type: ignore[misc]
    with pytest.raises(TypeError):
        Reconnect(0.5)  # type: ignore[call-arg]
    assert Reconnect(max_attempts=3) == Reconnect(max_attempts=3)


@pytest.mark.parametrize(
    ("reconnect", "policy"),
    [(False, None), (True, Reconnect()), (Reconnect(max_attempts=2), Reconnect(max_attempts=2))],
)
def test_the_client_takes_a_policy_or_a_flag(
    reconnect: Reconnect | bool, policy: Reconnect | None
) -> None:
    client = BaseClient("ws://127.0.0.1:9/ws", reconnect=reconnect)
    assert client._policy == policy


# -- what is worth retrying --------------------------------------------------------------------


@pytest.mark.parametrize("code", [None, 1000, 1001, 1006, 1009, 1011, 1012, 1013, 4000])
def test_closes_that_are_retried(code: int | None) -> None:
    assert retry_after_close(code)


def test_a_policy_violation_is_not_retried() -> None:
    assert not retry_after_close(1008)


@pytest.mark.parametrize("status", [None, 408, 429, 500, 502, 503, 504])
def test_refusals_that_are_retried(status: int | None) -> None:
    assert retry_after_refusal(status)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 426])
def test_refusals_that_are_final(status: int) -> None:
    assert not retry_after_refusal(status)


# -- the error each close raises ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "error_type"),
    [
        (None, ConnectionClosedError),
        (1000, ConnectionClosedError),
        (1001, ServerShutdownError),
        (1006, ConnectionClosedError),
        (1008, PolicyViolationError),
        (1009, MessageTooBigError),
        (1011, ConnectionClosedError),
        (1012, ServerShutdownError),
        (1013, ServerOverloadedError),
        (4000, ConnectionClosedError),
    ],
)
def test_from_code_picks_the_class(code: int | None, error_type: type[Exception]) -> None:
    error = ConnectionClosedError.from_code(code, "why")
    assert type(error) is error_type
    assert (error.code, error.reason) == (code, "why")
    assert str(error) == f"connection closed (code={code}, reason='why')"
    # whichever class it is called on
    assert type(ServerShutdownError.from_code(code)) is error_type


@pytest.mark.parametrize(
    "error_type",
    [ServerShutdownError, PolicyViolationError, MessageTooBigError, ServerOverloadedError],
)
def test_close_errors_are_connection_closed_errors(error_type: type[Exception]) -> None:
    assert issubclass(error_type, ConnectionClosedError)


def test_connect_errors_carry_the_status() -> None:
    assert ConnectError("no route").status is None
    refused = ConnectRefusedError("refused with HTTP 403", status=403)
    assert isinstance(refused, ConnectError)
    assert isinstance(refused, ConnectionError)
    assert refused.status == 403
    assert str(refused) == "refused with HTTP 403"


def test_a_full_send_buffer_says_how_big_it_is() -> None:
    error = SendBufferFullError(5)
    assert error.buffer_size == 5
    assert "5 messages" in str(error)
    assert isinstance(error, DatadivrError)
    assert not isinstance(error, ConnectionClosedError)


# -- a send that finds the connection closed -------------------------------------------------------


class _ClosedSocket:
    """Stands in for a connection the server closed a moment ago: the client has not read the
    end yet (it is still ``OPEN``), but a send fails."""

    def __init__(self, code: int, then: Any = None) -> None:
        self.code = code
        self.then = then

    async def send(self, frame: str) -> None:
        if self.then is not None:
            self.then()
        raise websockets.ConnectionClosed(Close(self.code, "bye"), None)


class _OpenSocket:
    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send(self, frame: str) -> None:
        self.sent.append(frame)


def _open_client(ws: Any, reconnect: Reconnect | bool) -> BaseClient:
    client = BaseClient("ws://127.0.0.1:9/ws", reconnect=reconnect)
    client._state = ClientState.OPEN  # as if connected
    client._ws = ws
    return client


async def test_a_failed_send_is_held_when_the_client_will_reconnect() -> None:
    client = _open_client(_ClosedSocket(1012), reconnect=True)
    await client.send_raw("first")
    await client.send_raw("second")
    assert [frame for frame, _ in client._buffer] == ["first", "second"]


@pytest.mark.parametrize(
    ("code", "reconnect", "error_type"),
    [(1012, False, ServerShutdownError), (1008, True, PolicyViolationError)],
)
async def test_a_failed_send_raises_when_the_client_will_not_reconnect(
    code: int, reconnect: bool, error_type: type[Exception]
) -> None:
    client = _open_client(_ClosedSocket(code), reconnect=reconnect)
    with pytest.raises(error_type):
        await client.send_raw("lost")
    assert not client._buffer


async def test_a_failed_send_goes_on_the_connection_that_replaced_it() -> None:
    replacement = _OpenSocket()
    client = _open_client(None, reconnect=True)
    client._ws = _ClosedSocket(1006, then=lambda: setattr(client, "_ws", replacement))  # type: ignore[assignment]
    await client.send_raw("frame")
    assert replacement.sent == ["frame"]
    assert not client._buffer
