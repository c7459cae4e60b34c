"""The protocol core without sockets: parse, validate, stamp, dispatch, route."""

from __future__ import annotations

import json
from typing import Any

import pytest

from datadivr import (
    Broadcast,
    Direct,
    HandlerContext,
    HandlerError,
    HandlerType,
    Hub,
    Registry,
    Route,
)
from datadivr.demo import (
    PROTOCOL,
    MsgMessage,
    SumEventMessage,
    SumHandlerResultMessage,
    websocket_handler,
)
from datadivr.server._builtin import builtin_registry


class Wire:
    """An in-memory transport: records what the hub delivers."""

    def __init__(self) -> None:
        self.sent: list[tuple[Route, dict[str, Any]]] = []

    def __call__(self, route: Route, data: str) -> None:
        self.sent.append((route, json.loads(data)))

    def take(self) -> list[tuple[Route, dict[str, Any]]]:
        sent, self.sent = self.sent, []
        return sent


@pytest.fixture
def wire() -> Wire:
    return Wire()


@pytest.fixture
def hub(wire: Wire, registry: Registry) -> Hub:
    return Hub(PROTOCOL, registry.merged(builtin_registry), wire)


def connect(hub: Hub, wire: Wire, client_id: str) -> str:
    hub.connect(client_id=client_id)
    [(route, welcome)] = wire.take()
    assert route == Direct(client_id)
    assert welcome["event_name"] == "welcome"
    assert welcome["payload"] == {
        "client_id": client_id,
        "schema_hash": PROTOCOL.schema_hash,
        "fingerprint": PROTOCOL.fingerprint,
    }
    PROTOCOL.validate(welcome)
    return client_id


def frame(**data: Any) -> str:
    return json.dumps(data)


def error_of(sent: list[tuple[Route, dict[str, Any]]], client_id: str) -> dict[str, Any]:
    assert len(sent) == 1, sent
    route, message = sent[0]
    assert route == Direct(client_id)
    assert message["event_name"] == "error"
    assert message["from_id"] == "server"
    PROTOCOL.validate(message)  # every error the server sends is valid against the schema
    return message


class TestMembership:
    def test_connect_assigns_unique_ids(self, hub: Hub, wire: Wire) -> None:
        ids = {hub.connect() for _ in range(50)}
        assert len(ids) == 50
        assert len(hub) == 50
        assert all(client_id in hub for client_id in ids)

    @pytest.mark.parametrize("reserved", ["all", "others", "server"])
    def test_reserved_ids_are_refused(self, hub: Hub, reserved: str) -> None:
        with pytest.raises(ValueError, match="reserved"):
            hub.connect(client_id=reserved)

    def test_disconnect_is_idempotent(self, hub: Hub, wire: Wire) -> None:
        connect(hub, wire, "a")
        hub.disconnect("a")
        hub.disconnect("a")
        assert "a" not in hub
        assert list(hub) == []


class TestRelay:
    @pytest.fixture(autouse=True)
    def clients(self, hub: Hub, wire: Wire) -> None:
        for client_id in ("a", "b", "c"):
            connect(hub, wire, client_id)

    async def test_others_is_the_default_and_excludes_the_sender(
        self, hub: Hub, wire: Wire
    ) -> None:
        await hub.receive("a", frame(event_name="msg", message="hi"))
        [(route, message)] = wire.take()
        assert route == Broadcast(exclude="a")
        assert message == {"event_name": "msg", "message": "hi", "from_id": "a"}

    async def test_all_includes_the_sender(self, hub: Hub, wire: Wire) -> None:
        await hub.receive("a", frame(event_name="msg", message="hi", to="all"))
        [(route, message)] = wire.take()
        assert route == Broadcast()
        assert message["to"] == "all"

    async def test_a_client_id_reaches_that_client(self, hub: Hub, wire: Wire) -> None:
        await hub.receive("a", frame(event_name="msg", message="hi", to="c"))
        [(route, message)] = wire.take()
        assert route == Direct("c")
        assert message["from_id"] == "a"

    async def test_from_id_is_overwritten(self, hub: Hub, wire: Wire) -> None:
        await hub.receive("a", frame(event_name="msg", message="hi", from_id="b", to="all"))
        [(_, message)] = wire.take()
        assert message["from_id"] == "a"

    async def test_unknown_recipient_gets_an_error(self, hub: Hub, wire: Wire) -> None:
        await hub.receive("a", frame(event_name="msg", message="hi", to="zz", id="m1"))
        error = error_of(wire.take(), "a")
        assert error["payload"]["code"] == "unknown_recipient"
        assert error["reply_to"] == "m1"
        assert "zz" in error["message"]

    async def test_a_relay_event_without_handler_to_server_is_refused(
        self, hub: Hub, wire: Wire
    ) -> None:
        await hub.receive("a", frame(event_name="msg", message="hi", to="server"))
        assert error_of(wire.take(), "a")["payload"]["code"] == "no_handler"

    async def test_a_departed_client_is_unknown(self, hub: Hub, wire: Wire) -> None:
        hub.disconnect("c")
        await hub.receive("a", frame(event_name="msg", message="hi", to="c"))
        assert error_of(wire.take(), "a")["payload"]["code"] == "unknown_recipient"

    async def test_scene_update_relays_nested_payloads_unchanged(
        self, hub: Hub, wire: Wire
    ) -> None:
        payload = {
            "scene_id": "6f1c1c5e-8d7b-4b7e-9a51-3f6f2b1d9c10",
            "revision": 3,
            "objects": [
                {
                    "id": "cube-1",
                    "kind": "cube",
                    "transform": {
                        "position": {"x": 1.5, "y": 0.0, "z": -2.0},
                        "rotation": {"x": 0.0, "y": 0.0, "z": 0.0, "w": 1.0},
                    },
                    "color": None,
                }
            ],
        }
        await hub.receive("a", frame(event_name="scene_update", payload=payload, to="b"))
        [(route, message)] = wire.take()
        assert route == Direct("b")
        assert message["payload"] == payload


class TestErrors:
    @pytest.fixture(autouse=True)
    def client(self, hub: Hub, wire: Wire) -> None:
        connect(hub, wire, "a")

    @pytest.mark.parametrize(
        ("raw", "code"),
        [
            ("not json", "invalid_json"),
            ("", "invalid_json"),
            ("[1, 2]", "invalid_message"),
            ('"text"', "invalid_message"),
            ("42", "invalid_message"),
            ("{}", "invalid_message"),
            ('{"event_name": "nope"}', "unknown_event"),
            ('{"event_name": 5}', "invalid_message"),
            ('{"event_name": "msg"}', "validation_error"),
            ('{"event_name": "sum_event", "payload": {"numbers": ["1"]}}', "validation_error"),
            ('{"event_name": "sum_event", "payload": {"numbers": [true]}}', "validation_error"),
            (
                '{"event_name": "sum_event", "payload": {"numbers": [1], "x": 1}}',
                "validation_error",
            ),
            (
                '{"event_name": "sum_event", "payload": {"numbers": [1]}, "extra": 1}',
                "validation_error",
            ),
            (
                '{"event_name": "sum_event", "payload": {"numbers": [1]}, "to": 5}',
                "validation_error",
            ),
            ('{"event_name": "sum_event", "payload": {"numbers": [1e999]}}', "validation_error"),
            ('{"event_name": "sum_event", "payload": {"numbers": [NaN]}}', "invalid_json"),
            ('{"event_name": "ping", "payload": {"sent_at": "yesterday"}}', "validation_error"),
            ('{"event_name": "sum_handler_result", "payload": 1}', "wrong_direction"),
            (
                '{"event_name": "error", "message": "x", "payload": {"code": "internal_error"}}',
                "wrong_direction",
            ),
            ('{"event_name": "welcome", "payload": {"client_id": "x"}}', "wrong_direction"),
            ("[" * 10_000 + "]" * 10_000, "invalid_json"),
        ],
    )
    async def test_bad_frames_get_a_typed_error(
        self, hub: Hub, wire: Wire, raw: str, code: str
    ) -> None:
        await hub.receive("a", raw)
        assert error_of(wire.take(), "a")["payload"]["code"] == code

    async def test_validation_errors_carry_the_json_path(self, hub: Hub, wire: Wire) -> None:
        await hub.receive(
            "a",
            frame(event_name="sum_event", payload={"numbers": [1, "2", True]}, id="req-7"),
        )
        error = error_of(wire.take(), "a")
        assert error["reply_to"] == "req-7"
        assert error["payload"]["event_name"] == "sum_event"
        paths = [d["path"] for d in error["payload"]["details"]]
        assert paths == ["$.payload.numbers[1]", "$.payload.numbers[2]"]
        assert all(d["reason"] for d in error["payload"]["details"])

    async def test_missing_fields_are_named(self, hub: Hub, wire: Wire) -> None:
        await hub.receive("a", frame(event_name="sum_event", payload={}))
        details = error_of(wire.take(), "a")["payload"]["details"]
        assert details == [
            {
                "path": "$.payload.numbers",
                "reason": "'numbers' is a required property",
                "kind": "required",
            }
        ]

    async def test_unknown_event_lists_the_known_ones(self, hub: Hub, wire: Wire) -> None:
        await hub.receive("a", frame(event_name="nope"))
        error = error_of(wire.take(), "a")
        assert error["payload"]["event_name"] == "nope"
        assert "sum_event" in error["payload"]["details"][0]["reason"]


class TestHandlers:
    @pytest.fixture(autouse=True)
    def clients(self, hub: Hub, wire: Wire) -> None:
        connect(hub, wire, "a")
        connect(hub, wire, "b")

    async def test_builtin_sum_answers_the_sender(self, hub: Hub, wire: Wire) -> None:
        await hub.receive("a", frame(event_name="sum_event", payload={"numbers": [1, 2.5]}, id="q"))
        [(route, message)] = wire.take()
        assert route == Direct("a")
        assert message == {
            "event_name": "sum_handler_result",
            "payload": 3.5,
            "to": "a",
            "reply_to": "q",
            "from_id": "server",
        }
        assert isinstance(PROTOCOL.validate(message), SumHandlerResultMessage)

    async def test_overflowing_sum_is_an_error_not_infinity(self, hub: Hub, wire: Wire) -> None:
        await hub.receive("a", frame(event_name="sum_event", payload={"numbers": [1e308, 1e308]}))
        error = error_of(wire.take(), "a")
        assert error["payload"]["code"] == "handler_error"

    async def test_ping_gets_a_pong(self, hub: Hub, wire: Wire) -> None:
        sent_at = "2026-01-02T03:04:05+00:00"
        await hub.receive(
            "a", frame(event_name="ping", payload={"sent_at": sent_at, "nonce": "n1"})
        )
        [(route, message)] = wire.take()
        assert route == Direct("a")
        pong = PROTOCOL.validate(message)
        assert pong.event_name == "pong"
        assert message["payload"]["nonce"] == "n1"
        assert message["payload"]["sent_at"].startswith("2026-01-02T03:04:05")

    async def test_application_handler_takes_precedence(
        self, hub: Hub, wire: Wire, registry: Registry
    ) -> None:
        @websocket_handler("sum_event", HandlerType.SERVER, registry=registry)
        async def doubled(message: SumEventMessage) -> SumHandlerResultMessage:
            return SumHandlerResultMessage(payload=2 * sum(message.payload.numbers))

        hub.registry = registry.merged(builtin_registry)
        await hub.receive("a", frame(event_name="sum_event", payload={"numbers": [1, 2]}))
        [(_, message)] = wire.take()
        assert message["payload"] == 6.0

    async def test_handler_sees_the_sender_and_may_send_more(
        self, hub: Hub, wire: Wire, registry: Registry
    ) -> None:
        seen: list[tuple[str | None, str | None]] = []

        @websocket_handler("msg", HandlerType.SERVER, registry=registry)
        async def moderate(message: MsgMessage, ctx: HandlerContext) -> MsgMessage | None:
            seen.append((message.from_id, ctx.client_id))
            await ctx.send(MsgMessage(message="notice", to="all"))
            return MsgMessage(message=message.message.upper(), to="others")

        hub.registry = registry
        await hub.receive("a", frame(event_name="msg", message="hello", from_id="forged"))
        assert seen == [("a", "a")]
        (r1, notice), (r2, shout) = wire.take()
        assert (r1, notice["message"], notice["from_id"]) == (Broadcast(), "notice", "server")
        assert (r2, shout["message"]) == (Broadcast(exclude="a"), "HELLO")

    async def test_handler_returning_none_sends_nothing(
        self, hub: Hub, wire: Wire, registry: Registry
    ) -> None:
        @websocket_handler("msg", HandlerType.SERVER, registry=registry)
        async def swallow(message: MsgMessage) -> None:
            return None

        hub.registry = registry
        await hub.receive("a", frame(event_name="msg", message="x"))
        assert wire.take() == []

    async def test_handler_error_reaches_the_sender(
        self, hub: Hub, wire: Wire, registry: Registry
    ) -> None:
        @websocket_handler("msg", HandlerType.SERVER, registry=registry)
        async def refuse(message: MsgMessage) -> None:
            raise HandlerError("not today")

        hub.registry = registry
        await hub.receive("a", frame(event_name="msg", message="x", id="m"))
        error = error_of(wire.take(), "a")
        assert (error["payload"]["code"], error["message"], error["reply_to"]) == (
            "handler_error",
            "not today",
            "m",
        )

    async def test_crashing_handler_leaks_nothing(
        self, hub: Hub, wire: Wire, registry: Registry, caplog: pytest.LogCaptureFixture
    ) -> None:
        @websocket_handler("msg", HandlerType.SERVER, registry=registry)
        async def crash(message: MsgMessage) -> None:
            raise RuntimeError("secret database password")

        hub.registry = registry
        await hub.receive("a", frame(event_name="msg", message="x"))
        error = error_of(wire.take(), "a")
        assert error["payload"]["code"] == "internal_error"
        assert "secret" not in json.dumps(error)
        [record] = [r for r in caplog.records if r.name == "datadivr.core" and r.exc_info]
        assert "secret database password" in caplog.text  # logged, with its traceback
        assert record.levelname == "ERROR"

    async def test_handler_returning_a_non_message_is_an_internal_error(
        self, hub: Hub, wire: Wire, registry: Registry
    ) -> None:
        async def wrong(message: Any) -> Any:
            return {"not": "a message"}

        registry.register("msg", HandlerType.SERVER, wrong)
        hub.registry = registry
        await hub.receive("a", frame(event_name="msg", message="x"))
        assert error_of(wire.take(), "a")["payload"]["code"] == "internal_error"

    async def test_server_send(self, hub: Hub, wire: Wire) -> None:
        hub.send(MsgMessage(message="maintenance at noon", to="all"))
        [(route, message)] = wire.take()
        assert (route, message["from_id"]) == (Broadcast(), "server")
        hub.send(MsgMessage(message="just you"), to="b")
        [(route, message)] = wire.take()
        assert (route, message["to"]) == (Direct("b"), "b")


async def test_a_refused_frame_with_a_surrogate_id_gets_no_reply_to() -> None:
    """``json.loads`` takes ``"\\udfff"``; echoing it back would make invalid JSON."""
    from datadivr.server._builtin import builtin_registry as builtins

    wire = Wire()
    hub = Hub(PROTOCOL, Registry(builtins), wire)
    connect(hub, wire, "a")
    await hub.receive("a", '{"event_name": "msg", "message": "x", "id": "\\udfff", "to": "all"}')
    error = error_of(wire.take(), "a")
    assert "reply_to" not in error
