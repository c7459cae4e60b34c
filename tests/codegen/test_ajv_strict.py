"""The published ``schema.json`` under Ajv 2020 in full strict mode, with ``x-datadivr``
registered and ajv-formats: no warning, no error, and verdicts that agree with
:class:`datadivr.validation.Validator`.

A user's own schema may itself trip strict mode (an annotation Ajv does not know, such as
``javaType``; ``additionalProperties`` beside ``"type": "string"``): the bundle then carries
what the user wrote, and everything Ajv says about it, it says about the user's definitions
alone, never about what the generator adds.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from datadivr.core._protocol import Protocol
from datadivr.demo import PROTOCOL
from datadivr.validation import Validator
from datadivr_codegen.generator import plan
from tests.case_protocols import generated_package
from tests.nodejs import run_node

from ..test_validation import INVALID, VALID
from .conftest import PROJECT_ROOT, case_schema

CHATROOM = PROJECT_ROOT / "examples" / "chatroom" / "schema"
#: Case folders whose own schemas are strict-clean: their bundles must be clean as a whole.
CLEAN_CASES = ("minimal", "nested", "reply", "echo", "game", "server_request")
#: Case folders with schemas Ajv's strict mode warns about (unknown annotations, keywords for
#: another type, tuples without a length, ``required`` naming no property).
USER_UNCLEAN_CASES = ("drafts", "features", "published")

#: Compiles ``bundle`` (the root, every ``$defs`` entry, and each extra schema) with Ajv 2020,
#: capturing every message of its logger; then validates each message against the root.
#: ``mode`` "strict" throws on the first strict-mode problem; "log" logs them all, and also
#: compiles the bundle's non-message definitions alone (``user``), to say what they cause.
_SCRIPT = r"""
const fs = require("fs");
const Ajv2020 = require("ajv/dist/2020");
const addFormats = require("ajv-formats");
const input = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));

function make(log) {
  const logger = {
    log: (...a) => log.push("log: " + a.join(" ")),
    warn: (...a) => log.push("warn: " + a.join(" ")),
    error: (...a) => log.push("error: " + a.join(" ")),
  };
  const ajv = new Ajv2020({ strict: input.mode === "log" ? "log" : true, allErrors: true, logger });
  addFormats(ajv);
  ajv.addKeyword("x-datadivr");
  return ajv;
}

function compileAll(ajv, bundle, id) {
  ajv.addSchema(bundle, id);
  for (const name of Object.keys(bundle.$defs || {})) {
    ajv.getSchema(id + "#/$defs/" + encodeURIComponent(name.replace(/~/g, "~0").replace(/\//g, "~1")));
  }
  return ajv.getSchema(id);
}

const out = { log: [], error: null, verdicts: [], user: [] };
console.warn = (...a) => out.log.push("console.warn: " + a.join(" "));
try {
  const ajv = make(out.log);
  const validate = compileAll(ajv, input.bundle, "urn:datadivr:bundle");
  for (const extra of input.extra) make(out.log).compile(extra);
  out.verdicts = input.messages.map((m) => validate(m));
} catch (e) {
  out.error = String(e && e.message);
}
if (input.mode === "log") {
  compileAll(make(out.user), input.user, "urn:datadivr:user");
}
process.stdout.write(JSON.stringify(out));
"""


def ajv(
    bundle: dict[str, Any],
    tmp_path: Path,
    messages: list[Any] | None = None,
    *,
    extra: list[dict[str, Any]] | None = None,
    mode: str = "strict",
) -> dict[str, Any]:
    """What Ajv makes of ``bundle`` (see :data:`_SCRIPT`)."""
    # The user's own definitions: the bundle without the generator's messages and root.
    events = bundle.get("x-datadivr", {}).get("events", {}).values()
    ours = {info["schema"].rpartition("/")[2] for info in events}
    user = {"$defs": {k: v for k, v in bundle["$defs"].items() if k not in ours}}
    source = tmp_path / "ajv-input.json"
    source.write_text(
        json.dumps(
            {
                "bundle": bundle,
                "messages": messages or [],
                "extra": extra or [],
                "mode": mode,
                "user": user,
            }
        ),
        encoding="utf-8",
    )
    result = run_node(_SCRIPT, str(source))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    out: dict[str, Any] = json.loads(result.stdout)
    return out


def bundle_of(folder: Path) -> dict[str, Any]:
    """The ``schema.json`` the generator writes for ``folder``."""
    data: dict[str, Any] = json.loads(
        next(f.content for f in plan(folder).files if f.path == "schema.json")
    )
    return data


def broken(example: dict[str, Any]) -> Iterator[Any]:
    """A few messages made from a valid one that a strict reader should mostly refuse."""
    yield {**example, "surplus": 1}
    yield {k: v for k, v in example.items() if k != "payload"}
    yield {**example, "payload": [example.get("payload")]}
    yield {**example, "event_name": example["event_name"] + "_unknown"}
    yield {**example, "to": ""}
    yield {**example, "id": 7}
    yield [example]


def check_agreement(protocol: Protocol, bundle: dict[str, Any], tmp_path: Path) -> None:
    """Every event's example (as ``GET /events`` lists it) and broken variants of it: Ajv's
    verdict is the Validator's, and the examples are valid."""
    examples = [dict(spec.example) for spec in protocol.events.values() if spec.example]
    assert len(examples) == len(protocol.events)
    messages: list[Any] = [*examples, *(b for e in examples for b in broken(e))]
    out = ajv(bundle, tmp_path, messages, extra=[protocol.event_schema(n) for n in protocol.events])
    assert out["error"] is None
    assert out["log"] == []
    validator = Validator(protocol)
    expected = [isinstance(m, dict) and validator.validate(m).valid for m in messages]
    assert out["verdicts"] == expected, [
        (m, v) for m, v, e in zip(messages, out["verdicts"], expected, strict=True) if v != e
    ]
    assert out["verdicts"][: len(examples)] == [True] * len(examples)
    assert not all(out["verdicts"])


def test_the_demo_bundle_is_strict_clean_and_agrees(tmp_path: Path) -> None:
    assert PROTOCOL.schema == bundle_of(PROJECT_ROOT / "schema")
    messages = [*VALID, *(m for m, _, _ in INVALID)]
    out = ajv(PROTOCOL.schema, tmp_path, messages)
    assert out["error"] is None
    assert out["log"] == []
    validator = Validator(PROTOCOL)
    assert out["verdicts"] == [validator.validate(m).valid for m in messages]
    assert out["verdicts"] == [True] * len(VALID) + [False] * len(INVALID)
    check_agreement(PROTOCOL, PROTOCOL.schema, tmp_path)


def test_the_chatroom_bundle_is_strict_clean_and_agrees(tmp_path: Path) -> None:
    with generated_package(CHATROOM, tmp_path, "chatroom") as package:
        protocol: Protocol = package.PROTOCOL
        assert protocol.schema == bundle_of(CHATROOM)
        check_agreement(protocol, protocol.schema, tmp_path)


@pytest.mark.parametrize("case", CLEAN_CASES)
def test_case_bundles_are_strict_clean(case: str, tmp_path: Path) -> None:
    out = ajv(bundle_of(case_schema(case)), tmp_path)
    assert (out["error"], out["log"]) == (None, [])


@pytest.mark.parametrize("case", USER_UNCLEAN_CASES)
def test_what_the_generator_adds_is_strict_clean(case: str, tmp_path: Path) -> None:
    out = ajv(bundle_of(case_schema(case)), tmp_path, mode="log")
    assert out["log"], "the case's own schemas were expected to trip strict mode"
    assert _places(out["log"]) <= _places(out["user"])


def _places(log: list[str]) -> set[str]:
    """Ajv's messages without the base URI of the schema they were compiled under."""
    return {m.replace("urn:datadivr:bundle#", "#").replace("urn:datadivr:user#", "#") for m in log}


def test_strict_mode_has_teeth(tmp_path: Path) -> None:
    """Messages without their type, as bundles were made before: Ajv refuses them."""
    bundle = copy.deepcopy(PROTOCOL.schema)
    for info in bundle["x-datadivr"]["events"].values():
        message = bundle["$defs"][info["schema"].rpartition("/")[2]]
        del message["type"], message["allOf"][1]["type"]
    out = ajv(bundle, tmp_path)
    assert "strictTypes" in out["error"]
    out = ajv(bundle, tmp_path, mode="log")
    assert out["log"]
    assert not _places(out["log"]) <= _places(out["user"])
    # An unregistered annotation is refused too.
    bundle = copy.deepcopy(PROTOCOL.schema)
    bundle["$defs"]["Envelope"]["javaType"] = "Envelope"
    assert 'unknown keyword: "javaType"' in ajv(bundle, tmp_path)["error"]
