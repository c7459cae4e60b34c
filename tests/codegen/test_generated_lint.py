"""Generated code passes ``mypy --strict`` (with the project's configuration) and ruff.

One mypy run checks every case: ``nested`` (nested models, formats, references, non-object
payloads), ``minimal`` (one event, which no client receives), ``reply`` and ``echo`` (exactly
one event a client receives). E501 is left out of the ruff check as in the project's own
configuration: descriptions from the schema become docstrings and strings that no formatter
can wrap.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from datadivr_codegen.generator import generate

from .conftest import CASES, PROJECT_ROOT, case_schema

RUFF_RULES = "E,F,W,I,B,UP"


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("lint")
    folders = []
    for case in CASES:
        out = root / f"gen_{case}_lint"
        generate(case_schema(case), out)
        folders.append(out)
    return folders


def _run(*argv: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *map(str, argv)],
        cwd=PROJECT_ROOT,
        env={**os.environ, "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def mypy_strict(*paths: Path, cache_dir: Path) -> subprocess.CompletedProcess[str]:
    """``mypy --strict`` with the project's configuration on generated packages."""
    return _run(
        "mypy",
        "--strict",
        "--config-file",
        PROJECT_ROOT / "pyproject.toml",
        "--no-incremental",
        "--cache-dir",
        cache_dir,
        "--no-error-summary",
        "--show-error-codes",
        *paths,
    )


def ruff_check(*paths: Path) -> subprocess.CompletedProcess[str]:
    """``ruff check`` with the rules generated code is held to."""
    return _run(
        "ruff",
        "check",
        "--isolated",
        "--select",
        RUFF_RULES,
        "--ignore",
        "E501",
        "--line-length",
        "100",
        "--config",
        "lint.isort.known-first-party=['datadivr']",
        "--no-cache",
        *paths,
    )


def ruff_format_check(*paths: Path) -> subprocess.CompletedProcess[str]:
    """``ruff format --check``: generated code is written as ruff formats it."""
    return _run(
        "ruff", "format", "--check", "--isolated", "--line-length", "100", "--no-cache", *paths
    )


@pytest.mark.slow
def test_mypy_strict(packages: list[Path], tmp_path: Path) -> None:
    result = mypy_strict(*packages, cache_dir=tmp_path / "mypy-cache")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_ruff_check(packages: list[Path]) -> None:
    result = ruff_check(*packages)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format(packages: list[Path]) -> None:
    result = ruff_format_check(*packages)
    assert result.returncode == 0, result.stdout + result.stderr
