"""The generator and runtime held to the official JSON Schema Test Suite.

Every test group of the vendored suite (``tests/jsonschema_suite/``) becomes one event of a
temporary schema folder, its schema the event's payload schema. The folder is generated into a
package, imported under a fresh name, and every test case of the group is checked twice against
the suite's verdict:

- by the generated models: the frame ``{"event_name": <event>, "payload": <data>}`` parsed by
  the package's ``PROTOCOL`` (:meth:`datadivr.runtime.Protocol.parse`);
- by the reference validator (:class:`datadivr.validation.Validator`) on the same message,
  against the package's bundled ``schema.json``.

A group the generator refuses has no package: its cases are not run, and the refusal
(the :class:`~datadivr_codegen.errors.SchemaError` text) is recorded.

To stay fast (generating and importing a package costs seconds, whatever its number of events),
each group is first given to the schema loader alone, which refuses most of what the generator
refuses; the groups it accepts are generated as a few large packages (as few as no two groups
of one package define the same ``$defs`` name). When the generator refuses such a package, the
group it names is taken out and tried alone (or, when it names none, the package is split in
two), so that every refusal is known by group.

Run ``python -m tests.conformance [--draft 2020-12|7] [--markdown] [--details]`` to print the
table (Markdown for the docs).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from datadivr.exceptions import ProtocolError
from datadivr.runtime import Protocol
from datadivr.validation import Validator
from datadivr_codegen.errors import SchemaError
from datadivr_codegen.schema import ENVELOPE_FILE, EVENTS_FOLDER, EXTENSION, load_schema_folder
from tests.case_protocols import generated_package

__all__ = [
    "DRAFTS",
    "SUITE_DIR",
    "Case",
    "Disagreement",
    "DraftResult",
    "FileResult",
    "Group",
    "load_groups",
    "main",
    "markdown_table",
    "refusal_counts",
    "refusal_kind",
    "run_draft",
    "suite_files",
    "text_table",
]

HERE = Path(__file__).parent
#: The vendored copy of the suite (see its README.md for where and at which commit).
SUITE_DIR = HERE / "jsonschema_suite" / "tests"
#: The envelope every temporary schema folder uses: the smallest case's.
ENVELOPE = HERE / "codegen" / "cases" / "minimal" / "schema" / ENVELOPE_FILE
#: The drafts the harness runs: the name given on the command line → the suite's folder and
#: the ``$schema`` a group's schema is given when it declares none (the suite's rule: a
#: schema is read as the dialect of the folder it is in).
DRAFTS: dict[str, tuple[str, str]] = {
    "2020-12": ("draft2020-12", "https://json-schema.org/draft/2020-12/schema"),
    "7": ("draft7", "http://json-schema.org/draft-07/schema#"),
}
#: Files left out: they need a server of remote schemas.
_LEFT_OUT = frozenset({"refRemote.json"})
#: The only files of ``optional/`` that are run (formats the models and the validator check).
_OPTIONAL = ("optional/format/date-time.json", "optional/format/uuid.json")


@dataclass(frozen=True)
class Case:
    """One test case of the suite: an instance and whether it is valid."""

    description: str
    data: Any
    valid: bool


@dataclass(frozen=True)
class Group:
    """One test group of the suite: a schema and its cases.

    Attributes:
        keyword: The suite file, relative to the draft's folder, without ``.json``.
        index: Position of the group in its file.
    """

    keyword: str
    index: int
    description: str
    schema: Any
    cases: tuple[Case, ...]


@dataclass(frozen=True)
class Disagreement:
    """A case where a checker's verdict is not the suite's.

    Attributes:
        checker: ``"models"`` (the generated package's parser) or ``"validator"`` (the
            reference validator).
        got: ``"valid"``, ``"invalid"``, or ``"crash: <exception>"``.
    """

    checker: str
    keyword: str
    group: str
    case: str
    data: Any
    expected: bool
    got: str

    def line(self) -> str:
        """One line saying what disagreed."""
        expected = "valid" if self.expected else "invalid"
        data = json.dumps(self.data, ensure_ascii=False)
        if len(data) > 200:
            data = data[:199] + "…"
        return (
            f"[{self.checker}] {self.keyword} / {self.group} / {self.case}: "
            f"data {data}, expected {expected}, got {self.got}"
        )


@dataclass
class FileResult:
    """The results of one suite file.

    Attributes:
        keyword: The file, relative to the draft's folder, without ``.json``.
        groups: Number of test groups.
        generated: Number of groups the generator made a package of.
        cases: Number of cases run (those of generated groups).
        models_agree: Cases where the generated models agree with the suite.
        validator_agree: Cases where the reference validator agrees with the suite.
        disagreements: Every case where either disagrees.
        refusals: The generator's refusal of each refused group, by group description.
    """

    keyword: str
    groups: int = 0
    generated: int = 0
    cases: int = 0
    models_agree: int = 0
    validator_agree: int = 0
    disagreements: list[Disagreement] = field(default_factory=list)
    refusals: dict[str, str] = field(default_factory=dict)


@dataclass
class DraftResult:
    """The results of one draft, file by file."""

    draft: str
    files: list[FileResult]

    def total(self) -> FileResult:
        """Every file's figures summed (its disagreements and refusals included)."""
        total = FileResult("total")
        for f in self.files:
            total.groups += f.groups
            total.generated += f.generated
            total.cases += f.cases
            total.models_agree += f.models_agree
            total.validator_agree += f.validator_agree
            total.disagreements.extend(f.disagreements)
            total.refusals.update({f"{f.keyword} / {g}": r for g, r in f.refusals.items()})
        return total

    @property
    def generated_share(self) -> float:
        """The share of the draft's groups the generator made a package of."""
        total = self.total()
        return total.generated / total.groups if total.groups else 0.0


def suite_files(draft: str) -> list[Path]:
    """The suite files run for ``draft`` (``"2020-12"`` or ``"7"``), in name order."""
    folder = SUITE_DIR / DRAFTS[draft][0]
    files = [p for p in sorted(folder.glob("*.json")) if p.name not in _LEFT_OUT]
    return files + [folder / name for name in _OPTIONAL if (folder / name).is_file()]


def load_groups(path: Path, draft: str) -> list[Group]:
    """The test groups of one suite file of ``draft``."""
    keyword = path.relative_to(SUITE_DIR / DRAFTS[draft][0]).with_suffix("").as_posix()
    return [
        Group(
            keyword,
            index,
            raw["description"],
            raw["schema"],
            tuple(Case(c["description"], c["data"], c["valid"]) for c in raw["tests"]),
        )
        for index, raw in enumerate(json.loads(path.read_text(encoding="utf-8")))
    ]


def _event_file(group: Group, event: str, dialect: str) -> Any:
    """What the event file of ``group`` holds: its schema, marked as the event's, with the
    draft's ``$schema`` when it names none."""
    if not isinstance(group.schema, dict):
        # An event file holds its x-datadivr block: a boolean schema is written as the one
        # member of an allOf, which means the same.
        return {
            "$schema": dialect,
            "allOf": [group.schema],
            EXTENSION: {"event": event, "direction": "client_to_server"},
        }
    return {
        **({"$schema": dialect} if "$schema" not in group.schema else {}),
        **group.schema,
        EXTENSION: {"event": event, "direction": "client_to_server"},
    }


def _schema_folder(root: Path, entries: Sequence[tuple[str, Group]], dialect: str) -> Path:
    folder = root / f"schema_{uuid.uuid4().hex}"
    (folder / EVENTS_FOLDER).mkdir(parents=True)
    (folder / ENVELOPE_FILE).write_bytes(ENVELOPE.read_bytes())
    for event, group in entries:
        text = json.dumps(_event_file(group, event, dialect), indent=2, ensure_ascii=False)
        (folder / EVENTS_FOLDER / f"{event}.schema.json").write_text(text, encoding="utf-8")
    return folder


def _refusal(exc: Exception) -> str:
    if isinstance(exc, SchemaError):
        return exc.reason
    return f"crash: {type(exc).__name__}: {exc}"


def _verdict_models(protocol: Protocol, frame: str) -> str:
    try:
        protocol.parse(frame)
    except ProtocolError:
        return "invalid"
    except Exception as exc:  # a crash is a finding, reported as such
        return f"crash: {type(exc).__name__}: {exc}"
    return "valid"


def _verdict_validator(validator: Validator, message: dict[str, Any]) -> str:
    try:
        report = validator.validate(message)
    except Exception as exc:  # a crash is a finding, reported as such
        return f"crash: {type(exc).__name__}: {exc}"
    return "valid" if report.valid else "invalid"


def _check(
    package: ModuleType, entries: Sequence[tuple[str, Group]], results: dict[str, FileResult]
) -> None:
    protocol: Protocol = package.PROTOCOL
    validator = Validator(protocol)
    for event, group in entries:
        result = results[group.keyword]
        result.generated += 1
        for case in group.cases:
            result.cases += 1
            message = {"event_name": event, "payload": case.data}
            expected = "valid" if case.valid else "invalid"
            verdicts = (
                ("models", _verdict_models(protocol, json.dumps(message))),
                ("validator", _verdict_validator(validator, message)),
            )
            for checker, got in verdicts:
                if got == expected:
                    if checker == "models":
                        result.models_agree += 1
                    else:
                        result.validator_agree += 1
                else:
                    result.disagreements.append(
                        Disagreement(
                            checker,
                            group.keyword,
                            group.description,
                            case.description,
                            case.data,
                            case.valid,
                            got,
                        )
                    )


def _run_batch(
    root: Path,
    entries: Sequence[tuple[str, Group]],
    dialect: str,
    results: dict[str, FileResult],
) -> SchemaError | Exception | None:
    """Generate ``entries`` as one package and check every case; the generator's refusal, if
    it refuses them (nothing is counted then)."""
    if not entries:
        return None
    folder = _schema_folder(root, entries, dialect)
    counted = {group.keyword: FileResult(group.keyword) for _, group in entries}
    try:
        with generated_package(folder, root, "conformance") as package:
            _check(package, entries, counted)
    except Exception as exc:  # a crash of the generator is a refusal, reported as such
        return exc
    for keyword, part in counted.items():
        result = results[keyword]
        result.generated += part.generated
        result.cases += part.cases
        result.models_agree += part.models_agree
        result.validator_agree += part.validator_agree
        result.disagreements.extend(part.disagreements)
    return None


def _names(group: Group) -> set[str]:
    """The names the group's schema defines at its root, which the loader shares between all
    the files of a folder: two groups that define one differently cannot be in one folder."""
    if not isinstance(group.schema, dict):
        return set()
    names = {str(group.schema["title"])} if "title" in group.schema else set()
    for key in ("$defs", "definitions"):
        if isinstance(group.schema.get(key), dict):
            names.update(group.schema[key])
    return names


def _batches(entries: Sequence[tuple[str, Group]]) -> list[list[tuple[str, Group]]]:
    """``entries`` in as few batches as no two groups of one batch define one name."""
    batches: list[tuple[set[str], list[tuple[str, Group]]]] = []
    for event, group in entries:
        names = _names(group)
        for taken, batch in batches:
            if not taken & names:
                taken.update(names)
                batch.append((event, group))
                break
        else:
            batches.append((names, [(event, group)]))
    return [batch for _, batch in batches]


def _settle(
    root: Path,
    entries: Sequence[tuple[str, Group]],
    dialect: str,
    results: dict[str, FileResult],
) -> None:
    """Generate and check ``entries`` as one package; when the generator refuses it, take out
    the group it names (or, when it names none, split the batch in two) and go on with the
    rest, so that each refusal is known by group. A group taken out is tried alone: its
    refusal is then its own, not a clash with another group."""
    pending = list(entries)
    alone: list[tuple[str, Group]] = []
    while pending:
        refused = _run_batch(root, pending, dialect, results)
        if refused is None:
            break
        if len(pending) == 1:
            group = pending[0][1]
            results[group.keyword].refusals[group.description] = _refusal(refused)
            break
        named = (
            refused.file.stem.removesuffix(".schema")
            if isinstance(refused, SchemaError) and refused.file
            else None
        )
        culprit = next((entry for entry in pending if entry[0] == named), None)
        if culprit is None:
            half = len(pending) // 2
            _settle(root, pending[:half], dialect, results)
            _settle(root, pending[half:], dialect, results)
            break
        pending.remove(culprit)
        alone.append(culprit)
    for entry in alone:
        _settle(root, [entry], dialect, results)


def run_draft(draft: str, *, work_dir: Path | None = None) -> DraftResult:
    """Run every suite file of ``draft`` (``"2020-12"`` or ``"7"``).

    Args:
        draft: A key of :data:`DRAFTS`.
        work_dir: Where the schema folders and packages are written (a temporary folder,
            removed afterwards, when omitted).
    """
    dialect = DRAFTS[draft][1]
    with tempfile.TemporaryDirectory(prefix="conformance_", dir=work_dir) as tmp:
        root = Path(tmp)
        results: dict[str, FileResult] = {}
        accepted: list[tuple[str, Group]] = []
        for number, path in enumerate(suite_files(draft)):
            file_groups = load_groups(path, draft)
            keyword = path.relative_to(SUITE_DIR / DRAFTS[draft][0]).with_suffix("").as_posix()
            result = results[keyword] = FileResult(keyword, groups=len(file_groups))
            for group in file_groups:
                event = f"e{number:02d}_{group.index:03d}"
                # The loader alone is quick: it sorts out most refusals without generating.
                try:
                    load_schema_folder(_schema_folder(root, [(event, group)], dialect))
                except Exception as exc:  # a crash of the loader is a refusal too
                    result.refusals[group.description] = _refusal(exc)
                    continue
                accepted.append((event, group))
        # Generating costs seconds, whatever the number of events: few, large packages.
        for batch in _batches(accepted):
            _settle(root, batch, dialect, results)
        return DraftResult(draft, list(results.values()))


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f} %" if whole else "-"


_COLUMNS = (
    "keyword",
    "groups",
    "generated",
    "cases run",
    "models agree",
    "validator agrees",
    "disagreements",
)


def _rows(result: DraftResult) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for f in [*result.files, result.total()]:
        rows.append(
            (
                f.keyword,
                str(f.groups),
                f"{f.generated} ({_percent(f.generated, f.groups)})",
                str(f.cases),
                str(f.models_agree),
                str(f.validator_agree),
                str(len(f.disagreements)),
            )
        )
    return rows


def markdown_table(result: DraftResult) -> str:
    """The draft's figures as a Markdown table, one row per suite file and a total."""
    rows = _rows(result)
    rows[-1] = tuple(f"**{cell}**" for cell in rows[-1])
    lines = [
        # Prettier would pad every cell: the table stays as the harness writes it.
        "<!-- prettier-ignore -->",
        "| " + " | ".join(_COLUMNS) + " |",
        "| " + " | ".join(["---"] + ["---:"] * (len(_COLUMNS) - 1)) + " |",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]
    return "\n".join(lines) + "\n"


def text_table(result: DraftResult) -> str:
    """The draft's figures as a plain-text table, one row per suite file and a total."""
    rows = [_COLUMNS, *_rows(result)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS))]
    lines = [
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    return f"JSON Schema Test Suite, draft {result.draft}\n" + "\n".join(lines) + "\n"


#: What a refusal says about one group only, blanked out so that refusals of one kind count
#: together: where (``at #/anyOf/0: ``), which reference, which value.
_PARTICULARS = (
    (re.compile(r"^at [^:]*: "), ""),
    (re.compile(r"\$ref '[^']*'"), "$ref '…'"),
    (re.compile(r"\b(const|enum) value .* is not supported"), r"\1 value … is not supported"),
    (re.compile(r"^not a valid JSON Schema at .*"), "not a valid JSON Schema at …"),
    (re.compile(r"\(at \$[^)]*\)"), "(at …)"),
)


def refusal_kind(reason: str) -> str:
    """A refusal's text without what concerns only its group (location, reference, value)."""
    for pattern, replacement in _PARTICULARS:
        reason = pattern.sub(replacement, reason)
    return reason


def refusal_counts(results: Sequence[DraftResult]) -> list[tuple[str, int]]:
    """The generator's refusals by kind (:func:`refusal_kind`), with how many groups each
    refuses, most frequent first."""
    counts: Counter[str] = Counter()
    for result in results:
        counts.update(refusal_kind(reason) for reason in result.total().refusals.values())
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def main(argv: Sequence[str] | None = None) -> int:
    """Print the table of each draft asked for (both by default)."""
    parser = argparse.ArgumentParser(prog="python -m tests.conformance", description=__doc__)
    parser.add_argument("--draft", choices=sorted(DRAFTS), action="append")
    parser.add_argument("--markdown", action="store_true", help="Markdown tables (for the docs)")
    parser.add_argument(
        "--details", action="store_true", help="every disagreement and the refusal reasons"
    )
    args = parser.parse_args(argv)
    results = [run_draft(draft) for draft in args.draft or DRAFTS]
    for result in results:
        if args.markdown:
            print(f"### Draft {result.draft}\n")
            print(markdown_table(result))
        else:
            print(text_table(result))
        if args.details:
            for disagreement in result.total().disagreements:
                print(disagreement.line())
            print()
    if args.details:
        print("Refusals, most frequent first:")
        for reason, count in refusal_counts(results):
            print(f"{count:5d}  {reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
