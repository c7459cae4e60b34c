"""Running the ``datadivr`` command line as a user would, in a subprocess."""

from __future__ import annotations

import asyncio
import json
import os
import runpy
import subprocess
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import datadivr

#: ``python -m datadivr`` with the interpreter running the tests.
DATADIVR = [sys.executable, "-m", "datadivr"]
#: The ``datadivr`` command installed next to the interpreter running the tests: what a user
#: runs (unlike ``python -m``, it does not put the current folder on the module path).
DATADIVR_SCRIPT = [str(Path(sys.executable).with_name("datadivr"))]
#: Plain, wide, unbuffered output, whatever the terminal.
CLI_ENV = {
    **os.environ,
    "PYTHONUNBUFFERED": "1",
    "NO_COLOR": "1",
    "COLUMNS": "200",
    "TERM": "dumb",
}


def run_datadivr(
    *args: str | Path,
    stdin: str | None = None,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 60,
    command: Sequence[str] = DATADIVR,
) -> subprocess.CompletedProcess[str]:
    """Run ``datadivr ARGS`` to completion; never raises on a non-zero exit status."""
    return subprocess.run(
        [*command, *map(str, args)],
        input=stdin,
        cwd=cwd,
        env=dict(env if env is not None else CLI_ENV),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@dataclass
class Served:
    """A ``datadivr serve`` process that is listening.

    Attributes:
        proc: The process; its standard error is the JSON log, read up to ``listening``.
        listening: The ``listening`` log record (``url``, ``health`` …).
        lines: Every log line read so far.
    """

    proc: asyncio.subprocess.Process
    listening: dict[str, Any]
    lines: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return str(self.listening["url"])

    async def read_until(self, needle: str, timeout: float = 20) -> dict[str, Any]:
        """Read the log up to the first line containing ``needle``, and return that record."""
        assert self.proc.stderr is not None
        while True:
            raw = await asyncio.wait_for(self.proc.stderr.readline(), timeout)
            if not raw:
                raise AssertionError(f"{needle!r} never came; the log was:\n" + "".join(self.lines))
            self.lines.append(raw.decode())
            if needle in self.lines[-1]:
                record: dict[str, Any] = json.loads(self.lines[-1])
                return record


@asynccontextmanager
async def serving(
    *args: str,
    env: Mapping[str, str] | None = None,
    timeout: float = 20,
    cwd: Path | None = None,
    command: Sequence[str] = DATADIVR,
) -> AsyncIterator[Served]:
    """``datadivr serve --port 0 --log-format json ARGS`` in its own process, from the moment
    it listens; stopped with SIGTERM (then killed, if need be) at the end."""
    proc = await asyncio.create_subprocess_exec(
        *command,
        "serve",
        "--port",
        "0",
        "--log-format",
        "json",
        *args,
        stdout=subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env=dict(env if env is not None else CLI_ENV),
        cwd=cwd,
    )
    try:
        served = Served(proc, {})
        served.listening = await served.read_until('"listening"', timeout)
        yield served
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), timeout)
            except (TimeoutError, asyncio.TimeoutError):
                proc.kill()
                await proc.wait()


async def proxy_listening(log: asyncio.StreamReader, timeout: float = 20) -> str:
    """The URL a ``datadivr proxy --log-format json`` listens at, read from its log."""
    while True:
        line = await asyncio.wait_for(log.readline(), timeout)
        assert line, "the proxy exited before listening"
        record = json.loads(line)
        if record.get("event") == "proxy listening":
            return str(record["url"])


async def run_python(*args: str | Path, cwd: Path, timeout: float = 60) -> tuple[int, str, str]:
    """``python ARGS`` in ``cwd``, as a reader runs an example, with the interpreter running the
    tests: its exit status, standard output and standard error."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *map(str, args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=CLI_ENV,
        cwd=cwd,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def run_server_script(path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Run a server example as ``python PATH`` would, with ``datadivr.run`` caught: check that
    it asks to serve its ``app`` on the documented 127.0.0.1:8765, and return its namespace (for
    the test to serve the app on a free port)."""
    started: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(datadivr, "run", lambda app, **options: started.append((app, options)))
    namespace = runpy.run_path(str(path), run_name="__main__")
    assert started == [(namespace["app"], {"host": "127.0.0.1", "port": 8765})]
    return namespace
