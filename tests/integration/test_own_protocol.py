"""A user's own protocol, from the built wheel to a typed app, outside this repository.

The wheel is installed with the ``codegen`` extra in a fresh virtual environment; ``datadivr
init`` writes a project; the test adds events of its own (a union payload, an optional field,
an enum definition, a request the server sends), generates, serves with ``datadivr serve``,
talks to the server with the generated typed client over a real socket, and runs
``mypy --strict`` over the user's code and over a second package that imports the generated
one as an installed SDK.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.integration.test_wheel import build_wheel

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

PACKAGE = "game_protocol"

#: The game of docs/own-protocol.md: the schemas it adds to what ``datadivr init`` wrote, its
#: handlers (arena.py), its player (play.py), and a second package's module (scoreboard.py).
GAME = Path(__file__).resolve().parents[2] / "examples" / "game"


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with ``datadivr[codegen]`` from the wheel, and mypy."""
    uv = os.environ.get("UV") or shutil.which("uv")
    assert uv, "uv is needed to build the wheel (make install provides it)"
    root = tmp_path_factory.mktemp("own")
    wheel = build_wheel(uv, root / "dist")
    venv = root / "venv"
    subprocess.run(
        [uv, "venv", "--python", sys.executable, str(venv)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    subprocess.run(
        [
            uv,
            "pip",
            "install",
            "--python",
            str(venv / "bin" / "python"),
            f"{wheel}[codegen]",
            "mypy",
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return venv


def _run(
    venv: Path, *args: str, cwd: Path, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": f"{venv / 'bin'}:{os.environ.get('PATH', '')}",
        "HOME": os.environ.get("HOME", str(cwd)),
        "NO_COLOR": "1",
        "COLUMNS": "200",
        "PYTHONUNBUFFERED": "1",
    }
    return subprocess.run(
        list(args), cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def test_own_protocol_from_the_wheel(venv: Path, tmp_path: Path) -> None:
    project = tmp_path / "game"
    project.mkdir()
    datadivr = str(venv / "bin" / "datadivr")
    python = str(venv / "bin" / "python")

    init = _run(venv, datadivr, "init", "--package", PACKAGE, cwd=project)
    assert init.returncode == 0, init.stderr
    assert "datadivr generate" in init.stdout
    shutil.copytree(GAME / "schema", project / "schema", dirs_exist_ok=True)
    for name in ("arena.py", "play.py"):
        shutil.copy(GAME / name, project / name)
    config = (project / "pyproject.toml").read_text()
    (project / "pyproject.toml").write_text(
        config.replace('import = ["game_server"]', 'import = ["game_server", "arena"]')
    )
    assert 'import = ["game_server", "arena"]' in (project / "pyproject.toml").read_text()

    # generate, with no flags: [tool.datadivr] says where
    generate = _run(venv, datadivr, "generate", cwd=project)
    assert generate.returncode == 0, generate.stderr
    assert (project / PACKAGE / "py.typed").is_file()
    check = _run(venv, datadivr, "generate", "--check", cwd=project)
    assert check.returncode == 0, check.stderr
    events = _run(venv, datadivr, "events", "--format", "json", cwd=project)
    assert events.returncode == 0, events.stderr
    assert {row["event"] for row in json.loads(events.stdout)} >= {
        "join",
        "act",
        "ready_check",
        "ready",
        "greet",
        "chat",
    }

    # mypy --strict over the user's code
    typed = _run(
        venv, python, "-m", "mypy", "--strict", "game_server.py", "game_client.py", "arena.py",
        "play.py", PACKAGE, cwd=project, timeout=300,
    )  # fmt: skip
    assert typed.returncode == 0, typed.stdout + typed.stderr

    # serve it, with no flags but the port, and play a round with the typed client
    server = subprocess.Popen(
        [datadivr, "serve", "--port", "0", "--log-format", "json"],
        cwd=project,
        env={**os.environ, "PATH": f"{venv / 'bin'}:{os.environ.get('PATH', '')}"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = _listening_url(server)
        play = _run(venv, python, "play.py", url, cwd=project, timeout=60)
        assert play.returncode == 0, play.stderr
        assert play.stdout.splitlines() == [
            "ready: True",
            "joined blue True",
            "joined red ace",
            "shot tower with power 3",
            "refused here $.payload.team",
            "refused there validation_error ['$.payload', '$.payload.target']",
        ]
    finally:
        server.terminate()
        server.wait(timeout=30)
        assert server.stderr is not None
        drain = getattr(server, "drain", None)
        if drain is not None:
            drain.join(10)
        server.stderr.close()

    # a second package imports the generated one as an installed, typed SDK
    site = Path(
        _run(venv, python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=tmp_path).stdout.strip()
    )  # fmt: skip
    shutil.copytree(project / PACKAGE, site / PACKAGE)
    consumer = tmp_path / "consumer"
    consumer.mkdir()
    shutil.copy(GAME / "scoreboard.py", consumer / "scoreboard.py")
    typed = _run(venv, python, "-m", "mypy", "--strict", "scoreboard.py", cwd=consumer, timeout=300)
    assert typed.returncode == 0, typed.stdout + typed.stderr
    ran = _run(venv, python, "scoreboard.py", cwd=consumer)
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout) == {
        "event_name": "join",
        "payload": {"team": "blue", "nickname": "ace"},
    }

    # a schema change makes the package stale, and the hint names the command
    acted = project / "schema" / "events" / "acted.schema.json"
    acted.write_text(json.dumps({**json.loads(acted.read_text()), "description": "Changed."}))
    stale = _run(venv, datadivr, "generate", "--check", cwd=project)
    assert stale.returncode == 1
    assert "datadivr generate" in stale.stderr
    assert "make generate" not in stale.stderr

    # the project's history: a reworded schema breaks nobody; a tighter bound breaks clients
    git = ("git", "-c", "user.name=u", "-c", "user.email=u@example.invalid")
    for step in (("init", "-q"), ("add", "-A"), ("commit", "-qm", "v1")):
        assert _run(venv, *git, *step, cwd=project).returncode == 0
    reworded = _run(venv, datadivr, "schema", "diff", "--against", "HEAD", cwd=project)
    assert reworded.returncode == 0, reworded.stdout + reworded.stderr
    act = project / "schema" / "events" / "act.schema.json"
    schema = json.loads(act.read_text())
    schema["anyOf"][0]["properties"]["power"]["maximum"] = 5
    act.write_text(json.dumps(schema))
    tighter = _run(
        venv, datadivr, "schema", "diff", "--against", "HEAD", "--format", "json", cwd=project
    )
    assert tighter.returncode == 1, tighter.stderr
    report = json.loads(tighter.stdout)
    assert [(c["id"], c["breaks"]) for c in report["changes"]] == [
        ("act:maximum-lowered:$.payload.power", ["clients"])
    ]
    assert _run(venv, "git", "status", "--porcelain", cwd=project).stdout.split() == [
        "M",
        "schema/events/act.schema.json",
    ]


def _listening_url(server: subprocess.Popen[str]) -> str:
    """The WebSocket URL from ``datadivr serve``'s ``listening`` record."""
    assert server.stderr is not None
    seen = []
    for _ in range(200):  # bounded: the startup log is a handful of lines
        line = server.stderr.readline()
        if not line:
            break
        seen.append(line)
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("event") == "listening":
            # keep reading what it logs, so that it never blocks on a full pipe
            drain = threading.Thread(target=server.stderr.read, daemon=True)
            drain.start()
            server.drain = drain  # type: ignore[attr-defined]
            return str(record["url"])
    raise AssertionError("datadivr serve did not listen:\n" + "".join(seen))
