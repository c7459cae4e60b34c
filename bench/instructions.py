"""Instructions a server executes per message, counted by valgrind's callgrind: the same
count for the same code and workload, whatever else the machine is doing.

    python -m bench.instructions --servers RAW,DATADIVR --workload reqrep-1 [--scale 0.1]
    python -m bench.instructions --record bench/results/instructions.json
    python -m bench.instructions --check bench/results/instructions.json

Each server starts under callgrind with counting off; a short warm-up run (first connection,
lazy imports, validators built on first use) is left out; counting is switched on for the
measured run only, and the count is read from the running process. Python under callgrind
runs some 50 times slower: keep the scale small. Work by the clock is kept out of the count:
the server runs with uvicorn's main loop turning once a second instead of ten times
(:mod:`bench.quiet`), and what the process executes while idle, sampled for a few seconds
first, is taken off in proportion to the run's duration; without both, a run on a loaded
machine, which takes longer, counted up to 5% more per message. Hash randomisation is off
(``PYTHONHASHSEED=0``). Timing-dependent workloads (many clients, pipelining) batch
differently at callgrind's speed, so their counts are indicative; request/reply with one
client is exact to about 0.2%.

The gate (``--record``, ``--check``): each workload of :data:`GATES` is counted for RAW and
DATADIVR in the same run, and what is gated is DATADIVR's count as a multiple of RAW's. A
check fails (exit status 1) when that multiple has grown by more than the workload's threshold
over the recorded one.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

__all__ = [
    "GATES",
    "Count",
    "Figures",
    "Gate",
    "Measure",
    "Verdict",
    "count",
    "judge",
    "main",
    "render",
]

#: The recorded figures the gate holds the code to (``make bench-instructions`` writes them).
RECORD = Path(__file__).resolve().parent / "results" / "instructions.json"

#: The format of the recorded file; a file of another format is re-recorded, not read.
FORMAT = 1

#: Exit status of a check that could not measure (no valgrind, no recorded figures).
CANNOT = 2


@dataclass(frozen=True)
class Gate:
    """How one workload is gated: at what scale it runs, and how much DATADIVR's instructions
    per delivery, as a multiple of RAW's in the same run, may grow over the recorded multiple
    (0.05: by 5%)."""

    scale: float
    threshold: float


#: The gated workloads, run in this order in one process per server. The thresholds come from
#: the spread of the multiple over repeated runs (docs/benchmarks.md, "The instruction-count
#: gate"): at least 5%, and at least three times the spread seen. Pipelining batches frames by
#: timing (2% apart over four runs); the others moved by 0.5% or less.
GATES: dict[str, Gate] = {
    "reqrep-1": Gate(scale=0.05, threshold=0.05),
    "pipelined": Gate(scale=0.02, threshold=0.08),
    "reqrep-50": Gate(scale=0.05, threshold=0.05),
    "broadcast": Gate(scale=0.1, threshold=0.05),
}


@dataclass(frozen=True)
class Figures:
    """RAW's and DATADIVR's instructions per delivery in one run of one workload."""

    raw: float
    datadivr: float
    deliveries: int

    @property
    def ratio(self) -> float:
        """DATADIVR's count as a multiple of RAW's: what the gate compares."""
        return self.datadivr / self.raw

    def as_json(self) -> dict[str, Any]:
        return {
            "RAW": round(self.raw),
            "DATADIVR": round(self.datadivr),
            "ratio": round(self.ratio, 4),
            "deliveries": self.deliveries,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Figures:
        return cls(float(data["RAW"]), float(data["DATADIVR"]), int(data["deliveries"]))


#: How the gate counts its workloads, given as name: scale (:func:`measure`; the tests give
#: figures of their own).
Measure = Callable[[Mapping[str, float]], dict[str, Figures]]


@dataclass(frozen=True)
class Verdict:
    """One workload's recorded and measured figures, and whether the measured pass."""

    workload: str
    recorded: Figures
    measured: Figures
    threshold: float

    @property
    def change(self) -> float:
        """How much the multiple of RAW grew (0.03: by 3%; negative: it shrank)."""
        return self.measured.ratio / self.recorded.ratio - 1

    @property
    def passed(self) -> bool:
        return self.change <= self.threshold


#: Seconds the server is counted while idle before the measured runs. An idle server still
#: executes instructions (uvicorn's main loop, once a second under :mod:`bench.quiet`, and
#: timers: some 0.1M a second under callgrind, 0.5M with uvicorn's own 0.1 s tick); their rate
#: times a measured run's duration is taken off its count, which would otherwise grow with the
#: machine's load: a run that takes longer has more ticks.
IDLE_SECONDS = 3.0


@dataclass(frozen=True)
class Count:
    """What callgrind counted in one server process: the measured run's instructions, its
    duration and deliveries, and the rate at which the same process executes while idle."""

    instructions: int
    seconds: float
    deliveries: int
    idle_per_second: float

    @property
    def per_delivery(self) -> float:
        """Instructions per delivery, the idle rate over the run's duration taken off."""
        return (self.instructions - self.idle_per_second * self.seconds) / self.deliveries

    @property
    def per_delivery_with_idle(self) -> float:
        """Instructions per delivery as counted, idle time included."""
        return self.instructions / self.deliveries


def _control(*args: str) -> str:
    return subprocess.run(
        ["callgrind_control", *args], check=True, capture_output=True, text=True
    ).stdout


def _counted(pid: int) -> int:
    counters = _control("-e", "Ir", str(pid))
    return sum(int(n.replace(",", "")) for n in re.findall(r"Th \d+\s+([\d,]+)", counters))


def _idle_rate(pid: str) -> float:
    """Instructions a second of the idle process: the lower of two samples, so that what the
    last run left to finish (closing connections) is not taken for idling."""
    rates = []
    for _ in range(2):
        _control("--zero", pid)
        started = time.monotonic()
        time.sleep(IDLE_SECONDS / 2)  # a sample of the idle rate, not a wait for an event
        rates.append(_counted(int(pid)) / (time.monotonic() - started))
    return min(rates)


def count(name: str, workloads: Mapping[str, float]) -> dict[str, Count]:
    """Count server ``name``'s instructions under each workload (name: scale) in turn, each
    after a warm-up, in one server process."""
    # bench.run needs the bench dependency group (psutil); the gate's logic does not.
    from bench.run import SERVERS, _free_port, _wait_listening, run_load
    from bench.spec import ROOT

    spec = SERVERS[name]
    port = _free_port()
    command = spec.command(port)
    if command[1:3] in (["-m", "uvicorn"], ["-m", "datadivr"]):
        command = [command[0], "-m", "bench.quiet", *command[1:]]
    proc = subprocess.Popen(
        ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--callgrind-out-file=/dev/null",
         *command],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONHASHSEED": "0", **spec.env},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    pid = str(proc.pid)
    counts = {}
    try:
        _wait_listening(proc, port, name, timeout=600)  # Python starts slowly under callgrind
        run_load(spec, port, proc.pid, next(iter(workloads)), 0.01)  # the first connection
        _control("--instr=on", pid)
        idle = _idle_rate(pid)
        for workload, scale in workloads.items():
            run_load(spec, port, proc.pid, workload, 0.01)  # warm-up, not counted
            _control("--zero", pid)
            started = time.monotonic()
            result = run_load(spec, port, proc.pid, workload, scale)
            instructions = _counted(proc.pid)
            seconds = time.monotonic() - started
            counts[workload] = Count(instructions, seconds, result["deliveries"], idle)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return counts


def measure(workloads: Mapping[str, float]) -> dict[str, Figures]:
    """RAW's and DATADIVR's instructions per delivery under each workload (name: scale): RAW
    first, then DATADIVR, each in one process."""
    raw = count("RAW", workloads)
    datadivr = count("DATADIVR", workloads)
    return {
        workload: Figures(raw[workload].per_delivery, datadivr[workload].per_delivery,
                          raw[workload].deliveries)
        for workload in workloads
    }  # fmt: skip


def judge(
    recorded: Mapping[str, Figures], measured: Mapping[str, Figures], gates: Mapping[str, Gate]
) -> list[Verdict]:
    """Each gated workload's verdict: ``measured`` against ``recorded``, within its gate's
    threshold.

    Raises:
        KeyError: a gated workload has no recorded or no measured figures.
    """
    return [
        Verdict(workload, recorded[workload], measured[workload], gate.threshold)
        for workload, gate in gates.items()
    ]


def render(verdicts: Iterable[Verdict]) -> str:
    """The verdicts as a table: recorded and measured counts (thousands of instructions per
    delivery) and multiples of RAW, their changes, and the threshold of the multiple's."""
    lines = [
        f"{'workload':<10} {'':<9} {'RAW':>7} {'DATADIVR':>9} {'x RAW':>7}",
    ]
    for v in verdicts:
        for label, f in (("recorded", v.recorded), ("measured", v.measured)):
            lines.append(
                f"{v.workload:<10} {label:<9} {f.raw / 1000:>6.1f}k {f.datadivr / 1000:>8.1f}k "
                f"{f.ratio:>7.4f}"
            )
        state = "ok" if v.passed else "FAILED"
        raw = v.measured.raw / v.recorded.raw - 1
        datadivr = v.measured.datadivr / v.recorded.datadivr - 1
        lines.append(
            f"{v.workload:<10} {'change':<9} {raw:>+7.1%} {datadivr:>+9.1%} {v.change:>+7.1%}  "
            f"(threshold +{v.threshold:.0%}): {state}"
        )
    return "\n".join(lines)


def environment() -> dict[str, str]:
    """What the counts depend on besides the code: the Python build, the packages on the
    hot path, valgrind."""

    def installed(package: str) -> str:
        try:
            return version(package)
        except PackageNotFoundError:
            return "-"

    try:
        valgrind = subprocess.run(
            ["valgrind", "--version"], capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        valgrind = "-"
    return {
        "python": f"{platform.python_implementation()} {platform.python_version()} "
        f"({' '.join(platform.python_build())}; {platform.python_compiler()})",
        "machine": platform.machine(),
        **{
            package: installed(package)
            for package in ("uvicorn", "websockets", "fastapi", "pydantic", "pydantic-core")
        },
        "valgrind": valgrind.removeprefix("valgrind-"),
    }


def record(path: Path, gates: Mapping[str, Gate], measure: Measure) -> None:
    """Measure every gated workload and write the figures, their scales and the environment
    to ``path``."""
    measured = measure({workload: gate.scale for workload, gate in gates.items()})
    workloads = {}
    for workload, gate in gates.items():
        print(f"{workload}: {render_figures(measured[workload])}", flush=True)
        workloads[workload] = {"scale": gate.scale, **measured[workload].as_json()}
    document = {
        "format": FORMAT,
        "what": "server instructions per delivery (valgrind callgrind), RAW and DATADIVR in "
        "the same run; the gate compares the ratio",
        "recorded": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "environment": environment(),
        "workloads": workloads,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(f"recorded in {path}")


def render_figures(figures: Figures) -> str:
    return (
        f"RAW {figures.raw / 1000:.1f}k, DATADIVR {figures.datadivr / 1000:.1f}k instructions "
        f"per delivery (x{figures.ratio:.4f}; {figures.deliveries} deliveries)"
    )


class RecordError(Exception):
    """The recorded figures cannot be read, or do not cover the gated workloads."""


def load_record(path: Path, gates: Mapping[str, Gate]) -> tuple[dict[str, Any], dict[str, Figures]]:
    """The recorded document and each gated workload's figures.

    Raises:
        RecordError: the file is missing, no JSON, of another format, or lacks a gated workload
            or records it at another scale than its gate's.
    """
    hint = "record them with `make bench-instructions`"
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RecordError(f"no recorded figures at {path}: {hint}") from None
    except (OSError, ValueError) as exc:
        raise RecordError(
            f"the recorded figures at {path} cannot be read ({exc}): {hint}"
        ) from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise RecordError(f"{path} is not in format {FORMAT}: {hint}")
    figures = {}
    for workload, gate in gates.items():
        entry = document.get("workloads", {}).get(workload)
        if entry is None:
            raise RecordError(f"{path} has no figures for {workload}: {hint}")
        if entry.get("scale") != gate.scale:
            raise RecordError(
                f"{path} recorded {workload} at scale {entry.get('scale')}, the gate runs it "
                f"at {gate.scale}: {hint}"
            )
        try:
            figures[workload] = Figures.from_json(entry)
        except (KeyError, TypeError, ValueError) as exc:
            raise RecordError(
                f"{path}: {workload}'s figures are incomplete ({exc}): {hint}"
            ) from None
    return document, figures


def check(path: Path, gates: Mapping[str, Gate], measure: Measure) -> int:
    """Measure every gated workload again and compare with the figures recorded in ``path``;
    the exit status (0: within every threshold, 1: over one, 2: could not check: no usable
    recorded figures, or a server or the load failed)."""
    try:
        document, recorded = load_record(path, gates)
    except RecordError as exc:
        print(f"instruction-count gate: {exc}", file=sys.stderr)
        return CANNOT
    then, now = document.get("environment", {}), environment()
    differs = [f"{k} {then.get(k)} -> {v}" for k, v in now.items() if then.get(k) != v]
    if differs:
        print("recorded in another environment (the gate compares the ratio to RAW, which "
              "moves less): " + "; ".join(differs))  # fmt: skip
    try:
        measured = measure({workload: gate.scale for workload, gate in gates.items()})
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        print(f"instruction-count gate: could not count: {exc}", file=sys.stderr)
        return CANNOT
    verdicts = judge(recorded, measured, gates)
    print(render(verdicts))
    failed = [v for v in verdicts if not v.passed]
    for v in failed:
        print(
            f"instruction-count gate: {v.workload}: DATADIVR executes x{v.measured.ratio:.4f} "
            f"RAW's instructions per delivery, {v.change:+.1%} over the recorded "
            f"x{v.recorded.ratio:.4f} (threshold +{v.threshold:.0%}). If the change is "
            "intended, re-record with `make bench-instructions` and commit "
            f"{path}.",
            file=sys.stderr,
        )
    if not failed and any(v.change < -max(v.threshold, 0.05) for v in verdicts):
        print("fewer instructions than recorded: re-record (`make bench-instructions`) to hold "
              "the gain")  # fmt: skip
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--servers", default="RAW,DATADIVR")
    parser.add_argument("--workload", default="reqrep-1")
    parser.add_argument("--scale", type=float, default=0.1)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--record",
        type=Path,
        metavar="FILE",
        help="count the gated workloads and write the figures to FILE",
    )
    mode.add_argument(
        "--check",
        type=Path,
        metavar="FILE",
        help="count the gated workloads and fail (exit 1) when one grew over its threshold "
        "since FILE was recorded",
    )
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        print(
            "instruction-count gate: valgrind is not installed, so no instructions can be "
            "counted (Debian: apt-get install valgrind, or make valgrind)",
            file=sys.stderr,
        )
        return CANNOT
    if args.check is not None:
        return check(args.check, GATES, measure)
    if args.record is not None:
        record(args.record, GATES, measure)
        return 0
    from bench.run import _register_more

    _register_more()
    base = None
    for name in (n.strip() for n in args.servers.split(",")):
        counted = count(name, {args.workload: args.scale})[args.workload]
        per = counted.per_delivery
        base = base or per
        print(
            f"{args.workload} {name}: {per / 1000:.1f}k instructions per delivery "
            f"({counted.deliveries} deliveries; x{per / base:.3f} of "
            f"{args.servers.split(',')[0]}; {counted.per_delivery_with_idle / 1000:.1f}k with "
            f"{counted.idle_per_second / 1e6:.2f}M a second idle over {counted.seconds:.1f} s)",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
