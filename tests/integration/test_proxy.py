"""The validating proxy, between a plain websockets client (that knows nothing of datadivr)
and a real server."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest
import websockets
from fastapi import FastAPI

from datadivr import create_app
from datadivr.demo import PROTOCOL
from datadivr.validation._proxy import DOWNSTREAM, UPSTREAM, ValidatingProxy
from tests.commands import proxy_listening
from tests.conftest import LiveServer

TIMEOUT = 5.0


async def recv(ws: websockets.ClientConnection) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
    return data


@pytest.fixture
async def proxy(live_server: LiveServer) -> AsyncIterator[tuple[ValidatingProxy, str]]:
    proxy = ValidatingProxy(live_server.url)
    host, port = await proxy.start("127.0.0.1", 0)
    try:
        yield proxy, f"ws://{host}:{port}/ws"
    finally:
        await proxy.stop()


@pytest.fixture
async def enforcing(live_server: LiveServer) -> AsyncIterator[tuple[ValidatingProxy, str]]:
    proxy = ValidatingProxy(live_server.url, enforce=True)
    host, port = await proxy.start("127.0.0.1", 0)
    try:
        yield proxy, f"ws://{host}:{port}/ws"
    finally:
        await proxy.stop()


async def test_frames_pass_unchanged_and_are_counted(proxy: tuple[ValidatingProxy, str]) -> None:
    checker, url = proxy
    async with websockets.connect(url) as ws:
        welcome = await recv(ws)
        assert welcome["event_name"] == "welcome"
        frame = '{"event_name": "sum_event",  "payload": {"numbers": [1, 2]}, "id": "a"}'
        await ws.send(frame)
        answer = await recv(ws)
        assert (answer["payload"], answer["reply_to"]) == (3, "a")
        # invalid frames are forwarded too: the server answers them
        await ws.send('{"event_name": "sum_event", "payload": {"numbers": ["1"]}}')
        assert (await recv(ws))["payload"]["code"] == "validation_error"
        await ws.send('{"event_name": "sum_handler_result", "payload": 1}')
        assert (await recv(ws))["payload"]["code"] == "wrong_direction"
    report = checker.conformance.as_dict()
    assert report["frames"][UPSTREAM] == {"sum_event": 2, "sum_handler_result": 1}
    assert report["frames"][DOWNSTREAM] == {"error": 2, "sum_handler_result": 1, "welcome": 1}
    assert report["violations"] == {"direction": 1, "type": 1}
    assert report["blocked"] == 0
    assert "violations: 2" in checker.conformance.summary()


async def test_enforce_answers_like_the_server(
    enforcing: tuple[ValidatingProxy, str], live_server: LiveServer
) -> None:
    checker, url = enforcing
    bad = [
        ("not json", "invalid_json"),
        ("[1]", "invalid_message"),
        ('{"event_name": "nope"}', "unknown_event"),
        ('{"event_name": "sum_handler_result", "payload": 1}', "wrong_direction"),
        (
            '{"event_name": "sum_event", "payload": {"numbers": ["1"]}, "id": "q"}',
            "validation_error",
        ),
    ]
    async with websockets.connect(url) as via_proxy, websockets.connect(live_server.url) as direct:
        client_id = (await recv(via_proxy))["payload"]["client_id"]
        await recv(direct)
        for frame, code in bad:
            await via_proxy.send(frame)
            from_proxy = await recv(via_proxy)
            await direct.send(frame)
            from_server = await recv(direct)
            PROTOCOL.validate(from_proxy)
            assert from_proxy["payload"]["code"] == from_server["payload"]["code"] == code
            assert from_proxy["to"] == client_id
            assert from_proxy.get("reply_to") == from_server.get("reply_to")
        # valid frames still go through
        await via_proxy.send('{"event_name": "sum_event", "payload": {"numbers": [4]}}')
        assert (await recv(via_proxy))["payload"] == 4
    assert checker.conformance.blocked == len(bad)


async def test_unreachable_upstream_closes_the_client() -> None:
    proxy = ValidatingProxy("ws://127.0.0.1:9/ws")
    host, port = await proxy.start("127.0.0.1", 0)
    try:
        async with websockets.connect(f"ws://{host}:{port}/ws") as ws:
            with pytest.raises(websockets.ConnectionClosed):
                await asyncio.wait_for(ws.recv(), TIMEOUT)
            assert ws.close_code == 1011
    finally:
        await proxy.stop()


async def test_proxy_command_reports_on_sigterm(live_server: LiveServer, tmp_path: Any) -> None:
    report = tmp_path / "report.json"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "datadivr",
        "proxy",
        "--upstream",
        live_server.url,
        "--listen",
        "127.0.0.1:0",
        "--log-format",
        "json",
        "--report",
        str(report),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    try:
        url = await proxy_listening(proc.stderr)
        async with websockets.connect(url) as ws:
            await recv(ws)
            await ws.send('{"event_name": "msg"}')
            assert (await recv(ws))["payload"]["code"] == "validation_error"
            violation: dict[str, Any] = {}
            while violation.get("event") != "protocol violation":  # other logs come too
                violation = json.loads(await asyncio.wait_for(proc.stderr.readline(), TIMEOUT))
            assert (violation["event"], violation["path"], violation["kind"]) == (
                "protocol violation",
                "$.message",
                "required",
            )
        proc.send_signal(signal.SIGTERM)
        out = (await asyncio.wait_for(proc.stdout.read(), TIMEOUT)).decode()
        assert await asyncio.wait_for(proc.wait(), TIMEOUT) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert "violations: 1 (required: 1)" in out
    data = json.loads(report.read_text())
    assert data["frames"]["client_to_server"] == {"msg": 1}
    assert data["violations"] == {"required": 1}


async def test_credentials_pass_through_to_a_protected_server(
    serve_app: Callable[[FastAPI], AbstractContextManager[LiveServer]],
) -> None:
    token = "proxy-T0ken"
    app = create_app(token=token, allowed_origins=["https://app.example.com"])
    with serve_app(app) as server:
        proxy = ValidatingProxy(server.url)
        host, port = await proxy.start("127.0.0.1", 0)
        url = f"ws://{host}:{port}/ws"
        try:
            admitted = [
                websockets.connect(url, additional_headers={"Authorization": f"Bearer {token}"}),
                websockets.connect(f"{url}?token={token}"),
                websockets.connect(url, subprotocols=["datadivr", f"datadivr.token.{token}"]),  # type: ignore[list-item]
            ]
            for connecting in admitted:
                async with connecting as ws:
                    assert (await recv(ws))["event_name"] == "welcome"
            refused = [
                websockets.connect(url),
                websockets.connect(f"{url}?token=wrong"),
                websockets.connect(f"{url}?token={token}", origin="https://evil.example"),  # type: ignore[arg-type]
            ]
            for connecting in refused:
                async with connecting as ws:
                    with pytest.raises(websockets.ConnectionClosed):
                        await asyncio.wait_for(ws.recv(), TIMEOUT)
                    assert ws.close_code == 1008
                    assert ws.close_reason == "upstream refused the handshake: HTTP 403"
        finally:
            await proxy.stop()
