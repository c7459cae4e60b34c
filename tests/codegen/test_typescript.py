"""The generated ``protocol.d.ts``: TypeScript declarations of the protocol, held to
``tsc --strict``.

Every schema folder's declarations compile, with a client made from the folder's own examples
(each a valid message: it sends each one a client may send, types each as its message, narrows
every frame a client may receive in an exhaustive ``switch``, and types the bundle's event
table). The demo and ``examples/chatroom`` also have a hand-written client
(``examples/typescript/client.ts``, ``typescript/chatroom.ts``) whose ``@ts-expect-error`` lines prove that wrong frames do not
compile: tsc fails on an expected error that does not happen. The translation of JSON Schema
keywords is checked on small schemas.
"""

from __future__ import annotations

import json
import re
import shutil
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from datadivr_codegen.bundle import protocol_bundle
from datadivr_codegen.generator import TYPESCRIPT, plan
from datadivr_codegen.schema import load_schema_folder
from datadivr_codegen.terms import Direction
from datadivr_codegen.typescript import typescript_declarations
from tests.typescript import assert_compiles, tsc

from .conftest import CASES_DIR, PROJECT_ROOT, PROJECT_SCHEMA

#: The typed clients whose wrong frames must not compile, by folder.
CLIENTS = {
    "demo": PROJECT_ROOT / "examples" / "typescript" / "client.ts",
    "chatroom": Path(__file__).parent / "typescript" / "chatroom.ts",
}
CHATROOM = PROJECT_ROOT / "examples" / "chatroom" / "schema"
PACKAGED = PROJECT_ROOT / "src" / "datadivr" / "demo" / TYPESCRIPT
FOLDERS = {
    "demo": PROJECT_SCHEMA,
    "chatroom": CHATROOM,
    **{case.name: case / "schema" for case in sorted(CASES_DIR.iterdir()) if case.is_dir()},
}


@cache
def _bundle(folder: str) -> dict[str, Any]:
    return protocol_bundle(load_schema_folder(FOLDERS[folder]))


@cache
def _declarations(folder: str) -> str:
    return next(f.content for f in plan(FOLDERS[folder]).files if f.path == TYPESCRIPT)


def _examples_client(bundle: dict[str, Any]) -> str:
    """A TypeScript module that uses the declarations with the bundle's example messages."""
    events: dict[str, Any] = bundle["x-datadivr"]["events"]
    lines = [
        'import type { AnyMessage, ClientFrame, EventMap, Events, ServerFrame } from "./protocol";',
        "declare function send(frame: ClientFrame): void;",
        "export const all: AnyMessage[] = [];",
    ]
    received: list[str] = []
    for i, (name, spec) in enumerate(events.items()):
        direction = Direction(spec["direction"])
        key = json.dumps(name)
        message = bundle["$defs"][spec["schema"].removeprefix("#/$defs/")]
        for example in message.get("examples", []):
            literal = json.dumps(example)
            lines.append(f"export const example{i}: EventMap[{key}] = {literal};")
            lines.append(f"all.push(example{i});")
            if direction.client_may_answer:
                lines.append(f"send({literal});")
        if direction.client_may_receive:
            received.append(
                f"    case {key}: {{\n"
                f'      const payload: EventMap[{key}]["payload"] = frame.payload;\n'
                "      return [frame.event_name, payload];\n"
                "    }\n"
            )
    if received:
        # TypeScript narrows `frame` itself only in a union of two or more frames; a single
        # one is left with `frame.event_name` narrowed.
        lines += [
            "export function receive(frame: ServerFrame): unknown {",
            "  switch (frame.event_name) {",
            *received,
            "    default: {",
            f"      const unreachable: never = {'frame' if len(received) > 1 else 'frame.event_name'};",
            "      return unreachable;",
            "    }",
            "  }",
            "}",
        ]
    else:
        lines.append("export const none: [ServerFrame] extends [never] ? true : false = true;")
    lines.append(f"export const events: Events = {json.dumps(events)};")
    return "\n".join(lines) + "\n"


def test_packaged_declarations_are_the_generated_ones() -> None:
    assert PACKAGED.read_text(encoding="utf-8") == _declarations("demo")


def test_declarations_compile_with_a_client_of_the_examples(tmp_path: Path) -> None:
    """Every folder at once (one run of tsc): tsc names the folder of each error."""
    for folder in FOLDERS:
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "protocol.d.ts").write_text(_declarations(folder), encoding="utf-8")
        client = _examples_client(_bundle(folder))
        (tmp_path / folder / "client.ts").write_text(client, encoding="utf-8")
    assert_compiles(*(f"{folder}/client.ts" for folder in FOLDERS), cwd=tmp_path)
    for folder in FOLDERS:
        code = re.sub(r"/\*\*.*?\*/", "", _declarations(folder), flags=re.S)
        assert not re.search(r"\bany\b", code), folder


@pytest.mark.parametrize("folder", ["demo", "chatroom"])
def test_typed_client_compiles_and_wrong_frames_do_not(folder: str, tmp_path: Path) -> None:
    (tmp_path / "protocol.d.ts").write_text(_declarations(folder), encoding="utf-8")
    shutil.copy(CLIENTS[folder], tmp_path / "client.ts")
    assert_compiles("client.ts", cwd=tmp_path)

    # Without its @ts-expect-error lines, the errors are on the lines they were above, and
    # only there.
    source = (tmp_path / "client.ts").read_text(encoding="utf-8")
    expected = {
        number + 1
        for number, line in enumerate(source.splitlines(), start=1)
        if "// @ts-expect-error" in line
    }
    (tmp_path / "client.ts").write_text(
        source.replace("// @ts-expect-error", "// expected error"), encoding="utf-8"
    )
    result = tsc("--strict", "--noEmit", "client.ts", cwd=tmp_path)
    errors = {
        int(line) for line in re.findall(r"^client\.ts\((\d+),\d+\): error", result.stdout, re.M)
    }
    assert errors == expected, result.stdout


def test_wrong_protocol_does_not_compile(tmp_path: Path) -> None:
    """The chatroom's client against the demo's declarations: the check can fail."""
    (tmp_path / "protocol.d.ts").write_text(_declarations("demo"), encoding="utf-8")
    shutil.copy(CLIENTS["chatroom"], tmp_path / "client.ts")
    result = tsc("--strict", "--noEmit", "client.ts", cwd=tmp_path)
    assert result.returncode != 0
    assert '"join"' in result.stdout


# The translation, keyword by keyword.


def _declare(definitions: dict[str, Any], events: dict[str, Any] | None = None) -> str:
    return typescript_declarations({"$defs": definitions, "x-datadivr": {"events": events or {}}})


def _body(text: str, name: str) -> str:
    """The declaration of ``name`` in ``text``, without its JSDoc."""
    start = text.index(f"export interface {name} ") if f"interface {name} " in text else None
    if start is None:
        start = text.index(f"export type {name} =")
    end = text.index("\n\n", start)
    return text[start:end]


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        pytest.param({}, "export type T = unknown;", id="empty"),
        pytest.param(True, "export type T = unknown;", id="true"),
        pytest.param(False, "export type T = never;", id="false"),
        pytest.param({"type": "integer"}, "export type T = number;", id="integer"),
        pytest.param({"type": ["string", "null"]}, "export type T = string | null;", id="list"),
        pytest.param({"enum": ["a", 1, None]}, 'export type T = "a" | 1 | null;', id="enum"),
        pytest.param({"const": "x"}, 'export type T = "x";', id="const"),
        pytest.param({"const": {"a": 1}}, "export type T = unknown;", id="const-object"),
        pytest.param({"type": "array"}, "export type T = unknown[];", id="array"),
        pytest.param(
            {"type": "array", "items": {"type": ["string", "null"]}},
            "export type T = Array<string | null>;",
            id="array-of-union",
        ),
        pytest.param(
            {
                "type": "array",
                "prefixItems": [{"type": "number"}, {"type": "string"}],
                "items": False,
                "minItems": 1,
            },
            "export type T = [number, string?];",
            id="tuple",
        ),
        pytest.param(
            {"type": "array", "prefixItems": [{"type": "number"}], "minItems": 1},
            "export type T = [number, ...unknown[]];",
            id="tuple-open",
        ),
        pytest.param(
            {"type": "array", "items": [{"type": "number"}], "additionalItems": False},
            "export type T = [number?];",
            id="tuple-draft-7",
        ),
        pytest.param(
            {"anyOf": [{"type": "string"}, {"type": "number"}]},
            "export type T = string | number;",
            id="anyOf",
        ),
        pytest.param(
            {"oneOf": [{"$ref": "#/$defs/U"}, {"type": "null"}]},
            "export type T = U | null;",
            id="oneOf",
        ),
        pytest.param(
            {"allOf": [{"type": ["string", "null"]}, {"type": "string"}]},
            "export type T = string;",
            id="allOf-narrows",
        ),
        pytest.param(
            {"allOf": [{"$ref": "#/$defs/U"}, {"minimum": 1}]},
            "export type T = U;",
            id="allOf-named",
        ),
        pytest.param(
            {"anyOf": [{"type": "string"}, {"$ref": "#/$defs/U"}], "required": ["a"]},
            "export type T =\n  | string\n  | {\n      a: number;\n      [key: string]: unknown;\n    };",
            id="typeless-narrows-its-kind-only",
        ),
        pytest.param(
            {"allOf": [{"type": "string"}, {"type": "number"}]},
            "export type T = never;",
            id="allOf-impossible",
        ),
        pytest.param({"not": {"type": "null"}}, "export type T = unknown;", id="not"),
        pytest.param(
            {"if": {"type": "string"}, "then": {"minLength": 1}, "else": {"type": "number"}},
            "export type T = string | number;",
            id="if-then-else",
        ),
        pytest.param({"pattern": "^a"}, "export type T = string;", id="typeless-string"),
        pytest.param(
            {"type": "object", "additionalProperties": False},
            "export interface T {\n  [key: string]: never;\n}",
            id="empty-closed",
        ),
        pytest.param(
            {"type": "object", "additionalProperties": {"type": "number"}},
            "export interface T {\n  [key: string]: number;\n}",
            id="map",
        ),
        pytest.param(
            {
                "type": "object",
                "properties": {"a": {"type": "string"}},
                "patternProperties": {"^x-": {"type": "boolean"}},
                "additionalProperties": False,
            },
            "export interface T {\n  a?: string;\n  [key: string]: boolean | string | undefined;\n}",
            id="pattern-properties",
        ),
        pytest.param(
            {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a", "b"]},
            "export interface T {\n  a: string;\n  b: unknown;\n  [key: string]: unknown;\n}",
            id="open-with-required-extra",
        ),
        pytest.param(
            {
                "type": "object",
                "properties": {"my-key": {"type": "string"}, "ok": {}},
                "additionalProperties": False,
            },
            'export interface T {\n  "my-key"?: string;\n  ok?: unknown;\n}',
            id="quoted-key",
        ),
        pytest.param(
            {"$ref": "#/$defs/U/properties/a"}, "export type T = number;", id="deep-pointer"
        ),
        pytest.param({"$ref": "https://example.com/x"}, "export type T = unknown;", id="remote"),
    ],
)
def test_keyword_translation(schema: Any, expected: str) -> None:
    text = _declare(
        {
            "T": schema,
            "U": {"type": "object", "properties": {"a": {"type": "number"}}},
        }
    )
    assert _body(text, "T") == expected
    assert "any" not in text.replace("AnyMessage", "").split()


def test_all_of_objects_merge_property_by_property() -> None:
    text = _declare(
        {
            "Base": {
                "type": "object",
                "properties": {
                    "kind": {"type": "string", "description": "The kind."},
                    "note": {"type": ["string", "null"]},
                },
                "required": ["kind"],
                "additionalProperties": False,
            },
            "T": {
                "allOf": [
                    {"$ref": "#/$defs/Base"},
                    {"properties": {"kind": {"const": "a"}, "note": {"type": "string"}}},
                    {"required": ["note"]},
                ]
            },
        }
    )
    assert _body(text, "T") == (
        'export interface T {\n  /** The kind. */\n  kind: "a";\n  note: string;\n}'
    )


def test_messages_unions_and_event_table() -> None:
    envelope = {
        "type": "object",
        "properties": {
            "event_name": {"type": "string"},
            "payload": {},
            "message": {"type": ["string", "null"]},
        },
        "required": ["event_name"],
        "additionalProperties": False,
    }

    def message(event: str, payload: str, *, text: bool = False) -> dict[str, Any]:
        properties: dict[str, Any] = {
            "event_name": {"const": event},
            "payload": {"$ref": f"#/$defs/{payload}"},
        }
        if text:
            properties["message"] = {"type": "string"}
        return {
            "allOf": [
                {"$ref": "#/$defs/Envelope"},
                {
                    "properties": properties,
                    "required": ["event_name", "payload", *(["message"] if text else [])],
                },
            ]
        }

    def event(direction: str, name: str, reply: str | None = None) -> dict[str, Any]:
        return {
            "direction": direction,
            "reply": reply,
            "message": "optional",
            "schema": f"#/$defs/{name}Message",
            "payload": f"#/$defs/{name}Payload",
        }

    text = _declare(
        {
            "Envelope": envelope,
            "AskPayload": {"type": "number"},
            "AskMessage": message("ask", "AskPayload"),
            "AnswerPayload": {"type": "boolean"},
            "AnswerMessage": message("answer", "AnswerPayload", text=True),
            "TellPayload": {"type": "null"},
            "TellMessage": message("tell", "TellPayload"),
        },
        {
            "ask": event("server_to_client", "Ask", "answer"),
            "answer": event("client_reply", "Answer"),
            "tell": event("both", "Tell"),
            # An entry with no message schema of its own: in the table, in no union.
            "nowhere": {"direction": "both", "schema": "#/elsewhere", "extra": {"a": 1}},
        },
    )
    assert _body(text, "AnswerMessage") == (
        "export interface AnswerMessage {\n"
        '  event_name: "answer";\n'
        "  payload: AnswerPayload;\n"
        "  message: string;\n"
        "}"
    )
    assert _body(text, "ClientFrame") == (
        "export type ClientFrame =\n  | AnswerMessage\n  | TellMessage;"
    )
    assert (
        _body(text, "ServerFrame") == "export type ServerFrame =\n  | AskMessage\n  | TellMessage;"
    )
    assert '  ask: {\n    direction: "server_to_client";\n    reply: "answer";\n' in text
    assert "  answer: AnswerMessage;\n" in text
    assert "  nowhere: {\n" in text
    assert "    extra: unknown;\n" in text
    assert (
        "export interface EventMap {\n"
        "  ask: AskMessage;\n  answer: AnswerMessage;\n  tell: TellMessage;\n}"
    ) in text


def test_names_that_typescript_does_not_take_are_renamed(tmp_path: Path) -> None:
    text = _declare(
        {
            "ClientFrame": {"type": "string", "description": "Taken."},
            "ClientFrame_": {"type": "number"},
            "string": {"type": "boolean"},
            "Array": {"type": "array", "items": {"type": ["string", "null"]}},
            "T": {
                "type": "object",
                "properties": {
                    "a": {"$ref": "#/$defs/ClientFrame"},
                    "b": {"$ref": "#/$defs/string"},
                },
            },
        }
    )
    assert "export type ClientFrame_ = number;" in text
    assert "export type ClientFrame__ = string;" in text
    assert "export type string_ = boolean;" in text
    assert "export type Array_ = Array<string | null>;" in text
    assert "  a?: ClientFrame__;\n  b?: string_;\n" in text
    assert "`$defs/ClientFrame` in the schema, renamed" in text
    (tmp_path / "protocol.d.ts").write_text(text, encoding="utf-8")
    assert_compiles("protocol.d.ts", cwd=tmp_path)


def test_descriptions_become_jsdoc() -> None:
    text = _declare(
        {
            "T": {
                "description": "Ends a comment: */ here.\nSecond line.",
                "type": "object",
                "properties": {
                    "old": {"type": "string", "deprecated": True, "default": "x"},
                },
            }
        }
    )
    assert "/**\n * Ends a comment: *\\/ here.\n * Second line.\n */\nexport interface T" in text
    assert '  /**\n   * @default "x"\n   * @deprecated\n   */\n  old?: string;' in text


def test_unevaluated_properties_close_the_merged_object() -> None:
    """As a bundle whose envelope is open and whose messages close it would have them."""
    text = _declare(
        {
            "Base": {"type": "object", "properties": {"a": {"type": "string"}}},
            "T": {
                "allOf": [{"$ref": "#/$defs/Base"}, {"properties": {"b": {"const": 1}}}],
                "required": ["b"],
                "unevaluatedProperties": False,
            },
        }
    )
    assert _body(text, "T") == "export interface T {\n  a?: string;\n  b: 1;\n}"


def test_recursive_definitions(tmp_path: Path) -> None:
    text = _declare(
        {
            "Tree": {
                "type": "object",
                "properties": {
                    "children": {"type": "array", "items": {"$ref": "#/$defs/Tree"}},
                    "self": {"$ref": "#/$defs/Tree/properties/children"},
                },
            },
            "Loop": {"allOf": [{"$ref": "#/$defs/Loop"}]},
        }
    )
    assert "  children?: Tree[];\n  self?: Tree[];\n" in text
    assert "export type Loop = unknown;" in text
    (tmp_path / "protocol.d.ts").write_text(text, encoding="utf-8")
    assert_compiles("protocol.d.ts", cwd=tmp_path)
