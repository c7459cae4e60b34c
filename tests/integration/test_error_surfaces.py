"""One error vocabulary on every surface: the same broken frames sent to a real server
(``datadivr serve``), through a real ``datadivr proxy --enforce`` in front of it, to
``POST /validate`` and to ``datadivr validate``.

The proxy's answer is the server's, byte for byte (but for the id of the connection it is
addressed to); the server's ``details``, ``/validate``'s and ``datadivr validate``'s
violations are the same (path, kind, reason).
"""

from __future__ import annotations

import asyncio
import importlib
import json
import shutil
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from datadivr.core._violations import MAX_DETAILS
from datadivr_codegen.generator import generate
from tests.commands import CLI_ENV, DATADIVR, proxy_listening, run_datadivr, serving
from tests.unions import ACT, ROOT

TIMEOUT = 10.0

#: A payload that is one of two values: a count or a name.
PICK = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "PickPayload",
    "description": "Pick a count or a name.",
    "x-datadivr": {"event": "pick", "direction": "client_to_server"},
    "oneOf": [{"type": "integer", "minimum": 0}, {"type": "string", "minLength": 2}],
}

UUID = "6f1c1c5e-8d7b-4b7e-9a51-3f6f2b1d9c10"


def _frame(data: Any) -> str:
    return json.dumps(data)


#: The broken frames: (what is wrong, the frame, the code the server answers it with).
BROKEN: list[tuple[str, str, str]] = [
    ("not JSON", '{"event_name": "msg", ', "invalid_json"),
    ("not an object", "[1, 2]", "invalid_message"),
    (
        "NaN is no JSON",
        '{"event_name": "sum_event", "payload": {"numbers": [NaN]}}',
        "invalid_json",
    ),
    (
        "half a surrogate pair is no JSON",
        '{"event_name": "msg", "message": "\\ud800", "id": "h1"}',
        "invalid_json",
    ),
    (
        "a number beyond a float",
        _frame({"event_name": "sum_event", "payload": {"numbers": [1]}}).replace("1]", "1e400]"),
        "validation_error",
    ),
    ("a string", '"hello"', "invalid_message"),
    ("no event_name", _frame({"payload": {}, "id": "n1"}), "invalid_message"),
    ("event_name not a string", _frame({"event_name": 5}), "invalid_message"),
    ("unknown event", _frame({"event_name": "nope", "id": "u1"}), "unknown_event"),
    (
        "wrong direction",
        _frame({"event_name": "sum_handler_result", "payload": 3, "id": "w1"}),
        "wrong_direction",
    ),
    ("missing at the top", _frame({"event_name": "msg", "id": "m1"}), "validation_error"),
    ("missing nested", _frame({"event_name": "sum_event", "payload": {}}), "validation_error"),
    (
        "extra at the top",
        _frame({"event_name": "sum_event", "payload": {"numbers": []}, "extra": 1}),
        "validation_error",
    ),
    (
        "extras nested",
        _frame({"event_name": "sum_event", "payload": {"numbers": [1], "y": 2, "x": 1}}),
        "validation_error",
    ),
    (
        "wrong types",
        _frame({"event_name": "sum_event", "payload": {"numbers": [1, "2", True, None]}}),
        "validation_error",
    ),
    (
        "wrong type in the envelope",
        _frame({"event_name": "msg", "message": "x", "to": 5}),
        "validation_error",
    ),
    (
        "below a minimum",
        _frame(
            {
                "event_name": "scene_update",
                "payload": {"scene_id": UUID, "revision": -1, "objects": []},
            }
        ),
        "validation_error",
    ),
    ("too short", _frame({"event_name": "msg", "message": "x", "to": ""}), "validation_error"),
    (
        "not in the enum",
        _frame({"event_name": "error", "message": "x", "payload": {"code": "nope"}}),
        "validation_error",
    ),
    (
        "not a uuid",
        _frame(
            {
                "event_name": "scene_update",
                "payload": {"scene_id": "scene-1", "revision": 0, "objects": []},
            }
        ),
        "validation_error",
    ),
    (
        "not a date-time",
        _frame({"event_name": "ping", "payload": {"sent_at": "yesterday"}}),
        "validation_error",
    ),
    (
        "not the pattern",
        _frame(
            {"event_name": "ping", "payload": {"sent_at": "2026-01-01T00:00:00Z", "nonce": "a b"}}
        ),
        "validation_error",
    ),
    (
        "anyOf: the closest branch",
        _frame({"event_name": "act", "payload": {"kind": "wall", "at": [1, "a"]}}),
        "validation_error",
    ),
    (
        "anyOf within anyOf",
        _frame({"event_name": "act", "payload": {"kind": "wall", "spot": {"row": 1}}}),
        "validation_error",
    ),
    ("anyOf: no branch's type", _frame({"event_name": "act", "payload": 7}), "validation_error"),
    ("oneOf: no branch", _frame({"event_name": "pick", "payload": 1.5}), "validation_error"),
    ("oneOf: a branch's bound", _frame({"event_name": "pick", "payload": -1}), "validation_error"),
    (
        "more failures than MAX_DETAILS",
        _frame({"event_name": "sum_event", "payload": {"numbers": ["x"] * (MAX_DETAILS + 50)}}),
        "validation_error",
    ),
    (
        "a huge string",
        _frame({"event_name": "sum_event", "payload": {"numbers": ["a" * 1_000_000]}, "id": "h"}),
        "validation_error",
    ),
]


@pytest.fixture(scope="module")
def protocol_folder(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The project's schemas plus an ``anyOf`` event and a ``oneOf`` one, generated into a
    package of its own: (the folder that holds it, its import name)."""
    folder = tmp_path_factory.mktemp("surfaces")
    schema = folder / "schema"
    shutil.copytree(ROOT / "schema", schema)
    (schema / "events" / "act.schema.json").write_text(json.dumps(ACT, indent=2))
    (schema / "events" / "pick.schema.json").write_text(json.dumps(PICK, indent=2))
    name = f"surfaces_{uuid.uuid4().hex}"
    generate(schema, folder / name)
    return folder, name


@asynccontextmanager
async def enforcing_proxy(upstream: str, folder: Path, name: str) -> AsyncIterator[str]:
    """``datadivr proxy --enforce`` in its own process, from the moment it listens."""
    proc = await asyncio.create_subprocess_exec(
        *DATADIVR,
        "proxy",
        "--upstream",
        upstream,
        "--listen",
        "127.0.0.1:0",
        "--enforce",
        "--protocol",
        name,
        "--log-format",
        "json",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env=CLI_ENV,
        cwd=folder,
    )
    assert proc.stderr is not None
    try:
        url = await proxy_listening(proc.stderr)

        async def drain() -> None:  # (its log must not fill the pipe)
            while await proc.stderr.readline():  # type: ignore[union-attr]
                pass

        draining = asyncio.create_task(drain())
        yield url
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), TIMEOUT)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        if "draining" in locals():
            await draining


async def _answers(url: str, frames: list[str | bytes]) -> tuple[str, list[str]]:
    """The client id a connection to ``url`` is welcomed with, and the answer to each frame."""
    answers = []
    async with websockets.connect(url, max_size=None) as ws:
        welcome = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        assert welcome["event_name"] == "welcome"
        for frame in frames:
            await ws.send(frame)
            answer = await asyncio.wait_for(ws.recv(), TIMEOUT)
            assert isinstance(answer, str)
            answers.append(answer)
    return welcome["payload"]["client_id"], answers


async def test_every_surface_reports_a_broken_frame_alike(
    protocol_folder: tuple[Path, str], tmp_path: Path
) -> None:
    folder, name = protocol_folder
    frames = [frame for _, frame, _ in BROKEN]
    # A binary frame, broken too: refused for being binary, by both.
    binary = b'{"event_name": "msg", "id": "b1"}'
    async with serving("--protocol", name, cwd=folder) as served:
        async with enforcing_proxy(served.url, folder, name) as proxy_url:
            direct_id, direct = await _answers(served.url, [*frames, binary])
            proxied_id, proxied = await _answers(proxy_url, [*frames, binary])
        http = served.url.replace("ws://", "http://").removesuffix("/ws")
        async with httpx.AsyncClient(base_url=http, timeout=TIMEOUT) as client:
            # As the frames were written (1e400 too, which Python's encoder would refuse).
            body = "[" + ", ".join(f for _, f, code in BROKEN if code != "invalid_json") + "]"
            response = await client.post(
                "/validate", content=body, headers={"Content-Type": "application/json"}
            )
            assert response.status_code == 200, response.text
            reports = iter(response.json()["reports"])
    capture = tmp_path / "capture.jsonl"
    capture.write_text("".join(frame + "\n" for frame in frames), encoding="utf-8")
    cli = run_datadivr("validate", "--format", "json", "--protocol", name, capture, cwd=folder)
    assert cli.returncode == 1, cli.stderr
    by_line = {result["line"]: result for result in json.loads(cli.stdout)["results"]}

    from_proxy, from_server = proxied.pop(), direct.pop()
    assert from_proxy == from_server.replace(json.dumps(direct_id), json.dumps(proxied_id))
    assert json.loads(from_server)["payload"] == {"code": "invalid_message"}
    for line, ((what, frame, code), server, proxy) in enumerate(
        zip(BROKEN, direct, proxied, strict=True), start=1
    ):
        # The proxy answers with the server's error: the same bytes, addressed to its client.
        assert proxy == server.replace(json.dumps(direct_id), json.dumps(proxied_id)), what
        error = json.loads(server)
        assert error["event_name"] == "error"
        assert error["payload"]["code"] == code, what
        assert len(server) < 200_000, what  # a huge value is not echoed
        sent = json.loads(frame) if code != "invalid_json" else None
        sent_id = sent.get("id") if isinstance(sent, dict) else None
        assert error.get("reply_to") == sent_id, what
        details = error["payload"].get("details", [])
        assert len(details) <= MAX_DETAILS
        if code == "wrong_direction":
            # /validate and `datadivr validate` check a message, not who sent it.
            assert not details
            assert line not in by_line, what
            assert next(reports)["valid"] is True, what
            continue
        if code == "invalid_json":
            # Nothing in the frame to point at: the message says where the parsing failed.
            assert not details
            assert by_line[line]["violations"][0]["kind"] == "json", what
            continue
        assert details, what
        assert details == by_line[line]["violations"], what
        assert details == next(reports)["violations"], what
    assert next(reports, None) is None


def test_the_answers_name_places_in_the_frame_with_keywords(
    protocol_folder: tuple[Path, str],
) -> None:
    """What the table in docs/validating.md says, for a few of the frames."""
    from datadivr.validation import Validator

    folder, name = protocol_folder
    sys.path.insert(0, str(folder))
    try:
        package = importlib.import_module(name)
        validator = Validator(package.PROTOCOL)
        places = {
            what: [(v.path, v.kind) for v in validator.validate(frame).violations]
            for what, frame, _ in BROKEN
        }
    finally:
        sys.path.remove(str(folder))
        for key in [k for k in sys.modules if k.partition(".")[0] == name]:
            del sys.modules[key]
    assert places["no event_name"] == [("$.event_name", "required")]
    assert places["event_name not a string"] == [("$.event_name", "type")]
    assert places["unknown event"] == [("$.event_name", "enum")]
    assert places["missing at the top"] == [("$.message", "required")]
    assert places["missing nested"] == [("$.payload.numbers", "required")]
    assert places["extra at the top"] == [("$.extra", "additionalProperties")]
    assert places["extras nested"] == [
        ("$.payload.x", "additionalProperties"),
        ("$.payload.y", "additionalProperties"),
    ]
    assert places["wrong types"] == [
        ("$.payload.numbers[1]", "type"),
        ("$.payload.numbers[2]", "type"),
        ("$.payload.numbers[3]", "type"),
    ]
    assert places["below a minimum"] == [("$.payload.revision", "minimum")]
    assert places["not a uuid"] == [("$.payload.scene_id", "format")]
    assert places["anyOf: the closest branch"] == [
        ("$.payload", "anyOf"),
        ("$.payload.at[1]", "type"),
    ]
    assert places["anyOf within anyOf"] == [
        ("$.payload", "anyOf"),
        ("$.payload.spot", "anyOf"),
        ("$.payload.spot.col", "required"),
    ]
    assert places["oneOf: no branch"] == [("$.payload", "oneOf"), ("$.payload", "type")]
    assert places["oneOf: a branch's bound"] == [("$.payload", "oneOf"), ("$.payload", "minimum")]
    assert len(places["more failures than MAX_DETAILS"]) == MAX_DETAILS
