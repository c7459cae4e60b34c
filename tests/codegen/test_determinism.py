"""Generation is deterministic: same schema, same bytes; an up-to-date folder is not touched."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from datadivr_codegen.generator import HEADER_MARK, generate, generator_hash, plan
from datadivr_codegen.project import regenerate_command

from .conftest import CASES, GENERATED_FILES, case_schema, copy_case, snapshot

HASH_LINE = re.compile(r"^(?:# |// )?schema-hash: (sha256:[0-9a-f]{64})$", re.MULTILINE)
GENERATOR_LINE = re.compile(r"^(?:# |// )?generator-hash: (sha256:[0-9a-f]{64})$", re.MULTILINE)
#: Anything that looks like a date or a time of day.
CLOCK = re.compile(r"\d{4}-\d{2}-\d{2}|\d{1,2}:\d{2}(:\d{2})?")


@pytest.mark.parametrize("case", CASES)
def test_generating_twice_gives_identical_bytes(case: str, tmp_path: Path) -> None:
    one_dir, two_dir = tmp_path / "one", tmp_path / "elsewhere" / "two"
    first = generate(copy_case(case, one_dir / "schema"), one_dir / "out")
    # Another copy of the project, somewhere else: the output does not depend on where (the
    # headers name the folders relative to the project: here, to the folder holding both).
    second = generate(copy_case(case, two_dir / "schema"), two_dir / "out")

    assert sorted(first.written) == sorted(second.written) == sorted(GENERATED_FILES)
    one, two = snapshot(one_dir / "out"), snapshot(two_dir / "out")
    assert sorted(one) == sorted(GENERATED_FILES)
    assert one == two
    command = "datadivr generate --schema schema --out out"
    assert b"# Regenerate with `" + command.encode() + b"`." in one["models.py"]
    assert {
        f.path: f.content.encode() for f in plan(case_schema(case), command=command).files
    } == one


@pytest.mark.parametrize("force", [False, True], ids=["skipped", "forced"])
def test_generate_on_an_up_to_date_folder_writes_nothing(tmp_path: Path, force: bool) -> None:
    out = tmp_path / "out"
    generate(case_schema("nested"), out)
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    inodes = {p.name: p.stat().st_ino for p in out.iterdir()}

    result = generate(case_schema("nested"), out, force=force)

    assert result.skipped is not force
    assert result.written == ()
    assert result.removed == ()
    assert sorted(result.unchanged) == sorted(GENERATED_FILES)
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before
    assert {p.name: p.stat().st_ino for p in out.iterdir()} == inodes


def test_generate_rewrites_only_what_changed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    generate(case_schema("reply"), out)
    (out / "events.py").write_text("# hand-edited\n", encoding="utf-8")

    result = generate(case_schema("reply"), out)

    assert result.written == ("events.py",)
    assert sorted(result.unchanged) == sorted(set(GENERATED_FILES) - {"events.py"})
    command = regenerate_command(case_schema("reply"), out)
    expected = plan(case_schema("reply"), command=command).files
    assert snapshot(out) == {f.path: f.content.encode() for f in expected}
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_plan_is_pure_and_sorted(tmp_path: Path) -> None:
    schema = copy_case("nested", tmp_path / "schema")
    before = snapshot(tmp_path)
    first, second = plan(schema), plan(schema)
    assert first.files == second.files
    assert [f.path for f in first.files] == sorted(GENERATED_FILES)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("case", CASES)
def test_header_holds_the_hashes_and_no_timestamp(case: str) -> None:
    result = plan(case_schema(case))
    digest = result.schemas.digest
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest)
    for f in result.files:
        if f.path.endswith(".py"):
            comments = f.content.split('"""', 1)[0].strip().splitlines()
            assert comments[0].startswith(f"# {HEADER_MARK} "), f.path
            assert len(comments) == 4, f.path
            header = "\n".join(comments)
            assert HASH_LINE.findall(header) == [digest], f.path
            assert GENERATOR_LINE.findall(header) == [generator_hash()], f.path
            assert not CLOCK.search(GENERATOR_LINE.sub("", HASH_LINE.sub("", header))), f.path
            assert "timestamp" not in f.content.lower(), f.path
        elif f.path.endswith(".md"):
            comment = f.content.split("-->", 1)[0].removeprefix("<!--").strip()
            assert comment.startswith(HEADER_MARK), f.path
            assert HASH_LINE.findall(comment) == [digest], f.path
            assert GENERATOR_LINE.findall(comment) == [generator_hash()], f.path
            assert not CLOCK.search(GENERATOR_LINE.sub("", HASH_LINE.sub("", comment))), f.path
        elif f.path.endswith(".ts"):
            comments = [line for line in f.content.splitlines() if line.startswith("// ")]
            assert comments[0].startswith(f"// {HEADER_MARK} "), f.path
            assert len(comments) == 4, f.path
            header = "\n".join(comments)
            assert HASH_LINE.findall(header) == [digest], f.path
            assert GENERATOR_LINE.findall(header) == [generator_hash()], f.path
            assert not CLOCK.search(GENERATOR_LINE.sub("", HASH_LINE.sub("", header))), f.path
        elif f.path == "py.typed":
            assert f.content == ""
        else:
            bundle = json.loads(f.content)
            assert bundle["x-datadivr"]["schema_hash"] == digest
    events = next(f.content for f in result.files if f.path == "events.py")
    assert f'schema_hash="{digest}"' in events


def test_schema_hash_follows_the_schema_files(tmp_path: Path) -> None:
    schema = copy_case("minimal", tmp_path / "schema")
    original = plan(schema).schemas.digest
    event_file = schema / "events" / "hello.schema.json"

    # Same JSON, other bytes: still another hash (the hash is of the files, as written).
    event_file.write_text(event_file.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    reformatted = plan(schema).schemas.digest
    assert reformatted != original

    # A renamed file changes the hash too.
    event_file.rename(schema / "events" / "greeting.schema.json")
    assert plan(schema).schemas.digest not in (original, reformatted)

    # And the hash does not depend on where the folder is.
    assert plan(copy_case("minimal", tmp_path / "copy")).schemas.digest == original
