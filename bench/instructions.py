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
import os
import re
import shutil
import signal
import subprocess
import sys

from bench.run import SERVERS, _free_port, _register_more, _wait_listening, run_load
from bench.spec import ROOT

__all__ = ["count", "main"]


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
        _wait_listening(proc, port, name, timeout=600)  # Python starts slowly under callgrind
        run_load(spec, port, proc.pid, workload, 0.01)  # warm-up, not counted
        _control("--instr=on", str(proc.pid))
        _control("--zero", str(proc.pid))
        result = run_load(spec, port, proc.pid, workload, scale)
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
