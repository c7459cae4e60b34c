"""The ``date-time`` and ``uuid`` formats: the models and the reference validator give the same
verdict on every string, as docs/validating.md promises.

The validator used jsonschema's own format checks, which take a date-time with a trailing
newline and a UUID with a non-ASCII digit, both refused by the models. It now asserts the
formats with the models' own functions (:mod:`datadivr.core._message`).
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from datadivr.core._message import _DATE_TIME, _UUID, is_date_time, is_uuid
from datadivr.demo import PROTOCOL
from datadivr.exceptions import MessageValidationError
from datadivr.validation import Validator

VALIDATOR = Validator(PROTOCOL)
UUID_TEXT = "3f2b8c1e-5a4d-4e6f-9b7a-0c1d2e3f4a5b"
DATE_TIME = "2026-01-01T12:00:00Z"

#: Strings that tell the checks apart, with the models' verdict: ``True`` accepted.
DATE_TIMES = {
    DATE_TIME: True,
    DATE_TIME + "\n": False,  # jsonschema's check took it
    "\n" + DATE_TIME: False,
    DATE_TIME + " ": False,
    " " + DATE_TIME: False,
    "2026-01-01 12:00:00Z": False,
    "2026-01-01_12:00:00Z": False,
    "2026-01-01T12:00:00Z-": False,
    "\u0662026-01-01T12:00:00Z": False,  # an Arabic-Indic digit
    "2026-01-01T12:00:\uff10\uff10Z": False,  # fullwidth digits
    "2026-01-01t12:00:00z": True,
    "2026-01-01T12:00:00.5Z": True,
    "2026-01-01T12:00:00.123456789Z": True,
    "2026-01-01T12:00:00.Z": False,
    "2026-01-01T12:00:00": False,  # no offset
    "2026-01-01T12:00Z": False,  # no seconds
    "2026-01-01T12:00:00+01:00": True,
    "2026-01-01T12:00:00-00:00": True,
    "2026-01-01T12:00:00+23:59": True,
    "2026-01-01T12:00:00+24:00": False,
    "2026-01-01T12:00:00+00:60": False,
    "2026-01-01T12:00:00+0100": False,
    "1998-12-31T23:59:60Z": False,  # a leap second: pydantic refuses second 60
    "2026-01-01T23:59:60Z": False,
    "2026-01-01T12:00:61Z": False,
    "2026-01-01T24:00:00Z": False,
    "2026-13-01T12:00:00Z": False,
    "2026-00-01T12:00:00Z": False,
    "2026-01-32T12:00:00Z": False,
    "2025-02-29T12:00:00Z": False,  # not a leap year
    "2100-02-29T12:00:00Z": False,
    "2024-02-29T12:00:00Z": True,
    "2000-02-29T12:00:00Z": True,
    "0000-01-01T00:00:00Z": False,
    "": False,
}
UUIDS = {
    UUID_TEXT: True,
    UUID_TEXT.upper(): True,
    UUID_TEXT + "\n": False,
    UUID_TEXT + "-": False,  # jsonschema's check took it
    UUID_TEXT[:-1] + "-": False,
    UUID_TEXT[:8] + "_" + UUID_TEXT[9:]: False,
    UUID_TEXT[:30] + "_" + UUID_TEXT[31:]: False,  # int(…, 16) takes an underscore
    "\u0663" + UUID_TEXT[1:]: False,  # an Arabic-Indic digit: jsonschema's check took it
    "\uff13" + UUID_TEXT[1:]: False,  # a fullwidth digit
    "{" + UUID_TEXT + "}": False,
    "urn:uuid:" + UUID_TEXT: False,
    UUID_TEXT.replace("-", ""): False,
    " " + UUID_TEXT: False,
    UUID_TEXT + " ": False,
    UUID_TEXT[:-1] + "g": False,
    "00000000-0000-0000-0000-000000000000": True,
    "": False,
}


def _ping(value: Any) -> dict[str, Any]:
    return {"event_name": "ping", "payload": {"sent_at": value}}


def _scene(value: Any) -> dict[str, Any]:
    frame = copy.deepcopy(dict(PROTOCOL.events["scene_update"].example))
    frame["payload"]["scene_id"] = value
    return frame


def _models_accept(frame: dict[str, Any]) -> bool:
    try:
        PROTOCOL.validate(frame)
    except MessageValidationError:
        return False
    return True


def _verdicts(frame: dict[str, Any]) -> tuple[bool, bool]:
    return _models_accept(frame), VALIDATOR.validate(frame).valid


@pytest.mark.parametrize("text", list(DATE_TIMES), ids=repr)
def test_date_time_table(text: str) -> None:
    frame = _ping(text)
    assert _verdicts(frame) == (DATE_TIMES[text], DATE_TIMES[text])
    assert is_date_time(text) is DATE_TIMES[text]
    # Through JSON text too, as a frame arrives and as POST /validate gets it.
    wire = json.dumps(frame)
    assert VALIDATOR.validate(wire).valid is DATE_TIMES[text]
    try:
        PROTOCOL.parse(wire)
    except MessageValidationError:
        assert not DATE_TIMES[text]
    else:
        assert DATE_TIMES[text]


@pytest.mark.parametrize("text", list(UUIDS), ids=repr)
def test_uuid_table(text: str) -> None:
    frame = _scene(text)
    assert _verdicts(frame) == (UUIDS[text], UUIDS[text])
    assert is_uuid(text) is UUIDS[text]
    wire = json.dumps(frame)
    assert VALIDATOR.validate(wire).valid is UUIDS[text]
    try:
        PROTOCOL.parse(wire)
    except MessageValidationError:
        assert not UUIDS[text]
    else:
        assert UUIDS[text]


def test_a_refused_format_is_reported_as_a_format_violation() -> None:
    report = VALIDATOR.validate(_scene("\u0663" + UUID_TEXT[1:]))
    assert [(v.path, v.kind) for v in report.violations] == [("$.payload.scene_id", "format")]


def test_other_formats_are_annotations_as_in_the_models() -> None:
    from datadivr.core._reference import _FORMATS

    assert _FORMATS.conforms("someone@example.test", "email")
    assert _FORMATS.conforms("someone", "email")
    assert _FORMATS.conforms("not an address", "ipv4")
    assert _FORMATS.conforms(3, "date-time")  # a format applies to strings only


def _mutated(text: str) -> st.SearchStrategy[str]:
    """``text`` with one character changed, inserted or dropped."""
    return st.tuples(
        st.integers(0, len(text)),
        st.sampled_from(["replace", "insert", "drop"]),
        st.characters(exclude_categories=("Cs",)),
    ).map(
        lambda m: (
            text[: m[0]] + m[2] + text[m[0] + 1 :]
            if m[1] == "replace"
            else text[: m[0]] + m[2] + text[m[0] :]
            if m[1] == "insert"
            else text[: m[0]] + text[m[0] + 1 :]
        )
    )


def _near(pattern: Any, valid: str) -> st.SearchStrategy[str]:
    shaped = st.from_regex(pattern, fullmatch=True)
    return st.one_of(
        st.text(max_size=40),
        shaped,
        shaped.flatmap(_mutated),
        _mutated(valid),
        st.sampled_from(["\n", " ", "\t", "\u00a0", "-", "_"]).map(lambda c: valid + c),
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=_near(_DATE_TIME, DATE_TIME))
def test_date_time_same_verdict_on_any_string(text: str) -> None:
    models, validator = _verdicts(_ping(text))
    assert models == validator
    assert is_date_time(text) == models


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=_near(_UUID, UUID_TEXT))
def test_uuid_same_verdict_on_any_string(text: str) -> None:
    models, validator = _verdicts(_scene(text))
    assert models == validator
    assert is_uuid(text) == models


async def test_post_validate_gives_the_same_verdicts() -> None:
    """``POST /validate`` (and so the explorer's checks, the CLI's and the proxy's) is this
    same Validator."""
    import httpx

    from datadivr import create_app

    frames = [
        (_ping(text), valid) for text, valid in DATE_TIMES.items() if text.startswith("2026-01")
    ] + [(_scene(text), valid) for text, valid in UUIDS.items()]
    transport = httpx.ASGITransport(app=create_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await http.post("/validate", json=[frame for frame, _ in frames])
    reports = response.json()["reports"]
    assert [report["valid"] for report in reports] == [valid for _, valid in frames]
