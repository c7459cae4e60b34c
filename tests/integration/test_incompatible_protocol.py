"""A typed client generated from an older protocol meets a server on a newer one, over a real
socket: a change that breaks clients fails its ``connect`` with the diff's headline (or warns,
as told); a change that breaks no client connects silently; a server whose schema cannot be
read is let be, with a logged warning."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shutil
import socket
import threading
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager, ExitStack
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from fastapi import FastAPI, Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse

from datadivr import (
    ClientState,
    ConnectionClosedError,
    HandlerType,
    IncompatibleProtocolError,
    IncompatibleProtocolWarning,
    Reconnect,
    Registry,
    create_app,
)
from datadivr.compat import Side
from datadivr.core._registry import register_handler
from datadivr.server._uvicorn import uvicorn_config
from tests.case_protocols import generated_package
from tests.conftest import LiveServer, _Server

from ..codegen.conftest import PROJECT_SCHEMA

TIMEOUT = 10.0
ServeApp = Callable[[FastAPI], AbstractContextManager[LiveServer]]


def _edit(folder: Path, event: str, change: Callable[[dict[str, Any]], None]) -> None:
    path = folder / "events" / f"{event}.schema.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    change(schema)
    path.write_text(json.dumps(schema, indent=2), encoding="utf-8")


def _require_unit(schema: dict[str, Any]) -> None:
    """A new required field in a client_to_server payload: old clients never send it."""
    schema["properties"]["unit"] = {"type": "string"}
    schema["required"] = [*schema["required"], "unit"]
    schema["examples"] = [{"numbers": [1, 2, 3], "unit": "m"}]


def _reword(schema: dict[str, Any]) -> None:
    """A description: nothing changes on the wire (the same fingerprint)."""
    schema["description"] = "Add up the numbers, please."
    schema["properties"]["numbers"]["description"] = "Numbers to add up."


def _unbound(schema: dict[str, Any]) -> None:
    """A bound dropped from a client_to_server payload: looser, it breaks servers only."""
    del schema["properties"]["numbers"]["maxItems"]


def _bare_welcome(schema: dict[str, Any]) -> None:
    """A closed welcome without the fingerprint field, as a protocol may have."""
    del schema["properties"]["fingerprint"]
    schema["examples"] = [{"client_id": "5b1f0c3e9a7d"}]


VARIANTS: dict[str, Callable[[dict[str, Any]], None] | None] = {
    "old": None,
    "breaking": _require_unit,
    "reworded": _reword,
    "looser": _unbound,
    # The same two protocols, with a welcome that names no fingerprint.
    "old_bare": None,
    "breaking_bare": _require_unit,
}


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ModuleType]]:
    """The demo's schema folder (OLD) and its variants, each generated and imported."""
    root = tmp_path_factory.mktemp("versions")
    with ExitStack() as stack:
        packages: dict[str, ModuleType] = {}
        for name, change in VARIANTS.items():
            folder = shutil.copytree(PROJECT_SCHEMA, root / f"schema_{name}")
            if change is not None:
                _edit(folder, "sum_event", change)
            if name.endswith("_bare"):
                _edit(folder, "welcome", _bare_welcome)
            packages[name] = stack.enter_context(generated_package(folder, root, f"v_{name}"))
        yield packages


def _app(package: ModuleType, *, schema_route: bool = True) -> FastAPI:
    """A server of ``package``'s protocol that answers ``sum_event``; without ``GET /schema``
    when told so (a server that does not publish it, or a proxy that hides it)."""
    registry = Registry()

    @register_handler(package.PROTOCOL, "sum_event", HandlerType.SERVER, registry=registry)
    async def add(message: Any) -> Any:
        return package.SumHandlerResultMessage(payload=sum(message.payload.numbers))

    app = create_app(protocol=package.PROTOCOL, registry=registry, explorer=False)
    if not schema_route:

        @app.middleware("http")
        async def hide_schema(request: Request, call_next: Any) -> Response:
            if request.url.path == "/schema":
                return JSONResponse({"detail": "Not Found"}, status_code=404)
            response: Response = await call_next(request)
            return response

    return app


def test_the_variants_have_the_fingerprints_they_should(packages: dict[str, ModuleType]) -> None:
    fingerprints = {name: package.PROTOCOL.fingerprint for name, package in packages.items()}
    assert fingerprints["reworded"] == fingerprints["old"]
    assert len({fingerprints["old"], fingerprints["breaking"], fingerprints["looser"]}) == 3


async def test_a_breaking_server_fails_the_connect_with_the_headline(
    packages: dict[str, ModuleType], serve_app: ServeApp
) -> None:
    old, new = packages["old"], packages["breaking"]
    with serve_app(_app(new)) as server:
        client = old.Client(server.url, open_timeout=TIMEOUT)
        with pytest.raises(IncompatibleProtocolError) as info:
            async with client:
                pytest.fail("connected to a server whose protocol breaks the client")
    error = info.value
    assert error.client_fingerprint == old.PROTOCOL.fingerprint
    assert error.server_fingerprint == new.PROTOCOL.fingerprint
    assert Side.CLIENTS in error.diff.breaks
    assert error.headline == error.diff.headline(Side.CLIENTS)
    assert str(error) == error.headline
    assert error.headline.startswith("breaks clients: sum_event: ")
    assert client.state is ClientState.CLOSED


async def test_a_welcome_without_the_field_is_checked_by_the_handshake_header(
    packages: dict[str, ModuleType], serve_app: ServeApp
) -> None:
    """A protocol whose welcome declares no fingerprint: the server's answer to the
    handshake names it (``Datadivr-Fingerprint``), and the client checks with that."""
    old, new = packages["old_bare"], packages["breaking_bare"]
    assert "fingerprint" not in old.WelcomePayload.model_fields
    with serve_app(_app(new)) as server:
        client = old.Client(server.url, open_timeout=TIMEOUT)
        with pytest.raises(IncompatibleProtocolError) as info:
            async with client:
                pytest.fail("connected to a server whose protocol breaks the client")
        assert info.value.server_fingerprint == new.PROTOCOL.fingerprint
        assert info.value.headline.startswith("breaks clients: sum_event: ")
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            async with new.Client(server.url, open_timeout=TIMEOUT) as same:
                assert same.state is ClientState.OPEN
    with serve_app(_app(old)) as server, warnings.catch_warnings():
        warnings.simplefilter("error")
        async with old.Client(server.url, open_timeout=TIMEOUT) as client:
            reply = await client.sum_event([1, 2], timeout=TIMEOUT)
            assert reply.payload == 3


async def test_a_welcome_the_client_refuses_is_the_incompatibility_not_a_timeout(
    packages: dict[str, ModuleType], serve_app: ServeApp
) -> None:
    """A server whose welcome gained a member an older client's closed welcome refuses: the
    client reads the welcome as sent and reports the change, instead of waiting for a welcome
    it would never accept; told to warn, it connects and works."""
    old, new = packages["old_bare"], packages["old"]
    with serve_app(_app(new)) as server:
        client = old.Client(server.url, open_timeout=TIMEOUT)
        with pytest.raises(IncompatibleProtocolError) as info:
            async with client:
                pytest.fail("connected to a server whose welcome the client refuses")
        assert info.value.headline == (
            "breaks clients: welcome: property 'fingerprint' added at $.payload.fingerprint"
        )
        warned = old.Client(server.url, open_timeout=TIMEOUT, on_incompatible="warn")
        with pytest.warns(IncompatibleProtocolWarning):
            await warned.connect()
        try:
            assert warned.client_id is not None
            reply = await warned.sum_event([1, 2], timeout=TIMEOUT)
            assert reply.payload == 3
        finally:
            await warned.close()


async def test_warn_mode_warns_and_goes_on(
    packages: dict[str, ModuleType], serve_app: ServeApp
) -> None:
    old, new = packages["old"], packages["breaking"]
    with serve_app(_app(new)) as server:
        with pytest.warns(IncompatibleProtocolWarning, match=r"^breaks clients: sum_event: "):
            client = await old.Client(
                server.url, open_timeout=TIMEOUT, on_incompatible="warn"
            ).connect()
        try:
            assert client.state is ClientState.OPEN
            # The connection works; what breaks is what the diff said: the server refuses
            # the old clients' sum_event, without the field it now requires.
            error_text = ""
            try:
                await client.sum_event([1, 2], timeout=TIMEOUT)
            except Exception as exc:
                error_text = str(exc)
            assert "unit" in error_text
        finally:
            await client.close()


async def test_ignore_mode_does_not_check(
    packages: dict[str, ModuleType], serve_app: ServeApp
) -> None:
    old, new = packages["old"], packages["breaking"]
    with serve_app(_app(new)) as server, warnings.catch_warnings():
        warnings.simplefilter("error")
        async with old.Client(server.url, open_timeout=TIMEOUT, on_incompatible="ignore") as c:
            assert c.state is ClientState.OPEN


@pytest.mark.parametrize("variant", ["old", "reworded", "looser"])
async def test_a_compatible_server_connects_silently(
    packages: dict[str, ModuleType],
    serve_app: ServeApp,
    caplog: pytest.LogCaptureFixture,
    variant: str,
) -> None:
    """The same fingerprint, or another one whose changes break no client (a dropped bound
    on what clients send breaks only servers)."""
    old = packages["old"]
    with (
        serve_app(_app(packages[variant])) as server,
        warnings.catch_warnings(),
        caplog.at_level(logging.WARNING, logger="datadivr.client"),
    ):
        warnings.simplefilter("error")
        async with old.Client(server.url, open_timeout=TIMEOUT) as client:
            result = await client.sum_event([1, 2, 3], timeout=TIMEOUT)
            assert result.payload == 6
    assert [r.getMessage() for r in caplog.records] == []


async def test_a_server_without_its_schema_is_let_be_with_a_warning(
    packages: dict[str, ModuleType], serve_app: ServeApp, caplog: pytest.LogCaptureFixture
) -> None:
    old, new = packages["old"], packages["breaking"]
    with (
        serve_app(_app(new, schema_route=False)) as server,
        caplog.at_level(logging.WARNING, logger="datadivr.client"),
    ):
        async with old.Client(server.url, open_timeout=TIMEOUT) as client:
            assert client.state is ClientState.OPEN
    [record] = [r for r in caplog.records if "schema is not readable" in r.getMessage()]
    assert "404" in getattr(record, "error", "")
    assert getattr(record, "url", "") == server.http + "/schema"


def _answering_schema(package: ModuleType, answer: Callable[[], Response]) -> FastAPI:
    """A server of ``package``'s protocol whose ``GET /schema`` is ``answer()``; its real
    schema is at ``/elsewhere``, and the requests for it are counted."""
    app = _app(package)
    app.state.elsewhere = 0

    @app.middleware("http")
    async def schema(request: Request, call_next: Any) -> Response:
        if request.url.path == "/schema":
            return answer()
        if request.url.path == "/elsewhere":
            app.state.elsewhere += 1
            return JSONResponse(package.PROTOCOL.schema)
        response: Response = await call_next(request)
        return response

    return app


async def test_a_redirect_is_not_followed_with_the_clients_headers(
    packages: dict[str, ModuleType], serve_app: ServeApp, caplog: pytest.LogCaptureFixture
) -> None:
    """The client's headers may hold a token: a redirect of ``GET /schema`` is not followed
    (the check gives up, with a warning), wherever it points."""
    old, new = packages["old"], packages["breaking"]
    app = _answering_schema(new, lambda: RedirectResponse("/elsewhere", status_code=302))
    with (
        serve_app(app) as server,
        caplog.at_level(logging.WARNING, logger="datadivr.client"),
    ):
        client = old.Client(server.url, open_timeout=TIMEOUT, headers={"Authorization": "x"})
        async with client:
            assert client.state is ClientState.OPEN
    assert app.state.elsewhere == 0
    [record] = [r for r in caplog.records if "schema is not readable" in r.getMessage()]
    assert "302" in getattr(record, "error", "")


async def test_a_schema_that_drips_in_does_not_hold_the_connect_up(
    packages: dict[str, ModuleType], serve_app: ServeApp, caplog: pytest.LogCaptureFixture
) -> None:
    """A byte every 0.2 s keeps each read within its timeout; open_timeout bounds them all."""

    async def drip() -> AsyncIterator[bytes]:
        for _ in range(150):  # 30 s at most
            yield b" "
            await asyncio.sleep(0.2)

    old, new = packages["old"], packages["breaking"]
    app = _answering_schema(new, lambda: StreamingResponse(drip(), media_type="application/json"))
    with (
        serve_app(app) as server,
        caplog.at_level(logging.WARNING, logger="datadivr.client"),
    ):
        async with old.Client(server.url, open_timeout=1.5) as client:
            assert client.state is ClientState.OPEN
    assert [r for r in caplog.records if "schema is not readable" in r.getMessage()]


@contextlib.contextmanager
def _serving(app: FastAPI, port: int) -> Iterator[None]:
    """``app`` on 127.0.0.1:``port`` (0: any), in a background thread."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(16)
    server = _Server(uvicorn_config(app, log_level="warning"))
    thread = threading.Thread(
        target=lambda: asyncio.run(server.serve(sockets=[sock])), name="uvicorn", daemon=True
    )
    thread.start()
    try:
        assert server.ready.wait(10), "uvicorn did not start"
        yield
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


async def test_a_reconnect_that_meets_a_breaking_server_gives_up(
    packages: dict[str, ModuleType],
) -> None:
    """The server comes back on a protocol that breaks the client: the client stops trying,
    and what it sends then fails with the incompatibility as the cause."""
    old, new = packages["old"], packages["breaking"]
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    policy = Reconnect(initial_delay=0.02, max_delay=0.1, max_attempts=200)
    client = old.Client(f"ws://127.0.0.1:{port}/ws", open_timeout=TIMEOUT, reconnect=policy)
    with _serving(_app(old), port):
        await client.connect()
        assert (await client.sum_event([1, 2], timeout=TIMEOUT)).payload == 3
    with _serving(_app(new), port):
        await asyncio.wait_for(client.wait_closed(), TIMEOUT)
    assert client.state is ClientState.CLOSED
    with pytest.raises(ConnectionClosedError) as info:
        await client.sum_event([1, 2], timeout=TIMEOUT)
    cause = info.value.__cause__
    assert isinstance(cause, IncompatibleProtocolError)
    assert cause.server_fingerprint == new.PROTOCOL.fingerprint
