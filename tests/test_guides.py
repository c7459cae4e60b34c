"""The guides' examples, run as the pages show them.

Every fenced block of the guides is exercised here:

- ``console`` blocks are shell sessions: each ``$`` command runs in bash, in a copy of the
  repository's ``examples/`` (and ``schema/`` with its generated package), one page one
  sandbox, ``uv run X`` running ``X`` from this environment; what it prints (standard output
  and error) must be the lines under it, ``…`` standing for any text within a line. A command
  that fails must be followed by ``echo $?``, which shows its exit status. Commands that keep
  running, or need a second terminal, are in :data:`DEDICATED` and have tests of their own;
- ``diff`` blocks are applied to the sandbox where they stand in the session;
- ``json`` and ``python`` blocks include files of ``examples/`` that the sessions and the tests
  below use; ``js`` blocks include parts of ``examples/browser/``, which
  ``tests/integration/test_browser_example.py`` runs in headless Chromium;
- the tables of what each keyword becomes and of refused schemas are compared with the
  generator.
"""

from __future__ import annotations

import ast
import asyncio
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from datadivr import create_app
from datadivr.exceptions import MessageValidationError
from datadivr_codegen.drafts import LATEST
from datadivr_codegen.errors import SchemaError, SchemaErrors
from datadivr_codegen.generator import generate, plan
from datadivr_codegen.schema import load_schema_folder
from tests.commands import CLI_ENV, run_python, run_server_script
from tests.conftest import LiveServer

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
CHATROOM = ROOT / "examples" / "chatroom"
GUIDES = ("schemas.md", "regenerating.md", "validating.md")
#: The server address the pages use; a session that needs a server gets its real one instead.
ADDRESS = "127.0.0.1:8765"
PROXY_ADDRESS = "127.0.0.1:8766"
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.M | re.S)
#: A fence inside a list item, which the tests would not see: the guides have none.
INDENTED_FENCE = re.compile(r"^[ \t]+```", re.M)
SNIPPET = re.compile(r'--8<-- "(examples/[\w/.-]+)"')
SNIPPET_PART = re.compile(r'--8<-- "(examples/[\w/.-]+):(\w+)"')
#: ``uv run X`` runs ``X`` from the environment running the tests.
PRELUDE = 'uv() { if [ "$1" = run ]; then shift; fi; "$@"; }\n'

#: Commands a session cannot run (they keep running, or need a server of their own): the test
#: that runs each, exactly as shown.
DEDICATED = {
    "uv run python examples/chatroom/server.py": "test_chatroom_server_and_client",
    "uv run python examples/chatroom/client.py alice": "test_chatroom_server_and_client",
    "uv run python examples/chatroom/client.py bob": "test_chatroom_server_and_client",
    "uv run datadivr proxy --upstream ws://127.0.0.1:8765/ws --listen 127.0.0.1:8766 "
    "--report proxy-report.json": "test_proxy",
    "uv run datadivr client --url ws://127.0.0.1:8766/ws < examples/validating/capture.jsonl": (
        "test_proxy"
    ),
}


#: The text blocks, by their first line: what a dedicated test compares them with.
TEXT_BLOCKS = {
    "datadivr proxy: ": "test_proxy (the summary printed on exit)",
    "… [warning  ] protocol violation": "test_proxy (the violations logged)",
    "_Check1: TypeAlias": "test_the_refused_examples_are_accepted_spelt_right_and_checked",
}


@dataclass(frozen=True)
class Command:
    """One ``$`` line of a console block and the lines printed under it."""

    line: str
    output: tuple[str, ...]


def fences(page: str) -> list[tuple[str, str]]:
    """Every fenced block of ``docs/<page>``: (language, text)."""
    return FENCE.findall((DOCS / page).read_text(encoding="utf-8"))


def commands(block: str) -> list[Command]:
    found: list[Command] = []
    line: str | None = None
    output: list[str] = []
    for text in block.splitlines():
        if text.startswith("$ "):
            if line is not None:
                found.append(Command(line, tuple(output)))
            line, output = text[2:], []
        else:
            assert line is not None, f"output before any command: {text!r}"
            output.append(text)
    assert line is not None, "a console block without a command"
    found.append(Command(line, tuple(output)))
    return found


def documented(page: str, command: str) -> Command:
    """The command ``command`` as ``docs/<page>`` shows it (once)."""
    shown = [
        c
        for language, block in fences(page)
        if language == "console"
        for c in commands(block)
        if c.line == command
    ]
    assert len(shown) == 1, f"docs/{page} shows `{command}` {len(shown)} times"
    return shown[0]


def text_block(page: str, first_line: str) -> list[str]:
    """The ``text`` block of ``docs/<page>`` that starts with ``first_line``."""
    shown = [
        block.splitlines()
        for language, block in fences(page)
        if language == "text" and block.startswith(first_line)
    ]
    assert len(shown) == 1, f"docs/{page} has {len(shown)} text blocks starting {first_line!r}"
    return shown[0]


def matches(actual: list[str], expected: tuple[str, ...] | list[str]) -> bool:
    """Whether the lines are the same, ``…`` in an expected line standing for any text."""
    if len(actual) != len(expected):
        return False
    for got, want in zip(actual, expected, strict=True):
        pattern = ".*".join(re.escape(part) for part in want.split("…"))
        if not re.fullmatch(pattern, got):
            return False
    return True


def sandbox(root: Path) -> Path:
    """What the sessions work on: copies of the repository's examples, schema and generated
    package (nothing generated by a reader's earlier run), and its pyproject.toml, whose
    ``[tool.datadivr]`` names the schema folder and the package."""
    ignore = shutil.ignore_patterns("__pycache__", ".mypy_cache", "chatroom_protocol")
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    shutil.copytree(ROOT / "examples", root / "examples", ignore=ignore)
    shutil.copytree(ROOT / "schema", root / "schema")
    shutil.copytree(
        ROOT / "src" / "datadivr" / "demo",
        root / "src" / "datadivr" / "demo",
        ignore=ignore,
    )
    return root


def shell_env() -> dict[str, str]:
    """The tests' environment first on the PATH (``datadivr``, ``mypy``, ``python3``), and a
    locale that sorts and reports the same everywhere."""
    bin_dir = str(Path(sys.executable).parent)
    return {**CLI_ENV, "PATH": bin_dir + os.pathsep + CLI_ENV["PATH"], "LC_ALL": "C"}


def run_shell(command: str, cwd: Path, status: int) -> tuple[int, list[str]]:
    """``command`` in bash, ``$?`` being ``status``; its exit status and output lines."""
    result = subprocess.run(
        ["bash", "-c", f"{PRELUDE}(exit {status})\n{command}"],
        cwd=cwd,
        env=shell_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=180,
        check=False,
    )
    return result.returncode, [line.rstrip() for line in result.stdout.splitlines()]


def apply_diff(diff: str, cwd: Path) -> None:
    result = subprocess.run(
        ["git", "apply", "--verbose", "-"],
        input=diff,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


# -- every block is exercised ------------------------------------------------------------------


@pytest.mark.parametrize("page", GUIDES)
def test_every_block_of_the_guides_is_exercised(page: str) -> None:
    blocks = fences(page)
    assert blocks, f"docs/{page} shows no example"
    assert not INDENTED_FENCE.search((DOCS / page).read_text(encoding="utf-8"))
    here = sys.modules[__name__]
    for language, block in blocks:
        if language == "console":
            for command in commands(block):
                if command.line in DEDICATED:
                    assert hasattr(here, DEDICATED[command.line])
        elif language in ("json", "python"):
            # An included file: the sessions and tests below use each.
            match = SNIPPET.fullmatch(block.strip())
            assert match, f"docs/{page}: include a file of examples/ instead:\n{block}"
            assert (ROOT / match[1]).is_file(), match[1]
            assert match[1].startswith(("examples/chatroom/", "examples/validating/")), match[1]
        elif language in ("js", "ts"):
            # Parts of the browser example, which tests/integration/test_browser_example.py
            # runs in headless Chromium, and of the typed client that
            # tests/codegen/test_typescript.py compiles.
            match = SNIPPET_PART.fullmatch(block.strip())
            assert match, f"docs/{page}: include a part of examples/ instead:\n{block}"
            assert (ROOT / match[1]).is_file(), match[1]
            assert match[1].startswith(("examples/browser/", "examples/typescript/")), match[1]
            assert f"[start:{match[2]}]" in (ROOT / match[1]).read_text(encoding="utf-8")
        elif language == "text":
            assert block.startswith(tuple(TEXT_BLOCKS)), f"docs/{page}: untested text:\n{block}"
        else:
            assert language == "diff", f"docs/{page}: a {language or 'plain'} block is not tested"


# -- the sessions -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "page",
    [
        # Three runs of mypy and five of the generator: most of a minute.
        pytest.param(page, marks=[pytest.mark.slow, pytest.mark.timeout(600)])
        if page == "regenerating.md"
        else page
        for page in GUIDES
    ],
)
def test_session(
    page: str,
    tmp_path: Path,
    serve_app: Callable[[FastAPI], AbstractContextManager[LiveServer]],
) -> None:
    root = sandbox(tmp_path / "repo")
    steps: list[Command | str] = []
    for language, block in fences(page):
        if language == "diff":
            steps.append(block)
        elif language == "console":
            shown = commands(block)
            if shown[0].line not in DEDICATED:
                assert not any(c.line in DEDICATED for c in shown)
                steps.extend(shown)
    with ExitStack() as stack:
        address = ADDRESS
        if any(isinstance(step, Command) and ADDRESS in step.line for step in steps):
            server = stack.enter_context(serve_app(create_app()))
            address = f"127.0.0.1:{server.port}"
        status = 0
        for i, step in enumerate(steps):
            if isinstance(step, str):
                apply_diff(step, root)
                continue
            status, output = run_shell(step.line.replace(ADDRESS, address), root, status)
            expected = [line.replace(ADDRESS, address) for line in step.output]
            assert matches(output, expected), (
                f"docs/{page}: `$ {step.line}` printed:\n" + "\n".join(output)
            )
            if status != 0:
                following = steps[i + 1] if i + 1 < len(steps) else None
                then = following.line if isinstance(following, Command) else None
                assert then == "echo $?", (
                    f"docs/{page}: `$ {step.line}` exits {status}: show it with `echo $?`"
                )


# -- the tables of docs/schemas.md --------------------------------------------------------------

REFUSED = "events/refused.schema.json"
DRAFT = "https://json-schema.org/draft/2020-12/schema"


#: A cell of a table row: text up to the next ``|`` outside a code span.
CELL = re.compile(r"((?:`[^`]*`|[^`|])+)\|")


def table(page: str, header: str) -> list[list[str]]:
    """The rows of the table of ``docs/<page>`` whose first header cell is ``header``: cells
    (a ``|`` inside a code span, as in ``str | int``, is no separator)."""
    lines = (DOCS / page).read_text(encoding="utf-8").splitlines()
    start = [i for i, line in enumerate(lines) if line.startswith(f"| {header} |")]
    assert len(start) == 1, f"docs/{page}: {len(start)} tables headed {header!r}"
    rows = []
    for line in lines[start[0] + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in CELL.findall(line.removeprefix("|"))])
    assert rows
    return rows


def code(cell: str) -> str:
    """The text of a cell that is one inline code span."""
    match = re.fullmatch(r"`([^`]+)`", cell)
    assert match, f"not one code span: {cell}"
    return match[1]


def chatroom_copy(root: Path) -> Path:
    return Path(shutil.copytree(CHATROOM / "schema", root))


def refusal(schema: Path) -> str:
    with pytest.raises(SchemaError) as refused:
        load_schema_folder(schema)
    return str(refused.value)


#: The kinds of the keyword table's last column a generated field is checked against.
TYPED = {"type", "constraint", "class", "Literal", "discriminated union", "annotation"}
CHECKED = {"check", "model check"}


@dataclass(frozen=True)
class KeywordRow:
    keywords: frozenset[str]
    schema: Any
    annotation: str
    how: str


def keyword_rows() -> list[KeywordRow]:
    """The rows of docs/schemas.md's "Keywords and what they become" that name a property."""
    rows = []
    for keywords, prop, annotation, how in table("schemas.md", "keywords"):
        named = frozenset(re.findall(r"`([^`]+)`", keywords))
        if prop == "—":
            rows.append(KeywordRow(named, None, annotation, how))
        else:
            rows.append(KeywordRow(named, json.loads(code(prop)), code(annotation), how))
    return rows


@pytest.fixture(scope="module")
def keywords_models(tmp_path_factory: pytest.TempPathFactory) -> ast.Module:
    """``models.py`` of the chat room with one event more, whose payload has a required
    property per row of the keyword table (``row<i>``)."""
    root = tmp_path_factory.mktemp("keywords")
    schema = chatroom_copy(root / "schema")
    props = {f"row{i}": r.schema for i, r in enumerate(keyword_rows()) if r.schema is not None}
    event = {
        "$schema": DRAFT,
        "title": "KeywordsPayload",
        "x-datadivr": {"event": "keywords", "direction": "client_to_server"},
        "type": "object",
        "properties": props,
        "required": list(props),
        "additionalProperties": False,
    }
    (schema / "events" / "keywords.schema.json").write_text(json.dumps(event), encoding="utf-8")
    generate(schema, root / "keywords_protocol")
    return ast.parse((root / "keywords_protocol" / "models.py").read_text(encoding="utf-8"))


def test_the_keyword_table_names_every_keyword() -> None:
    listed: set[str] = set().union(*(row.keywords for row in keyword_rows()))
    assert LATEST.assertions | LATEST.annotations - {"definitions"} <= listed
    assert {row.how for row in keyword_rows() if row.schema is not None} <= TYPED | CHECKED


def test_every_keyword_becomes_what_the_table_says(keywords_models: ast.Module) -> None:
    checks: dict[str, tuple[str, str]] = {}  # a check alias: its type, its pointer
    model_checks: dict[str, str] = {}  # a class with a check: its pointer
    fields: dict[str, str] = {}
    for node in keywords_models.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            text = ast.unparse(node.value) if node.value else ""
            if found := re.fullmatch(r"Annotated\[(.*), _CHECKS\.at\('([^']*)'\)\]", text):
                checks[node.target.id] = (found[1], found[2])
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                line = ast.unparse(item)
                if found := re.fullmatch(r"__datadivr_check__ = _CHECKS\.model\('([^']*)'\)", line):
                    model_checks[node.name] = found[1]
                if node.name == "KeywordsPayload" and isinstance(item, ast.AnnAssign):
                    fields[ast.unparse(item.target)] = ast.unparse(item.annotation)
    for i, row in enumerate(keyword_rows()):
        if row.schema is None:
            continue
        at, field = f"/$defs/KeywordsPayload/properties/row{i}", fields[f"row{i}"]
        inside = [p for p, _ in checks.values() if p.startswith(at)]
        inside += [p for p in model_checks.values() if p.startswith(at)]
        if row.how == "check":
            assert checks.get(field) == (row.annotation, at), (row, field)
            continue
        assert field == row.annotation, (row, field)
        if row.how == "model check":
            assert [c for c, p in model_checks.items() if p == at and c in field], row
        else:
            assert not inside, (row, inside)


def test_every_refused_property_gives_the_documented_error(tmp_path: Path) -> None:
    rows = table("schemas.md", "the property `value`")
    for i, (value, error) in enumerate(rows):
        schema = chatroom_copy(tmp_path / str(i))
        event = {
            "$schema": DRAFT,
            "x-datadivr": {"event": "refused", "direction": "client_to_server"},
            "type": "object",
            "properties": {"value": json.loads(code(value))},
        }
        (schema / REFUSED).write_text(json.dumps(event, indent=2), encoding="utf-8")
        assert refusal(schema) == f"{REFUSED}: {code(error)}"


def test_every_refused_extension_gives_the_documented_error(tmp_path: Path) -> None:
    rows = table("schemas.md", "`x-datadivr`")
    for i, (extension, error) in enumerate(rows):
        schema = chatroom_copy(tmp_path / str(i))
        event = {"$schema": DRAFT, "x-datadivr": json.loads(code(extension)), "type": "null"}
        (schema / REFUSED).write_text(json.dumps(event, indent=2), encoding="utf-8")
        assert refusal(schema) == f"{REFUSED}: {code(error)}"


def test_every_refused_example_gives_the_documented_error(tmp_path: Path) -> None:
    rows = table("schemas.md", "`events/join.schema.json` with")
    for i, (keys, error) in enumerate(rows):
        schema = chatroom_copy(tmp_path / str(i))
        join = schema / "events" / "join.schema.json"
        data = json.loads(join.read_text(encoding="utf-8"))
        del data["examples"]
        data.update(json.loads(code(keys)))
        join.write_text(json.dumps(data, indent=2), encoding="utf-8")
        with pytest.raises(SchemaError) as refused:
            plan(schema)  # examples are made and checked after the folder loaded
        assert str(refused.value) == code(error)


def _edit(schema: Path, rel: str, change: Callable[[dict[str, Any]], None]) -> None:
    data = json.loads((schema / rel).read_text(encoding="utf-8"))
    change(data)
    (schema / rel).write_text(json.dumps(data, indent=2), encoding="utf-8")


#: How the folder table's rows break a copy of the chat room's schema folder.
FOLDER_FAULTS: dict[str, Callable[[Path], None]] = {
    "no `envelope.schema.json`": lambda s: (s / "envelope.schema.json").unlink(),
    "a second `envelope.schema.json`": lambda s: shutil.copy(
        s / "envelope.schema.json", s / "events" / "envelope.schema.json"
    ),
    "an envelope without `reply_to`": lambda s: _edit(
        s, "envelope.schema.json", lambda d: d["properties"].pop("reply_to")
    ),
    "no event file": lambda s: [p.unlink() for p in (s / "events").iterdir()],
    "two events named `say`": lambda s: shutil.copy(
        s / "events" / "say.schema.json", s / "events" / "shout.schema.json"
    ),
    'a file of draft 2019-09 with `"$recursiveAnchor": true`': lambda s: _edit(
        s,
        "events/say.schema.json",
        lambda d: d.update(
            {"$schema": "https://json-schema.org/draft/2019-09/schema", "$recursiveAnchor": True}
        ),
    ),
    "`join`'s `title` set to `RosterPayload`": lambda s: _edit(
        s, "events/join.schema.json", lambda d: d.update(title="RosterPayload")
    ),
    "a definition named `Client`": lambda s: _edit(
        s, "definitions.schema.json", lambda d: d["$defs"].update(Client={"type": "object"})
    ),
    "a file of draft 03": lambda s: _edit(
        s,
        "events/say.schema.json",
        lambda d: d.update({"$schema": "http://json-schema.org/draft-03/schema#"}),
    ),
    "a file that is not JSON": lambda s: (s / "events" / "say.schema.json").write_text(
        '{"type": "null",}\n', encoding="utf-8"
    ),
}


def test_every_refused_folder_gives_the_documented_error(tmp_path: Path) -> None:
    rows = table("schemas.md", "the folder has")
    assert {cells[0] for cells in rows} == set(FOLDER_FAULTS)
    for i, (fault, error) in enumerate(rows):
        schema = chatroom_copy(tmp_path / str(i))
        FOLDER_FAULTS[fault](schema)
        shown = code(error).replace("<folder>", str(schema))
        assert refusal(schema) == shown


@pytest.mark.parametrize(
    "rel", ["envelope.schema.json", "events/welcome.schema.json", "events/error.schema.json"]
)
def test_the_chatroom_copies_the_runtimes_own_schemas(rel: str) -> None:
    """The runtime sends ``welcome`` and ``error`` in every protocol: the chat room's copies
    (and its envelope) say what ``schema/`` says."""
    copy = json.loads((CHATROOM / "schema" / rel).read_text(encoding="utf-8"))
    assert copy == json.loads((ROOT / "schema" / rel).read_text(encoding="utf-8"))


def test_the_refused_examples_are_accepted_spelt_right_and_checked(tmp_path: Path) -> None:
    """``examples/chatroom/refused/``: both problems in one run, each the misspelling the page
    says; spelt right, the files generate, and ``uniqueItems`` is checked as the page says."""
    schema = chatroom_copy(tmp_path / "schema")
    for file in sorted((CHATROOM / "refused").glob("*.schema.json")):
        shutil.copy(file, schema / "events")
    with pytest.raises(SchemaErrors) as refused_twice:
        load_schema_folder(schema)
    assert [
        (str(e.file), e.reason.split("did you mean ")[1]) for e in refused_twice.value.errors
    ] == [
        ("events/mention.schema.json", "'maxItems'?"),
        ("events/whisper.schema.json", "'required'?"),
    ]

    def spelt_right(data: dict[str, Any]) -> None:
        data["properties"]["nicks"]["maxItems"] = data["properties"]["nicks"].pop("maxItem")

    _edit(schema, "events/mention.schema.json", spelt_right)
    _edit(schema, "events/whisper.schema.json", lambda d: d.update(required=d.pop("requried")))
    generate(schema, tmp_path / "mention_protocol")
    models = (tmp_path / "mention_protocol" / "models.py").read_text(encoding="utf-8")
    shown = text_block("schemas.md", "_Check1: TypeAlias")
    assert shown[0] in models.splitlines()
    sys.path.insert(0, str(tmp_path))
    try:
        from mention_protocol import PROTOCOL  # type: ignore[import-not-found]

        def frame(payload: Any) -> str:
            return json.dumps({"event_name": "mention", "payload": payload, "message": "hi"})

        assert PROTOCOL.parse(frame({"nicks": ["alice", "bob"]})).payload.nicks == ["alice", "bob"]
        with pytest.raises(MessageValidationError) as refused:
            PROTOCOL.parse(frame({"nicks": ["alice", "alice"]}))
        assert [(d.path, d.kind) for d in refused.value.details] == [
            ("$.payload.nicks", "uniqueItems")
        ]
        with pytest.raises(MessageValidationError):
            PROTOCOL.parse(json.dumps({"event_name": "whisper", "payload": {}, "message": "hi"}))
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m.partition(".")[0] == "mention_protocol"]:
            del sys.modules[name]


# -- the chat room: its own protocol, server and client ---------------------------------------


@pytest.fixture
def chatroom(tmp_path: Path) -> Iterator[Path]:
    """A sandbox with ``examples/chatroom/chatroom_protocol`` generated, importable while the
    test runs."""
    root = sandbox(tmp_path / "repo")
    folder = root / "examples" / "chatroom"
    generate(folder / "schema", folder / "chatroom_protocol")
    sys.path.insert(0, str(folder))
    try:
        yield root
    finally:
        sys.path.remove(str(folder))
        for name in [m for m in sys.modules if m.partition(".")[0] == "chatroom_protocol"]:
            del sys.modules[name]


async def test_chatroom_server_and_client(
    chatroom: Path,
    serve_app: Callable[[FastAPI], AbstractContextManager[LiveServer]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # `uv run python examples/chatroom/server.py`, on a free port instead of 8765.
    documented("regenerating.md", "uv run python examples/chatroom/server.py")
    ns = run_server_script(chatroom / "examples/chatroom/server.py", monkeypatch)

    from chatroom_protocol import Client, ErrorMessage, SayMessage, StatusMessage

    with serve_app(ns["app"]) as server:
        async with Client(server.url) as watcher:
            # Connected, not joined: it hears the others join and talk all the same.
            for nick, here in (("alice", "alice"), ("bob", "alice, bob")):
                command = f"uv run python examples/chatroom/client.py {nick}"
                shown = documented("regenerating.md", command)
                status, out, err = await run_python(
                    "examples/chatroom/client.py", nick, server.url, cwd=chatroom
                )
                output = out.splitlines() + err.splitlines()
                assert (status, output) == (0, list(shown.output)) == (0, [f"here: {here}"])
                joined = await watcher.receive(timeout=10)
                assert isinstance(joined, StatusMessage)
                assert (joined.payload.nick, joined.payload.state) == (nick, "here")
                said = await watcher.receive(timeout=10)
                assert isinstance(said, SayMessage)
                assert said.message == f"hello, I am {nick}"

            # Not joined: the server refuses its status.
            await watcher.status("watcher", "away")
            refused = await watcher.receive(timeout=10)
            assert isinstance(refused, ErrorMessage)
            assert (refused.payload.code, refused.message) == ("handler_error", "join first")

            # Joined: a status goes to the others, under the nick it joined with.
            roster = await watcher.join("watcher", timeout=10)
            assert [m.nick for m in roster.payload.members] == ["alice", "bob", "watcher"]
            async with Client(server.url) as other:
                await watcher.status("someone-else", "away", "back in five minutes")
                passed_on = await other.receive(timeout=10)
                assert isinstance(passed_on, StatusMessage)
                assert passed_on.payload.nick == "watcher"
                assert passed_on.payload.note == "back in five minutes"


# -- the validating proxy of docs/validating.md -------------------------------------------------


def argv_of(command: str) -> tuple[list[str], str | None]:
    """A documented ``uv run datadivr …`` command as this environment runs it, and the file
    its standard input comes from."""
    words = shlex.split(command)
    stdin = None
    if "<" in words:
        stdin = words[words.index("<") + 1]
        words = words[: words.index("<")]
    assert words[:3] == ["uv", "run", "datadivr"], command
    return [sys.executable, "-m", "datadivr", *words[3:]], stdin


async def test_proxy(
    tmp_path: Path, serve_app: Callable[[FastAPI], AbstractContextManager[LiveServer]]
) -> None:
    root = sandbox(tmp_path / "repo")
    proxy_command, client_command = (
        documented("validating.md", command) for command in DEDICATED if "8766" in command
    )
    summary = text_block("validating.md", "datadivr proxy: ")
    warnings = text_block("validating.md", "… [warning  ] protocol violation")

    with serve_app(create_app()) as server:
        # The proxy on a free port rather than 8766, in front of this server.
        argv, _ = argv_of(
            proxy_command.line.replace(ADDRESS, f"127.0.0.1:{server.port}").replace(
                PROXY_ADDRESS, "127.0.0.1:0"
            )
        )
        proxy = await asyncio.create_subprocess_exec(
            *argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=CLI_ENV, cwd=root
        )
        try:
            assert proxy.stderr is not None
            log: list[str] = []
            while not (found := re.search(r"url=ws://(127\.0\.0\.1:\d+)/ws", "".join(log[-1:]))):
                line = await asyncio.wait_for(proxy.stderr.readline(), 30)
                assert line, "the proxy ended before it listened:\n" + "".join(log)
                log.append(line.decode())
            argv, stdin = argv_of(client_command.line.replace(PROXY_ADDRESS, found[1]))
            assert stdin is not None
            with (root / stdin).open("rb") as capture:
                client = await asyncio.create_subprocess_exec(
                    *argv, stdin=capture, stdout=subprocess.PIPE, env=CLI_ENV, cwd=root
                )
                await asyncio.wait_for(client.communicate(), 60)
            assert client.returncode == 0
            proxy.send_signal(signal.SIGINT)  # Ctrl-C
            out, rest = await asyncio.wait_for(proxy.communicate(), 30)
        finally:
            if proxy.returncode is None:
                proxy.kill()
                await proxy.wait()
    assert proxy.returncode == 0
    assert out.decode().splitlines() == summary
    log += rest.decode().splitlines(keepends=True)
    logged = [line.rstrip() for line in log if "protocol violation" in line]
    assert matches(logged, warnings), "the proxy logged:\n" + "\n".join(logged)
    report = json.loads((root / "proxy-report.json").read_text(encoding="utf-8"))
    assert f"violations: {sum(report['violations'].values())} (" in "\n".join(summary)


def test_the_make_targets_run_the_documented_commands() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    defaults = dict(re.findall(r"^(SCHEMA|OUT) \?= (\S+)$", makefile, re.M))
    for target, command in table("regenerating.md", "target"):
        recipe = re.search(rf"^{code(target).removeprefix('make ')}:.*\n\t@(.*)$", makefile, re.M)
        assert recipe, target
        run = recipe[1].replace("$(SCHEMA)", defaults["SCHEMA"]).replace("$(OUT)", defaults["OUT"])
        assert run.endswith(" run --frozen " + code(command)), (target, run)
