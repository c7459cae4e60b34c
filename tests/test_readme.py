"""The README's Python examples run as written (against a live server)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from datadivr import HandlerType, default_registry
from tests.conftest import LiveServer

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.DOTALL)


def test_readme_has_a_server_and_a_client_example() -> None:
    blocks = python_blocks()
    assert len(blocks) == 2
    assert "create_app" in blocks[0]
    assert "Client(" in blocks[1]


async def test_readme_examples_run(
    serve_app: Callable[[FastAPI], AbstractContextManager[LiveServer]],
    capsys: Any,
) -> None:
    server_code, client_code = python_blocks()
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
