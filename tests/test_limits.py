"""The limits and their checks, without sockets: settings, the token bucket, the structure of
a frame, and the hub enforcing them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from datadivr import Hub, Limits, Registry
from datadivr.core._limits import TokenBucket, check_structure, head_size, over_size, utf8_size
from datadivr.demo import PROTOCOL
from datadivr.exceptions import ProtocolError
from datadivr.server._builtin import builtin_registry
from tests.test_core import Wire, connect, error_of


class Clock:
    """Seconds that move only when a test says so."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


# -- Limits --------------------------------------------------------------------------------


def test_defaults() -> None:
    limits = Limits()
    assert limits.max_frame_size == 1 << 20
    assert limits.max_items > 100_000  # the largest valid sum_event passes, envelope and all
    assert limits.max_connections == 10_000
    assert limits.rate is None
    assert limits.bucket() is None


@pytest.mark.parametrize(
    "bad",
    [
        {"max_frame_size": 0},
        {"max_depth": -1},
        {"max_items": 1.5},
        {"queue_size": True},
        {"max_connections": 0},
        {"rate": 0},
        {"burst": 0},
        {"ping_interval": -1},
        {"shutdown_timeout": -0.1},
        {"queue_bytes": 0},
        {"rate": float("inf")},
        {"ping_timeout": float("nan")},
        {"shutdown_timeout": float("inf")},
        {"handshake_timeout": 0},
        {"handshake_timeout": float("inf")},
        {"max_header_size": 0},
    ],
)
def test_bad_limits_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=next(iter(bad))):
        Limits(**bad)


def test_head_size_counts_the_request_line_and_headers_as_sent() -> None:
    head = b"GET /ws?x=1 HTTP/1.1\r\nHost: a\r\nX-Long: " + b"v" * 100 + b"\r\n\r\n"
    headers = [(b"Host", b"a"), (b"X-Long", b"v" * 100)]
    assert head_size(b"GET", b"/ws?x=1", headers) == len(head)


def test_burst_defaults_to_one_seconds_worth() -> None:
    bucket = Limits(rate=50).bucket()
    assert bucket is not None
    assert (bucket.rate, bucket.burst) == (50, 50)
    slow = Limits(rate=0.2).bucket()
    assert slow is not None
    assert slow.burst == 1


# -- TokenBucket ---------------------------------------------------------------------------


def test_token_bucket_allows_a_burst_then_the_rate() -> None:
    clock = Clock()
    bucket = TokenBucket(rate=10, burst=3, clock=clock)
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    clock.now += 0.15  # one token and a half
    assert [bucket.take() for _ in range(2)] == [True, False]
    clock.now += 60  # saving up stops at the burst
    assert sum(bucket.take() for _ in range(10)) == 3


# -- check_structure -----------------------------------------------------------------------


def nest(depth: int) -> str:
    return json.dumps({"event_name": "msg", "x": json.loads("[" * depth + "]" * depth)})


@pytest.mark.parametrize(
    ("text", "depth", "items"),
    [
        ('{"a": 1}', 1, 1),
        ("[]", 1, 0),
        ('{"a": [1, 2, {"b": {}}]}', 4, 5),
        ('{"a": "[[[[[,,,,,{{{{"}', 1, 1),
        ('{"a": "\\"[[[[", "b": ["\\\\"]}', 2, 3),
        (nest(31), 32, 32),
    ],
)
def test_structure_is_measured_outside_strings(text: str, depth: int, items: int) -> None:
    check_structure(text, max_depth=depth, max_items=items)
    check_structure(text.encode(), max_depth=depth, max_items=items)
    if depth > 1:
        with pytest.raises(ProtocolError, match="deeper") as deep:
            check_structure(text, max_depth=depth - 1, max_items=10**6)
        assert deep.value.code == "message_too_large"
    if items > 0:
        with pytest.raises(ProtocolError, match="elements") as many:
            check_structure(text, max_depth=10**6, max_items=items - 1)
        assert many.value.code == "message_too_large"


def test_wide_and_flat_is_not_deep() -> None:
    text = json.dumps([{"a": [1]} for _ in range(1000)])
    check_structure(text, max_depth=3, max_items=3000)
    with pytest.raises(ProtocolError, match="3000"):
        check_structure(text, max_depth=3, max_items=2999)


# -- the hub enforcing them ----------------------------------------------------------------


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make_hub(wire: Wire, clock: Clock, **limits: Any) -> Hub:
    return Hub(
        PROTOCOL,
        Registry(builtin_registry),
        wire,
        limits=Limits(**limits),
        clock=clock,
    )


def msg(text: str, **envelope: Any) -> str:
    return json.dumps({"event_name": "msg", "message": text, "payload": None, **envelope})


async def test_hub_refuses_deep_and_wide_messages(clock: Clock) -> None:
    wire = Wire()
    hub = make_hub(wire, clock, max_depth=4, max_items=50)
    connect(hub, wire, "a")
    connect(hub, wire, "b")
    position = {"x": 1.5, "y": 0.0, "z": -2.0}
    rotation = {"x": 0.0, "y": 0.0, "z": 0.0, "w": 1.0}
    scene = {
        "scene_id": "6f1c1c5e-8d7b-4b7e-9a51-3f6f2b1d9c10",
        "revision": 3,
        "objects": [
            {
                "id": "cube-1",
                "kind": "cube",
                "transform": {"position": position, "rotation": rotation},
            }
        ],
    }
    deep = json.dumps({"event_name": "scene_update", "payload": scene})
    await hub.receive("a", deep)
    error = error_of(wire.take(), "a")
    assert error["payload"]["code"] == "message_too_large"
    assert "4 levels" in error["message"]
    wide = json.dumps(
        {"event_name": "sum_event", "id": "w", "payload": {"numbers": list(range(60))}}
    )
    await hub.receive("a", wide)
    error = error_of(wire.take(), "a")
    assert error["payload"]["code"] == "message_too_large"
    assert error["reply_to"] == "w"
    await hub.receive(
        "a", json.dumps({"event_name": "scene_update", "payload": {**scene, "objects": []}})
    )
    assert [route for route, _ in wire.take()] == [route_to_others("a")]


def route_to_others(sender: str) -> Any:
    from datadivr import Broadcast

    return Broadcast(exclude=sender)


async def test_hub_rate_limits_each_client_alone(clock: Clock) -> None:
    wire = Wire()
    hub = make_hub(wire, clock, rate=2, burst=2)
    connect(hub, wire, "a")
    connect(hub, wire, "b")
    for n in range(3):
        await hub.receive("a", msg(str(n), id=f"m{n}"))
    sent = wire.take()
    assert [m["message"] for _, m in sent[:2]] == ["0", "1"]
    error = error_of(sent[2:], "a")
    assert error["payload"]["code"] == "rate_limited"
    assert error["reply_to"] == "m2"
    # b has a bucket of its own
    await hub.receive("b", msg("from b"))
    assert [m["message"] for _, m in wire.take()] == ["from b"]
    clock.now += 0.5  # one token back for a
    await hub.receive("a", msg("again"))
    assert [m["message"] for _, m in wire.take()] == ["again"]


async def test_a_relayed_message_that_grows_over_the_frame_limit_is_refused(
    clock: Clock,
) -> None:
    """Stamping and re-serializing can grow a message (``from_id``; ``1e5`` is written
    ``100000.0``): it must not reach recipients over the limit, which would close their
    connections."""
    wire = Wire()
    hub = make_hub(wire, clock, max_frame_size=600)
    connect(hub, wire, "a")
    connect(hub, wire, "b")
    small = json.dumps({"event_name": "msg", "message": "x" * 400, "payload": None})
    await hub.receive("a", small)
    [(_, relayed)] = wire.take()
    assert relayed["message"] == "x" * 400
    base = json.dumps(
        {"event_name": "msg", "message": "", "payload": None, "id": "g"}, separators=(",", ":")
    )
    grown = base.replace('"message":""', '"message":"' + "x" * (600 - len(base)) + '"')
    assert len(grown) == 600  # at the limit; stamped with from_id, over it
    await hub.receive("a", grown)
    error = error_of(wire.take(), "a")
    assert error["payload"]["code"] == "message_too_large"
    assert error["reply_to"] == "g"


async def test_a_flood_is_logged_once(clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    wire = Wire()
    hub = make_hub(wire, clock, rate=1, burst=1)
    connect(hub, wire, "a")
    with caplog.at_level("INFO", logger="datadivr.core"):
        for _ in range(50):
            await hub.receive("a", msg("spam"))
    assert len(wire.take()) == 50  # one relayed, 49 errors
    assert [r.getMessage() for r in caplog.records].count("client over its rate limit") == 1


@pytest.mark.parametrize(
    ("text", "size"), [("", 0), ("abc", 3), ("é", 2), ("€", 3), ("😀", 4), ("a€😀", 8)]
)
def test_utf8_size(text: str, size: int) -> None:
    assert utf8_size(text) == size == len(text.encode())


def test_over_size_counts_bytes_not_characters() -> None:
    assert not over_size("x" * 10, 10)
    assert over_size("x" * 11, 10)
    assert not over_size("€" * 3, 9)
    assert over_size("€" * 4, 9)  # 4 characters, 12 bytes
