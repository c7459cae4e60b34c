"""``datadivr validate`` and ``datadivr schema bundle`` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

from jsonschema import Draft202012Validator

from datadivr.demo import PROTOCOL
from tests.commands import run_datadivr


def test_validate_exit_statuses(tmp_path: Path) -> None:
    good = tmp_path / "good.jsonl"
    good.write_text('{"event_name": "msg", "message": "hi"}\n')
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"event_name": "msg", "message": "hi"}\n{"event_name": "msg"}\n')

    ok = run_datadivr("validate", str(good))
    assert (ok.returncode, ok.stdout) == (0, "1 messages: 1 valid, 0 invalid\n")

    failed = run_datadivr("validate", str(bad))
    assert failed.returncode == 1
    assert "line 2: msg: $.message: 'message' is a required property [required]" in failed.stdout

    as_json = run_datadivr("validate", str(bad), "--format", "json")
    assert as_json.returncode == 1
    assert json.loads(as_json.stdout)["summary"]["invalid"] == 1

    piped = run_datadivr("validate", "-", stdin=bad.read_text())
    assert piped.returncode == 1

    missing = run_datadivr("validate", str(tmp_path / "nope.jsonl"))
    assert missing.returncode == 2
    assert "cannot read" in missing.stderr


def test_schema_bundle_is_self_contained(tmp_path: Path) -> None:
    out = tmp_path / "protocol.schema.json"
    result = run_datadivr("schema", "bundle", "--out", str(out))
    assert result.returncode == 0, result.stderr
    bundle = json.loads(out.read_text())
    Draft202012Validator.check_schema(bundle)
    refs = [line for line in out.read_text().splitlines() if '"$ref"' in line]
    assert refs
    assert all('"#/$defs/' in line for line in refs)  # no external $ref
    validator = Draft202012Validator(bundle)
    assert validator.is_valid({"event_name": "msg", "message": "hi"})
    assert not validator.is_valid({"event_name": "msg"})
    assert not validator.is_valid({"event_name": "nope"})
    assert set(bundle["x-datadivr"]["events"]) == set(PROTOCOL.events)
    printed = run_datadivr("schema", "bundle")
    assert json.loads(printed.stdout) == bundle
