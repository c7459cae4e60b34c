"""The generator's own command line: ``python -m datadivr_codegen``.

It does what ``datadivr generate`` does without importing the runtime package ``datadivr``:
that import takes more than a second (the server and client come with it), and it fails while
the generated package it would replace is broken.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from datadivr_codegen.errors import SchemaError

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Generate (or ``--check``) a protocol package; return the exit status.

    Exit status: 0 done or up to date, 1 a schema error or (with ``--check``) stale output,
    2 a usage error.
    """
    parser = argparse.ArgumentParser(
        prog="python -m datadivr_codegen",
        description="Generate the typed protocol package (models, handlers, client) "
        "from a folder of JSON Schema files.",
    )
    parser.add_argument(
        "--schema", type=Path, default=Path("schema"), help="folder of JSON Schema files"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("src/datadivr/demo"),
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

    from datadivr_codegen.generator import check, generate

    try:
        if args.check:
            problems = check(args.schema, args.out)
            if problems:
                for line in problems:
                    print(line, file=sys.stderr)
                print(f"{args.out} is stale: run `make generate`", file=sys.stderr)
                return 1
            print(f"{args.out} is up to date with {args.schema}")
            return 0
        result = generate(args.schema, args.out, force=args.force)
    except SchemaError as exc:
        print(f"schema error: {exc}", file=sys.stderr)
        return 1
    for line in result.summary(args.out):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
