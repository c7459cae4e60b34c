"""The ``datadivr`` script: a ``datadivr generate`` or ``datadivr generate --check`` with nothing
to do answered before the command line is imported.

Both are a pre-commit hook's or a build's command, and their answer is in the generated files'
headers, or in a stamp (:mod:`datadivr_codegen.headers`, :mod:`datadivr_codegen.freshness`), read
in milliseconds; typer, with the pydantic adapters it builds for every option it parses, takes
several times longer to start. So :func:`main` reads the few plain forms of that command line
itself: ``generate``, optionally ``--check``, and at most one each of ``--schema DIR`` (or
``--schema=DIR``) and ``--out DIR`` (or ``--out=DIR``); else ``DATADIVR_SCHEMA`` and
``DATADIVR_OUT``, then ``[tool.datadivr]``. When the stamp (with ``--check``) or the headers
(without) say there is nothing to do, it prints what the command prints. Any other command line,
any doubt (a value that looks like an option, a folder that is not one, a configuration error)
and any stamp or header that does not answer go to :func:`datadivr.cli.main`, which parses,
checks and reports everything.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["answer_at_once", "main"]

#: The folder options of ``datadivr generate`` and their environment variables.
_FOLDERS = {"--schema": "DATADIVR_SCHEMA", "--out": "DATADIVR_OUT"}


def _plain_generate(argv: list[str]) -> dict[str, str] | None:
    """The folder options of ``generate [--check] …`` in one of the plain forms, else None."""
    if not argv or argv[0] != "generate":
        return None
    given: dict[str, str] = {}
    rest = iter(argv[1:])
    for arg in rest:
        if arg == "--check":
            continue
        name, equals, value = arg.partition("=")
        if name not in _FOLDERS or name in given:
            return None
        if not equals:
            value = next(rest, "")
        if not value or value.startswith("-"):
            return None
        given[name] = value
    return given


def answer_at_once(argv: list[str]) -> list[str] | None:
    """The lines ``datadivr ARGV`` prints when it is a ``generate`` or ``generate --check`` with
    nothing to do, as the headers or a stamp tell; None when the command line has to run."""
    given = _plain_generate(argv)
    if given is None:
        return None
    options: dict[str, Path | None] = {}
    for name, variable in _FOLDERS.items():
        value = given.get(name) or os.environ.get(variable) or None
        options[name] = None if value is None else Path(value)
    from datadivr_codegen.freshness import verified_up_to_date
    from datadivr_codegen.headers import skipped_summary, skips
    from datadivr_codegen.project import (
        ConfigError,
        NotConfiguredError,
        folders,
        load_config,
        regenerate_command,
    )

    try:
        schema, out = folders(options["--schema"], options["--out"], load_config())
    except (ConfigError, NotConfiguredError):
        return None
    if not (schema.is_dir() and out.is_dir()):
        return None
    if "--check" not in argv:
        return skipped_summary(out) if skips(schema, out) else None
    if not verified_up_to_date(schema, out, regenerate_command(schema, out)):
        return None
    return [f"{out} is up to date with {schema}"]


def main() -> None:
    """Run the ``datadivr`` script."""
    answer = answer_at_once(sys.argv[1:])
    if answer is not None:
        sys.stdout.write("".join(line + "\n" for line in answer))
        sys.stdout.flush()
        return
    from datadivr.cli import main as run_command_line

    run_command_line()
