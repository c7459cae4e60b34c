"""Hostile frames against one live server: each is answered as the protocol says, and no one
else notices.

One server and three connections live through the whole run: the *sender* sends at least
5,000 frames drawn by :mod:`tests.integration.hostile`, in batches; the *broadcaster* sends a
valid ``msg`` to ``others`` (a numbered "tick") after every few of them; the *bystander* only
listens. For every frame the test decides on its own what the server must do (:func:`judge`:
the reference validator :mod:`datadivr.validation`, the routing rules of the envelope schema,
the server's limits), and checks, batch by batch:

- the sender gets exactly what is due for each frame, in order: one ``error`` whose code is the
  expected one (with ``reply_to`` the frame's ``id`` when it has a usable one), the handler's
  one answer (``sum_handler_result``, ``pong``), the relay of its own message sent to itself or
  to ``all``, or nothing (an accepted ``pong``) -- and nothing else;
- the bystander and the broadcaster get exactly the relays addressed to them, with ``from_id``
  the sender's id whatever the frame claimed, and nothing of refused frames;
- every tick reaches the sender and the bystander, once, in order;
- every frame the server sends parses with the models, and every ``error`` is valid against
  the schema (jsonschema);
- the connections stay open and ``GET /health`` answers with the three clients.

A batch ends with pings: a connection's ``pong`` comes after everything the server queued for it
before, so "nothing else" is exact, not a timeout.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from pydantic_core import from_json
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from datadivr import Limits
from datadivr.demo import PROTOCOL
from datadivr.exceptions import ProtocolError
from datadivr.validation import Validator
from tests.integration.hostile import (
    DEEP_SHAPES,
    HUGE_SHAPES,
    KINDS,
    SCHEMAS,
    Binary,
    Deep,
    Document,
    Huge,
    Ids,
    Peer,
    ServerProcess,
    Spec,
    Text,
    hostile_batches,
    render,
    serve_process,
)

TIMEOUT = 5.0
BATCH = len(KINDS)
BATCHES = 360  # x BATCH = 5,040 generated frames, plus the CORNERS
TICK_EVERY = 5
VALIDATOR = Validator()
ERROR_CODES = frozenset(SCHEMAS["error"]["properties"]["payload"]["properties"]["code"]["enum"])
SUM_MAX_ITEMS: int = SCHEMAS["sum_event"]["properties"]["payload"]["properties"]["numbers"][
    "maxItems"
]
MSG_MAX_LENGTH: int = SCHEMAS["msg"]["properties"]["message"]["maxLength"]
SURROGATE = re.compile("[\ud800-\udfff]")
#: The base verdict of a deep frame too deep for Python's own JSON decoder to judge.
DEEP_BASE = {
    "payload_array": "validation_error",
    "payload_object": "unknown_event",
    "top_array": "invalid_message",
    "top_object": "invalid_message",
    "numbers": "validation_error",
    "event_name": "invalid_message",
    "unclosed": "invalid_json",
    "unbalanced": "invalid_json",
}


# --------------------------------------------------------------------------- the verdicts


@dataclass(frozen=True)
class Outcome:
    """What the server must do with one frame.

    Exactly one of: refuse it (``codes``: one ``error`` with one of them), answer it
    (``reply``), relay it (``recipients``), or take it silently (none of them).
    """

    codes: frozenset[str] = frozenset()
    reply: str | None = None
    total: float | None = None
    recipients: frozenset[Peer] = frozenset()
    reply_to: str | None = None
    wire: str | None = None  # the frame, for comparing a reply or relay with it

    @property
    def answers_sender(self) -> bool:
        return bool(self.codes or self.reply or Peer.SENDER in self.recipients)


def refused(*codes: str, reply_to: str | None = None) -> Outcome:
    assert set(codes) <= ERROR_CODES, codes
    return Outcome(codes=frozenset(codes), reply_to=reply_to)


def judge(spec: Spec, wire: str | bytes, ids: Ids, limits: Limits) -> Outcome:
    """What the server must do with ``wire``, the rendering of ``spec``."""
    if isinstance(wire, bytes):
        return refused("invalid_message")  # binary frames are refused unread
    if isinstance(spec, Huge):
        return _judge_huge(spec, wire, ids, limits)
    try:
        data = json.loads(wire)
    except RecursionError:
        assert isinstance(spec, Deep), spec
        return refused(DEEP_BASE[spec.shape], "message_too_large", "invalid_json")
    except ValueError:
        return refused("invalid_json")
    outcome = judge_message(data, wire, ids, limits)
    try:
        from_json(wire, allow_inf_nan=False)
    except ValueError:
        # A lone surrogate escape (\ud800) is no Unicode text, NaN and Infinity are no JSON
        # (RFC 8259), though Python's reader takes them, and the strict reader stops at a
        # depth Python's passes: refusing such a frame as invalid JSON is as right as refusing
        # it for what else is wrong with it, and its id is not read.
        return Outcome(codes=outcome.codes | {"invalid_json"})
    return outcome


def judge_message(data: Any, wire: str, ids: Ids, limits: Limits) -> Outcome:
    """The verdict on a decoded frame: the protocol's rules, then the server's limits."""
    base = _judge_protocol(data, wire, ids)
    depth, items = _measure(data)
    if depth > limits.max_depth or items > limits.max_items:
        # Over a limit: refused, by the limit or by whatever else was wrong with it; a frame
        # deeper than allowed may be refused by the JSON parser already.
        codes = base.codes | {"message_too_large"}
        if depth > limits.max_depth:
            codes |= {"invalid_json"}
        return Outcome(codes=codes, reply_to=_usable_id(data))
    return base


def _judge_protocol(data: Any, wire: str, ids: Ids) -> Outcome:
    reply_to = _usable_id(data)
    if not isinstance(data, dict):
        return refused("invalid_message")
    name = data.get("event_name")
    if not isinstance(name, str):
        return refused("invalid_message", reply_to=reply_to)
    if name not in PROTOCOL.events:
        return refused("unknown_event", reply_to=reply_to)
    if not VALIDATOR.validate(data).valid:
        return refused("validation_error", reply_to=reply_to)
    direction = PROTOCOL.events[name].direction
    if not direction.client_may_send:
        return refused("wrong_direction", reply_to=reply_to)
    if name == "sum_event":
        try:
            total = math.fsum(float(n) for n in data["payload"]["numbers"])
        except OverflowError:
            total = math.inf
        if not math.isfinite(total):
            return refused("handler_error", reply_to=reply_to)
        return Outcome(reply="sum_handler_result", total=total, reply_to=reply_to, wire=wire)
    if name == "ping":
        return Outcome(reply="pong", reply_to=reply_to, wire=wire)
    if name == "pong":
        return Outcome()  # the server's handler takes it and answers nothing
    to = data.get("to", "others")
    if to == "server" or not direction.server_may_send:
        return refused("no_handler", reply_to=reply_to)
    if to == "all":
        return Outcome(recipients=frozenset(Peer), wire=wire)
    if to == "others":
        return Outcome(recipients=frozenset({Peer.BYSTANDER, Peer.BROADCASTER}), wire=wire)
    for peer, client_id in ids.items():
        if to == client_id:
            return Outcome(recipients=frozenset({peer}), wire=wire)
    return refused("unknown_recipient", reply_to=reply_to)


def _judge_huge(spec: Huge, wire: str | bytes, ids: Ids, limits: Limits) -> Outcome:
    """Huge frames are judged by construction: validating 300,000 numbers with jsonschema
    would take longer than the whole run."""
    n, shape = spec.size, spec.shape

    def over(items: int, *codes: str, reply_to: str | None = None) -> Outcome:
        extra = ("message_too_large",) if items > limits.max_items else ()
        return refused(*codes, *extra, reply_to=reply_to)

    if shape in ("message", "unicode_message"):
        if n <= MSG_MAX_LENGTH:
            assert isinstance(wire, str)
            return Outcome(recipients=frozenset({Peer.SENDER}), wire=wire)
        return refused("validation_error")
    if shape == "numbers":
        items = n + 3  # event_name, payload, numbers, and the numbers
        if n > SUM_MAX_ITEMS:
            return over(items, "validation_error")
        if items > limits.max_items:
            return refused("message_too_large")
        assert isinstance(wire, str)
        return Outcome(reply="sum_handler_result", total=float(n), wire=wire)
    if shape == "strings":
        return over(n + 3, "validation_error")
    if shape == "event_name":
        return refused("unknown_event")
    if shape in ("to", "id"):
        return refused("validation_error")  # an id over 128 characters is not echoed
    if shape == "members":
        return over(n + 3, "validation_error")
    if shape == "array":
        return over(n, "invalid_message")
    if shape == "object_payload":
        return over(n + 2, "unknown_event")
    if shape == "garbage":
        return refused("invalid_json")
    raise AssertionError(f"no verdict for {spec}")


def _usable_id(data: Any) -> str | None:
    """The frame's ``id`` when an error can echo it in ``reply_to``: a schema-valid id, which
    is Unicode text (no lone surrogate)."""
    value = data.get("id") if isinstance(data, dict) else None
    if not isinstance(value, str) or not 1 <= len(value) <= 128 or SURROGATE.search(value):
        return None
    return value


def _measure(data: Any) -> tuple[int, int]:
    """Nesting (the outermost container counts as one) and array elements plus object members
    of all containers; iterative, as decoded frames may nest ~1000 levels."""
    depth = items = 0
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, level = stack.pop()
        if isinstance(value, dict):
            children = list(value.values())
        elif isinstance(value, list):
            children = value
        else:
            continue
        depth = max(depth, level)
        items += len(children)
        stack.extend((child, level + 1) for child in children)
    return depth, items


# --------------------------------------------------------------------------- the run


def _clip(value: object, limit: int = 400) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


@dataclass(frozen=True)
class Received:
    """A frame from the server, decoded."""

    text: str
    data: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def get(self, key: str) -> Any:
        return self.data.get(key)

    def invalid(self) -> str | None:
        """Why the frame is not a valid message (models; errors also jsonschema), or ``None``."""
        try:
            PROTOCOL.parse(self.text)
        except ProtocolError as exc:
            return f"the server sent an invalid frame: {exc}"
        if self.data.get("event_name") == "error":
            report = VALIDATOR.validate(self.text)
            if not report.valid:
                return f"the server sent an invalid error: {report.violations}"
        return None

    def __repr__(self) -> str:
        return _clip(self.text, 1000)


@dataclass
class FuzzRun:
    """The three connections of the run and what they have seen."""

    server: ServerProcess
    sockets: dict[Peer, ClientConnection] = field(default_factory=dict)
    ids: dict[Peer, str] = field(default_factory=dict)
    token: str = field(default_factory=lambda: uuid.uuid4().hex)
    frames: int = 0
    ticks_sent: int = 0
    ticks_seen: dict[Peer, int] = field(default_factory=dict)
    seen: Counter[str] = field(default_factory=Counter)  # what each frame got, by kind
    failure: AssertionError | None = None

    def __post_init__(self) -> None:
        self.limits = Limits()  # what `datadivr serve` runs with, no option given
        self.http = httpx.Client(base_url=self.server.http, timeout=TIMEOUT)

    def open(self, stack: contextlib.ExitStack) -> None:
        stack.callback(self.http.close)
        for peer in Peer:
            ws = stack.enter_context(
                connect(
                    self.server.url,
                    open_timeout=TIMEOUT,
                    close_timeout=TIMEOUT,
                    ping_interval=None,  # its pings draw from `random`, which Hypothesis watches
                    proxy=None,
                )
            )
            self.sockets[peer] = ws
            welcome = json.loads(ws.recv(timeout=TIMEOUT))
            assert welcome["event_name"] == "welcome", welcome
            self.ids[peer] = welcome["payload"]["client_id"]
        self.ticks_seen = {Peer.SENDER: 0, Peer.BYSTANDER: 0}

    # -- one batch -------------------------------------------------------------------------

    def batch(self, specs: list[Spec]) -> None:
        if self.failure is not None:
            raise self.failure  # the connections are out of step: report the first failure
        try:
            self._batch(specs)
        except AssertionError as exc:
            self.failure = exc
            raise

    def _batch(self, specs: list[Spec]) -> None:
        wires = [render(spec, self.ids) for spec in specs]
        outcomes = [judge(s, w, self.ids, self.limits) for s, w in zip(specs, wires, strict=True)]
        for index, wire in enumerate(wires):
            self._send(Peer.SENDER, wire, specs, index)
            if index % TICK_EVERY == 0:
                tick = f"tick {self.token} {self.ticks_sent}"
                self._send(Peer.BROADCASTER, _msg(tick, "others"), specs, None)
                self.ticks_sent += 1
        self.frames += len(specs)
        # Round 1: once the sender's and the broadcaster's pongs are back, the server has
        # handled every frame they sent before them. Round 2: whatever that queued for anyone
        # is ahead of their second pong.
        first, second = f"s{uuid.uuid4().hex}", f"s{uuid.uuid4().hex}"
        got: dict[Peer, list[Received]] = {peer: [] for peer in Peer}
        for peer in (Peer.SENDER, Peer.BROADCASTER):
            self._send(peer, _ping(first), specs, None)
        for peer in (Peer.SENDER, Peer.BROADCASTER):
            got[peer] += self._until(peer, first, specs)
        for peer in Peer:
            self._send(peer, _ping(second), specs, None)
        for peer in Peer:
            got[peer] += self._until(peer, second, specs)
        for peer in Peer:
            self._check(peer, specs, wires, outcomes, got[peer])
        health = self.http.get("/health")
        assert health.status_code == 200, health.text
        assert health.json()["clients"] == len(Peer), health.json()

    def _send(self, peer: Peer, wire: str | bytes, specs: list[Spec], index: int | None) -> None:
        try:
            self.sockets[peer].send(wire)
        except ConnectionClosed as exc:
            what = f"frame {index}: {_clip(specs[index])}" if index is not None else "a message"
            raise AssertionError(
                f"{peer.value}: connection closed ({exc}) sending {what}\n"
                f"batch: {_clip(specs, 4000)}"
            ) from exc

    def _until(self, peer: Peer, nonce: str, specs: list[Spec]) -> list[Received]:
        """What ``peer`` receives before the pong to its ping ``nonce``."""
        out: list[Received] = []
        for _ in range(4 * BATCH + 100):
            try:
                text = self.sockets[peer].recv(timeout=TIMEOUT)
            except ConnectionClosed as exc:
                raise AssertionError(
                    f"{peer.value}: the server closed the connection ({exc})\n"
                    f"batch: {_clip(specs, 4000)}"
                ) from exc
            except TimeoutError:
                raise AssertionError(
                    f"{peer.value}: no pong to {nonce} within {TIMEOUT}s; got {_clip(out, 2000)}"
                ) from None
            assert isinstance(text, str), f"{peer.value}: the server sent a binary frame"
            data = json.loads(text)
            assert isinstance(data, dict), f"{peer.value}: the server sent {_clip(text)}"
            payload = data.get("payload")
            if (
                data.get("event_name") == "pong"
                and data.get("from_id") == "server"
                and isinstance(payload, dict)
                and payload.get("nonce") == nonce
            ):
                return out
            out.append(Received(text, data))
        raise AssertionError(f"{peer.value}: no pong to {nonce}; got {_clip(out, 2000)}")

    # -- checks --------------------------------------------------------------------------

    def _check(
        self,
        peer: Peer,
        specs: list[Spec],
        wires: list[str | bytes],
        outcomes: list[Outcome],
        received: list[Received],
    ) -> None:
        """``peer`` got what the batch called for, in order, and nothing else."""
        rest = iter(self._ticks(peer, received))
        for index, outcome in enumerate(outcomes):
            due = outcome.answers_sender if peer is Peer.SENDER else peer in outcome.recipients
            if not due:
                continue
            got = next(rest, None)
            problem = "nothing came" if got is None else self._problem(peer, outcome, got)
            if problem:
                raise AssertionError(
                    f"{peer.value}, frame {index} of the batch: {problem}\n"
                    f"  spec:     {_clip(specs[index], 1000)}\n"
                    f"  frame:    {_clip(wires[index], 1000)}\n"
                    f"  expected: {_clip(outcome, 1000)}\n"
                    f"  observed: {got!r}"
                )
            assert got is not None
            self.seen[got["payload"]["code"] if outcome.codes else got["event_name"]] += 1
            if outcome.recipients:
                self.seen[f"relay to {peer.value}"] += 1
        extra = list(rest)
        assert not extra, (
            f"{peer.value} got {len(extra)} messages that no frame called for (refused frames "
            f"must reach no one): {_clip(extra, 2000)}\nbatch: {_clip(specs, 4000)}"
        )

    def _ticks(self, peer: Peer, received: list[Received]) -> list[Received]:
        """Check the ticks among ``received`` (each once, in order); return the rest."""
        if peer not in self.ticks_seen:
            return received  # the broadcaster does not get its own
        rest = []
        for got in received:
            text = got.get("message")
            if not (
                got["event_name"] == "msg"
                and got.get("from_id") == self.ids[Peer.BROADCASTER]
                and isinstance(text, str)
                and text.startswith(f"tick {self.token} ")
            ):
                rest.append(got)
                continue
            expected = f"tick {self.token} {self.ticks_seen[peer]}"
            assert text == expected, (
                f"{peer.value}: got {text!r}, expected {expected!r}: "
                "a broadcast was lost, duplicated or reordered"
            )
            assert got.get("to") == "others", got
            assert got.invalid() is None, got.invalid()
            self.ticks_seen[peer] += 1
        return rest

    def _problem(self, peer: Peer, outcome: Outcome, got: Received) -> str | None:
        """Why ``got`` is not what ``outcome`` calls for, or ``None``."""
        invalid = got.invalid()
        if invalid:
            return invalid
        sender = self.ids[Peer.SENDER]
        if outcome.codes:
            if got["event_name"] != "error":
                return "expected an error"
            code = got["payload"]["code"]
            if code not in outcome.codes:
                return f"error code {code!r}, expected one of {sorted(outcome.codes)}"
            if (got.get("to"), got.get("from_id")) != (sender, "server"):
                return "the error is not addressed from the server to the sender"
            if got.get("reply_to") != outcome.reply_to:
                return f"reply_to {got.get('reply_to')!r}, expected {outcome.reply_to!r}"
            return None
        assert outcome.wire is not None
        sent = PROTOCOL.parse(outcome.wire)
        if outcome.reply is not None:
            if got["event_name"] != outcome.reply:
                return f"expected the handler's {outcome.reply!r}"
            if (got.get("to"), got.get("from_id")) != (sender, "server"):
                return "the answer is not addressed from the server to the sender"
            if got.get("reply_to") != outcome.reply_to:
                return f"reply_to {got.get('reply_to')!r}, expected {outcome.reply_to!r}"
            if outcome.reply == "sum_handler_result":
                return None if got["payload"] == outcome.total else f"sum, not {outcome.total}"
            answer = PROTOCOL.parse(got.text).payload
            if (answer.sent_at, answer.nonce) != (sent.payload.sent_at, sent.payload.nonce):
                return "the pong does not echo the ping"
            return None
        if got.get("from_id") != sender:
            return f"relayed with from_id {got.get('from_id')!r}, not the sender's id {sender!r}"
        if PROTOCOL.parse(got.text).model_dump() != sent.with_sender(sender).model_dump():
            return "the relay differs from the message sent"
        return None

    def finish(self) -> None:
        """The run as a whole: enough frames, every tick everywhere, every verdict exercised."""
        assert self.frames >= BATCH * BATCHES, f"only {self.frames} frames were sent"
        for peer, seen in self.ticks_seen.items():
            assert seen == self.ticks_sent, f"{peer.value} saw {seen} of {self.ticks_sent} ticks"
        missing = EXERCISED - set(self.seen)
        assert not missing, f"never exercised: {sorted(missing)} (seen: {dict(self.seen)})"
        assert self.http.get("/health").json()["clients"] == len(Peer)


#: What a run must have exercised at least once, or it proved less than it claims. Not
#: ``message_too_large``: under the default limits (nesting 32, 200,000 elements) no message
#: of this protocol that passes its schema reaches a limit, and the server judges the schema
#: first; frames over a limit are accepted with either code.
EXERCISED = {
    "invalid_json",
    "invalid_message",
    "unknown_event",
    "wrong_direction",
    "validation_error",
    "unknown_recipient",
    "no_handler",
    "handler_error",
    "sum_handler_result",
    "pong",
    *(f"relay to {peer.value}" for peer in Peer),
}


def _ping(nonce: str) -> str:
    payload = {"sent_at": "2026-01-01T00:00:00Z", "nonce": nonce}
    return json.dumps({"event_name": "ping", "payload": payload})


def _msg(text: str, to: str) -> str:
    return json.dumps({"event_name": "msg", "message": text, "to": to})


# --------------------------------------------------------------------------- the test

#: Every huge and every deep shape at the depths around the limits, so that each is sent in
#: every run whatever the draws; and the frames each verdict calls for at least once.
CORNERS: list[list[Spec]] = [
    [Huge(shape, size) for shape, sizes in HUGE_SHAPES.items() for size in sizes],
    [Deep(shape, depth) for shape in DEEP_SHAPES for depth in (10, 32, 33)],
    [Deep(shape, depth) for shape in DEEP_SHAPES for depth in (200, 201, 5000)],
    [
        Binary(b"\xc3\x28"),
        Binary(b'{"event_name": "msg", "message": "x", "to": "all"}'),
        Text("not json"),
        Text('{"event_name":"msg","message":"\\udc80","to":"all"}'),
        Text('{"event_name":"msg","message":"x","id":"\\udfff","to":"all"}'),
        Document({"event_name": "welcome", "payload": {"client_id": "me"}}),
        Document({"event_name": "error", "payload": {"code": "invalid_json"}, "message": "x"}),
        Document({"event_name": "sum_handler_result", "payload": 1, "to": Peer.BYSTANDER}),
        Document({"event_name": "msg", "message": "me?", "to": "all", "from_id": Peer.BROADCASTER}),
        Document(
            {"event_name": "msg", "message": "me?", "to": Peer.BYSTANDER, "from_id": "server"}
        ),
        Document({"event_name": "msg", "message": "me?", "to": "others", "from_id": None}),
        Document({"event_name": "msg", "message": "handled?", "to": "server", "id": "q1"}),
        Document({"event_name": "msg", "message": "anyone?", "to": "nobody", "id": "q2"}),
        Document({"event_name": "sum_event", "payload": {"numbers": [1e308, 1e308]}, "id": "q3"}),
        Document({"event_name": "ping", "payload": {"sent_at": "2026-01-01T00:00:00Z"}}),
        Document(
            {
                "event_name": "pong",
                "payload": {
                    "sent_at": "2026-01-01T00:00:00Z",
                    "received_at": "2026-01-01T00:00:01Z",
                },
            }
        ),
    ],
]


@pytest.mark.timeout(240)
def test_hostile_frames_are_answered_and_harm_no_one(tmp_path: Path) -> None:
    """At least 5,040 drawn frames and the CORNERS, against one ``datadivr serve`` process
    (bounded in count by ``BATCHES``, in time by the timeout: under a minute on an idle
    machine)."""
    with serve_process(tmp_path) as server, contextlib.ExitStack() as stack:
        run = FuzzRun(server)
        run.open(stack)

        @settings(
            max_examples=BATCHES,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],  # a live server makes shrinking costly
            suppress_health_check=[
                HealthCheck.too_slow,
                HealthCheck.data_too_large,
                HealthCheck.large_base_example,
                HealthCheck.filter_too_much,
            ],
        )
        @given(hostile_batches())
        def batches(specs: list[Spec]) -> None:
            run.batch(specs)

        for corner in CORNERS:
            batches = example(corner)(batches)
        batches()
        run.finish()
        assert server.alive(), "the server process died"
