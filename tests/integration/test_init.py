"""A user's own protocol project, from ``datadivr init`` on, with the real ``datadivr`` command
run in a folder outside the repository: generate, check, list, serve, a typed client over a
real socket, and ``mypy --strict`` over the user's code and the generated package."""

from __future__ import annotations

import asyncio
import importlib
import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.commands import CLI_ENV, DATADIVR_SCRIPT, run_datadivr, run_python, serving

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "my_game_protocol"
TIMEOUT = 10.0
STALE_HINT = f"{PACKAGE} is stale: run `datadivr generate`"


def datadivr(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_datadivr(*args, cwd=cwd, command=DATADIVR_SCRIPT)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``datadivr init my-game`` then ``datadivr generate`` in it."""
    parent = tmp_path_factory.mktemp("user")
    assert ROOT not in parent.parents
    result = datadivr("init", "my-game", cwd=parent)
    assert result.returncode == 0, result.stderr
    root = parent / "my-game"
    generated = datadivr("generate", cwd=root)
    assert generated.returncode == 0, generated.stderr
    return root


def test_init_writes_a_project_and_says_what_to_run(tmp_path: Path) -> None:
    result = datadivr("init", "my-game", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    root = tmp_path / "my-game"
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) == [
        "my_game_client.py",
        "my_game_server.py",
        "pyproject.toml",
        "schema/definitions.schema.json",
        "schema/envelope.schema.json",
        "schema/events/chat.schema.json",
        "schema/events/error.schema.json",
        "schema/events/greet.schema.json",
        "schema/events/greeting.schema.json",
        "schema/events/welcome.schema.json",
    ]
    pyproject = (root / "pyproject.toml").read_text("utf-8")
    assert "[tool.datadivr]\n# The JSON Schema files" in pyproject
    assert f'out = "{PACKAGE}"' in pyproject
    assert 'import = ["my_game_server"]' in pyproject
    steps = result.stdout.split("Next steps:\n")[1].splitlines()
    assert [step.split("#")[0].strip() for step in steps[:4]] == [
        "cd my-game",
        "datadivr generate",
        "datadivr serve",
        "python my_game_client.py alice",
    ]


def test_generate_check_and_the_headers(project: Path) -> None:
    models = (project / PACKAGE / "models.py").read_text("utf-8")
    assert models.splitlines()[1] == "# Regenerate with `datadivr generate`."
    fresh = datadivr("generate", "--check", cwd=project)
    assert (fresh.returncode, fresh.stdout) == (0, f"{PACKAGE} is up to date with schema\n")


def test_a_stale_package_says_the_command_that_regenerates_it(project: Path) -> None:
    chat = project / "schema" / "events" / "chat.schema.json"
    original = chat.read_text("utf-8")
    schema = json.loads(original)
    schema["properties"]["mood"] = {"type": "string", "enum": ["happy", "grumpy"]}
    chat.write_text(json.dumps(schema, indent=2) + "\n", "utf-8")
    try:
        stale = datadivr("generate", "--check", cwd=project)
        assert stale.returncode == 1
        assert stale.stderr.splitlines()[-1] == STALE_HINT
        assert "make generate" not in stale.stderr
        # The generator's own command says the same, from a subfolder of the project too.
        (project / "sub").mkdir(exist_ok=True)
        own = subprocess.run(
            [sys.executable, "-m", "datadivr_codegen", "--check"],
            cwd=project / "sub",
            env=CLI_ENV,
            capture_output=True,
            text=True,
            check=False,
        )
        assert own.returncode == 1
        # (the configured folder is shown relative to the current folder when inside it)
        assert own.stderr.splitlines()[-1] == (
            f"{project / PACKAGE} is stale: run `datadivr generate`"
        )
    finally:
        chat.write_text(original, "utf-8")
    assert datadivr("generate", "--check", cwd=project).returncode == 0


@pytest.mark.parametrize(
    "command", [[*DATADIVR_SCRIPT, "generate"], [sys.executable, "-m", "datadivr_codegen"]]
)
def test_the_environment_and_options_win_over_the_table(project: Path, command: list[str]) -> None:
    env = {**CLI_ENV, "DATADIVR_OUT": "elsewhere"}
    result = run_datadivr("--check", cwd=project, command=command, env=env)
    assert result.returncode == 1
    assert "missing: models.py" in result.stderr
    assert result.stderr.splitlines()[-1] == (
        "elsewhere is stale: run `datadivr generate --schema schema --out elsewhere`"
    )
    option = run_datadivr("--check", "--out", PACKAGE, cwd=project, command=command, env=env)
    assert (option.returncode, option.stdout) == (0, f"{PACKAGE} is up to date with schema\n"), (
        option.stderr
    )
    assert not (project / "elsewhere").exists()


def test_events_lists_the_configured_protocol(project: Path) -> None:
    result = datadivr("events", "--format", "json", cwd=project)
    assert result.returncode == 0, result.stderr
    rows = {row["event"]: row for row in json.loads(result.stdout)}
    assert sorted(rows) == ["chat", "error", "greet", "greeting", "welcome"]
    assert rows["greet"]["reply"] == "greeting"
    assert rows["chat"]["direction"] == "client_to_client"
    table = datadivr("events", cwd=project / PACKAGE)  # below the project: found walking up
    assert table.returncode == 0, table.stderr
    assert f"{PACKAGE}, sha256:" in table.stdout
    # Named on the command line, from the folder that holds it.
    named = datadivr("events", "--protocol", PACKAGE, cwd=project)
    assert named.returncode == 0, named.stderr


def test_protocol_found_in_src(tmp_path: Path) -> None:
    """``--protocol`` finds a package in the current folder's ``src/`` (no configuration)."""
    starter = ROOT / "src" / "datadivr" / "starter" / "schema"
    generated = datadivr(
        "generate", "--schema", starter, "--out", tmp_path / "src" / "game_protocol", cwd=tmp_path
    )
    assert generated.returncode == 0, generated.stderr
    result = datadivr("events", "--protocol", "game_protocol", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "game_protocol, sha256:" in result.stdout


def test_nothing_configured(tmp_path: Path) -> None:
    """``generate`` refuses to guess; the other commands use the demo, and say so."""
    result = datadivr("generate", cwd=tmp_path)
    assert result.returncode == 2
    text = " ".join(result.stderr.split())
    assert "nothing to generate" in text
    assert "datadivr init" in text
    assert "[tool.datadivr]" in text
    assert "--schema DIR --out DIR" in text
    assert not (tmp_path / "src").exists()
    events = datadivr("events", cwd=tmp_path)
    assert events.returncode == 0, events.stderr
    assert "datadivr.demo (the demo protocol: no --protocol, no [tool.datadivr] protocol)" in (
        " ".join(events.stdout.split())
    )


def test_a_bad_configuration_is_named(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.datadivr]\nschema = ["x"]\n', "utf-8")
    for command in (("generate",), ("events",)):
        result = datadivr(*command, cwd=tmp_path)
        assert result.returncode == 2
        assert f"{tmp_path / 'pyproject.toml'}: [tool.datadivr] schema: must be a folder" in (
            " ".join(result.stderr.split())
        )


async def test_serve_with_nothing_configured_says_it_serves_the_demo(tmp_path: Path) -> None:
    async with serving(cwd=tmp_path, command=DATADIVR_SCRIPT) as server:
        assert server.listening["protocol"] == (
            "datadivr.demo (the demo protocol: no --protocol, no [tool.datadivr] protocol)"
        )


@pytest.fixture
def generated_package(project: Path) -> Iterator[Any]:
    """The generated package, imported in this process from the user's folder."""
    sys.path.insert(0, str(project))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(project))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
            del sys.modules[name]


async def test_serve_answers_the_typed_client(project: Path, generated_package: Any) -> None:
    async with serving(cwd=project, command=DATADIVR_SCRIPT) as server:
        assert server.listening["protocol"] == PACKAGE
        ready = await server.read_until("server ready")
        assert ready["events"] == ["chat", "error", "greet", "greeting", "welcome"]
        assert ready["server_handlers"] == ["greet"]

        # The client script, as the next steps say to run it.
        code, out, err = await run_python(
            "my_game_client.py", "alice", server.url, cwd=project, timeout=30
        )
        assert code == 0, err
        assert out.startswith("hello, alice (you are ")

        # The relayed event, between two typed clients.
        client_type = generated_package.Client
        heard: asyncio.Queue[Any] = asyncio.Queue()
        async with client_type(server.url) as listener, client_type(server.url) as speaker:

            @listener.on("chat")
            async def hear(message: Any) -> None:
                await heard.put(message)

            greeting = await speaker.greet("bob", timeout=TIMEOUT)
            assert greeting.payload.text == f"hello, bob (you are {speaker.client_id})"
            await speaker.chat("hi all")
            message = await asyncio.wait_for(heard.get(), TIMEOUT)
            assert isinstance(message, generated_package.ChatMessage)
            assert (message.from_id, message.payload.text) == (speaker.client_id, "hi all")


async def test_the_client_script_says_what_went_wrong(project: Path) -> None:
    """Run without a name, or with no server there, the starter's client says so in a line
    and exits 1: no traceback."""
    code, out, err = await run_python("my_game_client.py", cwd=project, timeout=30)
    assert (code, out, err.strip()) == (1, "", "usage: python my_game_client.py NAME [URL]")

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"ws://127.0.0.1:{port}/ws"
    code, out, err = await run_python("my_game_client.py", "alice", url, cwd=project, timeout=30)
    assert code == 1
    assert err.startswith(f"error: cannot connect to {url}"), err
    assert "Traceback" not in err


def test_mypy_strict_over_the_users_code(project: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "my_game_server.py",
            "my_game_client.py",
            PACKAGE,
        ],
        cwd=project,
        env=CLI_ENV,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("Success: no issues found in 7 source files")
