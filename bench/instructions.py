"""Instructions a server executes per message, counted by valgrind's callgrind: the same
count for the same code and workload, whatever else the machine is doing.

    python -m bench.instructions --servers RAW,DATADIVR --workload reqrep-1 [--scale 0.1]

Each server starts under callgrind with counting off; a short warm-up run (first connection,
lazy imports, validators built on first use) is left out; counting is switched on for the
measured run only, and the count is read from the running process. Python under callgrind
runs some 50 times slower: keep the scale small. Timing-dependent workloads (many clients,
pipelining) batch differently at that speed, so their counts are indicative; request/reply
with one client is exact.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

from bench.run import SERVERS, _free_port, _register_more
from bench.spec import ROOT, ServerSpec

__all__ = ["count", "main"]


def _load(spec: ServerSpec, port: int, pid: int, workload: str, scale: float) -> dict[str, int]:
    result = subprocess.run(
        [sys.executable, "-m", "bench.load", "--peer", spec.peer or spec.name, "--port", str(port),
         "--workload", workload, "--scale", str(scale), "--server-pid", str(pid)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True, text=True, timeout=1800, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"{spec.name} {workload}: {result.stdout} {result.stderr[-2000:]}")
    data: dict[str, int] = json.loads(result.stdout)
    return data


def _control(*args: str) -> str:
    return subprocess.run(
        ["callgrind_control", *args], check=True, capture_output=True, text=True
    ).stdout


def count(name: str, workload: str, scale: float) -> tuple[float, int]:
    """Instructions per delivery of server ``name`` under ``workload``, and the deliveries."""
    spec = SERVERS[name]
    port = _free_port()
    proc = subprocess.Popen(
        ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--callgrind-out-file=/dev/null",
         *spec.command(port)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), **spec.env},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 600
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start under callgrind")
            time.sleep(0.5)
        _load(spec, port, proc.pid, workload, 0.01)  # warm-up, not counted
        _control("--instr=on", str(proc.pid))
        _control("--zero", str(proc.pid))
        result = _load(spec, port, proc.pid, workload, scale)
        counters = _control("-e", "Ir", str(proc.pid))
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    total = sum(int(n.replace(",", "")) for n in re.findall(r"Th \d+\s+([\d,]+)", counters))
    return total / result["deliveries"], result["deliveries"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--servers", default="RAW,DATADIVR")
    parser.add_argument("--workload", default="reqrep-1")
    parser.add_argument("--scale", type=float, default=0.1)
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (Debian: apt-get install valgrind)", file=sys.stderr)
        return 2
    _register_more()
    base = None
    for name in (n.strip() for n in args.servers.split(",")):
        per, deliveries = count(name, args.workload, args.scale)
        base = base or per
        print(
            f"{args.workload} {name}: {per / 1000:.1f}k instructions per delivery "
            f"({deliveries} deliveries; x{per / base:.3f} of {args.servers.split(',')[0]})",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
