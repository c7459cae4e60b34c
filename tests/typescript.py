"""TypeScript's compiler, pinned in ``tests/node`` (``make node-tools``), for the tests that
hold the generated ``protocol.d.ts`` and the code written against it to ``tsc --strict``."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.nodejs import node_tools


def tsc(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``tsc`` with ``args`` in ``cwd``; its output is captured as text."""
    compiler = node_tools() / "node_modules" / "typescript" / "bin" / "tsc"
    return subprocess.run(
        ["node", str(compiler), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def assert_compiles(*args: str, cwd: Path) -> None:
    """``tsc --strict --noEmit`` with ``args`` passes in ``cwd``; else the test fails with
    what tsc said."""
    result = tsc("--strict", "--noEmit", *args, cwd=cwd)
    assert result.returncode == 0, (
        f"tsc --strict --noEmit {' '.join(args)} exited with {result.returncode}:\n"
        f"{result.stdout}{result.stderr}"
    )
