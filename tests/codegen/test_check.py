"""``check`` reports stale, missing and orphaned files; ``generate`` repairs them (a file edited
under an intact header only with ``force``: see ``test_skip.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from datadivr_codegen.generator import HEADER_MARK, check, generate

from .conftest import GENERATED_FILES, HASHED_FILES, case_schema, snapshot

SCHEMA = case_schema("reply")
ORPHAN = f"# {HEADER_MARK} from JSON Schema files. DO NOT EDIT.\nOLD = 1\n"


@pytest.fixture
def out(tmp_path: Path) -> Path:
    folder = tmp_path / "out"
    generate(SCHEMA, folder)
    return folder


def test_fresh_output_has_no_problems(out: Path) -> None:
    assert check(SCHEMA, out) == []


@pytest.mark.parametrize("name", GENERATED_FILES)
def test_edited_file_is_stale(out: Path, name: str) -> None:
    target = out / name
    target.write_text(target.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert check(SCHEMA, out) == [f"stale: {name}"]


def test_edited_models_is_stale_and_generate_restores_it(out: Path) -> None:
    models = out / "models.py"
    original = models.read_text(encoding="utf-8")
    models.write_text(original.replace("class AddPayload", "class AddedPayload"), encoding="utf-8")

    assert check(SCHEMA, out) == ["stale: models.py"]
    # The header is intact, so only `force` looks past it.
    assert generate(SCHEMA, out).skipped
    result = generate(SCHEMA, out, force=True)
    assert result.written == ("models.py",)
    assert models.read_text(encoding="utf-8") == original
    assert check(SCHEMA, out) == []


def test_deleted_file_is_missing(out: Path) -> None:
    (out / "client.py").unlink()
    assert check(SCHEMA, out) == ["missing: client.py"]
    assert generate(SCHEMA, out).written == ("client.py",)
    assert check(SCHEMA, out) == []


def test_missing_output_folder(tmp_path: Path) -> None:
    assert check(SCHEMA, tmp_path / "nowhere") == [f"missing: {n}" for n in GENERATED_FILES]
    assert not (tmp_path / "nowhere").exists()


def test_extra_generated_file_is_orphaned_and_generate_removes_it(out: Path) -> None:
    (out / "old.py").write_text(ORPHAN, encoding="utf-8")
    assert check(SCHEMA, out) == ["orphaned: old.py"]

    result = generate(SCHEMA, out)

    assert result.removed == ("old.py",)
    assert result.written == ()
    assert not (out / "old.py").exists()
    assert check(SCHEMA, out) == []


def test_extra_files_without_the_header_are_left_alone(out: Path) -> None:
    extras = {
        # The mark, but not on the first line.
        "custom.py": f'"""Hand-written."""\n# {HEADER_MARK}\n',
        "plain.py": "VALUE = 1\n",
        # The header, but not a Python module.
        "notes.txt": ORPHAN,
        "extra.json": "{}\n",
    }
    for name, text in extras.items():
        (out / name).write_text(text, encoding="utf-8")
    (out / "sub").mkdir()
    (out / "sub" / "old.py").write_text(ORPHAN, encoding="utf-8")
    before = snapshot(out)

    assert check(SCHEMA, out) == []
    result = generate(SCHEMA, out)

    assert result.written == result.removed == ()
    assert snapshot(out) == before


def test_problems_are_listed_stale_then_missing_then_orphaned(out: Path) -> None:
    (out / "old.py").write_text(ORPHAN, encoding="utf-8")
    (out / "handlers.py").unlink()
    (out / "schema.json").write_text("{}\n", encoding="utf-8")
    (out / "events.py").write_text("# nothing\n", encoding="utf-8")

    assert check(SCHEMA, out) == [
        "stale: events.py",
        "stale: schema.json",
        "missing: handlers.py",
        "orphaned: old.py",
    ]
    result = generate(SCHEMA, out)
    assert sorted(result.written) == ["events.py", "handlers.py", "schema.json"]
    assert result.removed == ("old.py",)
    assert check(SCHEMA, out) == []


def test_other_schema_makes_every_file_stale(out: Path) -> None:
    """Every file but ``py.typed`` carries the schema hash, so another schema changes them all."""
    problems = check(case_schema("echo"), out)
    assert problems == [f"stale: {n}" for n in HASHED_FILES]
