"""A real ``redis-server`` on an ephemeral loopback port, for the tests of the Redis broker.

The binary is ``$DATADIVR_REDIS_SERVER`` or ``redis-server`` on the ``PATH``; ``make test``
installs Debian's ``redis-server`` package when it is missing. The server keeps nothing on
disk and listens on 127.0.0.1 only.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["RedisServer", "redis_binary"]


def redis_binary() -> str:
    """The ``redis-server`` to run.

    Raises:
        RuntimeError: there is none (the tests fail: they are not skipped).
    """
    binary = os.environ.get("DATADIVR_REDIS_SERVER") or shutil.which("redis-server")
    if binary is None:
        raise RuntimeError(
            "redis-server is not installed: run `make test` (it installs Debian's redis-server "
            "package), or set DATADIVR_REDIS_SERVER to a redis-server binary"
        )
    return binary


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RedisServer:
    """One ``redis-server`` process; :meth:`kill` and :meth:`start` again on the same port,
    or :meth:`pause` and :meth:`resume` it."""

    directory: Path
    port: int = field(default_factory=_free_port)
    proc: subprocess.Popen[str] | None = None
    log: list[str] = field(default_factory=list)
    _reader: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10) -> None:
        """Start it and return once it accepts connections."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.proc = subprocess.Popen(
            [
                redis_binary(),
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--dir", str(self.directory),
                "--daemonize", "no",
                "--loglevel", "notice",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        ready = threading.Event()
        stream = self.proc.stdout

        def read() -> None:
            # Reads the log to the end, so that the server never blocks on a full pipe.
            for line in stream:
                self.log.append(line)
                if "Ready to accept connections" in line:
                    ready.set()
            ready.set()

        self._reader = threading.Thread(target=read, name=f"redis-{self.port}", daemon=True)
        self._reader.start()
        if not ready.wait(max(0.0, deadline - time.monotonic())) or self.proc.poll() is not None:
            self.kill()
            raise RuntimeError("redis-server did not start:\n" + "".join(self.log))

    def kill(self) -> None:
        """Kill it at once (SIGKILL), as a crash would."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self._reap()

    def pause(self) -> None:
        """Stop it in its tracks (SIGSTOP), as a stall would: connections stay open."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Let a paused server go on (SIGCONT)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def _reap(self) -> None:
        if self._reader is not None:
            self._reader.join(10)
            self._reader = None
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()

    def stop(self) -> None:
        """Stop it (SIGTERM)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        self._reap()
