"""The built wheel, installed in a clean virtual environment, is a complete SDK."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

USER_CODE = """
import asyncio
import socket
import threading
from importlib import resources

import uvicorn

from datadivr import HandlerType, Registry, create_app
from datadivr.demo import Client, SumEventMessage, SumHandlerResultMessage, websocket_handler

registry = Registry()


@websocket_handler("sum_event", HandlerType.SERVER, registry=registry)
async def triple(message: SumEventMessage) -> SumHandlerResultMessage:
    return SumHandlerResultMessage(payload=3 * sum(message.payload.numbers))


sock = socket.socket()
sock.bind(("127.0.0.1", 0))
port = sock.getsockname()[1]
server = uvicorn.Server(uvicorn.Config(create_app(registry=registry), log_level="warning", ws="websockets-sansio"))
thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
thread.start()


async def main() -> None:
    while not server.started:
        await asyncio.sleep(0.01)
    async with Client(f"ws://127.0.0.1:{port}/ws") as client:
        result = await client.sum_event([1, 2], timeout=5)
    print("result", result.payload)
    print("schema", resources.files("datadivr.demo").joinpath("schema.json").is_file())
    print("typescript", resources.files("datadivr.demo").joinpath("protocol.d.ts").is_file())
    print("typed", resources.files("datadivr").joinpath("py.typed").is_file())
    explorer = resources.files("datadivr") / "static" / "explorer"
    print("explorer", all(explorer.joinpath(name).is_file() for name in ("index.html", "explorer.js", "explorer.css")))


asyncio.run(main())
server.should_exit = True
thread.join(5)
"""


def build_wheel(uv: str, dist: Path) -> Path:
    """Build this project's wheel into ``dist``; return its path."""
    subprocess.run(
        [uv, "build", "--wheel", "--out-dir", str(dist), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    [wheel] = dist.glob("datadivr-*.whl")
    return wheel


def test_wheel_installs_and_works_in_a_clean_venv(tmp_path: Path) -> None:
    uv = os.environ.get("UV") or shutil.which("uv")
    assert uv, "uv is needed to build the wheel (make install provides it)"
    wheel = build_wheel(uv, tmp_path / "dist")
    venv = tmp_path / "venv"
    subprocess.run(
        [uv, "venv", "--python", sys.executable, str(venv)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    python = venv / "bin" / "python"
    subprocess.run(
        [uv, "pip", "install", "--python", str(python), str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    script = tmp_path / "user.py"
    script.write_text(textwrap.dedent(USER_CODE))
    result = subprocess.run(
        [str(python), str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if not line.startswith("20")]  # not logs
    assert lines == [
        "result 9.0",
        "schema True",
        "typescript True",
        "typed True",
        "explorer True",
    ]
    cli = subprocess.run(
        [str(venv / "bin" / "datadivr"), "events", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert cli.returncode == 0, cli.stderr
    assert '"sum_event"' in cli.stdout
    # the generator needs its extra; without it the command says so instead of crashing
    generate = subprocess.run(
        [
            str(venv / "bin" / "datadivr"),
            "generate",
            "--schema",
            str(ROOT / "schema"),
            "--out",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert generate.returncode == 2
    assert "datadivr[codegen]" in generate.stderr
