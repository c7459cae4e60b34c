"""The generated ``asyncapi.json``: a valid AsyncAPI 3.0.0 document of the protocol.

It is checked against the official AsyncAPI 3.0.0 JSON Schema (vendored under ``asyncapi/``, see
its README), and for what that schema cannot see: every event is a message, operations follow
the directions, replies are operation replies, every ``$ref`` resolves inside the document,
and each message's payload schema accepts exactly what the bundled ``schema.json`` accepts.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator, Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT7, DRAFT202012

from datadivr.demo import PROTOCOL
from datadivr.validation import Validator
from datadivr_codegen.asyncapi import _rewrite_refs, asyncapi_document, draft7
from datadivr_codegen.bundle import protocol_bundle
from datadivr_codegen.generator import check, generate, plan
from datadivr_codegen.schema import SchemaSet, load_schema_folder
from datadivr_codegen.terms import Direction
from tests.asyncapi_parser import above_info, parse
from tests.case_protocols import generated_package

from ..test_validation import INVALID, VALID
from .conftest import CASES, PROJECT_ROOT, PROJECT_SCHEMA, case_schema, copy_case
from .test_ajv_strict import CHATROOM, broken

ASYNCAPI_DIR = Path(__file__).parent / "asyncapi"
OFFICIAL_SCHEMA = ASYNCAPI_DIR / "asyncapi-3.0.0.schema.json"
#: sha256 of ``schemas/3.0.0-without-$id.json`` in ``@asyncapi/specs`` 6.11.1, as published.
OFFICIAL_SHA256 = "abe96881dbfaad495ccbb6bd8d3fb43ca18a13b9d7564849ccb66f39d5e5b20f"
PACKAGED = PROJECT_ROOT / "src" / "datadivr" / "demo" / "asyncapi.json"
FOLDERS = {
    **{case: case_schema(case) for case in (*CASES, "server_request", "drafts", "published")},
    "project": PROJECT_SCHEMA,
    "chatroom": CHATROOM,
}
#: Folders with draft 2020-12 keywords that draft-07 says otherwise (tuples, dependencies).
CONVERTED = ("drafts", "published")
#: The server's operations on an event of each direction.
ACTIONS = {
    Direction.CLIENT_TO_SERVER: {"receive"},
    Direction.SERVER_TO_CLIENT: {"send"},
    Direction.CLIENT_TO_CLIENT: {"receive", "send"},
    Direction.BOTH: {"receive", "send"},
    # A client's answer to the server's request: the reply of the server's send operation.
    Direction.CLIENT_REPLY: set(),
}


@cache
def _schemas(folder: str) -> SchemaSet:
    return load_schema_folder(FOLDERS[folder])


@cache
def _text(folder: str) -> str:
    """The generated ``asyncapi.json`` of a folder, as the generator writes it."""
    return next(f.content for f in plan(FOLDERS[folder]).files if f.path == "asyncapi.json")


def _document(folder: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(_text(folder))
    return data


@cache
def _official() -> Draft7Validator:
    schema = json.loads(OFFICIAL_SCHEMA.read_text(encoding="utf-8"))
    Draft7Validator.check_schema(schema)
    return Draft7Validator(schema)


def _official_errors(document: dict[str, Any]) -> list[str]:
    return [f"{e.json_path}: {e.message[:200]}" for e in _official().iter_errors(document)]


def _refs(node: Any, path: str = "#") -> Iterator[tuple[str, str]]:
    """Every ``$ref`` of ``node``: (where it is, what it points to)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield path, value
            else:
                yield from _refs(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _refs(item, f"{path}/{index}")


def _resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, list):
            assert part.isdigit(), ref
            assert int(part) < len(node), ref
            node = node[int(part)]
            continue
        assert isinstance(node, dict), ref
        assert part in node, f"{ref}: no {part!r}"
        node = node[part]
    return node


# -- the official schema -----------------------------------------------------------------


def test_the_vendored_schema_is_the_published_one() -> None:
    data = OFFICIAL_SCHEMA.read_bytes()
    assert data.endswith(b"}\n")
    assert hashlib.sha256(data[:-1]).hexdigest() == OFFICIAL_SHA256
    assert (
        (ASYNCAPI_DIR / "LICENSE").read_text(encoding="utf-8").lstrip().startswith("Apache License")
    )


@pytest.mark.parametrize("folder", FOLDERS)
def test_document_is_valid_asyncapi_3(folder: str) -> None:
    assert _official_errors(_document(folder)) == []


@pytest.mark.parametrize(
    ("pointer", "value"),
    [
        (("asyncapi",), "2.6.0"),
        (("operations", "receive_sum_event", "action"), "publish"),
        (("channels", "ws", "messages", "msg"), {"payload": {"type": 3}}),
        (("components", "schemas", "Envelope", "type"), "objekt"),
        (("components", "messages", "msg", "nmae"), "msg"),
        (("info", "version"), 1),
    ],
)
def test_the_official_schema_refuses_broken_documents(
    pointer: tuple[str, ...], value: object
) -> None:
    """The validation has teeth: each of these breaks the AsyncAPI 3.0.0 rules."""
    document = _document("project")
    node = document
    for key in pointer[:-1]:
        node = node[key]
    node[pointer[-1]] = value
    assert _official_errors(document) != []


# -- what the document says --------------------------------------------------------------


@pytest.mark.parametrize("folder", FOLDERS)
def test_header_and_channel(folder: str) -> None:
    document, schemas = _document(folder), _schemas(folder)
    assert document["asyncapi"] == "3.0.0"
    fingerprint = protocol_bundle(_schemas(folder))["x-datadivr"]["fingerprint"]
    assert document["info"]["version"] == fingerprint
    assert fingerprint.startswith("fp1-")
    assert document["x-datadivr"] == {"schema_hash": schemas.digest, "fingerprint": fingerprint}
    assert document["info"]["title"]
    assert document["info"]["description"]
    assert document["defaultContentType"] == "application/json"
    assert list(document["channels"]) == ["ws"]
    assert document["channels"]["ws"]["address"] == "/ws"


@pytest.mark.parametrize("folder", FOLDERS)
def test_every_event_is_a_message(folder: str) -> None:
    document, schemas = _document(folder), _schemas(folder)
    names = [event.name for event in schemas.events]
    channel = document["channels"]["ws"]["messages"]
    assert list(channel) == names
    assert list(document["components"]["messages"]) == names
    for event in schemas.events:
        assert channel[event.name] == {"$ref": f"#/components/messages/{event.name}"}
        message = document["components"]["messages"][event.name]
        assert message["name"] == event.name
        assert message["title"] == event.message_class
        assert message.get("description", "") == event.description
        assert event.description.startswith(message.get("summary", ""))
        assert message["payload"] == {"$ref": f"#/components/schemas/{event.message_class}"}
        assert message["x-datadivr"]["direction"] == event.direction.value
        assert message["x-datadivr"]["reply"] == event.reply
        payload = _resolve(document, message["x-datadivr"]["payload"])
        if folder not in CONVERTED:
            assert payload == _rewrite_refs(event.payload_schema)


def test_summary_is_the_first_sentence() -> None:
    messages = _document("project")["components"]["messages"]
    assert messages["error"]["summary"] == "The server refused a message or failed to handle it."
    assert messages["sum_event"]["summary"] == messages["sum_event"]["description"]


@pytest.mark.parametrize("folder", FOLDERS)
def test_operations_follow_the_directions(folder: str) -> None:
    document, schemas = _document(folder), _schemas(folder)
    operations = document["operations"]
    expected = {
        f"{action}_{event.name}": (action, event.name)
        for event in schemas.events
        for action in ACTIONS[event.direction]
    }
    assert sorted(operations) == sorted(expected)
    for key, (action, name) in expected.items():
        operation = operations[key]
        assert operation["action"] == action
        assert operation["channel"] == {"$ref": "#/channels/ws"}
        assert operation["messages"] == [{"$ref": f"#/channels/ws/messages/{name}"}]
        assert operation["summary"]


def _replies(folder: str) -> dict[str, str]:
    return {
        key: op["reply"]["messages"][0]["$ref"].rpartition("/")[2]
        for key, op in _document(folder)["operations"].items()
        if "reply" in op
    }


def test_request_reply_pairs_are_operation_replies() -> None:
    # add (client_to_server) → add_result (server_to_client): the server receives and answers.
    # probe and probe_ack go both ways: whoever sends probe gets probe_ack back.
    assert _replies("reply") == {
        "receive_add": "add_result",
        "receive_probe": "probe_ack",
        "send_probe": "probe_ack",
    }
    assert _replies("project") == {
        "receive_sum_event": "sum_handler_result",
        "receive_ping": "pong",
        "send_ping": "pong",
    }
    # The server asks with charge_start (server_to_client); the client answers (client_reply).
    assert _replies("server_request") == {
        "receive_plug_in": "plug_in_result",
        "send_charge_start": "charge_start_ack",
    }
    reply = _document("reply")["operations"]["receive_add"]["reply"]
    assert reply == {
        "channel": {"$ref": "#/channels/ws"},
        "messages": [{"$ref": "#/channels/ws/messages/add_result"}],
    }


@pytest.mark.parametrize("folder", FOLDERS)
def test_every_request_has_a_reply_operation(folder: str) -> None:
    schemas, replies = _schemas(folder), _replies(folder)
    for event in schemas.events:
        if event.reply is not None:
            action = "receive" if event.direction.client_may_send else "send"
            assert replies[f"{action}_{event.name}"] == event.reply
    messages = _document(folder)["components"]["messages"]
    for key, reply in replies.items():
        request = key.partition("_")[2]
        assert messages[request]["correlationId"] == {"$ref": "#/components/correlationIds/request"}
        if schemas.event(reply).reply is None:
            assert messages[reply]["correlationId"] == {"$ref": "#/components/correlationIds/reply"}


@pytest.mark.parametrize("folder", FOLDERS)
def test_every_ref_resolves_inside_the_document(folder: str) -> None:
    document = _document(folder)
    refs = list(_refs(document))
    assert refs
    for where, ref in refs:
        assert not ref.startswith("#/$defs/"), where
        _resolve(document, ref)
    # Operations and replies point at the channel's messages, as AsyncAPI 3 requires.
    for where, ref in refs:
        if where.startswith("#/operations/") and "/messages/" in where:
            assert ref.startswith("#/channels/ws/messages/"), where


@pytest.mark.parametrize("folder", FOLDERS)
def test_component_schemas_are_the_bundle_definitions(folder: str) -> None:
    document = _document(folder)
    bundle = protocol_bundle(_schemas(folder))
    schemas = document["components"]["schemas"]
    assert list(schemas) == list(bundle["$defs"])
    back = json.loads(json.dumps(schemas).replace('"#/components/schemas/', '"#/$defs/'))
    if folder in CONVERTED:
        assert back != bundle["$defs"]
    else:
        # Nothing to say otherwise in draft-07: the definitions as they are.
        assert back == bundle["$defs"]
        assert {name: draft7(d) for name, d in bundle["$defs"].items()} == bundle["$defs"]


def test_refs_are_rewritten_in_schemas_only() -> None:
    data = {"$ref": "#/$defs/Point"}
    schema = {
        "type": "object",
        "properties": {
            "$ref": {"$ref": "#/$defs/Point"},
            "const": {"items": {"$ref": "#/$defs/Point"}, "type": "array"},
        },
        "default": data,
        "examples": [data],
        "x-note": data,
        "anyOf": [{"$ref": "#/$defs/Point"}, {"type": "null"}],
    }
    assert _rewrite_refs(schema) == {
        "type": "object",
        "properties": {
            "$ref": {"$ref": "#/components/schemas/Point"},
            "const": {"items": {"$ref": "#/components/schemas/Point"}, "type": "array"},
        },
        "default": data,
        "examples": [data],
        "x-note": data,
        "anyOf": [{"$ref": "#/components/schemas/Point"}, {"type": "null"}],
    }


# -- payload schemas ---------------------------------------------------------------------


@cache
def _payload_validators(
    folder: str = "project",
) -> tuple[dict[str, Draft7Validator], dict[str, Draft202012Validator]]:
    """Per event: the AsyncAPI message's payload schema (read as draft-07, AsyncAPI Schema's
    base) and the bundle's message schema (draft 2020-12), formats asserted in both."""
    document, bundle = _document(folder), protocol_bundle(_schemas(folder))
    asyncapi = Registry().with_resource("urn:asyncapi", DRAFT7.create_resource(document))
    published = Registry().with_resource("urn:bundle", DRAFT202012.create_resource(bundle))
    formats = Draft202012Validator.FORMAT_CHECKER
    messages = document["components"]["messages"]
    events = bundle["x-datadivr"]["events"]
    return (
        {
            name: Draft7Validator(
                {"$ref": "urn:asyncapi" + m["payload"]["$ref"]},
                registry=asyncapi,
                format_checker=formats,
            )
            for name, m in messages.items()
        },
        {
            name: Draft202012Validator(
                {"$ref": "urn:bundle" + info["schema"]}, registry=published, format_checker=formats
            )
            for name, info in events.items()
        },
    )


def _agree(folder: str, message: Any) -> bool:
    """Whether ``message`` is valid; each event's AsyncAPI payload schema and bundled message
    schema say the same of it."""
    asyncapi, bundle = _payload_validators(folder)
    valid = False
    for name in asyncapi:
        verdict = bundle[name].is_valid(message)
        assert asyncapi[name].is_valid(message) == verdict, (name, message)
        # Each message's payload is the whole message: its own event name, no other.
        if verdict:
            assert name == message["event_name"]
            valid = True
    return valid


@pytest.mark.parametrize(
    "message", [*VALID, *(m for m, _, _ in INVALID)], ids=lambda m: str(m)[:50]
)
def test_payload_schemas_agree_with_the_bundle(message: dict[str, Any]) -> None:
    assert _agree("project", message) == (message in VALID)


def _mutants(value: Any) -> Iterator[Any]:
    """Copies of ``value``, each changed in one place: an array one item longer or shorter,
    an object without one of its properties or with one more, a value of another type."""
    yield "text" if not isinstance(value, str) else 3
    if isinstance(value, list):
        yield [*value, value[0] if value else "x"]
        yield value[:-1]
        for i, item in enumerate(value):
            for mutant in _mutants(item):
                yield [*value[:i], mutant, *value[i + 1 :]]
    elif isinstance(value, dict):
        yield {**value, "zz_surplus": 1}
        for key in value:
            yield {k: v for k, v in value.items() if k != key}
            for mutant in _mutants(value[key]):
                yield {**value, key: mutant}


@pytest.mark.parametrize("folder", [*CONVERTED, "features", "project", "chatroom"])
def test_converted_payload_schemas_agree_with_the_bundle(folder: str) -> None:
    """Every example and, in each, every value changed in one way: the draft-07 payload
    schemas accept exactly what the draft 2020-12 bundle accepts."""
    bundle = protocol_bundle(_schemas(folder))
    examples = []
    for info in bundle["x-datadivr"]["events"].values():
        example = _resolve(bundle, info["schema"])["examples"][0]
        examples.append(example)
        # The payload's own examples, which use more of its schema than the message's.
        payloads = _resolve(bundle, info["payload"]).get("examples", [])
        examples += [{**example, "payload": payload} for payload in payloads]
    verdicts = []
    for example in examples:
        assert _agree(folder, example)
        for message in [*_mutants(example), *broken(example)]:
            if isinstance(message, dict) and "event_name" in message:
                verdicts.append(_agree(folder, message))
    assert True in verdicts
    assert False in verdicts


# -- generation --------------------------------------------------------------------------


def test_packaged_document_is_up_to_date() -> None:
    assert PACKAGED.read_text(encoding="utf-8") == _text("project")


def test_document_is_deterministic(tmp_path: Path) -> None:
    schemas = load_schema_folder(copy_case("features", tmp_path / "elsewhere"))
    bundle = protocol_bundle(schemas)
    before = copy.deepcopy(bundle)
    first = asyncapi_document(schemas, bundle)
    assert bundle == before  # the bundle is not changed
    assert first == asyncapi_document(schemas)
    assert json.dumps(first, indent=2, ensure_ascii=False) + "\n" == _text("features")
    assert _text("features") == next(
        f.content for f in plan(case_schema("features")).files if f.path == "asyncapi.json"
    )


def test_check_reports_a_stale_or_missing_document(tmp_path: Path) -> None:
    out = tmp_path / "out"
    generate(case_schema("reply"), out)
    target = out / "asyncapi.json"
    target.write_text(target.read_text(encoding="utf-8").replace("3.0.0", "3.0.1"), "utf-8")
    assert check(case_schema("reply"), out) == ["stale: asyncapi.json"]
    target.unlink()
    assert check(case_schema("reply"), out) == ["missing: asyncapi.json"]
    assert generate(case_schema("reply"), out).written == ("asyncapi.json",)
    assert check(case_schema("reply"), out) == []


# -- draft-07 ----------------------------------------------------------------------------

_D = "#/components/schemas/"
#: (draft 2020-12 schema, its draft-07 form, instances to try).
DRAFT7_CASES = [
    (
        {"type": "array", "prefixItems": [{"type": "string"}], "items": {"type": "integer"}},
        {"type": "array", "items": [{"type": "string"}], "additionalItems": {"type": "integer"}},
        [["a"], ["a", 1], ["a", "b"], [1], []],
    ),
    (
        {"prefixItems": [True, {"const": 1}], "items": False},
        {"items": [True, {"const": 1}], "additionalItems": False},
        [[0, 1], [0, 1, 2], [0, 2], [0]],
    ),
    (
        {"dependentRequired": {"a": ["b"]}, "dependentSchemas": {"a": {"required": ["c"]}}},
        {"dependencies": {"a": {"allOf": [{"required": ["b"]}, {"required": ["c"]}]}}},
        [{"a": 1}, {"a": 1, "b": 1}, {"a": 1, "b": 1, "c": 1}, {"b": 1}],
    ),
    (
        {"$ref": _D + "S", "maxLength": 2, "description": "d"},
        {"allOf": [{"$ref": _D + "S"}], "maxLength": 2, "description": "d"},
        ["ab", "abc", 3],
    ),
    (
        {"$ref": _D + "S", "description": "annotations only"},
        {"$ref": _D + "S", "description": "annotations only"},
        ["abc", 3],
    ),
    (
        {"properties": {"a": True}, "unevaluatedProperties": False},
        {"properties": {"a": True}, "additionalProperties": False},
        [{"a": 1}, {"b": 1}, {}],
    ),
    (
        {"prefixItems": [{"const": 1}], "unevaluatedItems": {"type": "string"}},
        {"items": [{"const": 1}], "additionalItems": {"type": "string"}},
        [[1], [1, "a"], [1, 2]],
    ),
    (
        {"contains": {"const": 1}, "minContains": 1},
        {"contains": {"const": 1}},
        [[1], [2], []],
    ),
    ({"contains": {"const": 1}, "minContains": 0}, {}, [[1], [2], []]),
    # No draft-07 equivalent: kept, and a draft-07 reader ignores it.
    (
        {"allOf": [{"properties": {"a": True}}], "unevaluatedProperties": False},
        {"allOf": [{"properties": {"a": True}}], "unevaluatedProperties": False},
        [],
    ),
]


@pytest.mark.parametrize(("schema", "expected", "instances"), DRAFT7_CASES)
def test_draft7(schema: dict[str, Any], expected: dict[str, Any], instances: list[Any]) -> None:
    before = copy.deepcopy(schema)
    assert draft7(schema) == expected
    assert schema == before
    defs = {"S": {"type": "string", "minLength": 3}}
    document = {"components": {"schemas": {**defs, "X": expected}}}
    bundle = {"$defs": {**defs, "X": _rewrite_back(schema)}}
    old = Draft7Validator(
        {"$ref": "urn:a#/components/schemas/X"},
        registry=Registry().with_resource("urn:a", DRAFT7.create_resource(document)),
    )
    new = Draft202012Validator(
        {"$ref": "urn:b#/$defs/X"},
        registry=Registry().with_resource("urn:b", DRAFT202012.create_resource(bundle)),
    )
    for instance in instances:
        assert old.is_valid(instance) == new.is_valid(instance), instance


def _rewrite_back(schema: Any) -> Any:
    return json.loads(json.dumps(schema).replace(f'"{_D}', '"#/$defs/'))


# -- the official parser -----------------------------------------------------------------


@pytest.mark.parametrize("folder", FOLDERS)
def test_the_official_parser_reads_the_document(folder: str) -> None:
    """@asyncapi/parser: nothing above "information", and its model of the channel, the
    operations with their replies and the messages with their examples is the document's."""
    document = _document(folder)
    parsed = parse(_text(folder))
    assert above_info(parsed) == []
    model = parsed["model"]
    messages = list(document["components"]["messages"])
    assert model["channels"] == {"ws": {"address": "/ws", "messages": messages}}
    assert model["servers"] == {}
    expected = {
        key: {
            "action": operation["action"],
            "channels": ["ws"],
            "messages": [operation["messages"][0]["$ref"].rpartition("/")[2]],
            "reply": (
                [operation["reply"]["messages"][0]["$ref"].rpartition("/")[2]]
                if "reply" in operation
                else None
            ),
        }
        for key, operation in document["operations"].items()
    }
    assert model["operations"] == expected
    assert list(model["messages"]) == messages
    for name, message in model["messages"].items():
        assert message["payload_type"] == "object"
        assert message["examples"] == [
            e["payload"] for e in document["components"]["messages"][name]["examples"]
        ]
        assert message["examples"], name


def test_the_official_parser_has_teeth() -> None:
    document = _document("project")
    document["operations"]["receive_ping"]["messages"] = [{"$ref": "#/components/messages/ping"}]
    codes = {d["code"] for d in above_info(parse(document))}
    assert codes == {"asyncapi3-operation-messages-from-referred-channel"}
    document = _document("project")
    del document["channels"]["ws"]["messages"]["welcome"]
    assert {d["code"] for d in above_info(parse(document))} == {"invalid-ref"}


def _protocol_of(folder: str, tmp_path: Path) -> Iterator[Any]:
    if folder == "project":
        yield PROTOCOL
        return
    with generated_package(FOLDERS[folder], tmp_path, f"gen_{folder}") as package:
        yield package.PROTOCOL


@pytest.mark.parametrize("folder", ["project", "chatroom", *CONVERTED, "reply"])
def test_every_message_has_a_valid_example(folder: str, tmp_path: Path) -> None:
    """Each message's examples, as the document lists them, are valid to the Validator."""
    for protocol in _protocol_of(folder, tmp_path):
        validator = Validator(protocol)
        for name, message in _document(folder)["components"]["messages"].items():
            assert message["examples"], name
            for example in message["examples"]:
                assert example["payload"]["event_name"] == name
                report = validator.validate(example["payload"])
                assert report.valid, (name, report.violations)
