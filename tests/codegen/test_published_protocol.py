"""A protocol published as draft-06 and draft-07 files, generated as it is published.

``cases/published/schema/`` is written the way published protocols are: a flat folder of
draft-06 and draft-07 files (``$schema`` with and without ``#``), shared ``definitions``
referenced across files (``common.json#/definitions/Id``) and within them, both forms of
``dependencies``, tuple ``items`` with ``additionalItems``, ``additionalItems`` beside one
``items`` schema, ``$ref`` with siblings, ``additionalProperties: false`` beside
``"type": "string"``, vendor keywords (``comment``, ``javaType``, ``x-…``), one definition in
two files that differ only in their description, and one name defined differently in two.

The folder is generated unchanged, and on valid and broken payloads of every event (the
examples, instances drawn from the schemas, and both with a few changes) the generated models
and ``jsonschema``'s validator of each file's own draft, over the original files, must agree.
"""

from __future__ import annotations

import copy
import importlib
import json
import re
import shutil
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft6Validator, Draft7Validator, validators
from jsonschema.protocols import Validator
from referencing import Registry as Resources
from referencing import Resource

from datadivr import HandlerContext, Registry, create_app
from datadivr.exceptions import DatadivrError
from datadivr_codegen.generator import generate
from tests.conftest import LiveServer
from tests.mutations import random_container

from .conftest import CASES_DIR, Generated, GenerateFn, _forget, snapshot
from .test_generated_lint import mypy_strict, ruff_check, ruff_format_check

FOLDER = CASES_DIR / "published" / "schema"
BASE = "https://fleet.example.org/protocol/v3/"
FILES = sorted(p.relative_to(FOLDER).as_posix() for p in FOLDER.rglob("*.json"))
DRAFTS: dict[str, type[Validator]] = {
    "http://json-schema.org/draft-06/schema": Draft6Validator,
    "http://json-schema.org/draft-07/schema": Draft7Validator,
}
MAX_EXAMPLES = 150
TIMEOUT = 10.0
DATE_TIMES = [
    "2026-03-01T08:30:00Z",
    "2026-03-01T09:30:00.250+01:00",
    "1999-12-31T23:59:59-05:00",
    "2026-03-01 08:30:00Z",
    "2026-03-01",
    "2026-02-30T08:30:00Z",
]


def _load(rel: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FOLDER / rel).read_text(encoding="utf-8"))
    return data


ORIGINALS = {rel: _load(rel) for rel in FILES}
EVENTS = {
    data["x-datadivr"]["event"]: rel for rel, data in ORIGINALS.items() if "x-datadivr" in data
}
RESOURCES: Resources[Any] = Resources().with_resources(
    (BASE + rel, Resource.from_contents(data)) for rel, data in ORIGINALS.items()
)


def _validator(rel: str, *, strict_integers: bool = False) -> Validator:
    """The validator of the file's own draft, over the original files, asserting formats;
    with ``strict_integers``, an integer is one written without a fraction (``1``, not ``1.0``),
    as the models read it (a known difference, see ``test_conformance.KNOWN_DIFFERENCES``)."""
    data = ORIGINALS[rel]
    cls = DRAFTS[data["$schema"].rstrip("#")]
    if strict_integers:
        cls = validators.extend(  # type: ignore[no-untyped-call]
            cls, type_checker=cls.TYPE_CHECKER.redefine("integer", _is_written_integer)
        )
    return cls(data, registry=RESOURCES, format_checker=cls.FORMAT_CHECKER)


def _is_written_integer(checker: Any, instance: Any) -> bool:
    return isinstance(instance, int) and not isinstance(instance, bool)


# -- the folder --------------------------------------------------------------------------------


def test_the_folder_is_written_as_published() -> None:
    """The sample holds what the published protocols hold (so that it keeps covering it)."""
    text = {rel: (FOLDER / rel).read_text(encoding="utf-8") for rel in FILES}
    spellings = {data.get("$schema") for data in ORIGINALS.values()}
    assert spellings >= {
        f"http://json-schema.org/draft-0{n}/schema{h}" for n in "67" for h in ("", "#")
    }
    joined = "\n".join(text.values())
    assert "$defs" not in joined
    for needle in (
        '"common.json#/definitions/Id"',
        '"../common.json#/definitions/Id"',
        '"#/definitions/Line"',
        '"dependencies"',
        '"additionalItems": false',
        '"additionalItems": {',
        '"javaType"',
        '"comment"',
        '"x-severity-colours"',
        '"readOnly"',
        '"patternProperties"',
        '"minProperties"',
        '"uniqueItems"',
        '"format": "date-time"',
        '"not"',
        '"anyOf"',
        '"oneOf"',
    ):
        assert needle in joined, needle
    # One definition in two files, differing only in its description; one name, two meanings.
    common, geo, units = (
        ORIGINALS[r]["definitions"] for r in ("common.json", "geo.json", "units.json")
    )
    without = {k: v for k, v in common["Point"].items() if k != "description"}
    assert without == {k: v for k, v in geo["Point"].items() if k != "description"}
    assert common["Point"]["description"] != geo["Point"]["description"]
    assert common["Status"]["type"] != units["Status"]["type"]


#: The files of an older draft: all but the envelope, which is datadivr's own (draft 2020-12).
OLDER = [
    rel for rel in FILES if "draft/2020-12" not in ORIGINALS[rel].get("$schema", "draft/2020-12")
]


def test_every_file_but_the_envelope_is_of_an_older_draft() -> None:
    assert sorted(set(FILES) - set(OLDER)) == ["envelope.schema.json"]


@pytest.mark.parametrize("rel", OLDER)
def test_every_example_is_valid_for_its_own_draft(rel: str) -> None:
    data = ORIGINALS[rel]
    cls = DRAFTS[data["$schema"].rstrip("#")]
    cls.check_schema(data)
    validator = _validator(rel)
    for example in data.get("examples", []):
        validator.validate(example)
    for name, definition in data.get("definitions", {}).items():
        target = validator.evolve(schema={"$ref": f"{BASE}{rel}#/definitions/{name}"})
        for example in definition.get("examples", []):
            target.validate(example)


def test_the_folder_is_generated_as_published(generate_package: GenerateFn) -> None:
    before = snapshot(FOLDER)
    package = generate_package(FOLDER, "published").module
    assert snapshot(FOLDER) == before
    assert sorted(package.PROTOCOL.events) == sorted(EVENTS)
    # Alike but for the description: one class; defined differently: one class per file.
    assert hasattr(package, "Point")
    assert not hasattr(package, "GeoPoint")
    assert {"CommonStatus", "UnitsStatus"} <= set(package.__all__)


# -- instances ---------------------------------------------------------------------------------


def _resolve(ref: str, rel: str) -> tuple[Any, str]:
    """The target of ``ref`` in the file ``rel``, and the file it is in."""
    file, _, pointer = ref.partition("#")
    target_rel = rel
    if file:
        target_rel = str(PurePosixPath(rel).parent / file)
        parts: list[str] = []
        for part in target_rel.split("/"):
            if part == "..":
                parts.pop()
            elif part != ".":
                parts.append(part)
        target_rel = "/".join(parts)
    node: Any = ORIGINALS[target_rel]
    for token in pointer.split("/")[1:]:
        node = node[int(token)] if isinstance(node, list) else node[token]
    return node, target_rel


def _strings(schema: dict[str, Any]) -> st.SearchStrategy[str]:
    low, high = schema.get("minLength", 0), schema.get("maxLength", 12)
    if schema.get("format") == "date-time":
        return st.sampled_from(DATE_TIMES)
    if "pattern" in schema:
        return st.from_regex(schema["pattern"], fullmatch=True).filter(
            lambda s: low <= len(s) <= high
        )
    return st.text(min_size=low, max_size=min(high, low + 12))


def _numbers(schema: dict[str, Any], *, integer: bool) -> st.SearchStrategy[Any]:
    low = schema.get("minimum", schema.get("exclusiveMinimum", -1000))
    high = schema.get("maximum", schema.get("exclusiveMaximum", 1000))
    if "multipleOf" in schema:
        step = schema["multipleOf"]
        return st.integers(int(low // step), int(high // step)).map(lambda n: n * step)
    whole = st.integers(int(low), int(high))
    if integer:
        return whole
    return whole | st.floats(low, high, allow_nan=False).map(lambda f: round(f, 2))


def _object(schema: dict[str, Any], rel: str, depth: int) -> st.SearchStrategy[dict[str, Any]]:
    properties = schema.get("properties", {})
    required = [k for k in schema.get("required", []) if k in properties]
    optional = [k for k in properties if k not in required]
    extra: list[st.SearchStrategy[tuple[str, Any]]] = [
        st.tuples(
            st.from_regex(pattern, fullmatch=True).filter(lambda k: len(k) < 20),
            _drawn(sub, rel, depth + 1),
        )
        for pattern, sub in schema.get("patternProperties", {}).items()
    ]
    additional = schema.get("additionalProperties")
    if isinstance(additional, dict):
        extra.append(
            st.tuples(st.sampled_from(["a", "b_c", "zz"]), _drawn(additional, rel, depth + 1))
        )

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        keys = required + [k for k in optional if draw(st.booleans())]
        out = {k: draw(_drawn(properties[k], rel, depth + 1)) for k in keys}
        if extra:
            out.update(
                draw(
                    st.lists(st.one_of(extra), min_size=schema.get("minProperties", 0), max_size=3)
                )
            )
        return out

    return build()


def _array(schema: dict[str, Any], rel: str, depth: int) -> st.SearchStrategy[list[Any]]:
    items = schema.get("items", {})
    low, high = schema.get("minItems", 0), min(schema.get("maxItems", 4), 4)
    unique = schema.get("uniqueItems", False)
    if isinstance(items, list):
        head = st.tuples(*(_drawn(s, rel, depth + 1) for s in items)).map(list)
        more = schema.get("additionalItems", {})
        if more is False:
            return head
        tail = st.lists(_drawn(more, rel, depth + 1), max_size=max(0, high - len(items)))
        return st.tuples(head, tail).map(lambda p: p[0] + p[1])
    element = _drawn(items, rel, depth + 1)
    return st.lists(
        element,
        min_size=low,
        max_size=max(low, high),
        unique_by=(lambda v: json.dumps(v, sort_keys=True)) if unique else None,
    )


def _drawn(schema: Any, rel: str, depth: int = 0) -> st.SearchStrategy[Any]:
    """Instances of ``schema`` (of the file ``rel``), mostly valid: the keywords that tie
    properties together (``dependencies``, ``not``) are left to chance, as is ``oneOf``'s
    'exactly one'; the verdicts, not the validity, are what the test compares."""
    if not isinstance(schema, dict) or depth > 6:
        return st.none() | st.integers(0, 3) | st.just("a")
    if "$ref" in schema:  # its siblings are ignored in these drafts
        target, target_rel = _resolve(schema["$ref"], rel)
        return _drawn(target, target_rel, depth)
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "const" in schema:
        return st.just(schema["const"])
    for key in ("oneOf", "anyOf"):
        if key in schema and "type" not in schema:
            return st.one_of([_drawn(s, rel, depth) for s in schema[key]])
    if "allOf" in schema:
        return _drawn(schema["allOf"][0], rel, depth)
    types = schema.get("type", "object" if "properties" in schema else ["string", "integer"])
    choices: list[st.SearchStrategy[Any]] = []
    for kind in types if isinstance(types, list) else [types]:
        if kind == "object":
            choices.append(_object(schema, rel, depth))
        elif kind == "array":
            choices.append(_array(schema, rel, depth))
        elif kind == "string":
            choices.append(_strings(schema))
        elif kind in ("integer", "number"):
            choices.append(_numbers(schema, integer=kind == "integer"))
        elif kind == "boolean":
            choices.append(st.booleans())
        else:
            choices.append(st.none())
    return st.one_of(choices)


def _scalars(node: Any) -> Iterator[Any]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from _scalars(value)
    elif isinstance(node, list):
        for value in node:
            yield from _scalars(value)
    else:
        yield node


def _vocabulary() -> st.SearchStrategy[Any]:
    """Values to put in: the folder's names and bounds (and one off), and a few of each type."""
    texts: set[str] = {"", "a", "dispatch", "x_extra", *DATE_TIMES}
    numbers: set[float] = {0, -1, 0.5}
    for value in _scalars(ORIGINALS):
        if isinstance(value, str) and len(value) < 24:
            texts.add(value)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            numbers.update((value, value + 1, value - 1, value + 0.5))
    scalars = (
        st.none()
        | st.booleans()
        | st.sampled_from(sorted(numbers))
        | st.sampled_from(sorted(numbers)).map(float)
        | st.sampled_from(sorted(texts))
    )
    return (
        scalars
        | st.lists(scalars, max_size=3)
        | st.dictionaries(st.sampled_from(sorted(texts)), scalars, max_size=2)
    )


VALUES = _vocabulary()
KEYS = sorted(
    {k for k in _scalars(ORIGINALS) if isinstance(k, str) and re.fullmatch(r"[a-z_0-9]+", k)}
)


@st.composite
def _mutated(draw: st.DrawFn, instance: Any) -> Any:
    """``instance`` with a few changes deep inside it: a key dropped, added or set to a value
    of another type or one off a bound, an item dropped, replaced or repeated."""
    instance = copy.deepcopy(instance)
    for _ in range(draw(st.integers(1, 2))):
        node = random_container(draw, instance)
        if isinstance(node, dict):
            action = draw(st.sampled_from(["set", "add", "drop"]))
            if action != "add" and node:
                key = draw(st.sampled_from(sorted(node)))
                if action == "drop":
                    del node[key]
                else:
                    node[key] = draw(VALUES)
            else:
                node[draw(st.sampled_from(KEYS))] = draw(VALUES)
        elif isinstance(node, list):
            action = draw(st.sampled_from(["set", "append", "drop", "repeat"]))
            if action == "drop" and node:
                node.pop(draw(st.integers(0, len(node) - 1)))
            elif action == "set" and node:
                node[draw(st.integers(0, len(node) - 1))] = draw(VALUES)
            elif action == "repeat" and node:
                node.append(copy.deepcopy(draw(st.sampled_from(node))))
            else:
                node.append(draw(VALUES))
    return instance


def _instances(rel: str) -> st.SearchStrategy[Any]:
    drawn = _drawn(ORIGINALS[rel], rel)
    examples = ORIGINALS[rel].get("examples", [])
    seeds = st.sampled_from(examples) | drawn if examples else drawn
    return drawn | seeds.flatmap(_mutated) | seeds.flatmap(_mutated)


# -- the verdicts ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Generated]:
    root = tmp_path_factory.mktemp("published")
    name = "gen_published_verdicts"
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(root))
        generate(FOLDER, root / name)
        importlib.invalidate_caches()
        yield Generated(name, root / name, importlib.import_module(name))
    _forget([name])


def _models_accept(package: Any, event: str, payload: Any) -> bool:
    frame = json.dumps({"event_name": event, "payload": payload})
    try:
        package.PROTOCOL.parse(frame)
    except DatadivrError:
        return False
    return True


TOTALS: Counter[str] = Counter()


@pytest.mark.parametrize("event", sorted(EVENTS))
def test_the_models_and_the_drafts_validator_agree(published: Generated, event: str) -> None:
    rel = EVENTS[event]
    validator = _validator(rel)
    strict = _validator(rel, strict_integers=True)
    package = published.module
    verdicts: Counter[str] = Counter()
    disagreements: list[tuple[bool, Any]] = []

    def compare(payload: Any) -> None:
        expected = validator.is_valid(payload)
        verdicts["valid" if expected else "invalid"] += 1
        accepted = _models_accept(package, event, payload)
        if accepted == expected:
            verdicts["agree"] += 1
        elif accepted == strict.is_valid(payload):
            # 1.0 for an integer, which the models' own fields refuse (but not their checks':
            # see test_a_whole_float_is_read_alike_by_every_field).
            verdicts["agree but for 1.0"] += 1
        else:
            disagreements.append((expected, payload))

    for example in ORIGINALS[rel].get("examples", []):
        assert validator.is_valid(example), example
        compare(example)

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.filter_too_much,
            HealthCheck.data_too_large,
        ],
    )
    @given(_instances(rel))
    def same_verdict(payload: Any) -> None:
        compare(payload)

    same_verdict()
    TOTALS.update(verdicts)
    TOTALS["events"] += 1
    print(f"{event}: {dict(verdicts)}; totals {dict(TOTALS)}")
    assert not disagreements, "\n".join(
        f"jsonschema says {'valid' if valid else 'invalid'}: {json.dumps(p)}"
        for valid, p in disagreements[:10]
    )
    # Both verdicts are exercised.
    assert verdicts["valid"] >= 5, verdicts
    assert verdicts["invalid"] >= 5, verdicts


@pytest.mark.xfail(
    strict=True,
    reason="a field the models type natively refuses 1.0 for an integer; a field typed loosely "
    "and checked by the compiled schema takes it",
)
def test_a_whole_float_is_read_alike_by_every_field(published: Generated) -> None:
    package = published.module
    native = _models_accept(package, "heartbeat", {"seq": 9.0})
    checked = _models_accept(package, "catalog_query", {"text": "tea", "limit": 9.0})
    assert (native, checked) == (False, False)


def test_untitled_branches_of_a_definitions_one_of_are_generated(
    generate_package: GenerateFn, tmp_path: Path
) -> None:
    """``Payment``'s branches without their titles: datamodel-code-generator numbers their
    classes (``Payment1`` …), which no other class of that name made it do."""
    folder = Path(shutil.copytree(FOLDER, tmp_path / "schema"))
    path = folder / "order_placed.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    for branch in data["definitions"]["Payment"]["oneOf"]:
        del branch["title"]
    path.write_text(json.dumps(data), encoding="utf-8")
    package = generate_package(folder, "untitled").module
    for example in data["examples"]:
        assert _models_accept(package, "order_placed", example)
        wrong_tag = {**example, "payment": {**example["payment"], "kind": "cheque"}}
        assert not _models_accept(package, "order_placed", wrong_tag)


# -- the generated package, as code and over a real server -------------------------------------


@pytest.mark.slow
def test_the_package_passes_mypy_strict(published: Generated, tmp_path: Path) -> None:
    result = mypy_strict(published.path, cache_dir=tmp_path / "mypy-cache")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_package_passes_ruff(published: Generated) -> None:
    check = ruff_check(published.path)
    assert check.returncode == 0, check.stdout + check.stderr
    form = ruff_format_check(published.path)
    assert form.returncode == 0, form.stdout + form.stderr


async def test_a_request_is_answered_through_a_real_server(
    published: Generated,
    serve_app: Callable[[FastAPI], AbstractContextManager[LiveServer]],
) -> None:
    """``session_open`` from the typed client, answered with ``session_opened``."""
    package = published.module
    registry = Registry()
    on_server: list[Any] = []

    @package.websocket_handler("session_open", registry=registry)
    async def open_session(message: Any, ctx: HandlerContext) -> Any:
        on_server.append(message.payload)
        return package.create_message(
            "session_opened",
            {"session": "s-1", "started_at": "2026-03-01T08:30:00Z", "expires_at": None},
            ctx.client_id,
        )

    app = create_app(protocol=package.PROTOCOL, registry=registry, explorer=False)
    with serve_app(app) as server:
        async with package.Client(server.url) as client:
            answer = await client.session_open(
                "veh-0042",
                token="s3cret-token",
                operator="op.7",
                capabilities=["gps", "orders"],
                firmware=[3, 1, 4, "rc1"],
                timeout=TIMEOUT,
            )
            # The client's models refuse a payload the schema refuses, before it is sent.
            with pytest.raises(DatadivrError):
                await client.session_open("veh-0042", token="s3cret-token", timeout=TIMEOUT)
    (payload,) = on_server
    assert payload.vehicle == "veh-0042"
    assert json.loads(answer.to_json())["payload"] == {
        "session": "s-1",
        "started_at": "2026-03-01T08:30:00Z",
        "expires_at": None,
    }
    assert isinstance(answer, package.SessionOpenedMessage)
