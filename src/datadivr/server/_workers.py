"""Several server processes on one listening socket (``datadivr serve --workers N``).

The parent binds the socket, forks the workers (each builds its own app, so each is a node of
the cluster with its own id and its own connection to the broker) and supervises them: a
worker that dies is replaced, SIGTERM and SIGINT are passed on to every worker, and the
parent returns once all of them have shut down gracefully.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable
from types import FrameType

from datadivr._logging import get_logger

__all__ = ["run_workers"]

_log = get_logger("datadivr.workers")


def run_workers(count: int, serve: Callable[[], None]) -> int:
    """Run ``serve`` in ``count`` forked processes until a signal stops them.

    Args:
        count: The number of workers.
        serve: Runs one worker until it is told to stop (SIGTERM or SIGINT).

    Returns:
        The exit status for the parent: 0 after a requested stop.
    """
    workers: set[int] = set()
    stopping = False

    def start() -> None:
        pid = os.fork()
        if pid == 0:  # the worker
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            status = 0
            try:
                serve()
            except BaseException:
                _log.exception("worker failed")
                status = 1
            finally:
                os._exit(status)
        workers.add(pid)
        _log.info("worker started", pid=pid)

    def forward(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(workers):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        for _ in range(count):
            start()
        while workers:
            pid, status = os.wait()
            workers.discard(pid)
            if not stopping:
                _log.warning(
                    "worker died, starting another",
                    pid=pid,
                    status=os.waitstatus_to_exitcode(status),
                )
                start()
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
