"""Every ``$ref`` resolved as JSON Schema resolves it, and refused where it means nothing or two
things: the models then agree with the schema through it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from datadivr.exceptions import MessageValidationError
from datadivr_codegen.errors import SchemaError, SchemaErrors
from datadivr_codegen.schema import load_schema_folder

from .conftest import GenerateFn, copy_case

DRAFT = "https://json-schema.org/draft/2020-12/schema"


def _folder(tmp_path: Path, payload: dict[str, Any], **files: dict[str, Any]) -> Path:
    schema = copy_case("minimal", tmp_path / "schema")
    (schema / "events" / "hello.schema.json").unlink()
    event = {"x-datadivr": {"event": "put", "direction": "client_to_server"}, **payload}
    (schema / "events" / "put.schema.json").write_text(json.dumps(event), encoding="utf-8")
    for name, data in files.items():
        (schema / f"{name}.schema.json").write_text(json.dumps(data), encoding="utf-8")
    return schema


SEATS = {
    "$schema": DRAFT,
    "$id": "https://example.test/seats.json",
    "$defs": {"Seat": {"$anchor": "seat", "type": "integer", "minimum": 1}},
}


def test_every_form_of_ref_reaches_its_schema(tmp_path: Path, generate_package: GenerateFn) -> None:
    payload = {
        "type": "object",
        "properties": {
            "by_path_anchor": {"$ref": "../seats.schema.json#seat"},
            "by_id_anchor": {"$ref": "https://example.test/seats.json#seat"},
            "by_pointer": {"$ref": "../seats.schema.json#/$defs/Seat"},
            "sibling": {"$ref": "#/properties/by_pointer"},
            "tree": {"$ref": "#/$defs/Node"},
        },
        "$defs": {
            "Node": {
                "type": "object",
                "properties": {
                    "up": {"$ref": "#"},
                    "kids": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
                },
            }
        },
    }
    package = generate_package(_folder(tmp_path, payload, seats=SEATS))
    protocol = package.module.PROTOCOL
    valid = {
        "by_path_anchor": 1,
        "by_id_anchor": 2,
        "by_pointer": 3,
        "sibling": 4,
        "tree": {"up": {"tree": {"kids": []}}, "kids": [{"kids": [{}]}]},
    }
    protocol.parse(json.dumps({"event_name": "put", "payload": valid}))
    for key, value, path in [
        ("by_path_anchor", 0, "$.payload.by_path_anchor"),
        ("by_id_anchor", "x", "$.payload.by_id_anchor"),
        ("sibling", 0, "$.payload.sibling"),
        ("tree", {"up": {"by_pointer": 0}}, "$.payload.tree.up.by_pointer"),
        ("tree", {"kids": [{"kids": 1}]}, "$.payload.tree.kids[0].kids"),
    ]:
        with pytest.raises(MessageValidationError) as caught:
            protocol.parse(json.dumps({"event_name": "put", "payload": {key: value}}))
        assert path in [d.path for d in caught.value.details], (key, caught.value.details)


def test_a_ref_to_the_id_of_two_files_is_refused(tmp_path: Path) -> None:
    payload = {"properties": {"s": {"$ref": "https://example.test/seats.json#/$defs/Seat"}}}
    schema = _folder(tmp_path, payload, seats=SEATS, more_seats=SEATS)
    with pytest.raises(SchemaError) as caught:
        load_schema_folder(schema)
    assert caught.value.reason == (
        "$ref 'https://example.test/seats.json#/$defs/Seat': 'https://example.test/seats.json' "
        "is the $id of more_seats.schema.json and of seats.schema.json: it could mean either"
    )
    # Without a $ref to it, a copied $id is harmless.
    load_schema_folder(_folder(tmp_path / "other", {"type": "object"}, seats=SEATS, more=SEATS))


@pytest.mark.parametrize(
    ("ref", "reason"),
    [
        (
            "../seats.schema.json#/$defs/Chair",
            "$ref '../seats.schema.json#/$defs/Chair': seats.schema.json has no $defs/Chair",
        ),
        (
            "../seats.schema.json#chair",
            "$ref '../seats.schema.json#chair': no anchor 'chair' in "
            "https://schemas.datadivr.invalid/seats.schema.json",
        ),
        ("nowhere.schema.json", "$ref 'nowhere.schema.json': no such schema file in the folder"),
        (
            "https://example.test/other.json",
            "$ref 'https://example.test/other.json': no file of "
            "the folder has the $id 'https://example.test/other.json' (remote schemas are not "
            "fetched)",
        ),
    ],
)
def test_a_ref_to_nothing_is_refused_with_what_is_missing(
    tmp_path: Path, ref: str, reason: str
) -> None:
    schema = _folder(tmp_path, {"properties": {"x": {"$ref": ref}}}, seats=SEATS)
    with pytest.raises(SchemaError) as caught:
        load_schema_folder(schema)
    assert caught.value.reason == reason


def test_problems_of_every_stage_are_reported_in_one_run(tmp_path: Path) -> None:
    """A file refused as read does not hide another file's bad ``$ref``, nor is a ``$ref`` to
    the refused file reported again."""
    misspelt = {"$defs": {"Seat": {"type": "integer", "maximun": 3}}}
    payload = {
        "properties": {
            "seat": {"$ref": "../seats.schema.json#/$defs/Seat"},
            "lost": {"$ref": "#/$defs/Nowhere"},
        }
    }
    with pytest.raises(SchemaErrors) as caught:
        load_schema_folder(_folder(tmp_path, payload, seats=misspelt))
    assert [(str(e.file), e.reason) for e in caught.value.errors] == [
        (
            "seats.schema.json",
            "at #/$defs/Seat: 'maximun': not a keyword of draft 2020-12 (it would be ignored); "
            "did you mean 'maximum'?",
        ),
        (
            "events/put.schema.json",
            "$ref '#/$defs/Nowhere': events/put.schema.json has no $defs/Nowhere",
        ),
    ]
