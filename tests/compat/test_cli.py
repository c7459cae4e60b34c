"""``datadivr schema diff``: two schema folders, or git revisions of one in a real repository;
every format, the exit codes, --fail-on, --allow, and the errors that stop a comparison."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from datadivr.cli import app
from tests.commands import CLI_ENV, DATADIVR_SCRIPT, run_datadivr

DEMO_SCHEMA = Path(__file__).resolve().parents[2] / "schema"
SUM = "events/sum_event.schema.json"
#: ``sum_event`` (client_to_server) takes integers only: clients still on OLD send floats.
NARROWED_ID = "sum_event:type-narrowed:$.payload.numbers[*]"
#: ``sum_event`` takes an optional ``label``: servers still on OLD refuse it.
LABEL_ID = "sum_event:property-added:$.payload.label"


def edit(folder: Path, file: str, change: Callable[[dict[str, Any]], None]) -> None:
    path = folder / file
    document = json.loads(path.read_text(encoding="utf-8"))
    change(document)
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def integers_only(document: dict[str, Any]) -> None:
    document["properties"]["numbers"]["items"] = {"type": "integer"}


def with_label(document: dict[str, Any]) -> None:
    document["properties"]["label"] = {"type": "string"}


def copy_schema(target: Path, *changes: Callable[[dict[str, Any]], None]) -> Path:
    shutil.copytree(DEMO_SCHEMA, target)
    for change in changes:
        edit(target, SUM, change)
    return target


def diff(*args: str | Path) -> Result:
    return CliRunner().invoke(app, ["schema", "diff", *map(str, args)])


@pytest.fixture
def folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``old/`` (the demo), ``narrowed/`` (breaks clients), ``labelled/`` (breaks servers)
    and ``both/``, in the current folder."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATADIVR_SCHEMA", raising=False)
    copy_schema(tmp_path / "old")
    copy_schema(tmp_path / "narrowed", integers_only)
    copy_schema(tmp_path / "labelled", with_label)
    copy_schema(tmp_path / "both", integers_only, with_label)
    return tmp_path


# -- two folders -------------------------------------------------------------------------------


@pytest.mark.parametrize("output", ["text", "json", "github"])
def test_the_same_protocol_is_compatible_in_every_format(folders: Path, output: str) -> None:
    result = diff("old", "old", "--format", output)
    assert result.exit_code == 0, result.output
    if output == "json":
        document = json.loads(result.stdout)
        assert document["changes"] == []
        assert document["old"]["fingerprint"] == document["new"]["fingerprint"]
        assert document["exit_code"] == 0
    else:
        assert "no changes: both accept the same messages" in result.stdout


def test_the_text_says_what_changed_whom_it_breaks_and_why(folders: Path) -> None:
    result = diff("old", "both")
    assert result.exit_code == 1
    out = result.stdout
    assert out.startswith("old → both\nfingerprint fp1-")
    assert "event 'sum_event': both/events/sum_event.schema.json\n" in out
    assert "  - type number → integer at $.payload.numbers[*]\n    breaks clients: clients " in out
    assert "  - property 'label' added at $.payload.label\n    breaks servers: servers " in out
    assert f"    id: {NARROWED_ID}\n" in out
    assert out.endswith(
        "1 change breaks clients, 1 breaks servers\n"
        "breaking for clients and servers (--fail-on any)\n"
    )
    assert result.stderr == ""


def test_the_json_document_is_the_report(folders: Path) -> None:
    result = diff("old", "both", "--format", "json")
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert document["breaks"] == {"clients": True, "servers": True}
    assert document["exit_code"] == 1
    assert {c["id"]: c["breaks"] for c in document["changes"]} == {
        NARROWED_ID: ["clients"],
        LABEL_ID: ["servers"],
    }
    assert {c["file"] for c in document["changes"]} == {"both/events/sum_event.schema.json"}


def test_github_commands_point_at_the_events_file(folders: Path) -> None:
    result = diff("old", "both", "--format", "github", "--fail-on", "clients")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith(
        "::error file=both/events/sum_event.schema.json,title=sum_event%3A breaks clients::"
        "type number → integer at $.payload.numbers[*]: "
    )
    assert lines[1].startswith("::warning file=both/events/sum_event.schema.json,title=")
    assert lines[2].endswith("breaking for clients (--fail-on clients)")


def test_a_removed_event_points_at_its_file_in_old(folders: Path) -> None:
    (folders / "labelled" / "events" / "scene_update.schema.json").unlink()
    result = diff("old", "labelled", "--format", "github")
    assert "::error file=old/events/scene_update.schema.json,title=scene_update%3A " in (
        result.stdout
    )


@pytest.mark.parametrize(
    ("new", "fail_on", "code"),
    [
        ("narrowed", "clients", 1),
        ("narrowed", "servers", 0),
        ("narrowed", "any", 1),
        ("labelled", "clients", 0),
        ("labelled", "servers", 1),
        ("labelled", "any", 1),
    ],
)
def test_fail_on_picks_the_sides_that_fail(
    folders: Path, new: str, fail_on: str, code: int
) -> None:
    result = diff("old", new, "--fail-on", fail_on)
    assert result.exit_code == code, result.output


def test_the_default_policy_is_any(folders: Path) -> None:
    assert diff("old", "labelled").exit_code == 1


# -- the allow file ----------------------------------------------------------------------------


def test_allowed_changes_pass_and_are_shown_as_allowed(folders: Path) -> None:
    allow = folders / "allow.toml"
    allow.write_text(
        f'[[allow]]\nchange = "{NARROWED_ID}"\nreason = "no client sends floats"\n\n'
        '[[allow]]\nchange = "sum_event:property-*"\nreason = "servers upgrade first"\n',
        encoding="utf-8",
    )
    result = diff("old", "both", "--allow", allow)
    assert result.exit_code == 0, result.output
    assert "    allowed: no client sends floats\n" in result.stdout
    assert "breaks servers (allowed): " in result.stdout
    assert result.stdout.endswith("\n2 allowed changes\ncompatible\n")
    assert result.stderr == ""
    document = json.loads(diff("old", "both", "--allow", allow, "--format", "json").stdout)
    assert [(c["allowed"], c["reason"]) for c in document["changes"]] == [
        (True, "no client sends floats"),
        (True, "servers upgrade first"),
    ]


def test_a_stale_entry_is_a_warning_not_a_failure(folders: Path) -> None:
    allow = folders / "allow.toml"
    allow.write_text(
        f'[[allow]]\nchange = "{LABEL_ID}"\nreason = "servers first"\n\n'
        '[[allow]]\nchange = "gone:*"\nreason = "left over"\n',
        encoding="utf-8",
    )
    result = diff("old", "labelled", "--allow", allow)
    assert result.exit_code == 0, result.output
    assert "warning:" in result.stderr
    assert "allow[2] change = 'gone:*' matches no change (stale" in result.stderr
    github = diff("old", "labelled", "--allow", allow, "--format", "github")
    assert github.stdout.startswith(
        f"::warning file={allow},title=stale allow::allow[2] change = 'gone:*' matches no "
    )
    # A stale entry changes no verdict: a real break still fails.
    assert diff("old", "both", "--allow", allow).exit_code == 1


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("[[allow]\n", "not valid TOML"),
        ('[[allow]]\nchange = "x"\n', "allow[1]: 'reason' must be a non-empty string"),
    ],
)
def test_a_bad_allow_file_cannot_compare(folders: Path, text: str, reason: str) -> None:
    allow = folders / "allow.toml"
    allow.write_text(text, encoding="utf-8")
    result = diff("old", "old", "--allow", allow)
    assert result.exit_code == 2
    assert f"allow file {allow}: " in result.stderr
    assert reason in result.stderr
    assert result.stdout == ""


def test_an_absent_allow_file_cannot_compare(folders: Path) -> None:
    result = diff("old", "old", "--allow", "absent.toml")
    assert result.exit_code == 2
    assert "allow file absent.toml: cannot read" in result.stderr


# -- what cannot be compared -------------------------------------------------------------------


def test_a_schema_error_names_the_file(folders: Path) -> None:
    (folders / "narrowed" / SUM).write_text("{ not json", encoding="utf-8")
    result = diff("old", "narrowed")
    assert result.exit_code == 2
    assert "narrowed: schema error: " in result.stderr
    assert "sum_event.schema.json" in result.stderr
    assert "Traceback" not in result.output


def test_a_name_that_is_no_folder_and_no_configured_folder_cannot_compare(
    folders: Path,
) -> None:
    result = diff("old", "nowhere")
    assert result.exit_code == 2
    assert "'nowhere' is not a folder, and no schema folder is configured" in result.stderr
    document = json.loads(diff("old", "nowhere", "--format", "json").stdout)
    assert document["exit_code"] == 2
    assert document["error"].startswith("'nowhere' is not a folder")
    github = diff("old", "nowhere", "--format", "github")
    assert github.exit_code == 2
    assert github.stdout.startswith(
        "::error title=schema diff%3A cannot compare::'nowhere' is not a folder, and no "
    )


@pytest.mark.parametrize(
    ("args", "said"),
    [
        ((), "nothing to compare"),
        (("--against", "main", "old", "old"), "--against REV takes at most one"),
        (("old",), "no schema folder to compare"),
    ],
)
def test_missing_or_extra_sides_cannot_compare(
    folders: Path, args: tuple[str, ...], said: str
) -> None:
    result = diff(*args)
    assert result.exit_code == 2
    assert said in result.stderr


def test_one_side_is_compared_with_the_schema_folder(folders: Path) -> None:
    result = diff("old", "--schema", "narrowed", "--format", "json")
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert (document["old"]["label"], document["new"]["label"]) == ("old", "narrowed")


def test_without_the_loaders_dependencies_it_says_what_to_install(
    folders: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "datadivr_codegen.bundle", None)
    result = diff("old", "old")
    assert result.exit_code == 2
    assert "comparing schemas needs the codegen extra" in result.stderr
    assert "pip install 'datadivr[codegen]'" in result.stderr


# -- git revisions -----------------------------------------------------------------------------


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        [
            "git",
            "-c",
            "user.name=Test",
            "-c",
            "user.email=test@example.invalid",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "tag.gpgsign=false",
            *args,
        ],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(repo.parent)},
    ).stdout


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project whose configured schema folder, ``proto/schema``, has this history on main:
    ``empty`` (no schema folder yet), ``v1`` (the demo, also branch ``stable``), HEAD (numbers
    narrowed to integers); a branch ``broken`` with a file that is no JSON; and in the working
    tree, not committed, an optional ``label``."""
    repo = tmp_path / "project"
    repo.mkdir()
    monkeypatch.chdir(repo)
    monkeypatch.delenv("DATADIVR_SCHEMA", raising=False)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("HOME", str(tmp_path))
    git(repo, "init", "-q", "-b", "main")
    (repo / "pyproject.toml").write_text(
        '[project]\nname = "game"\n\n[tool.datadivr]\nschema = "proto/schema"\n',
        encoding="utf-8",
    )
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "empty")
    git(repo, "tag", "empty")
    schema = copy_schema(repo / "proto" / "schema")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "v1")
    git(repo, "tag", "v1")
    git(repo, "branch", "stable")
    git(repo, "checkout", "-q", "-b", "broken")
    (schema / SUM).write_text("{ not json", encoding="utf-8")
    git(repo, "commit", "-q", "-am", "broken")
    git(repo, "checkout", "-q", "main")
    edit(schema, SUM, integers_only)
    git(repo, "commit", "-q", "-am", "v2")
    edit(schema, SUM, with_label)
    return repo


def snapshot(repo: Path) -> tuple[str, str, dict[str, bytes]]:
    """What a diff must leave as it was: the status, HEAD and every file of the work tree."""
    files = {
        path.relative_to(repo).as_posix(): path.read_bytes()
        for path in sorted(repo.rglob("*"))
        if path.is_file() and ".git" not in path.relative_to(repo).parts
    }
    return git(repo, "status", "--porcelain"), git(repo, "rev-parse", "HEAD"), files


def ids(result: Result) -> dict[str, list[str]]:
    assert result.exit_code in (0, 1), result.output
    return {c["id"]: c["breaks"] for c in json.loads(result.stdout)["changes"]}


def test_revisions_are_read_without_touching_the_work_tree(repo: Path) -> None:
    before = snapshot(repo)
    assert " M proto/schema/" + SUM in before[0]
    # OLD a revision, NEW the work tree with its uncommitted change.
    assert ids(diff("--against", "HEAD~1", "--format", "json")) == {
        NARROWED_ID: ["clients"],
        LABEL_ID: ["servers"],
    }
    assert ids(diff("--against", "HEAD", "--format", "json")) == {LABEL_ID: ["servers"]}
    # Two revisions: a tag and a commit, both ways.
    assert ids(diff("v1", "HEAD", "--format", "json")) == {NARROWED_ID: ["clients"]}
    assert ids(diff("HEAD", "v1", "--format", "json")) == {
        "sum_event:type-widened:$.payload.numbers[*]": ["servers"]
    }
    # Branch names, and a revision against itself.
    assert ids(diff("stable", "main", "--format", "json")) == {NARROWED_ID: ["clients"]}
    assert ids(diff("v1", "stable", "--format", "json")) == {}
    assert snapshot(repo) == before


def test_a_revision_is_labelled_and_its_files_are_the_work_trees(repo: Path) -> None:
    result = diff("--against", "v1", "--format", "github")
    assert result.exit_code == 1
    assert result.stdout.startswith("::error file=proto/schema/events/sum_event.schema.json,")
    text = diff("--against", "v1").stdout
    assert text.startswith("proto/schema at v1 → proto/schema\n")


def test_the_folder_is_found_from_a_subfolder(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(repo / "proto")
    result = diff("v1", "main", "--format", "json")
    assert ids(result) == {NARROWED_ID: ["clients"]}
    assert json.loads(result.stdout)["old"]["label"] == "schema at v1"


def test_a_folder_wins_over_a_revision_of_the_same_name(repo: Path) -> None:
    shutil.copytree(repo / "proto" / "schema", repo / "v1")
    # ./v1 is the work tree's copy: nothing changed, where the tag v1 would differ.
    assert ids(diff("v1", "--format", "json")) == {}
    # --against names a revision, whatever folder has its name.
    assert LABEL_ID in ids(diff("--against", "v1", "--format", "json"))


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("--against", "nosuch"), "'nosuch' is neither a folder nor a known git revision"),
        (("--against", "-x"), "'-x' is not a revision"),
        (("--against", "empty"), "empty:proto/schema: the schema folder does not exist at"),
        (
            ("broken", "main"),
            "proto/schema at broken: schema error: events/sum_event.schema.json: invalid JSON",
        ),
    ],
)
def test_a_revision_that_cannot_be_read_cannot_compare(
    repo: Path, args: tuple[str, ...], said: str
) -> None:
    before = snapshot(repo)
    result = diff(*args)
    assert result.exit_code == 2
    assert said in result.stderr
    assert "Traceback" not in result.output
    assert "datadivr-diff-" not in result.stderr  # no temporary path leaks into messages
    assert snapshot(repo) == before


def test_a_folder_outside_git_cannot_be_read_at_a_revision(folders: Path) -> None:
    result = diff("main", "--schema", "old")
    assert result.exit_code == 2
    assert "'main' is not a folder, and old is not in a git repository" in result.stderr


def test_the_installed_command_compares_revisions(repo: Path) -> None:
    before = snapshot(repo)
    result = run_datadivr(
        "schema", "diff", "--against", "v1", "--format", "json", cwd=repo, command=DATADIVR_SCRIPT
    )
    assert result.returncode == 1, result.stderr
    document = json.loads(result.stdout)
    assert document["old"]["label"] == "proto/schema at v1"
    assert {c["id"] for c in document["changes"]} == {NARROWED_ID, LABEL_ID}
    # --fail-on clients with the narrowing allowed: what CI runs, passing.
    (repo / "allow.toml").write_text(
        f'[[allow]]\nchange = "{NARROWED_ID}"\nreason = "integers since 1.1"\n', encoding="utf-8"
    )
    result = run_datadivr(
        "schema",
        "diff",
        "--against",
        "v1",
        "--format",
        "github",
        "--fail-on",
        "clients",
        "--allow",
        "allow.toml",
        cwd=repo,
        command=DATADIVR_SCRIPT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "::warning file=proto/schema/events/sum_event.schema.json" in result.stdout
    (repo / "allow.toml").unlink()
    assert snapshot(repo) == before


def test_without_git_a_revision_cannot_be_read(repo: Path) -> None:
    # PATH holds the interpreter's folder alone: no git.
    env = {**CLI_ENV, "PATH": str(Path(sys.executable).parent)}
    result = run_datadivr(
        "schema", "diff", "--against", "v1", cwd=repo, env=env, command=DATADIVR_SCRIPT
    )
    assert result.returncode == 2
    assert "git is not installed" in result.stderr
    assert "Traceback" not in result.stderr


# -- the page ----------------------------------------------------------------------------------


def test_the_page_shows_what_the_command_prints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/evolution.md's first session: the demo schema on main; in the work tree, numbers
    narrowed to integers, a ``label`` and a ``server_name`` in ``welcome``."""
    page = (Path(__file__).resolve().parents[2] / "docs" / "evolution.md").read_text("utf-8")
    session = page.split("```console\n", 1)[1].split("```", 1)[0].splitlines()
    command, shown = session[0], session[1:]
    assert command == "$ datadivr schema diff --against main"
    repo = tmp_path / "game"
    repo.mkdir()
    monkeypatch.chdir(repo)
    monkeypatch.delenv("DATADIVR_SCHEMA", raising=False)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("HOME", str(tmp_path))
    (repo / "pyproject.toml").write_text(
        '[project]\nname = "game"\n\n[tool.datadivr]\nschema = "schema"\n', encoding="utf-8"
    )
    schema = copy_schema(repo / "schema")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "v1")
    edit(schema, SUM, integers_only)
    edit(schema, SUM, with_label)

    def server_name(document: dict[str, Any]) -> None:
        document["properties"]["server_name"] = {"type": "string"}
        document["description"] = "A description changes nothing."

    edit(schema, "events/welcome.schema.json", server_name)
    result = diff("--against", "main")
    assert result.exit_code == 1
    printed = result.stdout.splitlines()
    # The fingerprints are the engine's to compute: the page shows their form.
    assert re.fullmatch(r"fingerprint fp1-[0-9a-f]{32} → fp1-[0-9a-f]{32}", printed[1])
    assert [printed[0], *printed[2:]] == [shown[0], *shown[2:]]
