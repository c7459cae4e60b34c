"""The allow file: breaking changes a project has accepted, each with its reason.

A TOML file of ``[[allow]]`` entries::

    [[allow]]
    change = "move:required-added:$.payload.speed"   # a Change.id
    reason = "every client ships the speed since 2.3"

    [[allow]]
    change = "legacy_*:event-removed:"               # fnmatch patterns are welcome
    reason = "the legacy events went with the 1.x clients"

``change`` is a :attr:`~datadivr.compat.Change.id` or an :mod:`fnmatch` pattern of ids (an id
that holds ``[``, such as ``$.payload.items[*]``, also matches itself as it is written);
``reason`` is required. An entry that matches no change is stale: :func:`apply_allowances`
returns it, so that the command line warns about it.
"""

from __future__ import annotations

import fnmatch
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datadivr.compat._diff import ProtocolDiff

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = [
    "AllowEntry",
    "AllowFileError",
    "Allowed",
    "apply_allowances",
    "parse_allow_file",
    "read_allow_file",
]

_KEYS = ("change", "reason")


class AllowFileError(ValueError):
    """An allow file that cannot be used.

    Attributes:
        file: The allow file.
        reason: What is wrong with it.
    """

    def __init__(self, file: Path | str, reason: str) -> None:
        self.file = Path(file)
        self.reason = reason
        super().__init__(f"{self.file}: {reason}")


@dataclass(frozen=True)
class AllowEntry:
    """One ``[[allow]]`` entry.

    Attributes:
        change: The :attr:`~datadivr.compat.Change.id` or :mod:`fnmatch` pattern of ids.
        reason: Why the change is accepted.
        index: Its place in the file, from 1 (``allow[1]`` is the first entry).
    """

    change: str
    reason: str
    index: int

    def matches(self, change_id: str) -> bool:
        """Whether this entry accepts the change ``change_id``."""
        return change_id == self.change or fnmatch.fnmatchcase(change_id, self.change)


@dataclass(frozen=True)
class Allowed:
    """A diff with the changes of an allow file set aside.

    Attributes:
        diff: The diff, accepted changes moved to its ``allowed``.
        reasons: The reason of each accepted change, by id (the first matching entry's).
        stale: The entries that match no change.
    """

    diff: ProtocolDiff
    reasons: dict[str, str]
    stale: tuple[AllowEntry, ...]


def parse_allow_file(text: str, file: Path | str) -> tuple[AllowEntry, ...]:
    """The entries of the allow file ``file`` whose content is ``text``.

    Raises:
        AllowFileError: it is not TOML, or an entry lacks a ``change`` or a ``reason``, or has
            a key of no meaning.
    """
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise AllowFileError(file, f"not valid TOML: {exc}") from None
    unknown = sorted(set(document) - {"allow"})
    if unknown:
        raise AllowFileError(
            file, f"unknown key {', '.join(map(repr, unknown))}: the file holds [[allow]] entries"
        )
    entries = document.get("allow", [])
    if not isinstance(entries, list):
        raise AllowFileError(file, "'allow' must be an array of tables: [[allow]] entries")
    return tuple(_entry(file, i, entry) for i, entry in enumerate(entries, start=1))


def _entry(file: Path | str, index: int, entry: Any) -> AllowEntry:
    where = f"allow[{index}]"
    if not isinstance(entry, dict):
        raise AllowFileError(file, f"{where} must be a table with 'change' and 'reason'")
    unknown = sorted(set(entry) - set(_KEYS))
    if unknown:
        raise AllowFileError(
            file, f"{where}: unknown key {', '.join(map(repr, unknown))} (known: change, reason)"
        )
    for key in _KEYS:
        value = entry.get(key)
        if not isinstance(value, str) or not value.strip():
            what = "a change id or pattern" if key == "change" else "why the change is accepted"
            raise AllowFileError(file, f"{where}: '{key}' must be a non-empty string: {what}")
    return AllowEntry(entry["change"].strip(), entry["reason"].strip(), index)


def read_allow_file(path: Path) -> tuple[AllowEntry, ...]:
    """The entries of the allow file at ``path``.

    Raises:
        AllowFileError: it cannot be read or used (:func:`parse_allow_file`).
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise AllowFileError(path, f"cannot read: {reason}") from None
    return parse_allow_file(text, path)


def apply_allowances(diff: ProtocolDiff, entries: Sequence[AllowEntry]) -> Allowed:
    """``diff`` with the changes some entry matches set aside as allowed."""
    reasons: dict[str, str] = {}
    used: set[int] = set()
    for change in diff.changes:
        for entry in entries:
            if entry.matches(change.id):
                reasons.setdefault(change.id, entry.reason)
                used.add(entry.index)
    stale = tuple(entry for entry in entries if entry.index not in used)
    return Allowed(diff.without(reasons), reasons, stale)
