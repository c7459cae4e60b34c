"""The README's Python examples run as written (against a live server)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from datadivr import ConnectRefusedError, HandlerType, default_registry
from datadivr.demo import Client
from tests.conftest import LiveServer

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.DOTALL)


def test_readme_has_a_server_a_client_and_an_access_example() -> None:
    blocks = python_blocks()
    assert len(blocks) == 3
    assert "create_app" in blocks[0]
    assert "Client(" in blocks[1]
    assert "authenticate=" in blocks[2]


async def test_readme_examples_run(
    serve_app: Callable[[FastAPI], AbstractContextManager[LiveServer]],
    capsys: Any,
) -> None:
    server_code, client_code, _ = python_blocks()
    server_ns: dict[str, Any] = {}
    try:
        exec(compile(server_code, "README.md (server)", "exec"), server_ns)
        with serve_app(server_ns["app"]) as server:
            client_code = client_code.replace("ws://127.0.0.1:8765/ws", server.url)
            client_code = client_code.replace("asyncio.run(main())", "")
            client_ns: dict[str, Any] = {}
            exec(compile(client_code, "README.md (client)", "exec"), client_ns)
            await asyncio.wait_for(client_ns["main"](), 10)
    finally:
        # the example registers its handler in the default registry: leave it as it was
        default_registry.unregister("sum_event", HandlerType.SERVER)
    assert "6.0" in capsys.readouterr().out.splitlines()


async def test_readme_access_example_runs(
    serve_app: Callable[[FastAPI], AbstractContextManager[LiveServer]],
) -> None:
    code = python_blocks()[2]
    run_line = next(line for line in code.splitlines() if line.startswith("run("))
    namespace: dict[str, Any] = {}
    exec(compile(code.replace(run_line, ""), "README.md (access)", "exec"), namespace)
    with serve_app(namespace["app"]) as server:
        with pytest.raises(ConnectRefusedError) as refused:
            await Client(server.url).connect()
        assert refused.value.status == 403
        async with Client(server.url, headers={"X-API-Key": "k-7f3a9c"}) as client:
            assert client.client_id is not None
