"""``check`` compares every byte once: what it (or ``generate``) found up to date is stamped, and
the next check of the same bytes is answered from the stamp, without rendering anything
(:mod:`datadivr_codegen.freshness`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from datadivr_codegen import freshness, generator
from datadivr_codegen.generator import HEADER_MARK, check, generate
from tests.commands import CLI_ENV

from .conftest import copy_case


class PlanSpy:
    """Counts the renderings (:func:`datadivr_codegen.generator.plan`), and lets them run."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        real = generator.plan

        def spy(*args: Any, **kwargs: Any) -> generator.Plan:
            self.calls += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(generator, "plan", spy)


@pytest.fixture
def schema(tmp_path: Path) -> Path:
    return copy_case("minimal", tmp_path / "schema")


@pytest.fixture
def out(tmp_path: Path, schema: Path) -> Path:
    folder = tmp_path / "out"
    assert not generate(schema, folder).skipped
    return folder


@pytest.fixture
def renderings(monkeypatch: pytest.MonkeyPatch) -> PlanSpy:
    return PlanSpy(monkeypatch)


def test_a_check_after_a_generation_renders_nothing(
    schema: Path, out: Path, renderings: PlanSpy
) -> None:
    assert check(schema, out) == []
    assert check(schema, out) == []
    assert renderings.calls == 0


def test_a_full_check_that_finds_nothing_is_not_repeated(
    schema: Path, out: Path, renderings: PlanSpy, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(freshness.CACHE_ENV, str(tmp_path / "other-cache"))  # no stamp yet
    assert check(schema, out) == []
    assert renderings.calls == 1
    assert check(schema, out) == []
    assert renderings.calls == 1


def test_an_edit_under_an_intact_header_is_still_found(
    schema: Path, out: Path, renderings: PlanSpy
) -> None:
    models = out / "models.py"
    models.write_text(models.read_text(encoding="utf-8") + "# edited\n", encoding="utf-8")
    assert check(schema, out) == ["stale: models.py"]
    assert renderings.calls == 1


def test_a_changed_schema_is_checked_in_full(schema: Path, out: Path, renderings: PlanSpy) -> None:
    event = next(path for path in sorted(schema.rglob("*.json")) if "envelope" not in path.name)
    event.write_text(event.read_text(encoding="utf-8").replace("{", '{"title": "X", ', 1))
    check(schema, out)
    assert renderings.calls == 1


def test_a_new_generated_module_is_reported_orphaned(
    schema: Path, out: Path, renderings: PlanSpy
) -> None:
    (out / "old.py").write_text(f"# {HEADER_MARK} from JSON Schema files.\nOLD = 1\n")
    assert check(schema, out) == ["orphaned: old.py"]
    assert renderings.calls == 1


@pytest.mark.parametrize("change", ["generator", "library"])
def test_a_stamp_of_another_generator_or_library_is_not_used(
    schema: Path, out: Path, renderings: PlanSpy, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    if change == "generator":
        monkeypatch.setattr(freshness, "generator_hash", lambda: "sha256:" + "0" * 64)
    else:
        monkeypatch.setattr(freshness, "_LIBRARIES", (*freshness._LIBRARIES, "not-a-library"))
    check(schema, out)
    assert renderings.calls == 1


def test_a_cache_folder_that_cannot_be_written_only_costs_time(
    schema: Path, out: Path, renderings: PlanSpy, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv(freshness.CACHE_ENV, str(blocker / "cache"))
    assert check(schema, out) == []
    assert check(schema, out) == []
    assert renderings.calls == 2


def test_a_damaged_stamp_is_ignored(schema: Path, out: Path, renderings: PlanSpy) -> None:
    stamp = freshness._stamp_path(out)
    for damage in ("not json", "[]", '{"key": 1, "files": {"../x": 2}}'):
        stamp.write_text(damage, encoding="utf-8")
        assert check(schema, out) == []
    assert renderings.calls == 3


def test_the_command_line_answers_from_the_stamp_without_the_generator(
    schema: Path, out: Path
) -> None:
    """``datadivr generate --check`` with nothing changed imports neither the generator's
    libraries nor the server's: with them made unimportable, it still answers."""
    hidden = ("datamodel_code_generator", "jinja2", "jsonschema", "fastapi", "uvicorn")
    code = (
        "import runpy, sys\n"
        f"for name in {hidden!r}:\n"
        "    sys.modules[name] = None  # import raises ModuleNotFoundError\n"
        "sys.argv = ['datadivr', *sys.argv[1:]]\n"
        "runpy.run_module('datadivr', run_name='__main__', alter_sys=True)\n"
    )
    argv = ["generate", "--schema", str(schema), "--out", str(out), "--check"]
    result = subprocess.run(
        [sys.executable, "-c", code, *argv],
        capture_output=True,
        text=True,
        env=CLI_ENV,
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stdout) == (0, f"{out} is up to date with {schema}\n"), (
        result.stderr
    )


def test_a_checkout_with_crlf_line_endings_is_stamped_too(
    schema: Path, out: Path, renderings: PlanSpy
) -> None:
    """A full check reads text, so CRLF files (a checkout with ``core.autocrlf``) are up to
    date; the stamp written by the generation agrees."""
    for path in out.iterdir():
        path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    assert check(schema, out) == []
    assert renderings.calls == 0
