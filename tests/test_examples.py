"""The documentation's code: every Python block in docs/ is a file of examples/, and each of
those runs here as the pages tell readers to run it, against a live server."""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from datadivr import HandlerError, HandlerType, RemoteError, create_app, default_registry
from datadivr.demo import Client, MsgMessage, PingMessage, PongMessage, PongPayload
from tests.commands import CLI_ENV, run_python, run_server_script
from tests.conftest import LiveServer

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
EXAMPLES = ROOT / "examples"
#: A Python block of the docs: only a snippet line including a file of examples/.
SNIPPET = re.compile(r'--8<-- "(examples/[\w/]+\.py)"')
#: The examples the tests below run.
RUN = {
    "quickstart_server.py",
    "quickstart_client.py",
    "handlers_servicer.py",
    "server_requests.py",
    "lifecycle_hooks.py",
    "client_tour.py",
    "chat.py",
}


def python_blocks() -> list[tuple[Path, str]]:
    return [
        (page, block)
        for page in sorted(DOCS.rglob("*.md"))
        for block in re.findall(
            r"^```python[^\n]*\n(.*?)^```", page.read_text(encoding="utf-8"), re.M | re.S
        )
    ]


def test_every_python_block_of_the_docs_includes_an_example() -> None:
    blocks = python_blocks()
    assert blocks, "the docs show no Python at all"
    for page, block in blocks:
        match = SNIPPET.fullmatch(block.strip())
        assert match, (
            f"{page.relative_to(ROOT)}: put this block in examples/ and include it:\n{block}"
        )
        assert (ROOT / match[1]).is_file(), f"{page.relative_to(ROOT)}: {match[1]} is missing"


def test_every_example_runs_here() -> None:
    assert {path.name for path in EXAMPLES.glob("*.py")} == RUN


@pytest.fixture
def clean_registry() -> Any:
    """The examples register handlers in the default registry: leave it as it was."""
    yield
    default_registry.unregister("sum_event", HandlerType.SERVER)


async def run_script(*args: str | Path) -> str:
    """``python ARGS`` as a reader would run it; its standard output once it exits 0."""
    status, out, err = await run_python(*args, cwd=ROOT, timeout=30)
    assert status == 0, err
    return out


@pytest.mark.usefixtures("clean_registry")
async def test_quickstart(
    serve_app: Callable[[FastAPI], AbstractContextManager[LiveServer]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The server script as `python examples/quickstart_server.py` runs it, but on a free port.
    server_ns = run_server_script(EXAMPLES / "quickstart_server.py", monkeypatch)

    with serve_app(server_ns["app"]) as server:
        async with Client(server.url) as watcher:
            out = await run_script(EXAMPLES / "quickstart_client.py", server.url)
            assert out.splitlines() == ["the sum is 6.5"]
            told = await watcher.receive(timeout=10)
    assert isinstance(told, MsgMessage)
    assert told.from_id == "server"
    assert told.message is not None
    assert told.message.endswith("added up to 6.5")


async def test_handlers_servicer(
    serve_app: Callable[[FastAPI], AbstractContextManager[LiveServer]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ns = run_server_script(EXAMPLES / "handlers_servicer.py", monkeypatch)

    with serve_app(ns["app"]) as server:
        async with Client(server.url) as client, Client(server.url) as other:
            result = await client.sum_event([1, 2.5], timeout=10)
            assert result.payload == 3.5
            with pytest.raises(RemoteError) as refused:
                await client.sum_event([1, -2], timeout=10)
            assert refused.value.code == "handler_error"
            assert "non-negative" in str(refused.value)
            # Handled, not relayed: both get the server's shout, the sender included.
            await client.msg("hello")
            for receiver in (client, other):
                shout = await receiver.receive(timeout=10)
                assert isinstance(shout, MsgMessage)
                assert shout.from_id == "server"
                assert shout.message == f"{client.client_id}: HELLO"


async def test_server_requests(
    serve_app: Callable[[FastAPI], AbstractContextManager[LiveServer]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ns = run_server_script(EXAMPLES / "server_requests.py", monkeypatch)

    with serve_app(ns["app"]) as server:
        async with Client(server.url) as alice, Client(server.url) as bob:
            assert alice.client_id is not None
            assert bob.client_id is not None

            @bob.on("ping")
            async def pong(message: PingMessage) -> PongMessage:
                sent_at = message.payload.sent_at
                return PongMessage(payload=PongPayload(sent_at=sent_at, received_at=sent_at))

            @alice.on("ping")
            async def busy(message: PingMessage) -> PongMessage:
                raise HandlerError("busy")

            await alice.msg(bob.client_id, to="server")
            told = await alice.receive(timeout=10)
            assert told.message == f"{bob.client_id} answered in 0 ms"
            await alice.msg("nobody", to="server")
            told = await alice.receive(timeout=10)
            assert told.message == "no pong from nobody: no client 'nobody' is connected"

            # A background task of the server's: run on its event loop.
            writer = ns["server"].connections[bob.client_id].writer
            everyone = asyncio.run_coroutine_threadsafe(ns["ping_everyone"](), writer.get_loop())
            answered = await asyncio.wrap_future(everyone)
            assert answered == {alice.client_id: False, bob.client_id: True}


async def test_lifecycle_hooks(
    serve_app: Callable[[FastAPI], AbstractContextManager[LiveServer]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ns = run_server_script(EXAMPLES / "lifecycle_hooks.py", monkeypatch)

    with serve_app(ns["app"]) as server:
        async with Client(server.url) as first:
            roster = await first.receive(timeout=10)
            assert isinstance(roster, MsgMessage)
            assert roster.message == f"players: {first.client_id}"
            async with Client(server.url) as second:
                roster = await second.receive(timeout=10)
                assert isinstance(roster, MsgMessage)
                assert roster.message == f"players: {first.client_id}, {second.client_id}"
                joined = await first.receive(timeout=10)
                assert isinstance(joined, MsgMessage)
                assert joined.message == f"{second.client_id} joined"
            left = await first.receive(timeout=10)
            assert isinstance(left, MsgMessage)
            assert left.message == f"{second.client_id} left (code 1000)"
        assert ns["app"].state.server.hub.registry.hooks("on_disconnect")


async def test_client_tour(
    serve_app: Callable[[FastAPI], AbstractContextManager[LiveServer]],
) -> None:
    with serve_app(create_app()) as server:
        out = await run_script(EXAMPLES / "client_tour.py", server.url)
    lines = out.splitlines()
    assert lines[0].startswith("alice is ")
    assert lines[1:] == ["sum: 6.0", "refused: handler_error", "pong! from bob: True"]


#: The conversation of docs/client.md: (terminal, line typed), each line awaited where it lands.
CONVERSATION = [
    ("A", "hello, anyone?"),
    ("B", "hi! I am here"),
    ("B", "@{A} this is for you only"),
    ("A", "@{B} got it, bye"),
]
CHAT = "uv run python examples/chat.py"


class Chat:
    """One ``python examples/chat.py URL`` with pipes, as a terminal would run it."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.transcript = [f"$ {CHAT}"]

    @classmethod
    async def start(cls, url: str) -> Chat:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(EXAMPLES / "chat.py"),
            url,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=CLI_ENV,
            cwd=ROOT,
        )
        return cls(proc)

    async def read(self) -> str:
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), 20)
        assert line, "the chat ended early"
        self.transcript.append(line.decode().rstrip("\n"))
        return self.transcript[-1]

    async def type(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.transcript.append(line)
        self.proc.stdin.write(line.encode() + b"\n")
        await self.proc.stdin.drain()

    async def end(self) -> tuple[int, str, str]:
        """Ctrl-D: the exit status, and what it printed after and on standard error."""
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        out, err = await asyncio.wait_for(self.proc.communicate(), 20)
        assert self.proc.returncode is not None
        return self.proc.returncode, out.decode(), err.decode()

    def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()


def documented_chat() -> list[list[str]]:
    """The two terminals of docs/client.md, one list of lines each."""
    blocks = re.findall(
        r"^```console\n(.*?)^```", (DOCS / "client.md").read_text(encoding="utf-8"), re.M | re.S
    )
    terminals = [block.splitlines() for block in blocks if block.startswith(f"$ {CHAT}\n")]
    assert len(terminals) == 2, "docs/client.md shows the chat in two terminals"
    return terminals


async def test_chat_between_two_terminals(
    serve_app: Callable[[FastAPI], AbstractContextManager[LiveServer]],
) -> None:
    with serve_app(create_app()) as server:
        chats = {"A": await Chat.start(server.url), "B": await Chat.start(server.url)}
        try:
            ids = {}
            for name, chat in chats.items():
                ids[name] = (await chat.read()).removeprefix("you are ")
            for name, line in CONVERSATION:
                other = "B" if name == "A" else "A"
                await chats[name].type(line.format(**ids))
                text = line.format(**ids).partition(" ")[2] if line.startswith("@") else line
                private = " (to you)" if line.startswith("@") else ""
                assert await chats[other].read() == f"{ids[name]}{private}: {text}"
            for chat in chats.values():
                # Nothing more: a client never gets its own lines back.
                assert await chat.end() == (0, "", "")
        finally:
            for chat in chats.values():
                chat.kill()

    # The page shows this very conversation, with the ids of the run it was copied from.
    shown = documented_chat()
    shown_ids = {
        "A": shown[0][1].removeprefix("you are "),
        "B": shown[1][1].removeprefix("you are "),
    }
    for name, lines in zip("AB", shown, strict=True):
        expected = chats[name].transcript
        for key in "AB":
            expected = [line.replace(ids[key], shown_ids[key]) for line in expected]
        assert lines == expected


async def test_chat_ends_on_ctrl_c(
    serve_app: Callable[[FastAPI], AbstractContextManager[LiveServer]],
) -> None:
    with serve_app(create_app()) as server:
        chat = await Chat.start(server.url)
        try:
            assert (await chat.read()).startswith("you are ")
            chat.proc.send_signal(signal.SIGINT)
            out, err = await asyncio.wait_for(chat.proc.communicate(), 20)
        finally:
            chat.kill()
    assert (chat.proc.returncode, out, err) == (0, b"", b"")


async def test_chat_without_a_server_says_so() -> None:
    chat = await Chat.start("ws://127.0.0.1:9/ws")
    try:
        status, out, err = await chat.end()
    finally:
        chat.kill()
    assert (status, out) == (1, "")
    assert err.startswith("chat over: ")
