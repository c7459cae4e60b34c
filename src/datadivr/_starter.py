"""``datadivr init``: a protocol project to start from, written from the starter files.

The starter files ship in the package (``datadivr/starter/``): a schema folder (the envelope,
the definitions the built-in events need, ``welcome`` and ``error``, a request answered by the
server and an event relayed between clients), a server module, a client script and the
``[tool.datadivr]`` table. The ``*.tmpl`` files are :class:`string.Template` texts, filled
with the project's names.
"""

from __future__ import annotations

import json
import keyword
import re
import shlex
import sys
import unicodedata
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from importlib.abc import Traversable

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = [
    "Clash",
    "Starter",
    "StarterError",
    "identifier",
    "next_steps",
    "plan_starter",
    "write_starter",
]

_STARTER = "starter"
_TEMPLATE = ".tmpl"
_PYPROJECT = "pyproject.toml"


class StarterError(ValueError):
    """``init`` cannot start a project here: a bad name, or an unreadable pyproject.toml."""


@dataclass(frozen=True)
class Clash:
    """A file ``init`` would overwrite (or a table it would add twice)."""

    path: Path
    why: str


@dataclass
class Starter:
    """What ``init`` writes into ``root``: files by path, and how pyproject.toml changes.

    Attributes:
        root: The project's folder.
        package: The generated package's name.
        stem: The name the server and client modules start with.
        files: The content of each file to write, by path relative to ``root``.
        pyproject: ``"create"`` (a new file, in ``files``), ``"append"`` (the table, to an
            existing file), ``"keep"`` (an existing table, with ``--force``) or ``"clash"`` (an
            existing table, without).
        table: The ``[tool.datadivr]`` table.
        clashes: Files that exist (and the table, when the pyproject has one).
        differs: The settings of a kept table that are not the starter's, as the starter
            sets them (``out = "game_protocol"``).
    """

    root: Path
    package: str
    stem: str
    files: dict[str, str] = field(default_factory=dict)
    pyproject: str = "create"
    table: str = ""
    clashes: list[Clash] = field(default_factory=list)
    differs: list[str] = field(default_factory=list)

    @property
    def server(self) -> str:
        """The server module's name."""
        return f"{self.stem}_server"

    @property
    def client(self) -> str:
        """The client script's name."""
        return f"{self.stem}_client"


def identifier(name: str) -> str:
    """``name`` made a Python identifier: ``my-game`` → ``my_game``, ``2d world`` → ``_2d_world``,
    ``jeu-étoilé`` → ``jeu_etoile`` (accents dropped, other letters outside ASCII too)."""
    ascii_text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"\W+", "_", ascii_text.strip().lower(), flags=re.ASCII).strip("_")
    if not text:
        return "project"
    if text[0].isdigit():
        text = "_" + text
    return text + "_" if keyword.iskeyword(text) else text


def plan_starter(root: Path, package: str | None = None, *, force: bool = False) -> Starter:
    """What ``init`` would write into ``root``, with what it would overwrite.

    Raises:
        StarterError: ``package`` is not a valid package name, or ``root``'s pyproject.toml
            is not valid TOML.
    """
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise StarterError(f"{root} is not a folder")
    stem = identifier(root.resolve().name)
    package = package if package is not None else f"{stem}_protocol"
    if not package.isidentifier() or keyword.iskeyword(package):
        raise StarterError(
            f"--package {package!r} is not a valid package name (letters, digits and '_', "
            "not starting with a digit)"
        )
    if package == "datadivr" or package.startswith("datadivr_"):
        raise StarterError(f"--package {package!r} would shadow datadivr itself: pick another")
    starter = Starter(root=root, package=package, stem=stem)
    if package in (starter.server, starter.client):
        raise StarterError(
            f"--package {package!r} is the name of the starter's {package.rpartition('_')[2]} "
            "module: pick another"
        )
    names = {
        "package": package,
        "server": starter.server,
        "client": starter.client,
        "project": stem.strip("_").replace("_", "-") or "project",
    }
    source = resources.files("datadivr") / _STARTER
    for rel, text in _walk(source, ""):
        if rel == "pyproject.toml.tmpl" or rel == "datadivr.toml.tmpl":
            continue
        if rel.endswith(_TEMPLATE):
            rel = rel.removesuffix(_TEMPLATE)
            text = Template(text).substitute(names)
        if rel == "server.py":
            rel = f"{starter.server}.py"
        elif rel == "client.py":
            rel = f"{starter.client}.py"
        starter.files[rel] = text
    starter.table = Template((source / "datadivr.toml.tmpl").read_text("utf-8")).substitute(names)
    pyproject = root / _PYPROJECT
    if pyproject.is_file():
        try:
            document = tomllib.loads(pyproject.read_text("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise StarterError(f"{pyproject}: not valid TOML: {exc}") from None
        tool = document.get("tool", {})
        if isinstance(tool, dict) and "datadivr" in tool:
            starter.pyproject = "keep" if force else "clash"
            kept, wanted = tool["datadivr"], tomllib.loads(starter.table)["tool"]["datadivr"]
            starter.differs = [
                f"{key} = {_toml_value(value)}"
                for key, value in wanted.items()
                if not isinstance(kept, dict) or kept.get(key) != value
            ]
            if not force:
                starter.clashes.append(
                    Clash(pyproject, "has a [tool.datadivr] table already (--force keeps it)")
                )
        else:
            _check_appendable(pyproject, starter.table)
            starter.pyproject = "append"
    else:
        template = (source / "pyproject.toml.tmpl").read_text("utf-8")
        starter.files[_PYPROJECT] = Template(template).substitute(names) + "\n" + starter.table
    blocked: set[Path] = set()
    for rel in sorted(starter.files):
        target = root / rel
        # A file where the starter needs a folder: --force does not write over it.
        for folder in target.relative_to(root).parents:
            if (root / folder).exists() and not (root / folder).is_dir():
                blocked.add(root / folder)
        if target.exists():
            starter.clashes.append(Clash(target, "exists"))
    if blocked:
        raise StarterError(
            "a file where init needs a folder: "
            + ", ".join(str(path) for path in sorted(blocked))
            + "; move it away, or pick another folder"
        )
    return starter


def _toml_value(value: object) -> str:
    """A string or a list of strings as TOML writes it (JSON's quoting is TOML's for these)."""
    return json.dumps(value, ensure_ascii=False)


def _separator(existing: str) -> str:
    """What goes between a file's ``existing`` text and an appended table: a blank line."""
    return "" if existing.endswith("\n\n") else "\n" if existing.endswith("\n") else "\n\n"


def _check_appendable(pyproject: Path, table: str) -> None:
    """Refuse a pyproject.toml that the table cannot be appended to: one whose ``tool`` is
    an inline table or a value, where a ``[tool.datadivr]`` header is not valid TOML."""
    existing = pyproject.read_text("utf-8")
    try:
        tomllib.loads(existing + _separator(existing) + table)
    except tomllib.TOMLDecodeError as exc:
        raise StarterError(
            f"{pyproject}: cannot append a [tool.datadivr] table ({exc}): its 'tool' is not "
            f"a table of sections; add this table to it by hand, then run `datadivr generate`:"
            f"\n\n{table}"
        ) from None


def _walk(folder: Traversable, prefix: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        rel = f"{prefix}{entry.name}"
        if entry.is_dir():
            found += _walk(entry, rel + "/")
        elif entry.is_file() and not entry.name.startswith("."):
            found.append((rel, entry.read_text("utf-8")))
    return found


def write_starter(starter: Starter) -> list[str]:
    """Write the files of ``starter`` (over the clashes: call it once they are accepted);
    return one line per file written or changed."""
    lines: list[str] = []
    for rel, text in sorted(starter.files.items()):
        target = starter.root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8", newline="\n")
        lines.append(f"wrote {target}")
    pyproject = starter.root / _PYPROJECT
    if starter.pyproject == "append":
        existing = pyproject.read_text("utf-8")
        with pyproject.open("a", encoding="utf-8", newline="\n") as handle:
            handle.write(_separator(existing) + starter.table)
        lines.append(f"added [tool.datadivr] to {pyproject}")
    elif starter.pyproject == "keep":
        lines.append(f"kept the [tool.datadivr] table of {pyproject}")
        if starter.differs:
            lines.append(
                "  it differs from the starter's: the next steps and "
                f"{starter.server}.py need {', '.join(starter.differs)}"
            )
    return lines


def next_steps(starter: Starter, cwd: Path) -> str:
    """What to run next, from ``cwd``, command by command (what ``init`` prints last)."""
    steps: list[tuple[str, str]] = []
    if starter.root.resolve() != cwd.resolve():
        folder = str(starter.root)
        # Quoted for the shell, and not taken for an option of cd.
        folder = shlex.quote(f"./{folder}" if folder.startswith("-") else folder)
        steps.append((f"cd {folder}", ""))
    steps += [
        ("datadivr generate", f"writes {starter.package}/ from schema/"),
        (
            "datadivr serve",
            f"serves it on ws://127.0.0.1:8765/ws, with {starter.server}.py's handlers",
        ),
        (f"python {starter.client}.py alice", "in another terminal: greets the server, chats"),
    ]
    width = max(len(command) for command, _ in steps)
    lines = ["Next steps:"]
    lines += [
        f"  {command:<{width}}  # {note}" if note else f"  {command}" for command, note in steps
    ]
    lines.append(
        "\nThen edit schema/events/, run `datadivr generate` again, and let "
        f"`mypy --strict {starter.server}.py {starter.client}.py` show what to change."
    )
    return "\n".join(lines)
