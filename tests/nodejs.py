"""The JavaScript tools the tests hold the exports to (Ajv, the official AsyncAPI parser,
TypeScript's compiler), pinned in ``tests/node/package-lock.json`` and installed by
``make node-tools``; run with Node.js."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

NODE_TOOLS = Path(__file__).resolve().parent / "node"


def node_tools() -> Path:
    """The folder whose ``node_modules`` holds the pinned tools; fails the test, saying what
    to run, when they are not installed."""
    if (
        shutil.which("node") is None
        or not (NODE_TOOLS / "node_modules" / ".package-lock.json").is_file()
    ):
        pytest.fail(
            "the JavaScript tools are missing: run `make node-tools` (npm ci in tests/node)"
        )
    return NODE_TOOLS


def run_node(
    script: str, *args: str, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run a Node.js ``script`` (CommonJS source text) that can ``require`` the pinned tools,
    with ``args`` in ``process.argv.slice(1)``; its output is captured as text."""
    tools = node_tools()
    return subprocess.run(
        ["node", "-e", script, "--", *args],
        cwd=cwd or tools,
        env={**os.environ, "NODE_PATH": str(tools / "node_modules")},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
