"""Running the ``datadivr`` command line as a user would, in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

#: ``python -m datadivr`` with the interpreter running the tests.
DATADIVR = [sys.executable, "-m", "datadivr"]
#: Plain, wide, unbuffered output, whatever the terminal.
CLI_ENV = {
    **os.environ,
    "PYTHONUNBUFFERED": "1",
    "NO_COLOR": "1",
    "COLUMNS": "200",
    "TERM": "dumb",
}


def run_datadivr(
    *args: str | Path,
    stdin: str | None = None,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Run ``datadivr ARGS`` to completion; never raises on a non-zero exit status."""
    return subprocess.run(
        [*DATADIVR, *map(str, args)],
        input=stdin,
        cwd=cwd,
        env=dict(env if env is not None else CLI_ENV),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
