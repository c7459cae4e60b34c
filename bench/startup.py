"""Start-up: how long the tools and ``import datadivr`` take, each in a fresh process.

Run ``uv run python -m bench.startup`` (a minute) or ``--smoke`` (seconds, for CI); ``--json
PATH`` also writes every figure (``make bench`` writes ``bench/results/startup.json``);
``--tree PATH`` times another checkout's code instead (e.g. ``git archive`` of an older commit).

Each row runs one command as a user would (the ``datadivr`` script next to the interpreter,
stamps of ``generate --check`` in a scratch cache folder) ``--runs`` times and reports the
median, min and max of its wall time and of its CPU time (user + system, the child's own: the
less noisy figure on a shared machine). The rows:

- the interpreter alone (``python -c pass``), and a minimal typer app's ``--help`` and one
  command with a flag: the floor of any typer command line (typer's help imports rich's
  markdown and traceback modules; running a command builds pydantic adapters for its options);
- ``import datadivr``, and a client-only program (the demo's typed client);
- ``datadivr --help``; ``datadivr generate --check`` of the demo package with nothing changed;
- a synthetic protocol of ``--events`` events (130 by default): its generation, then its
  no-op ``generate`` (the headers say it is up to date), its no-op ``generate --check``
  (answered from the stamp), and a check without a stamp (as in a fresh CI checkout).

The interpreter reads compiled bytecode as it does after ``pip install`` (which compiles it):
the commands run with a bytecode cache of their own (``PYTHONPYCACHEPREFIX`` in the scratch
folder), filled by one untimed run of each before the timed ones. ``--no-bytecode`` keeps that
cache empty, so that every run compiles every module it imports, the standard library's too: an
upper bound for an environment with ``PYTHONDONTWRITEBYTECODE`` set and packages installed
without their bytecode (here ``datadivr --help`` took 0.6 s of CPU so, a generation of 130 events
6 s).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.micro import synthetic_schema
from datadivr_codegen.freshness import CACHE_ENV

ROOT = Path(__file__).resolve().parents[1]
DATADIVR = str(Path(sys.executable).with_name("datadivr"))

_TYPER_APP = """
import sys
import typer

app = typer.Typer(add_completion=False)


@app.command()
def first(flag: bool = False) -> None:
    '''One command.'''


@app.command()
def second() -> None:
    '''Another.'''


app()
"""


def _run(argv: Sequence[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """Wall and CPU seconds of one run of ``argv``; raises when it fails."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{argv}: exit {proc.returncode}\n{proc.stdout}{proc.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
    }


@dataclass(frozen=True)
class Setting:
    """Where and how the commands run."""

    env: dict[str, str]
    cwd: Path


def measure(
    label: str,
    argv: Sequence[str],
    setting: Setting,
    runs: int,
    before_each: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Run ``argv`` (``{i}`` in it replaced by the run's number) ``runs`` times."""
    walls: list[float] = []
    cpus: list[float] = []
    for i in range(runs):
        if before_each is not None:
            before_each(i)
        wall, cpu = _run([arg.format(i=i) for arg in argv], setting.env, setting.cwd)
        walls.append(wall)
        cpus.append(cpu)
    wall_s, cpu_s = _summary(walls), _summary(cpus)
    print(f"{label:<52} wall {wall_s['median']:6.3f} s  cpu {cpu_s['median']:6.3f} s", flush=True)
    return {"what": label, "runs": runs, "wall_s": wall_s, "cpu_s": cpu_s}


def run(
    runs: int, events: int, generation_runs: int, tree: Path | None, *, bytecode: bool = True
) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="datadivr-startup-") as name:
        scratch = Path(name)
        cache = scratch / "cache"
        env = {**os.environ, CACHE_ENV: str(cache), "NO_COLOR": "1", "COLUMNS": "120"}
        # Bytecode in a cache of the benchmark's own: filled by the untimed first run of each
        # command, or (--no-bytecode) never written, so that every run compiles.
        env["PYTHONPYCACHEPREFIX"] = str(scratch / "pycache")
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        if not bytecode:
            env["PYTHONDONTWRITEBYTECODE"] = "1"
        py = sys.executable
        datadivr = [DATADIVR]
        if tree is not None:  # another checkout's code, by the same interpreter
            env["PYTHONPATH"] = os.pathsep.join(str(tree / part) for part in ("src", "codegen"))
            datadivr = [py, "-m", "datadivr"]
        setting = Setting(env, scratch)
        typer_app = scratch / "typer_app.py"
        typer_app.write_text(_TYPER_APP, encoding="utf-8")
        # Once, untimed: the file cache, and the demo package's stamp.
        source = tree if tree is not None else ROOT
        demo = ["--schema", str(source / "schema"), "--out", str(source / "src/datadivr/demo")]
        _run([*datadivr, "generate", *demo, "--check"], env, scratch)
        quick: list[tuple[str, list[str]]] = [
            ("python -c pass", [py, "-c", "pass"]),
            ("minimal typer app --help", [py, str(typer_app), "--help"]),
            ("minimal typer app, a command", [py, str(typer_app), "first"]),
            ("import datadivr", [py, "-c", "import datadivr"]),
            (
                "a client (datadivr.demo.Client)",
                [py, "-c", "import datadivr.demo\ndatadivr.demo.Client('ws://127.0.0.1:1/ws')"],
            ),
            ("datadivr --help", [*datadivr, "--help"]),
            ("datadivr serve --help", [*datadivr, "serve", "--help"]),
            (
                "datadivr generate --check, demo, no change",
                [*datadivr, "generate", *demo, "--check"],
            ),
        ]
        for _, argv in quick:  # untimed: the bytecode cache
            _run(argv, env, scratch)
        rows.extend(measure(label, argv, setting, runs) for label, argv in quick)

        schema = synthetic_schema(scratch / "schema", events)
        # Untimed: the generator's bytecode.
        _run(
            [*datadivr, "generate", "--schema", str(schema), "--out", str(scratch / "warm")],
            env,
            scratch,
        )
        folders = ["--schema", str(schema), "--out", str(scratch / "out-{i}")]
        label = f"datadivr generate, {events} events"
        rows.append(measure(label, [*datadivr, "generate", *folders], setting, generation_runs))
        out = ["--schema", str(schema), "--out", str(scratch / "out-0")]
        label = f"datadivr generate, {events} events, no change"
        rows.append(measure(label, [*datadivr, "generate", *out], setting, runs))
        label = f"datadivr generate --check, {events} events, no change"
        rows.append(measure(label, [*datadivr, "generate", *out, "--check"], setting, runs))

        def no_stamp(_: int) -> None:
            shutil.rmtree(cache, ignore_errors=True)

        label = f"datadivr generate --check, {events} events, no stamp"
        argv = [*datadivr, "generate", *out, "--check"]
        rows.append(measure(label, argv, setting, generation_runs, before_each=no_stamp))
    return {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "tree": str(tree) if tree is not None else "this checkout",
        "bytecode": "cached" if bytecode else "compiled on every run",
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average": list(os.getloadavg()),
        "rows": rows,
    }


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "| what | runs | wall s, median [min-max] | CPU s, median [min-max] |",
        "|---|---|---|---|",
    ]
    for row in result["rows"]:
        wall, cpu = row["wall_s"], row["cpu_s"]
        lines.append(
            f"| {row['what']} | {row['runs']} "
            f"| {wall['median']:.3f} [{wall['min']:.3f}-{wall['max']:.3f}] "
            f"| {cpu['median']:.3f} [{cpu['min']:.3f}-{cpu['max']:.3f}] |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11, help="runs of each quick command")
    parser.add_argument("--events", type=int, default=130, help="events of the big protocol")
    parser.add_argument("--generation-runs", type=int, default=3, help="runs of a generation")
    parser.add_argument("--smoke", action="store_true", help="every row once, 5 events")
    parser.add_argument(
        "--no-bytecode",
        action="store_true",
        help="compile every imported module on every run (no bytecode cache)",
    )
    parser.add_argument("--json", type=Path, help="write every figure to this file")
    parser.add_argument(
        "--tree",
        type=Path,
        help="time another checkout's datadivr (its src/ and codegen/ first on the module path)",
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.runs, args.events, args.generation_runs = 1, 5, 1
    result = run(
        args.runs, args.events, args.generation_runs, args.tree, bytecode=not args.no_bytecode
    )
    print(markdown(result))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
