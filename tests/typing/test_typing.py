"""Static typing of the public API: mypy --strict must accept the ``pass_*.py`` files and
reject each ``fail_*.py`` file with exactly the errors its ``# E: <code>`` comments name; each
``# mypy says: <text>`` line of a file is a text mypy's report on that file must contain (what a
user reads matters too: a public type's name, not a private TypeVar's).

The case files are only type-checked, never imported or run. mypy runs once, in process, over
all of them (a run costs seconds, most of it checking the imported packages), and the result is
split by file.

Each case file is checked as a standalone user module: ``--no-namespace-packages`` stops mypy
from naming it ``tests.typing.…`` (this folder has no ``__init__.py``), so the relaxed
``[[tool.mypy.overrides]] module = ["tests.*"]`` section does not apply to it;
``fail_handler_untyped.py`` proves that.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest
from mypy import api as mypy_api

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PASS_FILES = sorted(HERE.glob("pass_*.py"))
FAIL_FILES = sorted(HERE.glob("fail_*.py"))

#: ``# E: code`` or ``# E: code, other-code`` at the end of a line.
_EXPECTED = re.compile(r"#\s*E:\s*(?P<codes>[a-z0-9-]+(?:\s*,\s*[a-z0-9-]+)*)\s*$")
#: ``path:line: error: message  [code]`` (``--show-error-codes``, no column numbers).
_REPORTED = re.compile(
    r"^(?P<path>.+?):(?P<line>\d+): (?P<severity>error|note): (?P<message>.*?)"
    r"(?:  \[(?P<code>[a-z0-9-]+)\])?$"
)

#: ``# mypy says: text`` on a line of its own.
_SAYS = re.compile(r"^#\s*mypy says:\s*(?P<text>.+?)\s*$")

Error = tuple[int, str]
"""An error as (line, code)."""


@dataclass(frozen=True)
class MypyRun:
    """One mypy run over every case file."""

    errors: dict[Path, set[Error]]
    lines: dict[Path, list[str]]
    stdout: str
    stderr: str
    status: int

    def report(self, path: Path) -> str:
        return "\n".join(self.lines.get(path, [])) or "(no output)"


def expected_errors(path: Path) -> set[Error]:
    """The (line, code) pairs the ``# E:`` comments of ``path`` announce."""
    expected: set[Error] = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        match = _EXPECTED.search(line)
        if match:
            expected.update((number, code.strip()) for code in match["codes"].split(","))
    return expected


def expected_texts(path: Path) -> list[str]:
    """The texts the ``# mypy says:`` lines of ``path`` announce."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [m["text"] for m in map(_SAYS.match, lines) if m is not None]


def _resolve(reported: str) -> Path:
    path = Path(reported)
    return (path if path.is_absolute() else ROOT / path).resolve()


@pytest.fixture(scope="module")
def mypy_run(tmp_path_factory: pytest.TempPathFactory) -> MypyRun:
    cache_dir = tmp_path_factory.mktemp("mypy_cache")
    args = [
        "--config-file",
        str(ROOT / "pyproject.toml"),
        "--strict",
        "--no-namespace-packages",
        "--cache-dir",
        str(cache_dir),
        "--show-error-codes",
        "--no-error-summary",
        "--no-pretty",
        "--no-color-output",
        "--hide-error-context",
        *(str(path.relative_to(ROOT)) for path in [*PASS_FILES, *FAIL_FILES]),
    ]
    # The config's ``mypy_path`` is relative to the working directory.
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(ROOT)
        stdout, stderr, status = mypy_api.run(args)
    errors: dict[Path, set[Error]] = defaultdict(set)
    lines: dict[Path, list[str]] = defaultdict(list)
    for line in stdout.splitlines():
        match = _REPORTED.match(line)
        if match is None:
            lines[Path("?")].append(line)
            continue
        path = _resolve(match["path"])
        lines[path].append(line)
        if match["severity"] == "error":
            errors[path].add((int(match["line"]), match["code"] or "?"))
    return MypyRun(dict(errors), dict(lines), stdout, stderr, status)


def test_cases_exist() -> None:
    assert len(PASS_FILES) >= 2
    assert len(FAIL_FILES) >= 10
    for path in PASS_FILES:
        assert not expected_errors(path), f"{path.name}: a pass file announces errors"
    for path in FAIL_FILES:
        assert expected_errors(path), f"{path.name}: a fail file announces no '# E:' error"


def test_mypy_ran_cleanly(mypy_run: MypyRun) -> None:
    """mypy itself worked, and reported nothing outside the case files (e.g. in datadivr)."""
    assert not mypy_run.stderr, mypy_run.stderr
    assert mypy_run.status == (1 if FAIL_FILES else 0), mypy_run.stdout
    cases = {path.resolve() for path in [*PASS_FILES, *FAIL_FILES]}
    elsewhere = {path: lines for path, lines in mypy_run.lines.items() if path not in cases}
    assert not elsewhere, "\n".join(line for lines in elsewhere.values() for line in lines)


@pytest.mark.parametrize("path", PASS_FILES, ids=lambda path: path.name)
def test_correct_use_type_checks(mypy_run: MypyRun, path: Path) -> None:
    reported = sorted(mypy_run.errors.get(path.resolve(), set()))
    assert reported == [], f"{path.name}:\n{mypy_run.report(path.resolve())}"


@pytest.mark.parametrize("path", FAIL_FILES, ids=lambda path: path.name)
def test_mistake_is_rejected(mypy_run: MypyRun, path: Path) -> None:
    reported = mypy_run.errors.get(path.resolve(), set())
    expected = expected_errors(path)
    missing = sorted(expected - reported)
    unexpected = sorted(reported - expected)
    assert (missing, unexpected) == ([], []), (
        f"{path.name}: (line, code) pairs expected but not reported: {missing}; "
        f"reported but not expected: {unexpected}\n{mypy_run.report(path.resolve())}"
    )
    report = mypy_run.report(path.resolve())
    unsaid = [text for text in expected_texts(path) if text not in report]
    assert unsaid == [], f"{path.name}: mypy did not say {unsaid}\n{report}"
