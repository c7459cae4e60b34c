"""The hub's ``welcome`` holds only the fields the protocol's welcome payload declares."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from datadivr import Hub, Registry, Route
from datadivr.core import Protocol

from .conftest import PROJECT_ROOT, GenerateFn

DEMO_SCHEMA = PROJECT_ROOT / "schema"


def _welcome(protocol: Protocol) -> dict[str, Any]:
    sent: list[tuple[Route, str]] = []
    hub = Hub(protocol, Registry(), lambda route, data: sent.append((route, data)))
    hub.connect(client_id="a")
    [(_, frame)] = sent
    protocol.parse(frame)  # the protocol's own welcome schema accepts it
    payload: dict[str, Any] = json.loads(frame)["payload"]
    return payload


def _without(schema: Path, dest: Path, *names: str) -> Path:
    """A copy of ``schema`` whose closed welcome payload does not declare ``names`` (as one
    written before the fingerprint, which would refuse it)."""
    folder = shutil.copytree(schema, dest)
    path = folder / "events" / "welcome.schema.json"
    welcome = json.loads(path.read_text(encoding="utf-8"))
    for name in names:
        welcome["properties"].pop(name, None)
    welcome["examples"] = [{"client_id": "5b1f0c3e9a7d"}]
    path.write_text(json.dumps(welcome), encoding="utf-8")
    return folder


def test_a_welcome_that_declares_both_gets_both(generate_package: GenerateFn) -> None:
    protocol = generate_package(DEMO_SCHEMA).module.PROTOCOL
    assert _welcome(protocol) == {
        "client_id": "a",
        "schema_hash": protocol.schema_hash,
        "fingerprint": protocol.fingerprint,
    }


@pytest.mark.parametrize(
    "names", [("fingerprint",), ("schema_hash",), ("fingerprint", "schema_hash")]
)
def test_a_closed_welcome_gets_only_what_it_declares(
    generate_package: GenerateFn, tmp_path: Path, names: tuple[str, ...]
) -> None:
    folder = _without(DEMO_SCHEMA, tmp_path / "schema", *names)
    protocol = generate_package(folder).module.PROTOCOL
    payload = _welcome(protocol)
    expected = {"client_id": "a", "schema_hash": protocol.schema_hash}
    expected["fingerprint"] = protocol.fingerprint
    assert payload == {key: value for key, value in expected.items() if key not in names}
