"""A protocol with union (``anyOf``) payloads: the project's schemas plus an ``act`` event whose
payload is a ``Shoot`` or a ``Build``, with a union nested in ``Build``, generated into a
package of its own."""

from __future__ import annotations

import importlib
import json
import shutil
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

from datadivr_codegen.generator import generate

ROOT = Path(__file__).resolve().parents[1]

ACT = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "ActPayload",
    "description": "Shoot at a target or build something.",
    "x-datadivr": {"event": "act", "direction": "client_to_server"},
    "anyOf": [{"$ref": "#/$defs/Shoot"}, {"$ref": "#/$defs/Build"}],
    "$defs": {
        "Shoot": {
            "title": "Shoot",
            "type": "object",
            "properties": {
                "target": {"type": "string", "minLength": 1},
                "power": {"type": "integer", "minimum": 1},
                "from": {"type": "string"},
                "aim": {
                    "anyOf": [{"type": "integer", "minimum": 0}, {"type": "string", "maxLength": 1}]
                },
            },
            "required": ["target"],
            "additionalProperties": False,
        },
        "Build": {
            "title": "Build",
            "type": "object",
            "properties": {
                "kind": {"type": "string", "enum": ["wall", "tower"]},
                "at": {"type": "array", "items": {"type": "integer"}, "maxItems": 3},
                "label": {"type": ["string", "null"]},
                "spot": {"anyOf": [{"type": "integer", "minimum": 0}, {"$ref": "#/$defs/Cell"}]},
            },
            "required": ["kind"],
            "additionalProperties": False,
        },
        "Cell": {
            "title": "Cell",
            "type": "object",
            "properties": {"row": {"type": "integer"}, "col": {"type": "integer"}},
            "required": ["row", "col"],
            "additionalProperties": False,
        },
    },
}


@contextmanager
def union_package(folder: Path) -> Iterator[ModuleType]:
    """The protocol generated below ``folder`` and imported under a fresh name."""
    schema = folder / "schema"
    shutil.copytree(ROOT / "schema", schema)
    (schema / "events" / "act.schema.json").write_text(json.dumps(ACT, indent=2))
    name = f"unions_{uuid.uuid4().hex}"
    generate(schema, folder / name)
    sys.path.insert(0, str(folder))
    try:
        importlib.invalidate_caches()
        yield importlib.import_module(name)
    finally:
        sys.path.remove(str(folder))
        for key in [k for k in sys.modules if k.partition(".")[0] == name]:
            del sys.modules[key]
