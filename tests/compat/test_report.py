"""The diff's report (text, JSON, GitHub workflow commands) and the allow file, on diffs made by
hand: no schema folder, no command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from datadivr.compat import (
    AllowFileError,
    Change,
    DiffReport,
    ExitCode,
    FailOn,
    ProtocolDiff,
    Side,
    apply_allowances,
    parse_allow_file,
    read_allow_file,
)
from datadivr.compat._report import workflow_command

C, S = Side.CLIENTS, Side.SERVERS


def change(
    event: str | None, kind: str, path: str = "", breaks: frozenset[Side] = frozenset()
) -> Change:
    return Change(
        event,
        path,
        kind,
        f"{kind} summary",
        bool(breaks & {C}),
        bool(breaks & {S}),
        breaks,
        f"why {kind}",
    )


NARROWED = change("move", "type-narrowed", "$.payload.x", frozenset({C}))
ADDED = change("move", "property-added", "$.payload.y", frozenset({S}))
ENVELOPE = change(None, "max-length-lowered", "$.to", frozenset({C, S}))
TITLE = change("chat", "enum-value-added", "$.payload.kind", frozenset())
ITEMS = change("sum", "type-narrowed", "$.payload.numbers[*]", frozenset({C}))


def diff(*changes: Change) -> ProtocolDiff:
    return ProtocolDiff(changes, "fp1-" + "a" * 32, "fp1-" + "b" * 32)


def test_the_text_groups_changes_by_event_with_the_envelope_first() -> None:
    report = DiffReport(
        diff(NARROWED, ADDED, ENVELOPE, TITLE),
        old="schema at main",
        new="schema",
        files={"move": "schema/events/move.schema.json"},
    )
    text = report.text()
    assert text.splitlines()[0] == "schema at main → schema"
    headers = [line for line in text.splitlines() if line and not line.startswith(" ")]
    assert headers[2:5] == [
        "every message (the envelope)",
        "event 'chat'",
        "event 'move': schema/events/move.schema.json",
    ]
    assert (
        "  - type-narrowed summary at $.payload.x\n    breaks clients: why type-narrowed\n" in text
    )
    assert "    breaks clients and servers: why max-length-lowered\n" in text
    assert "    breaks nobody: why enum-value-added\n" in text
    assert "    id: move:type-narrowed:$.payload.x\n" in text
    assert text.endswith(
        "2 changes break clients, 2 break servers, 1 compatible\n"
        "breaking for clients and servers (--fail-on any)\n"
    )


@pytest.mark.parametrize(
    ("changes", "summary"),
    [
        ((), "no changes: both accept the same messages in the same directions"),
        ((TITLE,), "1 compatible change"),
        ((NARROWED,), "1 change breaks clients"),
        ((ADDED, TITLE), "1 change breaks servers, 1 compatible"),
        ((NARROWED, ITEMS, ADDED), "2 changes break clients, 1 breaks servers"),
    ],
)
def test_the_summary_counts_each_side(changes: tuple[Change, ...], summary: str) -> None:
    assert DiffReport(diff(*changes)).summary() == summary


@pytest.mark.parametrize(
    ("fail_on", "code", "verdict"),
    [
        (FailOn.ANY, ExitCode.BREAKING, "breaking for servers (--fail-on any)"),
        (FailOn.SERVERS, ExitCode.BREAKING, "breaking for servers (--fail-on servers)"),
        (
            FailOn.CLIENTS,
            ExitCode.COMPATIBLE,
            "compatible (breaks servers, which --fail-on clients lets through)",
        ),
    ],
)
def test_the_policy_sets_the_exit_code(fail_on: FailOn, code: ExitCode, verdict: str) -> None:
    report = DiffReport(diff(ADDED, TITLE), fail_on)
    assert report.exit_code is code
    assert report.verdict() == verdict
    assert report.document()["exit_code"] == code


def test_nothing_breaking_is_compatible_for_every_policy() -> None:
    for fail_on in FailOn:
        assert DiffReport(diff(TITLE), fail_on).exit_code is ExitCode.COMPATIBLE


def test_the_document_holds_every_field_of_every_change() -> None:
    allowed = diff(NARROWED, ADDED).without([ADDED.id])
    report = DiffReport(
        allowed, FailOn.CLIENTS, files={"move": "m.json"}, reasons={ADDED.id: "shipped"}
    )
    document = json.loads(json.dumps(report.document()))
    assert document["format"] == "datadivr-schema-diff/1"
    assert document["old"] == {"label": "OLD", "fingerprint": "fp1-" + "a" * 32}
    assert document["new"] == {"label": "NEW", "fingerprint": "fp1-" + "b" * 32}
    assert document["breaks"] == {"clients": True, "servers": False}
    assert document["fail_on"] == "clients"
    assert document["exit_code"] == 1
    assert set(document["exit_codes"]) == {"0", "1", "2"}
    assert document["changes"] == [
        {
            "id": "move:type-narrowed:$.payload.x",
            "event": "move",
            "file": "m.json",
            "path": "$.payload.x",
            "kind": "type-narrowed",
            "summary": "type-narrowed summary",
            "stricter": True,
            "looser": False,
            "breaks": ["clients"],
            "why": "why type-narrowed",
            "allowed": False,
            "reason": None,
        },
        {
            "id": "move:property-added:$.payload.y",
            "event": "move",
            "file": "m.json",
            "path": "$.payload.y",
            "kind": "property-added",
            "summary": "property-added summary",
            "stricter": False,
            "looser": True,
            "breaks": ["servers"],
            "why": "why property-added",
            "allowed": True,
            "reason": "shipped",
        },
    ]


def test_github_commands_say_error_warning_or_notice() -> None:
    allowed = diff(NARROWED, ADDED, ENVELOPE, TITLE).without([ENVELOPE.id])
    report = DiffReport(
        allowed,
        FailOn.CLIENTS,
        files={"move": "schema/events/move.schema.json", None: "schema/envelope.schema.json"},
        reasons={ENVELOPE.id: "every peer upgraded"},
    )
    lines = report.github().splitlines()
    assert lines[0] == (
        "::warning file=schema/envelope.schema.json,title=every message%3A allowed (breaks "
        "clients and servers)::max-length-lowered summary at $.to: why max-length-lowered "
        "[*:max-length-lowered:$.to]; allowed: every peer upgraded"
    )
    assert lines[1] == (
        "::notice title=chat%3A compatible::enum-value-added summary at $.payload.kind: "
        "why enum-value-added [chat:enum-value-added:$.payload.kind]"
    )
    assert lines[2].startswith(
        "::error file=schema/events/move.schema.json,title=move%3A breaks clients::"
    )
    # Breaking servers, which the policy lets through: a warning, not an error.
    assert lines[3].startswith("::warning file=schema/events/move.schema.json,title=move%3A ")
    assert lines[4] == (
        "1 change breaks clients, 1 breaks servers, 1 compatible, 1 allowed; "
        "breaking for clients (--fail-on clients)"
    )


def test_workflow_commands_escape_as_github_documents() -> None:
    assert workflow_command(
        "error", "50% of\r\nit: a, b", {"file": "a:b,c.json", "title": "x%\ny"}
    ) == ("::error file=a%3Ab%2Cc.json,title=x%25%0Ay::50%25 of%0D%0Ait: a, b")
    assert workflow_command("notice", "m", {}) == "::notice::m"


# -- the allow file ----------------------------------------------------------------------------


def test_an_entry_allows_a_change_by_id_or_pattern_and_names_the_stale() -> None:
    entries = parse_allow_file(
        """
        [[allow]]
        change = "move:type-narrowed:$.payload.x"
        reason = "no client sends a float"

        [[allow]]
        change = "sum:type-narrowed:$.payload.numbers[*]"
        reason = "an id with brackets matches itself"

        [[allow]]
        change = "*:max-length-*"
        reason = "ids are short"

        [[allow]]
        change = "gone:*"
        reason = "no such event any more"
        """,
        "allow.toml",
    )
    allowed = apply_allowances(diff(NARROWED, ADDED, ENVELOPE, ITEMS), entries)
    assert allowed.diff.changes == (ADDED,)
    assert allowed.diff.allowed == (NARROWED, ENVELOPE, ITEMS)
    assert allowed.reasons == {
        NARROWED.id: "no client sends a float",
        ENVELOPE.id: "ids are short",
        ITEMS.id: "an id with brackets matches itself",
    }
    assert [entry.index for entry in allowed.stale] == [4]
    assert (
        "    allowed: ids are short\n" in DiffReport(allowed.diff, reasons=allowed.reasons).text()
    )


def test_an_empty_allow_file_allows_nothing() -> None:
    assert parse_allow_file("", "allow.toml") == ()


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("[[allow]\n", "not valid TOML"),
        ('allow = "x"', "'allow' must be an array of tables"),
        ('[[allowed]]\nchange = "x"\nreason = "y"', "unknown key 'allowed'"),
        ('[[allow]]\nchange = "x"', "allow[1]: 'reason' must be a non-empty string"),
        ('[[allow]]\nchange = "x"\nreason = " "', "allow[1]: 'reason' must be a non-empty"),
        ('[[allow]]\nchange = "x"\nreason = "y"\n[[allow]]\nreason = "y"', "allow[2]: 'change'"),
        ('[[allow]]\nchange = 3\nreason = "y"', "allow[1]: 'change' must be a non-empty string"),
        ('[[allow]]\nchange = "x"\nreasons = "y"', "allow[1]: unknown key 'reasons'"),
        ("allow = [1]", "allow[1] must be a table"),
    ],
)
def test_a_bad_allow_file_names_the_file_and_why(text: str, reason: str) -> None:
    with pytest.raises(AllowFileError, match=r"^allow\.toml: ") as caught:
        parse_allow_file(text, "allow.toml")
    assert reason in caught.value.reason
    assert caught.value.file == Path("allow.toml")


def test_an_allow_file_that_cannot_be_read_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AllowFileError, match="cannot read"):
        read_allow_file(tmp_path / "absent.toml")
    (tmp_path / "latin.toml").write_bytes(b"# \xe9\n")
    with pytest.raises(AllowFileError, match="cannot read"):
        read_allow_file(tmp_path / "latin.toml")
