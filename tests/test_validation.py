"""Reference validation with jsonschema, and its agreement with the generated models."""

from __future__ import annotations

import gc
import io
import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from pydantic import ValidationError

from datadivr import ProtocolError
from datadivr.core import _reference
from datadivr.core._protocol import EXHAUSTIVE_ITEMS, Protocol, _few_items
from datadivr.core._violations import MAX_DETAILS
from datadivr.demo import (
    PROTOCOL,
    SceneObject,
    SceneUpdateMessage,
    SceneUpdatePayload,
    SumEventMessage,
    SumEventPayload,
    Transform,
    Vector3,
)
from datadivr.exceptions import MessageValidationError
from datadivr.validation import Validator
from datadivr.validation._capture import CaptureError, validate_capture

VALID: list[dict[str, Any]] = [
    {"event_name": "sum_event", "payload": {"numbers": [1, 2.5, -3e5]}, "to": "server", "id": "q"},
    {"event_name": "sum_handler_result", "payload": 3.5, "from_id": "server", "reply_to": "q"},
    {"event_name": "msg", "message": "hello", "to": "all"},
    {"event_name": "error", "message": "no", "payload": {"code": "invalid_json"}},
    {"event_name": "ping", "payload": {"sent_at": "2026-01-01T00:00:00Z", "nonce": None}},
    {
        "event_name": "pong",
        "payload": {"sent_at": "2026-01-01T00:00:00+02:00", "received_at": "2026-01-01T00:00:01Z"},
    },
    {
        "event_name": "scene_update",
        "payload": {
            "scene_id": "6f1c1c5e-8d7b-4b7e-9a51-3f6f2b1d9c10",
            "revision": 0,
            "objects": [
                {
                    "id": "a",
                    "kind": "light",
                    "transform": {
                        "position": {"x": 0, "y": 0, "z": 0},
                        "rotation": {"x": 0, "y": 0, "z": 0, "w": 1},
                    },
                    "color": None,
                    "opacity": 1,
                }
            ],
            "removed": ["b-2"],
        },
    },
    {"event_name": "welcome", "payload": {"client_id": "abc"}},
]

INVALID: list[tuple[dict[str, Any], str, str]] = [
    ({"event_name": "sum_event", "payload": {"numbers": ["1"]}}, "$.payload.numbers[0]", "type"),
    ({"event_name": "sum_event", "payload": {"numbers": [True]}}, "$.payload.numbers[0]", "type"),
    ({"event_name": "sum_event", "payload": {}}, "$.payload.numbers", "required"),
    (
        {"event_name": "sum_event", "payload": {"numbers": [], "x": 1}},
        "$.payload.x",
        "additionalProperties",
    ),
    (
        {"event_name": "sum_event", "payload": {"numbers": []}, "extra": 1},
        "$.extra",
        "additionalProperties",
    ),
    ({"event_name": "msg"}, "$.message", "required"),
    ({"event_name": "msg", "message": "x", "to": ""}, "$.to", "minLength"),
    (
        {"event_name": "error", "message": "x", "payload": {"code": "nope"}},
        "$.payload.code",
        "enum",
    ),
    ({"event_name": "ping", "payload": {"sent_at": "1700000000"}}, "$.payload.sent_at", "format"),
    (
        {"event_name": "ping", "payload": {"sent_at": "2026-01-01T00:00:00Z", "nonce": "a b"}},
        "$.payload.nonce",
        "pattern",
    ),
    (
        {"event_name": "welcome", "payload": {"client_id": "x", "schema_hash": None}},
        "$.payload.schema_hash",
        "type",
    ),
    (
        {
            "event_name": "scene_update",
            "payload": {"scene_id": "not-a-uuid", "revision": 0, "objects": []},
        },
        "$.payload.scene_id",
        "format",
    ),
    (
        {
            "event_name": "scene_update",
            "payload": {
                "scene_id": "6f1c1c5e-8d7b-4b7e-9a51-3f6f2b1d9c10",
                "revision": -1,
                "objects": [],
            },
        },
        "$.payload.revision",
        "minimum",
    ),
]


@pytest.fixture(scope="module")
def validator() -> Validator:
    return Validator()


def test_every_event_has_a_valid_sample() -> None:
    assert {m["event_name"] for m in VALID} == set(PROTOCOL.events)


@pytest.mark.parametrize("message", VALID, ids=lambda m: m["event_name"])
def test_valid_messages_pass_both(validator: Validator, message: dict[str, Any]) -> None:
    report = validator.validate(message)
    assert report.valid, report.violations
    assert report.event_name == message["event_name"]
    assert validator.validate(json.dumps(message)).valid
    assert validator.validate(json.dumps(message).encode()).valid
    PROTOCOL.validate(message)  # the generated models agree


@pytest.mark.parametrize(("message", "path", "keyword"), INVALID, ids=lambda x: str(x)[:40])
def test_invalid_messages_fail_both(
    validator: Validator, message: dict[str, Any], path: str, keyword: str
) -> None:
    report = validator.validate(message)
    assert not report.valid
    assert (path, keyword) in [(v.path, v.kind) for v in report.violations], report.violations
    with pytest.raises(ProtocolError):
        PROTOCOL.validate(message)


@pytest.mark.parametrize(
    ("raw", "path", "keyword"),
    [
        ("not json", "$", "json"),
        ("[1]", "$", "type"),
        ("{}", "$.event_name", "required"),
        ('{"event_name": "nope"}', "$.event_name", "enum"),
        ('{"event_name": 5}', "$.event_name", "type"),
        ('{"event_name": null}', "$.event_name", "type"),
    ],
)
def test_frames_that_are_not_messages(
    validator: Validator, raw: str, path: str, keyword: str
) -> None:
    report = validator.validate(raw)
    assert [(v.path, v.kind) for v in report.violations] == [(path, keyword)]
    assert report.as_dict()["valid"] is False


def test_capture_report(validator: Validator, tmp_path: Path) -> None:
    capture = tmp_path / "capture.jsonl"
    lines = [json.dumps(m) for m in VALID] + ["", "oops", json.dumps(INVALID[0][0])]
    capture.write_text("\n".join(lines) + "\n")
    out = io.StringIO()
    summary = validate_capture(str(capture), validator, out, show_progress=True)
    assert (summary.messages, summary.invalid) == (len(VALID) + 2, 2)
    text = out.getvalue().splitlines()
    assert text[0].startswith(f"line {len(VALID) + 2}: ?: $: not valid JSON")
    assert text[1].startswith(f"line {len(VALID) + 3}: sum_event: $.payload.numbers[0]:")
    assert text[-1] == f"{len(VALID) + 2} messages: {len(VALID)} valid, 2 invalid"

    out = io.StringIO()
    validate_capture(str(capture), validator, out, fmt="json")
    data = json.loads(out.getvalue())
    assert [r["line"] for r in data["results"]] == [len(VALID) + 2, len(VALID) + 3]
    assert data["summary"]["invalid"] == 2
    assert data["summary"]["violations_per_kind"] == {"json": 1, "type": 1}


def test_unreadable_captures(validator: Validator, tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match="cannot read"):
        validate_capture(str(tmp_path / "missing.jsonl"), validator, io.StringIO())
    binary = tmp_path / "binary.jsonl"
    binary.write_bytes(b'{"event_name": "msg", "message": "x"}\n\xff\xfe\n')
    with pytest.raises(CaptureError, match="line 2 is not UTF-8"):
        validate_capture(str(binary), validator, io.StringIO())


class TestBoundedCost:
    """Refusing a frame costs what the frame costs, not what its number of failures costs."""

    @staticmethod
    def flood(elements: int) -> str:
        payload = {"numbers": [""] * elements}
        return json.dumps({"event_name": "sum_event", "payload": payload})

    @pytest.fixture
    def errors_built(self, monkeypatch: pytest.MonkeyPatch) -> list[int]:
        """The number of errors pydantic built for each frame refused."""
        counts: list[int] = []
        classify = Protocol._classify

        def counting(self: Protocol, exc: ValidationError, *args: Any, **kwargs: Any) -> Any:
            counts.append(exc.error_count())
            return classify(self, exc, *args, **kwargs)

        monkeypatch.setattr(Protocol, "_classify", counting)
        return counts

    def test_models_pydantic_cannot_rebuild_are_checked_once(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def refuse(node: Any, shadows: Any) -> Any:
            raise TypeError("not rebuildable")

        monkeypatch.setattr("datadivr.core._protocol._fail_fast_schema", refuse)
        protocol = Protocol.build(
            PROTOCOL.events.values(),
            PROTOCOL.adapter,
            schema_hash=PROTOCOL.schema_hash,
            package=PROTOCOL.package,
        )
        numbers = json.dumps({"event_name": "sum_event", "payload": {"numbers": [1] * 5000}})
        assert isinstance(protocol.parse(numbers), SumEventMessage)
        with pytest.raises(MessageValidationError) as caught:
            protocol.parse(self.flood(5000))
        assert len(caught.value.details) == MAX_DETAILS  # every failure built, 100 kept

    @pytest.mark.parametrize("elements", [100_000, 200_000])
    def test_many_wrong_elements_build_few_errors(
        self, errors_built: list[int], elements: int
    ) -> None:
        with pytest.raises(MessageValidationError) as caught:
            PROTOCOL.parse(self.flood(elements))
        assert caught.value.code == "validation_error"
        assert 1 <= len(caught.value.details) <= MAX_DETAILS
        assert caught.value.details[0].path == "$.payload.numbers[0]"
        assert str(caught.value).endswith("(and maybe more)")
        # Fail-fast: as many errors for 200,000 wrong elements as for 100,000 (and no full
        # validation ran after it), against 100,000 errors before.
        assert errors_built == [1]

    def test_a_small_frame_gets_the_reference_validators_report(
        self, errors_built: list[int]
    ) -> None:
        frame = self.flood(EXHAUSTIVE_ITEMS // 2)
        with pytest.raises(MessageValidationError) as caught:
            PROTOCOL.parse(frame)
        assert errors_built == [EXHAUSTIVE_ITEMS // 2]
        assert list(caught.value.details) == list(Validator().validate(frame).violations)
        assert len(caught.value.details) == MAX_DETAILS
        # The reference validator stops after MAX_DETAILS + 1 failures: the rest is not counted.
        assert str(caught.value).endswith(f"(and at least {MAX_DETAILS - 3} more)")

    def test_a_large_valid_frame_is_parsed(self) -> None:
        frame = json.dumps({"event_name": "sum_event", "payload": {"numbers": [1.5] * 100_000}})
        message = PROTOCOL.parse(frame)
        assert isinstance(message, SumEventMessage)
        assert type(message.payload) is SumEventPayload

    def test_the_reference_validator_takes_the_first_violations_only(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        validator = Validator()
        taken = 0
        real = _reference.Draft.iter_errors

        def counting(self: Draft202012Validator, instance: Any) -> Any:
            nonlocal taken
            for error in real(self, instance):
                taken += 1
                yield error

        monkeypatch.setattr(_reference.Draft, "iter_errors", counting)
        report = validator.validate(self.flood(100_000))
        assert len(report.violations) == MAX_DETAILS
        assert report.truncated
        assert report.as_dict()["truncated"] is True
        assert taken == MAX_DETAILS + 1  # not 100,000


class TestLargeFrames:
    """A frame of more than EXHAUSTIVE_ITEMS items is parsed in one fail-fast pass, into the
    generated models, with the garbage collector held off meanwhile."""

    @staticmethod
    def scene(objects: int, **change: Any) -> str:
        item = {
            "id": "a",
            "kind": "cube",
            "transform": {
                "position": {"x": 0, "y": 1.5, "z": -2},
                "rotation": {"x": 0, "y": 0, "z": 0, "w": 1},
                "scale": {"x": 1, "y": 1, "z": 1},
            },
            "label": "a cube",
            "opacity": 0.5,
        }
        payload = {
            "scene_id": "6f1c1c5e-8d7b-4b7e-9a51-3f6f2b1d9c10",
            "revision": 7,
            "objects": [item] * objects,
            **change,
        }
        return json.dumps({"event_name": "scene_update", "payload": payload, "to": "all"})

    def test_one_pass_into_the_generated_models(self) -> None:
        calls: list[str] = []

        class Counted:
            """The adapter's validator, counting its calls."""

            def __init__(self, validator: Any) -> None:
                self.validator = validator

            def validate_json(self, *args: Any, **kwargs: Any) -> Any:
                calls.append("adapter")
                return self.validator.validate_json(*args, **kwargs)

        class Adapter:
            core_schema = PROTOCOL.adapter.core_schema
            validator = Counted(PROTOCOL.adapter.validator)

            def validate_json(self, *args: Any, **kwargs: Any) -> Any:
                return self.validator.validate_json(*args, **kwargs)

        protocol = Protocol.build(
            PROTOCOL.events.values(),
            Adapter(),  # type: ignore[arg-type]
            schema_hash=PROTOCOL.schema_hash,
            package=PROTOCOL.package,
        )
        frame = self.scene(1000)
        assert not _few_items(frame, EXHAUSTIVE_ITEMS)
        message = protocol.parse(frame)
        assert calls == []  # the fail-fast validator alone
        assert message == PROTOCOL.adapter.validate_json(frame, by_alias=True, by_name=False)
        assert type(message) is SceneUpdateMessage
        assert type(message.payload) is SceneUpdatePayload
        first = message.payload.objects[0]
        assert type(first) is SceneObject
        assert type(first.transform) is Transform
        assert type(first.transform.scale) is Vector3
        assert json.loads(message.to_json()) == json.loads(frame)
        assert SceneObject.__pydantic_complete__ is True
        protocol.parse(self.scene(2))
        assert calls == ["adapter"]  # a small frame: the adapter's, every failure reported

    def test_no_collection_while_a_large_frame_is_parsed(self) -> None:
        frame = self.scene(1000)
        PROTOCOL.parse(frame)  # the fail-fast validator built
        collections: list[int] = []

        def started(phase: str, info: dict[str, Any]) -> None:
            if phase == "start":
                collections.append(info["generation"])

        gc.collect()
        gc.callbacks.append(started)
        try:
            message = PROTOCOL.parse(frame)
            # Read before anything else is allocated: the next allocation may well start the
            # collection that was held off.
            during = len(collections)
            assert during == 0
            assert gc.isenabled()
        finally:
            gc.callbacks.remove(started)
        assert len(message.payload.objects) == 1000

    @pytest.mark.parametrize("enabled", [True, False])
    def test_the_collector_is_left_as_it_was(self, enabled: bool) -> None:
        broken = self.scene(1000, revision=-1)
        was = gc.isenabled()
        if not enabled:
            gc.disable()
        try:
            PROTOCOL.parse(self.scene(1000))
            assert gc.isenabled() is enabled
            with pytest.raises(MessageValidationError) as caught:
                PROTOCOL.parse(broken)
            assert gc.isenabled() is enabled
        finally:
            if was:
                gc.enable()
        assert [d.path for d in caught.value.details] == ["$.payload.revision"]


# -- the one builder of validation-error text, the one map of frame faults to codes -----------


def test_invalid_text_names_three_failures_and_counts_the_rest() -> None:
    from datadivr.core._protocol import invalid_text
    from datadivr.exceptions import Violation

    details = [Violation(f"$.payload.numbers[{i}]", "Input should be a number") for i in range(5)]
    assert invalid_text("'sum_event' message", details[:1]) == (
        "invalid 'sum_event' message: $.payload.numbers[0]: Input should be a number"
    )
    assert invalid_text("'sum_event' message", details).endswith(
        "$.payload.numbers[2]: Input should be a number (and 2 more)"
    )
    assert invalid_text("X", details[:3], total=10).endswith(" (and 7 more)")
    assert invalid_text("X", details[:1], exhaustive=False).endswith(" (and maybe more)")
    assert invalid_text("X", details, total=9, exhaustive=False).endswith(" (and at least 6 more)")


def test_the_parser_factory_and_client_share_the_words() -> None:
    from datadivr.demo import Client, create_message

    frame = {"event_name": "sum_event", "payload": {"numbers": ["1", "2", "3", "4"]}}
    with pytest.raises(MessageValidationError) as parsed:
        PROTOCOL.validate(frame)
    with pytest.raises(MessageValidationError) as created:
        create_message("sum_event", frame["payload"])
    # A frame's failures are the reference validator's; a message built locally gets the
    # models' translated: the same places and keywords, in the models' words.
    assert str(created.value).endswith(" (and 1 more)")
    assert str(parsed.value).endswith(" (and 1 more)")
    assert [(d.path, d.kind) for d in parsed.value.details] == [
        (d.path, d.kind) for d in created.value.details
    ]
    client = Client("ws://127.0.0.1:1/ws")
    with pytest.raises(MessageValidationError) as built:
        client.build_payload(SumEventPayload, frame["payload"])
    assert str(built.value).startswith("invalid SumEventPayload: $.payload.numbers[0]: ")
    assert built.value.details == created.value.details


@pytest.mark.parametrize(
    ("fault", "code", "kind"),
    [
        ("NOT_JSON", "invalid_json", ProtocolError),
        ("NOT_OBJECT", "invalid_message", ProtocolError),
        ("NO_EVENT_NAME", "invalid_message", ProtocolError),
        ("UNKNOWN_EVENT", "unknown_event", ProtocolError),
        ("WRONG_DIRECTION", "wrong_direction", ProtocolError),
        ("SCHEMA", "validation_error", MessageValidationError),
    ],
)
def test_frame_error_maps_each_fault_to_its_code(fault: str, code: str, kind: type) -> None:
    from datadivr.core._protocol import FrameFault, frame_error

    error = frame_error(FrameFault[fault], "text", event_name="e")
    assert (error.code, error.message, error.event_name) == (code, "text", "e")
    assert type(error) is kind


@pytest.mark.parametrize(
    "frame",
    [
        "{not json",
        "[1]",
        "{}",
        '{"event_name": 5}',
        '{"event_name": null}',
        '{"event_name": ["sum_event"]}',
        '{"event_name": "nope"}',
        '{"event_name": "sum_event", "payload": {"numbers": ["1"]}}',
        '{"event_name": "sum_event", "payload": {"numbers": [1]}, "to": 5}',
        '{"event_name": "sum_event", "payload": {"numbers": [NaN]}}',
        '{"event_name": "sum_event", "payload": {"numbers": [-Infinity]}}',
        '{"event_name": "sum_event", "payload": {"numbers": [1e400]}}',
        '{"event_name": "msg", "payload": null, "message": "half a pair: \\ud800"}',
    ],
)
def test_server_and_proxy_give_a_bad_frame_the_same_answer(frame: str) -> None:
    """The validating proxy answers a bad frame with the error the server builds for it: the
    same bytes."""
    from datadivr.core._hub import error_frame, refused_id
    from datadivr.validation._proxy import UPSTREAM, ValidatingProxy

    with pytest.raises(ProtocolError) as server:
        PROTOCOL.parse(frame)
    proxy = ValidatingProxy("ws://127.0.0.1:1/ws", protocol=PROTOCOL)
    report = proxy.check(frame, UPSTREAM)
    assert not report.valid
    answer = error_frame(proxy.refusal(frame, report), to="c", reply_to=refused_id(frame))
    assert answer == error_frame(server.value, to="c", reply_to=refused_id(frame))
    if server.value.code != "invalid_json":
        # What the proxy checked is what the server reports.
        assert list(server.value.details) == list(report.violations)
    else:
        assert [v.kind for v in report.violations] == ["json"]


@pytest.mark.parametrize(
    ("frame", "kind"),
    [
        ('{"event_name": "sum_event", "payload": {"numbers": [NaN]}}', "json"),
        ('{"event_name": "msg", "payload": null, "message": "\\udc00 alone"}', "json"),
        ('{"event_name": "sum_event", "payload": {"numbers": [1e400]}}', "type"),
    ],
)
def test_what_only_a_lenient_reader_takes_is_refused_alike(
    validator: Validator, frame: str, kind: str
) -> None:
    """NaN and half a surrogate pair are no JSON (RFC 8259) on any surface, though Python's
    reader takes them; a number too large for a float is no finite number."""
    report = validator.validate(frame)
    assert [v.kind for v in report.violations] == [kind]
    refusal = PROTOCOL.refusal(frame)
    assert refusal is not None
    assert refusal.code == ("invalid_json" if kind == "json" else "validation_error")


def test_proxy_answers_a_wrong_direction_as_the_server_does() -> None:
    from datadivr.validation._proxy import UPSTREAM, ValidatingProxy

    frame = '{"event_name": "sum_handler_result", "payload": 3}'
    proxy = ValidatingProxy("ws://127.0.0.1:1/ws", protocol=PROTOCOL)
    error = proxy.refusal(frame, proxy.check(frame, UPSTREAM))
    assert (error.code, error.message, error.event_name, error.details) == (
        "wrong_direction",
        "clients may not send 'sum_handler_result' (server_to_client)",
        "sum_handler_result",
        (),
    )


def _nested(depth: int, inner: Any = "x") -> Any:
    for _ in range(depth):
        inner = [inner]
    return inner


def test_a_value_nested_deeper_than_the_stack_is_refused_not_a_crash(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    validator = Validator()
    frame = {"event_name": "sum_event", "payload": {"numbers": [_nested(5000)]}}
    # Whether jsonschema runs out of stack on it depends on how deep the caller's stack is.
    assert not validator.validate(frame).valid

    def too_deep(self: Any, instance: Any, _schema: Any = None) -> Any:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(_reference.Draft, "iter_errors", too_deep)
    report = validator.validate(frame)
    assert not report.valid
    assert [(v.path, v.kind) for v in report.violations] == [("$", "depth")]
    # An event name that is such a value is named by its type.
    report = validator.validate({"event_name": _nested(5000), "payload": None})
    assert report.violations[0].reason == "'event_name' must be a string, not an array"
