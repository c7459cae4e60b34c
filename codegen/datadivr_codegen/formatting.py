"""Format generated Python with ruff, with settings fixed here, and prove it parses."""

from __future__ import annotations

import ast
import os
import subprocess

from datadivr_codegen.errors import SchemaError

__all__ = ["format_sources"]

#: ruff settings fixed here, so that output does not depend on the project it lands in.
_RUFF_SETTINGS = (
    "--line-length",
    "100",
    "--target-version",
    "py310",
)


def format_sources(sources: dict[str, str]) -> dict[str, str]:
    """Sort imports, drop unused ones, format; then prove each file parses."""
    from ruff.__main__ import find_ruff_bin

    ruff = os.fsdecode(find_ruff_bin())
    out = {}
    for name, text in sources.items():
        text = _ruff(
            [
                ruff,
                "check",
                "--isolated",
                *_RUFF_SETTINGS,
                "--select",
                "I,F401,UP,RUF022",
                "--config",
                "lint.isort.known-first-party=['datadivr']",
                "--fix-only",
                "--exit-zero",
                "--stdin-filename",
                name,
                "-",
            ],
            text,
            name,
        )
        text = _ruff(
            [ruff, "format", "--isolated", *_RUFF_SETTINGS, "--stdin-filename", name, "-"],
            text,
            name,
        )
        try:
            ast.parse(text, filename=name)
        except SyntaxError as exc:
            raise SchemaError(f"generated code does not parse: {exc}", name) from exc
        out[name] = text
    return out


def _ruff(argv: list[str], text: str, name: str) -> str:
    proc = subprocess.run(argv, input=text, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SchemaError(f"ruff failed on generated code: {proc.stderr.strip()}", name)
    return proc.stdout
