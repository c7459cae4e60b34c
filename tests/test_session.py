"""The client's session without sockets: its states, send buffer, requests, inbox and what it
does when the connection ends."""

from __future__ import annotations

import json
import random
from concurrent.futures import Future
from typing import Any

import pytest

from datadivr import (
    ConnectError,
    ConnectionClosedError,
    ConnectRefusedError,
    InvalidStateError,
    PolicyViolationError,
    ProtocolError,
    Reconnect,
    RemoteError,
    SendBufferFullError,
    ServerShutdownError,
)
from datadivr.client._session import (
    MOVES,
    ClientState,
    Closing,
    Dispatch,
    Queued,
    Session,
    Settled,
    Welcomed,
    reply_of,
)
from datadivr.core._message import MessageBase
from datadivr.demo import (
    PROTOCOL,
    ErrorMessage,
    MsgMessage,
    SumEventMessage,
    SumEventPayload,
    SumHandlerResultMessage,
)


def frame(event_name: str, **fields: Any) -> str:
    return json.dumps({"event_name": event_name, **fields})


def session(
    *,
    reconnect: Reconnect | None = None,
    inbox_size: int = 10,
    handlers: dict[str, Any] | None = None,
) -> Session:
    found = handlers or {}
    return Session(
        PROTOCOL,
        policy=reconnect,
        inbox_size=inbox_size,
        handler_of=found.get,
        rng=random.Random(1),
    )


def state_of(s: Session) -> ClientState:
    """The state now (read through a call: mypy would keep the one it last saw)."""
    return s.state


def open_session(**options: Any) -> Session:
    s = session(**options)
    s.connect()
    assert s.opened()
    return s


def reconnecting(**options: Any) -> Session:
    s = open_session(reconnect=Reconnect(buffer_size=2), **options)
    assert s.connection_lost(1006, "")
    return s


# -- states ------------------------------------------------------------------------------------


def test_a_new_session_is_idle_and_connects() -> None:
    s = session()
    assert state_of(s) is ClientState.IDLE
    s.connect()
    assert state_of(s) is ClientState.CONNECTING
    assert s.opened()
    assert state_of(s) is ClientState.OPEN


@pytest.mark.parametrize("state", list(ClientState))
def test_every_illegal_move_raises_naming_both_states(state: ClientState) -> None:
    for target in set(ClientState) - MOVES[state]:
        s = session()
        s.state = state
        with pytest.raises(InvalidStateError, match=f"client is {state.value}, cannot become"):
            s.move(target)
        assert state_of(s) is state


def test_closed_is_final_and_reachable_from_everywhere_else() -> None:
    assert MOVES[ClientState.CLOSED] == frozenset()
    for state in set(ClientState) - {ClientState.CLOSED}:
        assert ClientState.CLOSED in MOVES[state]


def test_an_unexpected_state_names_what_was_expected() -> None:
    s = open_session()
    with pytest.raises(InvalidStateError, match="client is open, expected idle"):
        s.connect()
    with pytest.raises(InvalidStateError, match="client is open, expected idle or closed"):
        s.expect(ClientState.IDLE, ClientState.CLOSED)


def test_a_failed_first_connection_closes_with_its_close_code() -> None:
    s = session()
    s.connect()
    s.connect_failed(ConnectionClosedError.from_code(1008, "no token"))
    assert state_of(s) is ClientState.CLOSED
    assert isinstance(s.closed_error(), PolicyViolationError)
    with pytest.raises(PolicyViolationError):
        s.send("frame")


def test_a_close_while_connecting_leaves_the_new_connection_unused() -> None:
    s = session()
    s.connect()
    assert s.close(1000, "bye") is Closing.CONNECTION
    assert not s.opened()
    s.closed()
    assert state_of(s) is ClientState.CLOSED
    assert (s.close_code, s.close_reason) == (1000, "bye")


def test_closing_an_idle_session_has_nothing_to_do() -> None:
    s = session()
    assert s.close(1000, "") is Closing.NOTHING
    assert state_of(s) is ClientState.CLOSED


def test_closing_while_reconnecting_stops_the_reconnect() -> None:
    s = reconnecting()
    assert s.close(1000, "enough") is Closing.RECONNECT
    assert state_of(s) is ClientState.CLOSING
    s.closed()
    assert state_of(s) is ClientState.CLOSED


def test_closing_twice_is_harmless() -> None:
    s = open_session()
    assert s.close(1000, "") is Closing.CONNECTION
    s.closed()
    assert s.close(1000, "") is Closing.CONNECTION
    s.closed()
    assert state_of(s) is ClientState.CLOSED


# -- the welcome -------------------------------------------------------------------------------


def test_the_welcome_gives_the_client_id_and_a_new_one_replaces_it() -> None:
    s = open_session()
    assert s.expects_welcome
    assert s.receive(frame("welcome", payload={"client_id": "c1"})) == Welcomed("c1")
    assert s.client_id == "c1"
    assert s.receive(frame("welcome", payload={"client_id": "c2"})) == Welcomed("c2")
    assert s.client_id == "c2"
    assert s.next_message() is None  # a welcome is not an inbox message


def test_a_session_without_a_protocol_cannot_take_frames() -> None:
    s = Session(None)
    with pytest.raises(TypeError, match="without a protocol"):
        s.receive(frame("msg"))


# -- sending and the buffer --------------------------------------------------------------------


def test_an_open_session_sends_at_once() -> None:
    assert open_session().send("frame")


def test_an_idle_session_refuses_to_send() -> None:
    with pytest.raises(InvalidStateError, match="client is idle, expected open"):
        session().send("frame")


def test_a_reconnecting_session_holds_frames_in_order_up_to_the_buffer_size() -> None:
    s = reconnecting()
    assert not s.send("one")
    assert not s.send("two", "r2")
    with pytest.raises(SendBufferFullError) as raised:
        s.send("three")
    assert raised.value.buffer_size == 2
    assert list(s.buffer) == [("one", None), ("two", "r2")]
    assert s.buffered() == "one"
    s.buffered_sent()
    assert s.buffered() == "two"
    s.buffered_sent()
    assert s.buffered() is None


def test_a_buffer_of_zero_holds_nothing() -> None:
    s = open_session(reconnect=Reconnect(buffer_size=0))
    assert s.connection_lost(1006, "")
    with pytest.raises(SendBufferFullError):
        s.send("frame")


def test_a_failed_send_is_held_when_the_drop_will_be_reconnected() -> None:
    s = open_session(reconnect=Reconnect())
    assert not s.send_failed("frame", None, ServerShutdownError.from_code(1012), replaced=False)
    assert list(s.buffer) == [("frame", None)]


def test_a_failed_send_goes_again_on_the_connection_that_replaced_it() -> None:
    s = open_session(reconnect=Reconnect())
    assert s.send_failed("frame", None, ConnectionClosedError.from_code(1006), replaced=True)
    assert not s.buffer


@pytest.mark.parametrize(("code", "reconnect"), [(1012, None), (1008, Reconnect())])
def test_a_failed_send_raises_when_the_drop_ends_the_client(
    code: int, reconnect: Reconnect | None
) -> None:
    s = open_session(reconnect=reconnect)
    error = ConnectionClosedError.from_code(code)
    with pytest.raises(type(error)):
        s.send_failed("frame", None, error, replaced=False)
    assert not s.buffer


# -- requests ----------------------------------------------------------------------------------


def request(s: Session, expected: type[MessageBase] = SumHandlerResultMessage) -> Future[Any]:
    waiter: Future[Any] = Future()
    s.add_request("r1", waiter, expected)
    return waiter


def test_the_expected_answer_settles_a_request() -> None:
    s = open_session()
    waiter = request(s)
    assert s.receive(frame("sum_handler_result", payload=3, reply_to="r1")) == Settled("r1")
    assert isinstance(waiter.result(0), SumHandlerResultMessage)
    assert s.next_message() is None


def test_a_side_message_carrying_the_request_s_id_goes_to_the_inbox() -> None:
    s = open_session()
    waiter = request(s)
    event = s.receive(frame("msg", message="working on it", reply_to="r1"))
    assert isinstance(event, Queued)
    assert not waiter.done()
    s.receive(frame("sum_handler_result", payload=3, reply_to="r1"))
    assert waiter.result(0).payload == 3
    note = s.next_message()
    assert isinstance(note, MsgMessage)
    assert (note.message, note.reply_to) == ("working on it", "r1")


def test_an_error_settles_a_request_whatever_it_expects() -> None:
    s = open_session()
    waiter = request(s)
    error = frame("error", payload={"code": "invalid_message"}, message="bad", reply_to="r1")
    assert s.receive(error) == Settled("r1")
    answer = waiter.result(0)
    with pytest.raises(RemoteError, match="bad") as raised:
        reply_of(
            SumEventMessage(payload=SumEventPayload(numbers=[1])), answer, SumHandlerResultMessage
        )
    assert raised.value.code == "invalid_message"


def test_an_answer_of_another_type_is_a_protocol_error() -> None:
    s = open_session()
    waiter = request(s, MessageBase)
    s.receive(frame("msg", message="odd", reply_to="r1"))
    with pytest.raises(ProtocolError, match="expected SumHandlerResultMessage"):
        reply_of(
            SumEventMessage(payload=SumEventPayload(numbers=[1])),
            waiter.result(0),
            SumHandlerResultMessage,
        )


def test_an_answer_that_does_not_parse_fails_its_request() -> None:
    s = open_session()
    waiter = request(s)
    assert s.receive(frame("sum_handler_result", payload="three", reply_to="r1")) == Settled("r1")
    assert isinstance(waiter.exception(0), ProtocolError)


def test_a_frame_that_does_not_parse_and_answers_nothing_is_dropped() -> None:
    s = open_session()
    assert s.receive("not json") is None
    assert s.receive(frame("nonsense")) is None
    assert s.next_message() is None


def test_an_answer_to_no_request_goes_to_the_inbox() -> None:
    s = open_session()
    assert isinstance(s.receive(frame("sum_handler_result", payload=3, reply_to="r9")), Queued)


def test_a_request_id_waits_once() -> None:
    s = open_session()
    request(s)
    with pytest.raises(InvalidStateError, match="'r1' is already waiting"):
        s.add_request("r1", Future())
    s.remove_request("r1")
    s.add_request("r1", Future())


# -- handlers and the inbox --------------------------------------------------------------------


def test_a_message_with_a_handler_is_dispatched_to_it() -> None:
    def handler() -> None: ...

    s = open_session(handlers={"msg": handler})
    event = s.receive(frame("msg", message="hi"))
    assert isinstance(event, Dispatch)
    assert event.handler is handler
    assert s.next_message() is None


def test_a_full_inbox_drops_its_oldest_message() -> None:
    s = open_session(inbox_size=2)
    for text in ("one", "two"):
        assert s.receive(frame("msg", message=text)) == Queued(MsgMessage(message=text))
    event = s.receive(frame("msg", message="three"))
    assert isinstance(event, Queued)
    assert event.dropped == MsgMessage(message="one")
    taken = [s.next_message(), s.next_message()]
    assert [m.message for m in taken if m is not None] == ["two", "three"]
    assert s.next_message() is None


def test_the_inbox_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="inbox_size must be at least 1"):
        session(inbox_size=0)


def test_an_ended_inbox_is_read_out_then_raises_the_close_error() -> None:
    s = open_session()
    s.receive(frame("msg", message="last"))
    assert not s.connection_lost(1001, "going away")
    s.finish()
    assert state_of(s) is ClientState.CLOSED
    last = s.next_message()
    assert last is not None
    assert last.message == "last"
    with pytest.raises(ServerShutdownError):
        s.next_message()


# -- when the connection ends ------------------------------------------------------------------


def test_without_a_policy_a_drop_ends_the_client() -> None:
    s = open_session()
    waiter = request(s)
    assert not s.connection_lost(1006, "")
    assert state_of(s) is ClientState.OPEN  # until finish()
    s.finish()
    assert state_of(s) is ClientState.CLOSED
    error = waiter.exception(0)
    assert isinstance(error, ConnectionClosedError)
    assert error.code == 1006


@pytest.mark.parametrize("code", [None, 1000, 1001, 1006, 1011, 1012, 1013, 4000])
def test_a_drop_is_reconnected(code: int | None) -> None:
    s = open_session(reconnect=Reconnect())
    assert s.connection_lost(code, "")
    assert state_of(s) is ClientState.RECONNECTING


def test_a_policy_violation_is_not_reconnected() -> None:
    s = open_session(reconnect=Reconnect())
    assert not s.connection_lost(1008, "no")
    s.finish()
    assert isinstance(s.closed_error(), PolicyViolationError)


def test_a_drop_after_close_is_not_reconnected() -> None:
    s = open_session(reconnect=Reconnect())
    s.close(1000, "")
    assert not s.connection_lost(1000, "")
    assert state_of(s) is ClientState.CLOSING


def test_a_drop_fails_the_requests_sent_and_keeps_those_still_held() -> None:
    s = open_session(reconnect=Reconnect())
    sent: Future[Any] = Future()
    s.add_request("sent", sent)
    assert s.connection_lost(1012, "restart")
    held: Future[Any] = Future()
    s.add_request("held", held)
    s.send("frame", "held")
    assert isinstance(sent.exception(0), ServerShutdownError)
    assert not held.done()
    # The new connection drops while the buffer goes out: the held request went on it.
    s.buffered_sent()
    assert not s.attempt_failed(ConnectionClosedError.from_code(1006))
    assert isinstance(held.exception(0), ConnectionClosedError)


@pytest.mark.parametrize(
    ("error", "give_up"),
    [
        (ConnectError("refused"), False),
        (ConnectRefusedError("full", status=503), False),
        (ConnectRefusedError("slow down", status=429), False),
        (ConnectRefusedError("wrong token", status=403), True),
        (ConnectRefusedError("not found", status=404), True),
        (ConnectionClosedError.from_code(1006), False),
        (ConnectionClosedError.from_code(1008, "no"), True),
    ],
)
def test_a_failed_attempt_gives_up_only_when_refused_for_good(
    error: ConnectError | ConnectionClosedError, give_up: bool
) -> None:
    s = reconnecting()
    assert s.attempt_failed(error) is give_up
    assert s.last_failure is error
    s.finish()
    assert s.closed_error().__cause__ is error


def test_a_reconnect_starts_afresh() -> None:
    s = reconnecting()
    s.attempt_failed(ConnectError("refused"))
    s.reconnected()
    assert state_of(s) is ClientState.OPEN
    assert (s.close_code, s.close_reason, s.last_failure) == (None, "", None)
    assert s.send("frame")


def test_the_waits_follow_the_policy() -> None:
    policy = Reconnect(jitter=0, max_attempts=3)
    s = open_session(reconnect=policy)
    assert list(s.delays()) == list(policy.delays())


def test_giving_up_drops_the_buffer_and_fails_every_request() -> None:
    s = reconnecting()
    waiter = request(s)
    s.send("one", "r1")
    s.send("two")
    assert s.finish() == 2
    assert not s.buffer
    assert isinstance(waiter.exception(0), ConnectionClosedError)
    assert state_of(s) is ClientState.CLOSED


def test_the_error_answer_is_an_error_message() -> None:
    # Guards the frames above: an "error" parses to the protocol's own ErrorMessage.
    error = frame("error", payload={"code": "invalid_message"}, message="bad")
    assert isinstance(PROTOCOL.parse(error), ErrorMessage)
