"""Shared fixtures: real uvicorn servers on ephemeral loopback ports."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI

from datadivr import Registry, create_app
from datadivr.server._uvicorn import UvicornServer, uvicorn_config
from datadivr_codegen.freshness import CACHE_ENV
from tests.redis_server import RedisServer


def pytest_configure(config: pytest.Config) -> None:
    """The stamps of ``generate --check`` (:mod:`datadivr_codegen.freshness`) go to a folder of
    this run's own, for the tests and the commands they start, not to the user's cache."""
    os.environ[CACHE_ENV] = tempfile.mkdtemp(prefix="datadivr-cache-")


def pytest_unconfigure(config: pytest.Config) -> None:
    folder = os.environ.pop(CACHE_ENV, None)
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class LiveServer:
    """A uvicorn server running an app on 127.0.0.1 in a background thread."""

    app: FastAPI
    port: int

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class _Server(UvicornServer):
    """Tells, through an event, when it is accepting connections."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.ready.set()


def _serve(app: FastAPI) -> Iterator[LiveServer]:
    # IPPROTO_TCP named: only then does asyncio set TCP_NODELAY on accepted connections.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    config = uvicorn_config(app, log_level="warning")
    server = _Server(config)
    thread = threading.Thread(
        target=lambda: asyncio.run(server.serve(sockets=[sock])), name="uvicorn", daemon=True
    )
    thread.start()
    assert server.ready.wait(10), "uvicorn did not start"
    try:
        yield LiveServer(app, port)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture
def registry() -> Registry:
    """An empty registry for a test's own handlers."""
    return Registry()


@pytest.fixture
def serve_app() -> Callable[[FastAPI], AbstractContextManager[LiveServer]]:
    """Serve any app: ``with serve_app(create_app(...)) as server: ...``."""
    return contextlib.contextmanager(_serve)


@pytest.fixture
def live_server(registry: Registry) -> Iterator[LiveServer]:
    """A real server with the built-in handlers plus the test's ``registry``."""
    yield from _serve(create_app(registry=registry))


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A real ``redis-server`` on an ephemeral loopback port, stopped at the end."""
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()
