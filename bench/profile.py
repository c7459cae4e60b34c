"""Where a server spends its CPU under one workload: py-spy samples the server process while
the load client runs, and the samples are summarised by layer and by function.

    python -m bench.profile --server DATADIVR --workload reqrep-50 [--scale 0.5]

Samples of the server waiting in ``epoll`` for its next event are left out, so the shares are
shares of the server's work. A sample counts toward a function's *inclusive*
share when the function is anywhere on the stack, and toward its *own* share when it is the
innermost frame; a layer is the package of the innermost frame.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.run import SERVERS, _register_more, _server, run_load

__all__ = ["Profile", "main", "parse_collapsed", "profile"]

#: The layer of an innermost frame, by a fragment of its file's path; the first match wins.
LAYERS = (
    ("datadivr", ("/datadivr/",)),
    ("pydantic (validation, serialization)", ("/pydantic/", "/pydantic_core/")),
    ("uvicorn + websockets (the WebSocket protocol)", ("/uvicorn/", "/websockets/", "/wsproto/")),
    ("starlette + FastAPI", ("/starlette/", "/fastapi/")),
    ("asyncio (event loop, tasks, futures, epoll)", ("/asyncio/", "uvloop", "/selectors.py")),
    ("json", ("/json/",)),
    ("app (the benchmark's own server code)", ("/bench/apps/",)),
    ("socketio + engineio", ("/socketio/", "/engineio/")),
)


@dataclass
class Profile:
    """Samples of one server under one workload."""

    server: str
    workload: str
    samples: int = 0
    layers: Counter[str] = field(default_factory=Counter)
    own: Counter[str] = field(default_factory=Counter)
    inclusive: Counter[str] = field(default_factory=Counter)

    def share(self, count: int) -> float:
        return 100.0 * count / self.samples if self.samples else 0.0

    def as_dict(self, top: int = 15) -> dict[str, Any]:
        return {
            "server": self.server,
            "workload": self.workload,
            "samples": self.samples,
            "layers": {k: round(self.share(v), 1) for k, v in self.layers.most_common()},
            "own": {k: round(self.share(v), 1) for k, v in self.own.most_common(top)},
            "inclusive": {k: round(self.share(v), 1) for k, v in self.inclusive.most_common(top)},
        }

    def render(self, top: int = 12) -> str:
        lines = [
            f"### {self.server}, {self.workload}: {self.samples} samples",
            "",
            "| layer (innermost frame) | share of CPU |",
            "|---|---:|",
        ]
        lines += [f"| {k} | {self.share(v):.1f}% |" for k, v in self.layers.most_common()]
        lines += ["", "| function (own time) | share |", "|---|---:|"]
        lines += [f"| `{k}` | {self.share(v):.1f}% |" for k, v in self.own.most_common(top)]
        lines += ["", "| function (inclusive) | share |", "|---|---:|"]
        lines += [f"| `{k}` | {self.share(v):.1f}% |" for k, v in self.inclusive.most_common(top)]
        return "\n".join(lines)


def _layer(path: str) -> str:
    for name, fragments in LAYERS:
        if any(fragment in path for fragment in fragments):
            return name
    return "other"


def _frame(raw: str) -> tuple[str, str]:
    """``function (path/to/file.py:12)`` → (``file.function``, path)."""
    name, _, where = raw.rpartition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    stem = Path(path).stem if path else "?"
    return f"{stem}.{name or raw}", path


def parse_collapsed(server: str, workload: str, lines: Iterable[str]) -> Profile:
    """Summarise py-spy's ``--format raw`` output (collapsed stacks: ``a;b;c count``)."""
    result = Profile(server, workload)
    for line in lines:
        stack, _, count_text = line.rstrip("\n").rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame(f) for f in stack.split(";")]
        # py-spy puts the thread first ("process 12:..." / "thread (0x..)"): not code.
        frames = [f for f in frames if f[1].endswith(".py") or f[1].endswith(".pyx")]
        if not frames or (frames[-1][0].endswith(".select") and "selectors" in frames[-1][1]):
            continue  # waiting in epoll for the next event: not work, though py-spy counts it
        result.samples += count
        name, path = frames[-1]
        result.layers[_layer(path)] += count
        result.own[name] += count
        # Inclusive shares count from the callback the event loop runs (a task's step, a
        # protocol's data_received): what is above it is on every stack.
        callbacks = [i for i, f in enumerate(frames) if f[0] == "events.Handle._run"]
        below = frames[callbacks[-1] + 1 :] if callbacks else frames
        for seen in {f[0] for f in below}:
            result.inclusive[seen] += count
    return result


def profile(server: str, workload: str, scale: float, rate: int = 500) -> Profile:
    """Run ``workload`` against a fresh ``server`` process, sampled by py-spy from the moment
    it listens (its start-up is left out)."""
    _register_more()
    spec = SERVERS[server]
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    with tempfile.TemporaryDirectory() as tmp, _server(spec) as (port, process):
        out = Path(tmp) / "stacks.txt"
        # A warm-up, not sampled: the first connection's lazy imports and validators.
        run_load(spec, port, process.pid, workload, 0.01)
        spy = subprocess.Popen(
            [py_spy, "record", "--pid", str(process.pid), "--format", "raw", "--rate", str(rate),
             "--output", str(out), "--nonblocking", "--full-filenames"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            time.sleep(0.5)  # py-spy attaches
            run_load(spec, port, process.pid, workload, scale)
        finally:
            spy.send_signal(signal.SIGINT)  # py-spy writes its samples and exits
            try:
                spy.wait(60)
            except subprocess.TimeoutExpired:
                spy.kill()
                spy.wait()
        if not out.exists():
            raise RuntimeError(
                f"py-spy wrote no samples: {spy.stderr.read() if spy.stderr else ''}"
            )
        with out.open(encoding="utf-8") as lines:
            return parse_collapsed(server, workload, lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--servers", default="DATADIVR,RAW")
    parser.add_argument("--workloads", default="reqrep-1,reqrep-50")
    parser.add_argument("--scale", type=float, default=0.5)
    parser.add_argument("--rate", type=int, default=500, help="samples a second")
    parser.add_argument("--json", type=Path, help="also write the summaries here")
    parser.add_argument("--markdown", type=Path, help="also write the tables here")
    args = parser.parse_args(argv)
    profiles = [
        profile(server.strip(), workload.strip(), args.scale, args.rate)
        for workload in args.workloads.split(",")
        for server in args.servers.split(",")
    ]
    text = "\n\n".join(p.render() for p in profiles)
    print(text)
    if args.markdown is not None:
        args.markdown.write_text(text + "\n", encoding="utf-8")
    if args.json is not None:
        args.json.write_text(
            json.dumps([p.as_dict() for p in profiles], indent=1) + "\n", encoding="utf-8"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
