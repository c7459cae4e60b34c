"""The generated protocol reference, ``protocol.md``: a section per event, tables, examples."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from datadivr.demo import PROTOCOL
from datadivr_codegen.generator import plan
from datadivr_codegen.reference import event_anchor

from .conftest import CASES, PROJECT_ROOT, PROJECT_SCHEMA, case_schema, copy_case

EXAMPLE = re.compile(r"### Example\n\n```json\n(.*?)\n```", re.DOTALL)
LINK = re.compile(r"\]\(#([^)]+)\)")
HEADING = re.compile(r"^#+ (.*)$", re.MULTILINE)


def _reference(schema: Path) -> str:
    return next(f.content for f in plan(schema).files if f.path == "protocol.md")


def _sections(text: str) -> dict[str, str]:
    """Each event's section, by event name."""
    parts = re.split(r"^## Event `([a-z0-9_]+)`$", text, flags=re.MULTILINE)
    sections = dict(zip(parts[1::2], parts[2::2], strict=True))
    last = next(reversed(sections))
    sections[last] = sections[last].split("\n## Envelope\n", 1)[0]
    return sections


def _anchor(heading: str) -> str:
    """The anchor MkDocs gives a heading (code spans unwrapped, words joined by '-')."""
    words = re.sub(r"[^\w\s-]", "", heading.replace("`", "")).strip().lower()
    return re.sub(r"[\s]+", "-", words)


def test_the_checked_in_reference_is_the_generated_one() -> None:
    checked_in = (PROJECT_ROOT / "src" / "datadivr" / "demo" / "protocol.md").read_text()
    assert checked_in == _reference(PROJECT_SCHEMA)


def test_one_section_per_event_with_its_facts_and_its_example() -> None:
    sections = _sections(_reference(PROJECT_SCHEMA))
    assert list(sections) == sorted(PROTOCOL.events)
    for name, spec in PROTOCOL.events.items():
        section = sections[name]
        examples = EXAMPLE.findall(section)
        assert [json.loads(e) for e in examples] == [spec.example], name
        assert f"- **Reply:** {f'[`{spec.reply}`]' if spec.reply else 'none'}" in section
        assert f"- **`message` text:** {spec.message_text.value}" in section
    sum_event = sections["sum_event"]
    assert "| `numbers` | array of number | yes | at most 100000 items | The numbers to add. |" in (
        sum_event
    )
    assert "No other fields." in sum_event
    assert "- **Answers:** [`sum_event`](#event-sum_event)" in sections["sum_handler_result"]
    assert "None: the payload is `null` or left out." in sections["msg"]


@pytest.mark.parametrize("case", CASES)
def test_every_link_points_to_a_heading_of_the_page(case: str) -> None:
    text = _reference(case_schema(case))
    anchors = {_anchor(h) for h in HEADING.findall(text)}
    links = set(LINK.findall(text))
    assert links, case
    assert links <= anchors, links - anchors


def test_event_anchors_are_what_the_headings_give() -> None:
    assert _anchor("Event `sum_event`") == event_anchor("sum_event") == "event-sum_event"


def test_tables_show_types_constraints_and_composed_objects() -> None:
    sections = _sections(_reference(case_schema("features")))
    check = sections["check"]
    for row in (
        "| `closed.a` | integer | yes | — | — |",
        "| `map` | object of boolean | no | — | — |",
        "| `items` | array of integer | no | 1–2 items | — |",  # noqa: RUF001 (the range dash)
        "| `exclusive_minimum` | number | no | > 0 | — |",
        '| `enum_mixed` | string or integer or null | no | one of `"a"`, `1`, `null` | — |',
        "| `ref` | [`Named`](#definition-named) | no | — | — |",
        "| `composed.count` | integer | yes | ≥ 0 | — |",
        '| `annotated` | string | no | default `"x"`; deprecated | A string with every annotation. |',
    ):
        assert row in check
    record = sections["record"]
    # allOf: the bases' fields come first, all required ones marked.
    assert record.index("| `name` |") < record.index("| `count` |") < record.index("| `kind` |")
    assert "| `tags` | object of integer | no | — | A map of counters. |" in record
    assert "Other fields are allowed." in record


def test_pipes_backticks_nullable_objects_and_shared_replies(tmp_path: Path) -> None:
    schema = copy_case("reply", tmp_path / "schema")
    events = sorted((schema / "events").glob("*.json"))
    asker = next(
        json.loads(p.read_text(encoding="utf-8"))
        for p in events
        if json.loads(p.read_text(encoding="utf-8"))["x-datadivr"].get("reply")
    )
    reply = asker["x-datadivr"]["reply"]
    second = {
        "$schema": asker["$schema"],
        "title": "OddPayload",
        "x-datadivr": {"event": "odd", "direction": "client_to_server", "reply": reply},
        "type": ["object", "null"],
        "properties": {
            "choice": {"type": "string", "pattern": "^(a|b)$"},
            "tick": {"type": "string", "enum": ["`", "x"]},
            "inner": {
                "type": ["object", "null"],
                "properties": {"deep": {"type": "integer"}},
                "additionalProperties": False,
            },
        },
        "additionalProperties": False,
    }
    (schema / "events" / "odd.schema.json").write_text(json.dumps(second), encoding="utf-8")
    text = _reference(schema)
    odd = _sections(text)["odd"]
    assert "| `choice` | string | no | matches <code>^(a&#124;b)$</code> | — |" in odd
    assert '| `tick` | string | no | one of <code>"&#96;"</code>, `"x"` | — |' in odd
    assert "| `inner` | object or null | no | — | — |" in odd
    assert "| `inner.deep` | integer | no | — | — |" in odd
    assert "The payload may be left out or `null`." in odd
    answers = next(line for line in _sections(text)[reply].splitlines() if "**Answers:**" in line)
    assert "[`odd`](#event-odd)" in answers
    assert answers.count("](#event-") == 2
