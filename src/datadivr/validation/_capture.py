"""``datadivr validate``: check a capture of messages (JSON Lines) against the schema, streaming."""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TextIO

from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from datadivr.validation import Report, Validator

__all__ = ["CaptureError", "Summary", "validate_capture"]


class CaptureError(Exception):
    """The capture cannot be read: missing, unreadable, or not UTF-8 text (exit status 2)."""


@dataclass
class Summary:
    """Counts over a capture."""

    messages: int = 0
    invalid: int = 0
    per_event: Counter[str] = field(default_factory=Counter)
    per_kind: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {
            "messages": self.messages,
            "valid": self.messages - self.invalid,
            "invalid": self.invalid,
            "per_event": dict(sorted(self.per_event.items())),
            "violations_per_kind": dict(sorted(self.per_kind.items())),
        }


def _lines(source: IO[bytes], progress: Progress | None) -> Iterator[tuple[int, str]]:
    task = progress.add_task("validating", total=_size(source)) if progress else None
    for number, raw in enumerate(source, 1):
        if progress is not None and task is not None:
            progress.advance(task, len(raw))
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CaptureError(f"line {number} is not UTF-8 text ({exc.reason})") from None
        if text.strip():
            yield number, text


def _size(source: IO[bytes]) -> int | None:
    try:
        return Path(source.name).stat().st_size if isinstance(source.name, str) else None
    except OSError:
        return None


def validate_capture(
    capture: str,
    validator: Validator,
    out: TextIO,
    *,
    fmt: str = "text",
    show_progress: bool | None = None,
) -> Summary:
    """Validate every line of ``capture`` (a path, or ``-`` for standard input), writing a
    report to ``out`` as it goes: constant memory, whatever the capture's size.

    Raises:
        CaptureError: the capture cannot be read.
    """
    try:
        source: IO[bytes] = sys.stdin.buffer if capture == "-" else open(capture, "rb")  # noqa: SIM115
    except OSError as exc:
        raise CaptureError(f"cannot read {capture}: {exc.strerror or exc}") from None
    if show_progress is None:
        show_progress = capture != "-" and sys.stderr.isatty()
    summary = Summary()
    first = True
    if fmt == "json":
        out.write('{"results": [')
    try:
        with (
            source,
            Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TimeRemainingColumn(),
                transient=True,
                disable=not show_progress,
            ) as progress,
        ):
            for number, text in _lines(source, progress if show_progress else None):
                report = validator.validate(text)
                summary.messages += 1
                summary.per_event[report.event_name or "?"] += 1
                if report.valid:
                    continue
                summary.invalid += 1
                for violation in report.violations:
                    summary.per_kind[violation.kind or "?"] += 1
                if fmt == "json":
                    out.write(
                        ("" if first else ",") + json.dumps({"line": number, **report.as_dict()})
                    )
                    first = False
                else:
                    _write_text(out, number, report)
    except OSError as exc:
        raise CaptureError(f"cannot read {capture}: {exc.strerror or exc}") from None
    if fmt == "json":
        out.write('], "summary": ' + json.dumps(summary.as_dict()) + "}\n")
    else:
        out.write(
            f"{summary.messages} messages: {summary.messages - summary.invalid} valid, "
            f"{summary.invalid} invalid\n"
        )
    return summary


def _write_text(out: TextIO, number: int, report: Report) -> None:
    event = report.event_name or "?"
    for violation in report.violations:
        out.write(
            f"line {number}: {event}: {violation.path}: {violation.reason} [{violation.kind}]\n"
        )
    if report.truncated:
        out.write(f"line {number}: {event}: and more violations (not checked past these)\n")
