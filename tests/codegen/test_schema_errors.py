"""Broken schema folders: a clear ``SchemaError`` naming the file, and nothing written.

Each case starts from a copy of the ``minimal`` case (``envelope.schema.json`` and
``events/hello.schema.json``) and breaks it one way.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from datadivr_codegen.errors import SchemaError
from datadivr_codegen.generator import check, generate, plan
from datadivr_codegen.schema import RESERVED_EVENT_NAMES

from .conftest import copy_case, snapshot

DRAFT = "https://json-schema.org/draft/2020-12/schema"
HELLO = "events/hello.schema.json"
ROOT = "."  # the schema folder itself


def _read(schema: Path, rel: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((schema / rel).read_text(encoding="utf-8"))
    return data


def _write(schema: Path, rel: str, data: dict[str, Any]) -> None:
    path = schema / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def _edit(schema: Path, rel: str, **changes: Any) -> None:
    _write(schema, rel, {**_read(schema, rel), **changes})


def _event(name: str, direction: str = "both", **extension: Any) -> dict[str, Any]:
    return {
        "$schema": DRAFT,
        "x-datadivr": {"event": name, "direction": direction, **extension},
        "type": "object",
        "properties": {"n": {"type": "integer"}},
        "additionalProperties": False,
    }


def _definitions(**defs: Any) -> dict[str, Any]:
    return {"$schema": DRAFT, "$defs": defs}


POINT = {"type": "object", "properties": {"x": {"type": "number"}}}


def _invalid_json(schema: Path) -> None:
    (schema / HELLO).write_text(
        '{\n  "type": "object",\n  "properties": {,}\n}\n', encoding="utf-8"
    )


def _hello_extension(**changes: Any) -> Callable[[Path], None]:
    def breaker(schema: Path) -> None:
        data = _read(schema, HELLO)
        data["x-datadivr"] = {**data["x-datadivr"], **changes}
        _write(schema, HELLO, data)

    return breaker


def _event_named(name: str) -> Callable[[Path], None]:
    return _hello_extension(event=name)


def _ref_to(ref: str, *, defs: bool = False) -> Callable[[Path], None]:
    def breaker(schema: Path) -> None:
        if defs:
            _write(schema, "definitions.schema.json", _definitions(Point=POINT))
        data = _read(schema, HELLO)
        data["properties"]["at"] = {"$ref": ref}
        _write(schema, HELLO, data)

    return breaker


def _no_envelope(schema: Path) -> None:
    (schema / "envelope.schema.json").unlink()


def _two_envelopes(schema: Path) -> None:
    (schema / "more").mkdir()
    (schema / "more" / "envelope.schema.json").write_bytes(
        (schema / "envelope.schema.json").read_bytes()
    )


def _envelope_without(field: str) -> Callable[[Path], None]:
    def breaker(schema: Path) -> None:
        data = _read(schema, "envelope.schema.json")
        del data["properties"][field]
        _write(schema, "envelope.schema.json", data)

    return breaker


def _duplicate_event(schema: Path) -> None:
    _write(schema, "events/hello_again.schema.json", _read(schema, HELLO))


def _defs_differ(schema: Path) -> None:
    _write(schema, "definitions.schema.json", _definitions(Point=POINT))
    data = _read(schema, HELLO)
    data["$defs"] = {"Point": {**POINT, "required": ["x"]}}
    data["properties"]["at"] = {"$ref": "#/$defs/Point"}
    _write(schema, HELLO, data)


def _payload_title_taken(schema: Path) -> None:
    _write(schema, "events/bar.schema.json", _event("bar"))
    _write(schema, "events/foo.schema.json", {**_event("foo"), "title": "BarPayload"})


def _message_class_taken(schema: Path) -> None:
    _write(schema, "events/bar.schema.json", _event("bar"))
    _write(schema, "events/foo.schema.json", {**_event("foo"), "title": "BarMessage"})


def _definition_named(name: str) -> Callable[[Path], None]:
    def breaker(schema: Path) -> None:
        _write(schema, "definitions.schema.json", _definitions(**{name: POINT}))

    return breaker


def _no_events(schema: Path) -> None:
    (schema / HELLO).unlink()


def _server_asks_with_reply(hello_direction: str) -> Callable[[Path], None]:
    """``ask``, an event the server sends, is answered with ``hello``."""

    def breaker(schema: Path) -> None:
        _hello_extension(direction=hello_direction)(schema)
        _write(schema, "events/ask.schema.json", _event("ask", "server_to_client", reply="hello"))

    return breaker


def _hello_answered_by_client_reply(schema: Path) -> None:
    _hello_extension(reply="answer")(schema)
    _write(schema, "events/answer.schema.json", _event("answer", "client_reply"))


@dataclass(frozen=True)
class Broken:
    breaker: Callable[[Path], None]
    #: The file the error names, relative to the schema folder (``"."``: the folder).
    file: str
    #: Fragments the message must contain.
    says: tuple[str, ...]


BROKEN = {
    "invalid-json": Broken(_invalid_json, HELLO, ("invalid JSON", "line 3, column 18")),
    "not-an-object": Broken(
        lambda s: (s / HELLO).write_text("[1, 2]\n", encoding="utf-8"),
        HELLO,
        ("must hold a JSON object",),
    ),
    "unknown-draft": Broken(
        lambda s: _edit(s, HELLO, **{"$schema": "http://json-schema.org/draft-03/schema#"}),
        HELLO,
        ("'http://json-schema.org/draft-03/schema#' names no JSON Schema draft", "draft-07"),
    ),
    "misspelt-keyword": Broken(
        lambda s: _edit(
            s,
            HELLO,
            **{"$schema": "http://json-schema.org/draft-07/schema#", "additionalproperties": True},
        ),
        HELLO,
        ("'additionalproperties'", "did you mean 'additionalProperties'?"),
    ),
    "type-is-a-number": Broken(
        lambda s: _edit(s, HELLO, properties={"name": {"type": 5}}),
        HELLO,
        ("at #/properties/name: 'type': 5 is not valid",),
    ),
    "required-not-a-list": Broken(
        lambda s: _edit(s, HELLO, required="name"),
        HELLO,
        ("at #: 'required': 'name' is not of type 'array'",),
    ),
    "ref-missing-file": Broken(
        _ref_to("../nowhere.schema.json#/$defs/Point"),
        HELLO,
        ("../nowhere.schema.json#/$defs/Point", "no such schema file"),
    ),
    "ref-missing-def": Broken(
        _ref_to("../definitions.schema.json#/$defs/Missing", defs=True),
        HELLO,
        ("definitions.schema.json has no $defs/Missing",),
    ),
    "ref-missing-local-def": Broken(
        _ref_to("#/$defs/Nope"), HELLO, ("events/hello.schema.json has no $defs/Nope",)
    ),
    "ref-remote": Broken(
        _ref_to("https://example.test/other.schema.json#/$defs/Point"),
        HELLO,
        ("no file of the folder has the $id", "remote schemas are not fetched"),
    ),
    "duplicate-event": Broken(
        _duplicate_event,
        "events/hello_again.schema.json",
        ("duplicate event name 'hello'", "also in events/hello.schema.json"),
    ),
    "unknown-direction": Broken(
        _hello_extension(direction="sideways"),
        HELLO,
        ("unknown direction 'sideways'", "client_to_server", "both"),
    ),
    "missing-direction": Broken(
        lambda s: _edit(s, HELLO, **{"x-datadivr": {"event": "hello"}}),
        HELLO,
        ("unknown direction None",),
    ),
    "event-name-with-dash": Broken(
        _event_named("Sum-Event"), HELLO, ("x-datadivr.event must be a name like", "'Sum-Event'")
    ),
    "event-name-upper-case": Broken(_event_named("Hello"), HELLO, ("'Hello'",)),
    "event-name-digit-first": Broken(_event_named("1st"), HELLO, ("'1st'",)),
    "event-name-too-long": Broken(_event_named("a" * 65), HELLO, ("must be a name like",)),
    "event-name-not-a-string": Broken(_event_named(7), HELLO, ("must be a name like", "7")),
    "event-name-keyword": Broken(_event_named("class"), HELLO, ("event name 'class' is reserved",)),
    "event-name-async": Broken(_event_named("async"), HELLO, ("'async' is reserved",)),
    "event-name-client-method": Broken(_event_named("send"), HELLO, ("'send' is reserved",)),
    "event-name-client-build": Broken(_event_named("build"), HELLO, ("'build' is reserved",)),
    "event-name-servicer-registry": Broken(
        _event_named("registry"), HELLO, ("'registry' is reserved",)
    ),
    "event-name-servicer-hook": Broken(
        _event_named("on_disconnect"), HELLO, ("'on_disconnect' is reserved",)
    ),
    "event-name-reserved-says-why": Broken(
        _event_named("state"),
        HELLO,
        (
            "event name 'state' is reserved: the generated client and servicer have a method "
            "per event, and one of this name would shadow their own methods and attributes "
            "(reserved: " + ", ".join(sorted(RESERVED_EVENT_NAMES)) + ")",
        ),
    ),
    "event-name-keyword-says-why": Broken(
        _event_named("import"), HELLO, ("'import' is reserved: it is a Python keyword",)
    ),
    "events-file-without-extension": Broken(
        lambda s: _write(s, "events/point.schema.json", _definitions(Point=POINT)),
        "events/point.schema.json",
        (
            "a file under events/ must be an event, with an 'x-datadivr' block",
            "shared definitions belong outside events/",
        ),
    ),
    "nested-events-file-without-extension": Broken(
        lambda s: _write(s, "events/shapes/point.schema.json", _definitions(Point=POINT)),
        "events/shapes/point.schema.json",
        ("a file under events/ must be an event",),
    ),
    "reply-unknown": Broken(
        _hello_extension(reply="nobody"), HELLO, ("reply event 'nobody' is not defined",)
    ),
    "reply-not-received": Broken(
        _hello_extension(reply="hello"), HELLO, ("client_to_server", "clients never receive it")
    ),
    "client-reply-answers-nothing": Broken(
        _hello_extension(direction="client_reply"),
        HELLO,
        ("'hello' is client_reply", "no event the server sends names it as its reply"),
    ),
    "server-request-reply-clients-never-send": Broken(
        _server_asks_with_reply("server_to_client"),
        "events/ask.schema.json",
        ("reply event 'hello' is server_to_client", "declare it 'client_reply'"),
    ),
    "client-reply-answers-a-client-request": Broken(
        _hello_answered_by_client_reply,
        HELLO,
        ("reply event 'answer' is client_reply", "clients never receive it"),
    ),
    "reply-bad-name": Broken(
        _hello_extension(reply="No Body"), HELLO, ("x-datadivr.reply must be an event name",)
    ),
    "unknown-extension-key": Broken(
        _hello_extension(replies="hello"),
        HELLO,
        ("unknown x-datadivr key(s) replies", "known: direction, event, message, reply"),
    ),
    "extension-not-an-object": Broken(
        lambda s: _edit(s, HELLO, **{"x-datadivr": "hello"}), HELLO, ("must be an object",)
    ),
    "bad-message-mode": Broken(
        _hello_extension(message="sometimes"),
        HELLO,
        ("x-datadivr.message must be one of: optional, required", "'sometimes'"),
    ),
    "missing-envelope": Broken(_no_envelope, ROOT, ("exactly one envelope.schema.json",)),
    "two-envelopes": Broken(
        _two_envelopes,
        ROOT,
        ("exactly one envelope.schema.json", "envelope.schema.json, more/envelope.schema.json"),
    ),
    "envelope-without-reply-to": Broken(
        _envelope_without("reply_to"), "envelope.schema.json", ("missing: reply_to",)
    ),
    "envelope-requires-more": Broken(
        lambda s: _edit(s, "envelope.schema.json", required=["event_name", "to"]),
        "envelope.schema.json",
        ("must require exactly ['event_name']",),
    ),
    "no-events": Broken(_no_events, ROOT, ("no event schema",)),
    "payload-title-collision": Broken(
        _payload_title_taken,
        "events/foo.schema.json",
        ("generated class name 'BarPayload' collides", "events/bar.schema.json"),
    ),
    "payload-title-takes-message-class": Broken(
        _message_class_taken,
        "events/foo.schema.json",
        ("generated class name 'BarMessage' collides", "events/bar.schema.json"),
    ),
    "payload-title-not-identifier": Broken(
        lambda s: _edit(s, HELLO, title="Hello Payload"),
        HELLO,
        ("class name 'Hello Payload' is not a valid identifier",),
    ),
    "payload-title-is-a-definition": Broken(
        lambda s: (
            _write(s, "definitions.schema.json", _definitions(Greeting=POINT)),
            _edit(s, HELLO, title="Greeting"),
        ),
        HELLO,
        ("'Greeting' collides with a name from definitions.schema.json",),
    ),
    "payload-title-is-a-handler": Broken(
        lambda s: (
            _write(s, "events/bar.schema.json", _event("bar")),
            _edit(s, HELLO, title="BarHandler"),
        ),
        "events/hello.schema.json",
        ("'BarHandler' collides",),
    ),
    "payload-title-is-a-handler-protocol": Broken(
        lambda s: (
            _write(s, "events/bar.schema.json", _event("bar")),
            _edit(s, HELLO, title="BarHandlerWithContext"),
        ),
        "events/hello.schema.json",
        ("'BarHandlerWithContext' collides",),
    ),
    "def-named-like-a-handler-decorator": Broken(
        _definition_named("HelloHandlerDecorator"),
        HELLO,
        ("'HelloHandlerDecorator' collides with a name from definitions.schema.json",),
    ),
    "def-named-like-a-handler": Broken(
        _definition_named("HelloHandler"),
        HELLO,
        ("'HelloHandler' collides with a name from definitions.schema.json",),
    ),
    "def-named-envelope": Broken(
        _definition_named("Envelope"), "definitions.schema.json", ("'Envelope' collides",)
    ),
    "def-named-client": Broken(
        _definition_named("Client"),
        "definitions.schema.json",
        ("definition name 'Client' collides with the generated package",),
    ),
    "def-named-protocol": Broken(
        _definition_named("PROTOCOL"), "definitions.schema.json", ("'PROTOCOL' collides",)
    ),
    "event-names-collide-as-classes": Broken(
        lambda s: _write(s, "events/hello_.schema.json", _event("hello_")),
        "events/hello_.schema.json",
        ("generated class name 'HelloPayload' collides", HELLO),
    ),
}


def _prepare(tmp_path: Path) -> tuple[Path, Path, dict[str, bytes]]:
    schema = copy_case("minimal", tmp_path / "schema")
    out = tmp_path / "out"
    out.mkdir()
    (out / "sentinel.txt").write_text("untouched\n", encoding="utf-8")
    (out / "models.py").write_text("# an old models.py\n", encoding="utf-8")
    return schema, out, snapshot(out)


@pytest.mark.parametrize("broken", [pytest.param(v, id=k) for k, v in BROKEN.items()])
def test_broken_schema_folder(broken: Broken, tmp_path: Path) -> None:
    schema, out, before = _prepare(tmp_path)
    broken.breaker(schema)

    with pytest.raises(SchemaError) as info:
        generate(schema, out)

    error = info.value
    expected_file = schema if broken.file == ROOT else Path(broken.file)
    assert error.file == expected_file
    assert str(error) == f"{expected_file}: {error.reason}"
    for fragment in broken.says:
        assert fragment in error.reason
    assert snapshot(out) == before
    # plan and check fail the same way, and write nothing either.
    with pytest.raises(SchemaError) as again:
        check(schema, out)
    assert (again.value.file, again.value.reason) == (error.file, error.reason)
    assert snapshot(out) == before


def test_invalid_json_position_is_exact(tmp_path: Path) -> None:
    schema, _, _ = _prepare(tmp_path)
    _invalid_json(schema)
    with pytest.raises(SchemaError) as info:
        plan(schema)
    with pytest.raises(json.JSONDecodeError) as decode:
        json.loads((schema / HELLO).read_text(encoding="utf-8"))
    exc = decode.value
    assert f"line {exc.lineno}, column {exc.colno}: {exc.msg}" in info.value.reason


def test_schema_folder_that_is_not_a_folder(tmp_path: Path) -> None:
    target = tmp_path / "file.json"
    target.write_text("{}", encoding="utf-8")
    with pytest.raises(SchemaError, match="not a directory") as info:
        plan(target)
    assert info.value.file == target
    with pytest.raises(SchemaError, match="not a directory"):
        plan(tmp_path / "missing")


def test_schema_error_is_a_value_error() -> None:
    error = SchemaError("broken", "events/x.schema.json")
    assert isinstance(error, ValueError)
    assert error.file == Path("events/x.schema.json")
    assert error.reason == "broken"
    assert str(error) == "events/x.schema.json: broken"
    assert str(SchemaError("no file")) == "no file"
    assert SchemaError("no file").file is None


def test_reserved_names_cover_the_client_and_the_servicer() -> None:
    """An event method must not shadow anything the generated client or servicer relies on."""
    import inspect

    from datadivr import BaseClient
    from datadivr.core._registry import ServicerBase

    client = BaseClient("ws://127.0.0.1:9/ws")
    names = {n for n in dir(client) if not n.startswith("_")}
    names |= {n for n in dir(ServicerBase) if not n.startswith("_")}
    names |= set(inspect.signature(BaseClient.__init__).parameters) - {"self"}
    # Constructor arguments kept only under a private name cannot clash.
    names -= {"headers", "inbox_size", "reconnect", "max_size"}
    assert names <= RESERVED_EVENT_NAMES
