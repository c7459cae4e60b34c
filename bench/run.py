"""The benchmark: every server side by side, in one run.

Each server runs in its own process under uvicorn with the same settings (one worker,
127.0.0.1, log level warning, per-message deflate off), started fresh for every measurement;
the load client runs in a process of its own (:mod:`bench.load`). Rounds interleave the
servers (A B C D, A B C D …). Every figure is reported as median [min-max] over the rounds
and as a ratio to RAW from the same round, with the server's own CPU time per message.

    python -m bench.run                 # the full run: minutes
    python -m bench.run --smoke         # seconds: proves the harness still works
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import psutil

from bench.spec import ROOT, UVICORN, ServerSpec

__all__ = ["SERVERS", "main"]

RESULTS = ROOT / "bench" / "results"


SERVERS: dict[str, ServerSpec] = {
    "RAW": ServerSpec(
        "RAW",
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.apps.raw:app",
            "--port",
            "{port}",
            *UVICORN,
            "--ws",
            "websockets-sansio",
            "--no-access-log",
        ],
        "FastAPI endpoint: json.loads and reply, no validation",
    ),
    "DATADIVR": ServerSpec(
        "DATADIVR",
        [sys.executable, "-m", "datadivr", "serve", "--port", "{port}", "--log-level", "warning"],
        "datadivr serve, default setup: every frame validated against the schema",
    ),
    "DATADIVR_UVICORN": ServerSpec(
        "DATADIVR_UVICORN",
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.apps.datadivr_app:app",
            "--host",
            "127.0.0.1",
            "--port",
            "{port}",
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        "uvicorn module:app over create_app(), as the README shows: uvicorn's own protocols",
        peer="DATADIVR",
    ),
}


def _register_more() -> None:
    """The peers that need their own environment or extra packages (bench/peers_more.py)."""
    with contextlib.suppress(ImportError):
        from bench.peers_more import SERVERS as MORE

        SERVERS.update(MORE)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def _server(spec: ServerSpec) -> Iterator[tuple[int, psutil.Process]]:
    port = _free_port()
    proc = subprocess.Popen(
        spec.command(port),
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **spec.env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_listening(proc, port, spec.name)
        yield port, psutil.Process(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_listening(proc: subprocess.Popen[Any], port: int, name: str, timeout: float = 60) -> None:
    """Wait until ``proc`` accepts connections on ``port``; fail when it exits or takes
    ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited: {proc.stderr.read() if proc.stderr else ''}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} did not listen within {timeout:g} s")
        time.sleep(0.05)


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def run_load(spec: ServerSpec, port: int, pid: int, workload: str, scale: float) -> dict[str, Any]:
    """Run ``workload`` with the load client, in a process of its own, against ``spec``'s
    server (process ``pid``) on ``port``; its result.

    Raises:
        RuntimeError: the run failed (a lost or duplicated message, a crash, a stall).
    """
    load = subprocess.run(
        [sys.executable, "-m", "bench.load", "--peer", spec.peer or spec.name, "--port", str(port),
         "--workload", workload, "--scale", str(scale), "--server-pid", str(pid)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True, text=True, timeout=1800, check=False,
    )  # fmt: skip
    if load.returncode != 0:
        raise RuntimeError(f"{spec.name} {workload}: {load.stdout.strip()} {load.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(load.stdout)
    return result


def measure(spec: ServerSpec, workload: str, scale: float) -> dict[str, Any]:
    """One workload against a fresh server process; the load client's JSON plus the server's
    CPU seconds per message."""
    with _server(spec) as (port, process):
        cpu_before = _cpu(process)
        result = run_load(spec, port, process.pid, workload, scale)
        cpu = _cpu(process) - cpu_before
    result["server_cpu_us"] = cpu / max(1, result["deliveries"]) * 1e6
    result["server"] = spec.name  # the peer is the protocol spoken: variants share it
    return result


def _server_of(run: dict[str, Any]) -> str:
    """The server a run measured (runs recorded before servers were named: its peer)."""
    name: str = run.get("server", run["peer"])
    return name


def _figure(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def summarise(runs: list[dict[str, Any]], names: list[str]) -> dict[str, Any]:
    """Per workload and server: rate, latency, CPU, memory, each median [min-max], and the
    ratios to RAW of the same round."""
    table: dict[str, Any] = {}
    for workload in sorted({r["workload_key"] for r in runs}):
        rows: dict[str, Any] = {}
        for name in names:
            mine = [r for r in runs if r["workload_key"] == workload and _server_of(r) == name]
            if not mine:
                continue
            row: dict[str, Any] = {
                "rate": _figure([r["rate"] for r in mine]),
                "server_cpu_us": _figure([r["server_cpu_us"] for r in mine]),
            }
            for key in ("p50_ms", "p99_ms"):
                if key in mine[0]:
                    row[key] = _figure([r[key] for r in mine])
            if "rss_per_connection_kib" in mine[0]["extra"]:
                row["rss_per_connection_kib"] = _figure(
                    [r["extra"]["rss_per_connection_kib"] for r in mine]
                )
            ratios, cpu_ratios, mem_ratios = [], [], []
            for r in mine:
                raw = next(
                    (x for x in runs if x["workload_key"] == workload and _server_of(x) == "RAW"
                     and x["round"] == r["round"]),
                    None,
                )  # fmt: skip
                if raw is None:
                    continue
                ratios.append(r["rate"] / raw["rate"])
                cpu_ratios.append(r["server_cpu_us"] / raw["server_cpu_us"])
                if "rss_per_connection_kib" in r["extra"]:
                    mem_ratios.append(
                        r["extra"]["rss_per_connection_kib"]
                        / raw["extra"]["rss_per_connection_kib"]
                    )
            if ratios:
                row["rate_vs_raw"] = _figure(ratios)
                row["cpu_vs_raw"] = _figure(cpu_ratios)
            if mem_ratios:
                row["rss_vs_raw"] = _figure(mem_ratios)
            rows[name] = row
        table[workload] = rows
    return table


def _fmt(figure: dict[str, float] | None, digits: int = 0, suffix: str = "") -> str:
    if figure is None:
        return "-"
    f = f"{{:.{digits}f}}"
    return f"{f.format(figure['median'])}{suffix} [{f.format(figure['min'])}-{f.format(figure['max'])}]"


def render(table: dict[str, Any], names: list[str]) -> str:
    """The table as Markdown (printed, and pasted into docs/benchmarks.md)."""
    lines = [
        "| workload | server | rate (msg/s) | x RAW | server CPU µs/msg | CPU x RAW | p50 / p99 ms "
        "| RSS KiB/conn |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for workload, rows in table.items():
        for name in names:
            row = rows.get(name)
            if row is None:
                continue
            lat = (
                f"{row['p50_ms']['median']:.2f} / {row['p99_ms']['median']:.2f}"
                if "p50_ms" in row
                else "-"
            )
            rss = _fmt(row.get("rss_per_connection_kib"), 1)
            if "rss_vs_raw" in row:
                rss += f" (x{row['rss_vs_raw']['median']:.2f})"
            lines.append(
                f"| {workload} | {name} | {_fmt(row['rate'])} | {_fmt(row.get('rate_vs_raw'), 2)} "
                f"| {_fmt(row['server_cpu_us'], 1)} | {_fmt(row.get('cpu_vs_raw'), 2)} | {lat} "
                f"| {rss} |"
            )
    return "\n".join(lines)


def chart(table: dict[str, Any], names: list[str], path: Path) -> None:
    """Throughput as a ratio to RAW, per workload: bars at the median, whiskers min-max."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    workloads = [w for w in table if w != "idle"]
    fig, ax = plt.subplots(figsize=(10, 4.5))
    width = 0.8 / max(1, len(names))
    for i, name in enumerate(names):
        xs, ys, lo, hi = [], [], [], []
        for j, workload in enumerate(workloads):
            row = table[workload].get(name, {}).get("rate_vs_raw")
            if row is None:
                continue
            xs.append(j + i * width)
            ys.append(row["median"])
            lo.append(row["median"] - row["min"])
            hi.append(row["max"] - row["median"])
        ax.bar(xs, ys, width, yerr=[lo, hi], capsize=3, label=name)
    ax.axhline(1.0, color="grey", linewidth=0.8)
    ax.set_xticks([j + width * (len(names) - 1) / 2 for j in range(len(workloads))])
    ax.set_xticklabels(workloads)
    ax.set_ylabel("throughput x RAW (same round)")
    ax.set_title("datadivr benchmark: median of interleaved rounds, whiskers min-max")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


#: The targets, as (workload, figure, bound, how): "min" means the median must be at least
#: the bound, "max" at most.
TARGETS: list[tuple[str, str, float, str]] = [
    ("reqrep-1", "rate_vs_raw", 1.0, "min"),
    ("reqrep-50", "rate_vs_raw", 1.0, "min"),
    ("pipelined", "rate_vs_raw", 1.0, "min"),
    ("broadcast", "rate_vs_raw", 1.0, "min"),
    ("reqrep-1", "cpu_vs_raw", 1.0, "max"),
    ("reqrep-50", "cpu_vs_raw", 1.0, "max"),
    ("pipelined", "cpu_vs_raw", 1.0, "max"),
    ("broadcast", "cpu_vs_raw", 1.0, "max"),
    ("idle", "rss_vs_raw", 1.1, "max"),
]


def targets(table: dict[str, Any], server: str = "DATADIVR") -> list[str]:
    """One Markdown line per target: met or not, by how much."""
    lines = []
    for workload, figure, bound, how in TARGETS:
        row = table.get(workload, {}).get(server, {}).get(figure)
        if row is None:
            continue
        value = row["median"]
        met = value >= bound if how == "min" else value <= bound
        sign = ">=" if how == "min" else "<="
        lines.append(
            f"- {workload} {figure.replace('_', ' ')}: {value:.2f} (target {sign} {bound}): "
            + ("**met**" if met else f"**not met** ({value / bound:.0%} of the target)")
        )
    return lines


def write_docs(report: dict[str, Any], names: list[str], chart_path: Path) -> None:
    """docs/benchmarks.md: the latest full run's table, chart, machine, versions and date."""
    docs = ROOT / "docs"
    (docs / "img").mkdir(parents=True, exist_ok=True)
    (docs / "img" / "benchmarks.png").write_bytes(chart_path.read_bytes())
    notes = ROOT / "bench" / "analysis.md"  # written by people, after reading the results
    analysis = notes.read_text(encoding="utf-8") if notes.exists() else ""
    sampled = RESULTS / "profile.md"  # python -m bench.profile, run by make bench
    if sampled.exists():
        analysis += (
            "\n## Where the server's CPU goes (py-spy)\n\n"
            "`python -m bench.profile`: py-spy samples each server process while the load "
            "runs; shares are of the samples of the server at work (waits in epoll left "
            "out), by the package of the innermost frame, then by function.\n\n"
            + sampled.read_text(encoding="utf-8")
        )
    m = report["machine"]
    versions = ", ".join(f"{k} {v}" for k, v in m["versions"].items())
    servers = "\n".join(f"- **{k}**: {v}" for k, v in report["servers"].items())
    targets_text = "\n\n".join(
        f"## Targets ({name})\n\n" + "\n".join(targets(report["table"], name))
        for name in ("DATADIVR", "DATADIVR_UVICORN")
        if name in names
    )
    text = f"""# Benchmarks

Latest full run of `make bench` ({m["date"]}; {report["rounds"]} interleaved rounds; {m["cpus"]}
CPUs, {m["platform"]}, Python {m["python"]}; {versions}). Every figure is the median
[min-max] over the rounds; ratios are to RAW in the same round. The server's CPU time per
message is the least noisy figure on a shared machine. Raw data: `bench/results/latest.json`.

{servers}

![throughput relative to RAW](img/benchmarks.png)

{render(report["table"], names)}

{targets_text}

{analysis}
"""
    (docs / "benchmarks.md").write_text(text, encoding="utf-8")


def machine() -> dict[str, Any]:
    """The date, the machine and the versions of what was measured."""
    from importlib.metadata import version

    return {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "versions": {
            pkg: version(pkg)
            for pkg in ("datadivr", "fastapi", "uvicorn", "websockets", "pydantic")
        },
    }


def main(argv: list[str] | None = None) -> int:
    from bench.load import WORKLOADS

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny and fast: for CI")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--servers", default="", help="comma-separated; all when empty")
    parser.add_argument("--workloads", default="", help="comma-separated; all when empty")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.smoke:
        args.rounds, args.scale = 1, 0.02
    _register_more()
    names = [n.strip() for n in args.servers.split(",") if n.strip()] or list(SERVERS)
    workloads = [w.strip() for w in args.workloads.split(",") if w.strip()] or list(WORKLOADS)
    specs = [SERVERS[n] for n in names]
    for spec in specs:
        if not spec.available:
            print(f"skipping {spec.name}: {spec.why_not}", file=sys.stderr)
    specs = [s for s in specs if s.available]
    names = [s.name for s in specs]
    runs: list[dict[str, Any]] = []
    failures: list[str] = []
    for round_ in range(args.rounds):
        for workload in workloads:
            for spec in specs:  # interleaved: A B C D for each workload, every round
                try:
                    result = measure(spec, workload, args.scale)
                except RuntimeError as exc:  # a lost or duplicated message, a crash, a stall
                    failures.append(f"round {round_ + 1} {workload} {spec.name}: {exc}")
                    print(f"FAILED: {failures[-1]}", file=sys.stderr)
                    continue
                result.update(round=round_, workload_key=workload)
                runs.append(result)
                print(
                    f"round {round_ + 1}/{args.rounds} {workload:<10} {spec.name:<13} "
                    f"{result['rate']:>10.0f}/s  cpu {result['server_cpu_us']:.1f} µs",
                    file=sys.stderr,
                )
    table = summarise(runs, names)
    report = {
        "machine": machine(),
        "rounds": args.rounds,
        "scale": args.scale,
        "servers": {s.name: s.note for s in specs},
        "table": table,
        "runs": runs,
        "failures": failures,
    }
    print(render(table, names))
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "smoke" if args.smoke else "latest"
    (args.out / f"{stem}.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    (args.out / f"{stem}.md").write_text(render(table, names) + "\n", encoding="utf-8")
    chart(table, names, args.out / f"{stem}.png")
    if failures:
        print("\n".join(["the run failed:", *failures]), file=sys.stderr)
        return 1
    if not args.smoke and args.out == RESULTS:
        write_docs(report, names, args.out / f"{stem}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
