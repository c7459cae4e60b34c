"""A :class:`~datadivr.compat.ProtocolDiff` told to people, to programs and to GitHub.

:class:`DiffReport` holds a diff with what the command line knows around it (the policy, the
labels of OLD and NEW, the schema file of each event, the reasons of allowed changes) and
renders it as plain text (:meth:`~DiffReport.text`), as a JSON document
(:meth:`~DiffReport.document`) or as GitHub workflow commands (:meth:`~DiffReport.github`).
Nothing here does I/O.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from datadivr.compat._diff import Change, ProtocolDiff, Side

__all__ = ["DiffReport", "ExitCode", "FailOn"]

#: The version of the JSON document :meth:`DiffReport.document` returns.
DOCUMENT_FORMAT = "datadivr-schema-diff/1"


class ExitCode(enum.IntEnum):
    """The exit status of ``datadivr schema diff``."""

    COMPATIBLE = 0
    """Nothing breaks a side the policy fails on (allowed changes aside)."""
    BREAKING = 1
    """Some change breaks a side the policy fails on."""
    CANNOT_COMPARE = 2
    """A side could not be read: no git, an unknown revision, a schema error, a bad allow file."""


_MEANINGS: Mapping[ExitCode, str] = {
    ExitCode.COMPATIBLE: "compatible: no change breaks a side the policy fails on",
    ExitCode.BREAKING: "breaking: some change breaks a side the policy fails on",
    ExitCode.CANNOT_COMPARE: "could not compare: a side could not be read",
}


class FailOn(str, enum.Enum):
    """Which broken sides make the diff fail (``--fail-on``)."""

    CLIENTS = "clients"
    """Fail when clients still on OLD break."""
    SERVERS = "servers"
    """Fail when servers still on OLD break."""
    ANY = "any"
    """Fail when either breaks."""

    @property
    def sides(self) -> frozenset[Side]:
        """The sides this policy fails on."""
        if self is FailOn.ANY:
            return frozenset(Side)
        return frozenset({Side(self.value)})


@dataclass(frozen=True)
class DiffReport:
    """A diff and what it is reported with.

    Attributes:
        diff: The diff; its ``allowed`` changes are reported as allowed.
        fail_on: The policy that sets the exit code.
        old: What OLD is, as shown (``schema at origin/main``).
        new: What NEW is, as shown.
        files: The schema file of each event (``None``: the envelope), as shown; GitHub
            annotations point at it.
        reasons: Why each allowed change is accepted, by :attr:`Change.id`.
    """

    diff: ProtocolDiff
    fail_on: FailOn = FailOn.ANY
    old: str = "OLD"
    new: str = "NEW"
    files: Mapping[str | None, str] = field(default_factory=dict)
    reasons: Mapping[str, str] = field(default_factory=dict)

    @property
    def failing(self) -> tuple[Change, ...]:
        """The changes that break a side the policy fails on."""
        return tuple(c for c in self.diff.changes if c.breaks & self.fail_on.sides)

    @property
    def exit_code(self) -> ExitCode:
        """:attr:`ExitCode.BREAKING` when some change fails the policy, else compatible."""
        return ExitCode.BREAKING if self.failing else ExitCode.COMPATIBLE

    def summary(self) -> str:
        """One line: how many changes break each side, how many are compatible or allowed."""
        changes = self.diff.changes
        if not changes and not self.diff.allowed:
            return "no changes: both accept the same messages in the same directions"
        # (count, words after a first count, words after a later one), one and many
        items: list[tuple[int, tuple[str, str], tuple[str, str]]] = []
        for side in (Side.CLIENTS, Side.SERVERS):
            count = sum(side in c.breaks for c in changes)
            if count:
                one, many = f"breaks {side.value}", f"break {side.value}"
                items.append((count, (f"change {one}", f"changes {many}"), (one, many)))
        compatible = sum(not c.breaks for c in changes)
        if compatible or not (items or self.diff.allowed):
            words = ("compatible change", "compatible changes")
            items.append((compatible, words, ("compatible", "compatible")))
        if self.diff.allowed:
            words = ("allowed change", "allowed changes")
            items.append((len(self.diff.allowed), words, ("allowed", "allowed")))
        return ", ".join(
            f"{count} {(first if i == 0 else later)[count != 1]}"
            for i, (count, first, later) in enumerate(items)
        )

    def verdict(self) -> str:
        """One line: the exit code and why."""
        failing = self.failing
        if not failing:
            broken = self.diff.breaks
            ignored = (
                f" (breaks {_sides(broken)}, which --fail-on {self.fail_on.value} lets through)"
                if broken
                else ""
            )
            return f"compatible{ignored}"
        who = _sides(frozenset().union(*(c.breaks for c in failing)) & self.fail_on.sides)
        return f"breaking for {who} (--fail-on {self.fail_on.value})"

    # -- text -----------------------------------------------------------------------------

    def text(self) -> str:
        """The report for people: the changes grouped by event (the envelope first), each
        with what changed, whom it breaks and why, then the summary."""
        lines = [f"{self.old} → {self.new}"]
        if self.diff.old_fingerprint != self.diff.new_fingerprint:
            lines.append(f"fingerprint {self.diff.old_fingerprint} → {self.diff.new_fingerprint}")
        else:
            lines.append(f"fingerprint {self.diff.new_fingerprint} (unchanged)")
        for event, changes in self._groups():
            lines.append("")
            title = "every message (the envelope)" if event is None else f"event {event!r}"
            file = self.files.get(event)
            lines.append(f"{title}: {file}" if file else title)
            for change, allowed in changes:
                lines.append(f"  - {change.summary}{_at(change)}")
                lines.append(f"    {self._who(change, allowed)}: {change.why}")
                if allowed:
                    lines.append(f"    allowed: {self.reasons.get(change.id, 'in the allow file')}")
                lines.append(f"    id: {change.id}")
        lines.append("")
        lines.append(self.summary())
        lines.append(self.verdict())
        return "\n".join(lines) + "\n"

    def _who(self, change: Change, allowed: bool) -> str:
        who = f"breaks {_sides(change.breaks)}" if change.breaks else "breaks nobody"
        return f"{who} (allowed)" if allowed else who

    def _groups(self) -> list[tuple[str | None, list[tuple[Change, bool]]]]:
        groups: dict[str | None, list[tuple[Change, bool]]] = {}
        every = [(c, False) for c in self.diff.changes] + [(c, True) for c in self.diff.allowed]
        for change, allowed in every:
            groups.setdefault(change.event, []).append((change, allowed))
        return sorted(groups.items(), key=lambda item: (item[0] is not None, item[0] or ""))

    # -- JSON -----------------------------------------------------------------------------

    def document(self) -> dict[str, Any]:
        """The report as a JSON document, stable from one release to the next: the
        fingerprints, the verdict per side, every change (allowed ones marked so) and what the
        exit code means."""
        changes = [self._change_document(c, allowed=False) for c in self.diff.changes]
        changes += [self._change_document(c, allowed=True) for c in self.diff.allowed]
        return {
            "format": DOCUMENT_FORMAT,
            "old": {"label": self.old, "fingerprint": self.diff.old_fingerprint},
            "new": {"label": self.new, "fingerprint": self.diff.new_fingerprint},
            "breaks": {side.value: side in self.diff.breaks for side in Side},
            "fail_on": self.fail_on.value,
            "exit_code": int(self.exit_code),
            "exit_codes": {str(int(code)): text for code, text in _MEANINGS.items()},
            "summary": self.summary(),
            "verdict": self.verdict(),
            "changes": changes,
        }

    def _change_document(self, change: Change, *, allowed: bool) -> dict[str, Any]:
        return {
            "id": change.id,
            "event": change.event,
            "file": self.files.get(change.event),
            "path": change.path,
            "kind": change.kind,
            "summary": change.summary,
            "stricter": change.stricter,
            "looser": change.looser,
            "breaks": sorted(side.value for side in change.breaks),
            "why": change.why,
            "allowed": allowed,
            "reason": self.reasons.get(change.id) if allowed else None,
        }

    # -- GitHub ---------------------------------------------------------------------------

    def github(self) -> str:
        """The report as GitHub workflow commands: ``::error`` for a change that fails the
        policy, ``::warning`` for an allowed one or one that breaks only a side the policy
        lets through, ``::notice`` for a compatible one; each on the event's schema file."""
        lines = []
        for event, changes in self._groups():
            where = "every message" if event is None else event
            for change, allowed in changes:
                if allowed:
                    command = "warning"
                    title = f"{where}: allowed ({self._who(change, False)})"
                elif change.breaks & self.fail_on.sides:
                    command = "error"
                    title = f"{where}: {self._who(change, False)}"
                elif change.breaks:
                    command = "warning"
                    title = f"{where}: {self._who(change, False)} (not failed on)"
                else:
                    command = "notice"
                    title = f"{where}: compatible"
                properties = {"title": title}
                file = self.files.get(event)
                if file:
                    properties = {"file": file, **properties}
                message = f"{change.summary}{_at(change)}: {change.why} [{change.id}]"
                if allowed:
                    message += f"; allowed: {self.reasons.get(change.id, 'in the allow file')}"
                lines.append(workflow_command(command, message, properties))
        lines.append(f"{self.summary()}; {self.verdict()}")
        return "\n".join(lines) + "\n"


def failure_document(error: str) -> dict[str, Any]:
    """The JSON document of a diff that could not be made: why, and the exit code."""
    return {
        "format": DOCUMENT_FORMAT,
        "exit_code": int(ExitCode.CANNOT_COMPARE),
        "exit_codes": {str(int(code)): text for code, text in _MEANINGS.items()},
        "error": error,
    }


def workflow_command(command: str, message: str, properties: Mapping[str, str]) -> str:
    """``::command key=value,…::message``, escaped as GitHub's runner unescapes it."""
    props = ",".join(f"{key}={_escape_property(value)}" for key, value in properties.items())
    return f"::{command}{' ' + props if props else ''}::{_escape_data(message)}"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _sides(sides: frozenset[Side]) -> str:
    return " and ".join(sorted(side.value for side in sides)) or "nobody"


def _at(change: Change) -> str:
    return f" at {change.path}" if change.path not in ("", "$") else ""
