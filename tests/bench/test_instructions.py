"""The instruction-count gate (``python -m bench.instructions --check``) on synthetic figures:
no valgrind and no server are needed, except where a missing valgrind is the point."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from bench import instructions

ROOT = Path(__file__).resolve().parents[2]
GATE = {"reqrep-1": instructions.Gate(scale=0.05, threshold=0.05)}
RECORDED = instructions.Figures(raw=200_000, datadivr=300_000, deliveries=250)  # x1.5 RAW
ENVIRONMENT = {"python": "CPython 3.11.7", "uvicorn": "1", "pydantic": "2"}


@pytest.fixture(autouse=True)
def _fixed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The versions the figures are recorded with, without asking valgrind for its own."""
    monkeypatch.setattr(instructions, "environment", lambda: dict(ENVIRONMENT))


def measuring(figures: instructions.Figures) -> instructions.Measure:
    def measure(workloads: Mapping[str, float]) -> dict[str, instructions.Figures]:
        assert workloads == {"reqrep-1": 0.05}
        return {"reqrep-1": figures}

    return measure


def recorded_file(tmp_path: Path) -> Path:
    path = tmp_path / "instructions.json"
    instructions.record(path, GATE, measuring(RECORDED))
    return path


@pytest.mark.parametrize(
    ("datadivr", "passed"),
    [
        (300_000, True),  # unchanged
        (314_999, True),  # +5.0%: at the threshold
        (315_300, False),  # +5.1%
        (360_000, False),  # +20%
        (240_000, True),  # fewer instructions never fail
    ],
)
def test_a_figure_over_the_threshold_fails_and_one_under_it_passes(
    datadivr: int, passed: bool
) -> None:
    measured = instructions.Figures(raw=200_000, datadivr=datadivr, deliveries=250)
    (verdict,) = instructions.judge({"reqrep-1": RECORDED}, {"reqrep-1": measured}, GATE)
    assert verdict.passed is passed
    assert verdict.change == pytest.approx(datadivr / 300_000 - 1)


def test_the_gate_holds_datadivr_to_raw_measured_in_the_same_run() -> None:
    # Another Python build: both servers execute 10% more, DATADIVR's multiple of RAW stays.
    slower = instructions.Figures(raw=220_000, datadivr=330_000, deliveries=250)
    (verdict,) = instructions.judge({"reqrep-1": RECORDED}, {"reqrep-1": slower}, GATE)
    assert verdict.passed
    # RAW as before, DATADIVR 10% more: its own code grew.
    grown = instructions.Figures(raw=200_000, datadivr=330_000, deliveries=250)
    (verdict,) = instructions.judge({"reqrep-1": RECORDED}, {"reqrep-1": grown}, GATE)
    assert not verdict.passed


def test_a_check_under_the_threshold_passes_and_prints_the_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = recorded_file(tmp_path)
    measured = instructions.Figures(raw=201_000, datadivr=306_000, deliveries=250)
    assert instructions.check(path, GATE, measuring(measured)) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert ["reqrep-1", "recorded", "200.0k", "300.0k", "1.5000"] in rows
    assert ["reqrep-1", "measured", "201.0k", "306.0k", "1.5224"] in rows
    assert ["reqrep-1", "change", "+0.5%", "+2.0%", "+1.5%", "(threshold", "+5%):", "ok"] in rows


def test_a_check_over_the_threshold_fails_and_says_how_to_re_record(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = recorded_file(tmp_path)
    measured = instructions.Figures(raw=200_000, datadivr=330_000, deliveries=250)
    assert instructions.check(path, GATE, measuring(measured)) == 1
    captured = capsys.readouterr()
    assert ["reqrep-1", "change", "+0.0%", "+10.0%", "+10.0%", "(threshold", "+5%):", "FAILED"] in [
        line.split() for line in captured.out.splitlines()
    ]
    assert (
        "reqrep-1: DATADIVR executes x1.6500 RAW's instructions per delivery, +10.0% over the "
        "recorded x1.5000 (threshold +5%)" in captured.err
    )
    assert "make bench-instructions" in captured.err


def test_the_recorded_file_holds_the_figures_and_the_environment(tmp_path: Path) -> None:
    document = json.loads(recorded_file(tmp_path).read_text(encoding="utf-8"))
    assert document["environment"] == ENVIRONMENT
    assert document["workloads"] == {
        "reqrep-1": {
            "scale": 0.05,
            "RAW": 200_000,
            "DATADIVR": 300_000,
            "ratio": 1.5,
            "deliveries": 250,
        }
    }


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no recorded figures at"),
        ("{", "cannot be read"),
        ('{"format": 0}', "is not in format 1"),
        ('{"format": 1, "workloads": {}}', "has no figures for reqrep-1"),
        (
            '{"format": 1, "workloads": {"reqrep-1": {"scale": 0.1}}}',
            "recorded reqrep-1 at scale 0.1, the gate runs it at 0.05",
        ),
        (
            '{"format": 1, "workloads": {"reqrep-1": {"scale": 0.05, "RAW": 1}}}',
            "reqrep-1's figures are incomplete",
        ),
    ],
)
def test_a_check_without_usable_recorded_figures_cannot_pass(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, message: str
) -> None:
    path = tmp_path / "instructions.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")

    def measure(workloads: Mapping[str, float]) -> dict[str, instructions.Figures]:
        raise AssertionError("nothing is measured without recorded figures")

    assert instructions.check(path, GATE, measure) == instructions.CANNOT
    err = capsys.readouterr().err
    assert message in err
    assert "make bench-instructions" in err


def test_a_check_whose_servers_fail_cannot_pass(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = recorded_file(tmp_path)

    def measure(workloads: Mapping[str, float]) -> dict[str, instructions.Figures]:
        raise RuntimeError("DATADIVR exited: boom")

    assert instructions.check(path, GATE, measure) == instructions.CANNOT
    assert "instruction-count gate: could not count: DATADIVR exited: boom" in (
        capsys.readouterr().err
    )


def test_the_committed_figures_cover_every_gated_workload() -> None:
    _, recorded = instructions.load_record(instructions.RECORD, instructions.GATES)
    assert set(recorded) == set(instructions.GATES)


def test_a_check_without_valgrind_says_so_and_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # a folder with no valgrind in it
    assert instructions.main(["--check", str(instructions.RECORD)]) == instructions.CANNOT
    assert "valgrind is not installed" in capsys.readouterr().err


def test_the_command_without_valgrind_exits_non_zero(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.instructions", "--check", str(instructions.RECORD)],
        cwd=ROOT,
        env={"PATH": str(tmp_path), "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == instructions.CANNOT
    assert "instruction-count gate: valgrind is not installed" in done.stderr
