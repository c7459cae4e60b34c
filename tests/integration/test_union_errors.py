"""A broken union (``anyOf``) payload sent over a real socket: the server's ``error`` points
into the frame, where ``POST /validate`` points for the same frame."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from types import ModuleType

import httpx
import pytest
import websockets
from fastapi import FastAPI

from datadivr import Registry, create_app
from tests.conftest import LiveServer
from tests.unions import union_package

TIMEOUT = 10.0


@pytest.fixture(scope="module")
def unions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    with union_package(tmp_path_factory.mktemp("unions")) as package:
        yield package


async def test_a_broken_union_frame_is_answered_with_paths_into_it(
    unions: ModuleType,
    serve_app: Callable[[FastAPI], AbstractContextManager[LiveServer]],
    tmp_path: Path,
) -> None:
    frame = {"event_name": "act", "id": "a1", "payload": {"kind": "wall", "at": [1, "a"]}}
    app = create_app(protocol=unions.PROTOCOL, registry=Registry(), explorer=False)
    with serve_app(app) as server:
        async with websockets.connect(server.url) as ws:
            welcome = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
            assert welcome["event_name"] == "welcome"
            await ws.send(json.dumps(frame))
            error = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        async with httpx.AsyncClient(base_url=server.http) as http:
            report = (await http.post("/validate", json=frame)).json()["reports"][0]
    unions.PROTOCOL.validate(error)  # the error itself is valid
    assert error["event_name"] == "error"
    assert error["reply_to"] == "a1"
    assert error["payload"]["code"] == "validation_error"
    assert error["payload"]["event_name"] == "act"
    assert error["payload"]["details"] == [
        {
            "path": "$.payload",
            "reason": "{'kind': 'wall', 'at': [1, 'a']} is not valid under any of the given"
            " schemas; the failures that follow are those of the closest branch",
            "kind": "anyOf",
        },
        {
            "path": "$.payload.at[1]",
            "reason": "'a' is not of type 'integer'",
            "kind": "type",
        },
    ]
    assert error["message"].startswith("invalid 'act' message: $.payload: {'kind': 'wall'")
    # /validate reports the very same violations.
    assert report["valid"] is False
    assert report["violations"] == error["payload"]["details"]
