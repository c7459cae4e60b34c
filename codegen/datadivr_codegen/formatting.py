"""Format generated Python with ruff, with settings fixed here, and prove it parses."""

from __future__ import annotations

import ast
import os
import subprocess
import tempfile
from pathlib import Path

from datadivr_codegen.errors import SchemaError

__all__ = ["format_sources"]

#: ruff settings fixed here, so that output does not depend on the project it lands in.
_RUFF_SETTINGS = (
    "--line-length",
    "100",
    "--target-version",
    "py310",
)
#: ``ruff check``: sort imports, drop unused ones, modernize, sort ``__all__``.
_FIX = (
    "check",
    "--isolated",
    *_RUFF_SETTINGS,
    "--select",
    "I,F401,UP,RUF022",
    "--config",
    "lint.isort.known-first-party=['datadivr']",
    "--fix-only",
    "--exit-zero",
)
_FORMAT = ("format", "--isolated", *_RUFF_SETTINGS)


def format_sources(sources: dict[str, str]) -> dict[str, str]:
    """Sort imports, drop unused ones, format; then prove each file parses.

    Every file goes through one ``ruff check --fix-only`` and one ``ruff format``, run on a
    scratch folder (two processes, whatever the number of files); when ruff fails there, each
    file is run alone through ruff's standard input, so that the error names it.

    Raises:
        SchemaError: ruff fails on a file, or a file does not parse.
    """
    from ruff.__main__ import find_ruff_bin

    ruff = os.fsdecode(find_ruff_bin())
    formatted = _in_folder(ruff, sources)
    if formatted is None:
        formatted = {name: _one_by_one(ruff, name, text) for name, text in sources.items()}
    for name, text in formatted.items():
        try:
            ast.parse(text, filename=name)
        except SyntaxError as exc:
            raise SchemaError(f"generated code does not parse: {exc}", name) from exc
    return formatted


def _in_folder(ruff: str, sources: dict[str, str]) -> dict[str, str] | None:
    """Every file fixed and formatted in a scratch folder; None when ruff fails."""
    with tempfile.TemporaryDirectory(prefix="datadivr-format-") as scratch:
        folder = Path(scratch)
        names = list(sources)
        for name, text in sources.items():
            (folder / name).write_bytes(text.encode())
        for command in (_FIX, _FORMAT):
            proc = subprocess.run(
                [ruff, *command, "--no-cache", "--", *names],
                cwd=folder,
                capture_output=True,
                check=False,
            )
            if proc.returncode != 0:
                return None
        return {name: (folder / name).read_bytes().decode() for name in names}


def _one_by_one(ruff: str, name: str, text: str) -> str:
    text = _ruff([ruff, *_FIX, "--stdin-filename", name, "-"], text, name)
    return _ruff([ruff, *_FORMAT, "--stdin-filename", name, "-"], text, name)


def _ruff(argv: list[str], text: str, name: str) -> str:
    proc = subprocess.run(argv, input=text, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SchemaError(f"ruff failed on generated code: {proc.stderr.strip()}", name)
    return proc.stdout
