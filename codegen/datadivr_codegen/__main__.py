"""The generator's own command line: ``python -m datadivr_codegen``.

It does what ``datadivr generate`` does without importing the runtime package ``datadivr``:
that import takes more than a second (the server and client come with it), and it fails while
the generated package it would replace is broken.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from datadivr_codegen import INSTALL_HINT, missing_extra
from datadivr_codegen.errors import SchemaError
from datadivr_codegen.project import (
    ConfigError,
    NotConfiguredError,
    folders,
    load_config,
    regenerate_command,
)

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Generate (or ``--check``) a protocol package; return the exit status.

    The folders come from the options, else from the environment (``DATADIVR_SCHEMA``,
    ``DATADIVR_OUT``), else from pyproject.toml's ``[tool.datadivr]``.

    Exit status: 0 done or up to date, 1 a schema error or (with ``--check``) stale output,
    2 a usage error, a bad ``[tool.datadivr]`` or a missing ``codegen`` extra.
    """
    parser = argparse.ArgumentParser(
        prog="python -m datadivr_codegen",
        description="Generate the typed protocol package (models, handlers, client) "
        "from a folder of JSON Schema files. The folders default to pyproject.toml's "
        "[tool.datadivr] schema and out.",
    )
    parser.add_argument(
        "--schema",
        type=Path,
        default=_env_path("DATADIVR_SCHEMA"),
        help="folder of JSON Schema files",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=_env_path("DATADIVR_OUT"),
        help="package folder to write the generated code to",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--check", action="store_true", help="write nothing; fail when the output is stale"
    )
    mode.add_argument(
        "--force",
        action="store_true",
        help="generate even when the headers say the output is up to date",
    )
    args = parser.parse_args(argv)
    try:
        schema, out = folders(args.schema, args.out, load_config())
    except (ConfigError, NotConfiguredError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    missing = missing_extra()
    if missing is not None:
        print(
            f"error: the generator needs the codegen extra ({missing} is missing): {INSTALL_HINT}",
            file=sys.stderr,
        )
        return 2
    from datadivr_codegen.generator import check, generate

    try:
        if args.check:
            problems = check(schema, out)
            if problems:
                for line in problems:
                    print(line, file=sys.stderr)
                command = regenerate_command(schema, out, cwd=Path.cwd())
                print(f"{out} is stale: run `{command}`", file=sys.stderr)
                return 1
            print(f"{out} is up to date with {schema}")
            return 0
        result = generate(schema, out, force=args.force)
    except SchemaError as exc:
        print(f"schema error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # a folder that cannot be read or written
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for line in result.summary(out):
        print(line)
    return 0


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value) if value else None


if __name__ == "__main__":
    sys.exit(main())
