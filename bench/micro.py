"""Micro-benchmarks: parsing and validating a frame, serializing a message, the generator.

Run ``uv run python -m bench.micro`` (a few minutes) or ``uv run python -m bench.micro --smoke``
(seconds: everything runs, tiny, for CI). ``--json PATH`` also writes every figure.

What is measured:

- **parse**: one text frame to a checked message, three ways: the generated models
  (``PROTOCOL.parse``: one ``TypeAdapter.validate_json`` in pydantic-core); the reference
  validator (``datadivr.validation.Validator``: ``json.loads``, then jsonschema over the
  bundled ``schema.json``, the event's message schema picked by ``event_name``); and
  jsonschema-rs over the same bundle, timed two ways: ``json.loads`` then the event's message
  schema picked by ``event_name`` (as the reference validator does), and ``json.loads`` then
  the bundle's root schema (a ``oneOf`` of every message). jsonschema-rs validates Python
  objects, not text, so ``json.loads`` is part of its time, as it would be in a server: the
  ratios (``rs/models``) compare these. For scale, the table also shows jsonschema-rs on the
  frame decoded beforehand (``rs, decoded``: its validation alone, which yields no message a
  handler could use). Both validators run draft 2020-12 with formats asserted. Before
  anything is timed, every valid frame must be accepted and every broken frame refused by all
  of them.
- **parse, checked protocol**: the same, for a second protocol generated at the start into a
  temporary folder from ``bench/schemas/checked/`` (the project's envelope and events that use
  the keywords a Python type cannot say: a tagged ``oneOf`` (a discriminated union), a type
  list, ``not``, ``minProperties`` and ``dependentRequired`` (a model check),
  ``patternProperties``, ``uniqueItems`` and ``prefixItems``), whose models check those
  subschemas at run time with jsonschema-rs. The demo protocol's models use none of them:
  the run asserts its ``models.py`` has no checks, so its parse figures are the code they were
  before checks existed.
- **instructions** (``--instructions`` instead of the rest; valgrind, a minute or two): the
  instructions each of models, the reference validator and jsonschema-rs (the event's
  schema) executes to parse one small frame of either protocol, and the demo's 1,000-object
  scene, counted by callgrind in a process of its own after a warm-up: the same count for the
  same code whatever else the machine is doing, where the times above move with its load.
- **serialize**: ``message.to_json()``.
- **generator**: a full generation of N synthetic events (the project's envelope and
  definitions, N event files of six typed fields) into an empty folder, in this process after
  a warm-up generation (imports excluded); then a regeneration of the unchanged schemas, which
  the generator skips (in this process, and end to end as a command in a new interpreter).

Times are per operation: the median of the repeats, with the fastest and slowest. Each repeat
runs the operation in a loop long enough for the clock; the garbage collector stays on, as
in a server. Parse times are CPU times of the process, which the machine's other work does
not lengthen as it does wall times; the ways of parsing a frame take their repeats in turn.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

import jsonschema_rs
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from datadivr.core._message import MessageBase
from datadivr.core._protocol import Protocol
from datadivr.demo import (
    PROTOCOL,
    ObjectId,
    Quaternion,
    SceneObject,
    SceneUpdateMessage,
    SceneUpdatePayload,
    SumEventMessage,
    SumEventPayload,
    Transform,
    Vector3,
)
from datadivr.demo import models as demo_models
from datadivr.exceptions import ProtocolError
from datadivr.validation import Validator
from datadivr_codegen.generator import OUTPUT_FILES, generate

__all__ = ["Profile", "Timing", "main", "measure", "measure_cpu", "run"]

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PROJECT_SCHEMA = PROJECT_ROOT / "schema"
CHECKED_SCHEMA = Path(__file__).resolve().parent / "schemas" / "checked"
#: What a generated ``models.py`` writes for a subschema (``_CHECKS.at``) or an object
#: (``_CHECKS.model``) it checks at run time.
_CHECK_CALLS = ("_CHECKS.at(", "_CHECKS.model(")
_DIRECTIONS = ("client_to_server", "server_to_client", "client_to_client", "both")
_KINDS: tuple[Literal["cube", "sphere", "mesh", "light"], ...] = ("cube", "sphere", "mesh", "light")


@dataclass(frozen=True)
class Profile:
    """How long and how large a run is."""

    name: str
    #: Repeats of every loop benchmark, and the least time one repeat lasts, in seconds.
    repeats: int
    min_time: float
    #: Objects of the large ``scene_update`` and numbers of the large ``sum_event``.
    large_scene: int
    large_sum: int
    #: Event counts of the generator benchmark, the pair whose times are compared, and how
    #: many full generations each count gets.
    event_counts: tuple[int, ...]
    ratio_pair: tuple[int, int]
    generation_repeats: int
    #: End-to-end runs of each command for the no-op regeneration, after one unmeasured run
    #: when ``warm_commands``.
    command_repeats: int
    warm_commands: bool


FULL = Profile(
    "full",
    repeats=7,
    min_time=0.2,
    large_scene=1000,
    large_sum=10_000,
    event_counts=(10, 50, 100, 500),
    ratio_pair=(50, 500),
    generation_repeats=3,
    command_repeats=5,
    warm_commands=True,
)
SMOKE = Profile(
    "smoke",
    repeats=3,
    min_time=0.002,
    large_scene=100,
    large_sum=1000,
    event_counts=(2, 5),
    ratio_pair=(2, 5),
    generation_repeats=1,
    command_repeats=1,
    warm_commands=False,
)


@dataclass(frozen=True)
class Timing:
    """Per-operation times of one benchmark, in nanoseconds, one for each repeat."""

    samples: tuple[float, ...]
    loops: int

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def best(self) -> float:
        return min(self.samples)

    @property
    def worst(self) -> float:
        return max(self.samples)

    def as_dict(self) -> dict[str, Any]:
        return {
            "median_ns": self.median,
            "min_ns": self.best,
            "max_ns": self.worst,
            "samples_ns": list(self.samples),
            "loops": self.loops,
        }


def _batch(
    operation: Callable[[], object], loops: int, clock: Callable[[], int] = time.perf_counter_ns
) -> int:
    iterations = range(loops)
    start = clock()
    for _ in iterations:
        operation()
    return clock() - start


def _loops(operation: Callable[[], object], min_time: float) -> int:
    """How many calls of ``operation`` last ``min_time`` seconds."""
    once = max(_batch(operation, 1), 1)  # also a warm-up
    loops = max(1, int(min_time * 1e9 / once))
    # A second estimate, over enough calls for the clock, corrects the first.
    elapsed = max(_batch(operation, loops), 1)
    return max(1, round(loops * min_time * 1e9 / elapsed))


def measure(operation: Callable[[], object], *, repeats: int, min_time: float) -> Timing:
    """Time ``operation``: ``repeats`` loops of at least ``min_time`` seconds each."""
    loops = _loops(operation, min_time)
    samples = tuple(_batch(operation, loops) / loops for _ in range(repeats))
    return Timing(samples, loops)


def measure_cpu(
    operations: Mapping[str, Callable[[], object]], *, repeats: int, min_time: float
) -> dict[str, Timing]:
    """Time each of ``operations`` as :func:`measure` does, in the CPU time of this process
    (the time the machine's other work takes from it is not counted, as it is in wall
    time), their loops taken in turn, so that what that work does to the caches falls on
    all of them alike."""
    loops = {key: _loops(operation, min_time) for key, operation in operations.items()}
    samples: dict[str, list[float]] = {key: [] for key in operations}
    for _ in range(repeats):
        for key, operation in operations.items():
            elapsed = _batch(operation, loops[key], time.process_time_ns)
            samples[key].append(elapsed / loops[key])
    return {key: Timing(tuple(samples[key]), loops[key]) for key in operations}


def measure_each(operation: Callable[[], object], *, repeats: int) -> Timing:
    """Time ``operation`` once per repeat (for operations that take seconds)."""
    return Timing(tuple(float(_batch(operation, 1)) for _ in range(repeats)), 1)


# --- Frames ----------------------------------------------------------------------------------


def sum_event(count: int, rng: random.Random) -> SumEventMessage:
    """A ``sum_event`` with ``count`` numbers."""
    numbers = [round(rng.uniform(-1e6, 1e6), 3) for _ in range(count)]
    return SumEventMessage(payload=SumEventPayload(numbers=numbers), id="m-1")


def scene_update(count: int, rng: random.Random) -> SceneUpdateMessage:
    """A ``scene_update`` with ``count`` objects, every optional field set."""

    def unit() -> float:
        return round(rng.uniform(-1, 1), 6)

    objects = [
        SceneObject(
            id=f"obj-{i}",
            kind=_KINDS[i % len(_KINDS)],
            transform=Transform(
                position=Vector3(x=unit() * 10, y=unit() * 10, z=unit() * 10),
                rotation=Quaternion(x=unit(), y=unit(), z=unit(), w=unit()),
                scale=Vector3(x=1.0, y=1.0, z=1.0),
            ),
            color=f"#{rng.randrange(1 << 24):06x}",
            label=f"object {i}",
            opacity=round(rng.random(), 3),
        )
        for i in range(count)
    ]
    payload = SceneUpdatePayload(
        scene_id=uuid.UUID(int=rng.getrandbits(128), version=4),
        revision=42,
        objects=objects,
        removed=[ObjectId("old-1"), ObjectId("old-2")],
    )
    return SceneUpdateMessage(payload=payload, to="all")


def messages(profile: Profile, rng: random.Random) -> dict[str, MessageBase]:
    """The messages the parse and serialize benchmarks use, by size."""
    return {
        "S sum_event 3 numbers": sum_event(3, rng),
        "M scene_update 20 objects": scene_update(20, rng),
        f"L scene_update {profile.large_scene:,} objects": scene_update(profile.large_scene, rng),
        f"L sum_event {profile.large_sum:,} numbers": sum_event(profile.large_sum, rng),
    }


def broken_frames(valid: Mapping[str, MessageBase]) -> dict[str, str]:
    """Frames every validator must refuse, made by breaking valid ones."""
    small = json.loads(next(m for m in valid.values() if isinstance(m, SumEventMessage)).to_json())
    scene = json.loads(
        next(m for m in valid.values() if isinstance(m, SceneUpdateMessage)).to_json()
    )

    def broken(base: dict[str, Any], change: Callable[[dict[str, Any]], object]) -> str:
        data = json.loads(json.dumps(base))
        change(data)
        return json.dumps(data)

    return {
        "sum_event: a number written as text": broken(
            small, lambda d: d["payload"]["numbers"].__setitem__(1, "2")
        ),
        "sum_event: an extra payload property": broken(
            small, lambda d: d["payload"].__setitem__("extra", 1)
        ),
        "sum_event: empty 'to'": broken(small, lambda d: d.__setitem__("to", "")),
        "scene_update: scene_id not a UUID": broken(
            scene, lambda d: d["payload"].__setitem__("scene_id", "not-a-uuid")
        ),
        "scene_update: colour breaks its pattern": broken(
            scene, lambda d: d["payload"]["objects"][0].__setitem__("color", "red")
        ),
        "scene_update: quaternion w = 2": broken(
            scene,
            lambda d: d["payload"]["objects"][0]["transform"]["rotation"].__setitem__("w", 2),
        ),
        "scene_update: transform missing": broken(
            scene, lambda d: d["payload"]["objects"][0].pop("transform")
        ),
        "unknown event": broken(small, lambda d: d.__setitem__("event_name", "nope")),
    }


def _frame(event: str, payload: dict[str, Any], **envelope: Any) -> str:
    return json.dumps({"event_name": event, "payload": payload, **envelope})


def checked_frames() -> dict[str, str]:
    """Typical small frames of the checked protocol (``bench/schemas/checked/``)."""
    return {
        "draw: a circle on a named layer": _frame(
            "draw",
            {"layer": "ink", "shape": {"kind": "circle", "center": [1.5, -2.0], "radius": 3}},
            to="all",
        ),
        "draw: a pentagon on layer 2": _frame(
            "draw",
            {
                "layer": 2,
                "shape": {
                    "kind": "polygon",
                    "points": [[0, 1], [0.95, 0.31], [0.59, -0.81], [-0.59, -0.81], [-0.95, 0.31]],
                },
            },
            id="d-7",
        ),
        "profile: name, phone, settings": _frame(
            "profile",
            {
                "display_name": "Ada",
                "phone": "020 7946 0018",
                "country": "GB",
                "settings": {"theme": "dark", "volume": 7, "beta": True},
            },
            id="p-1",
            to="server",
        ),
        "tag: an item, 3 tags, a span": _frame(
            "tag", {"item": 42, "tags": ["red", "urgent", "ui"], "span": [3, 9, "title"]}
        ),
    }


def checked_broken_frames() -> dict[str, str]:
    """Frames of the checked protocol every validator must refuse, each breaking one keyword."""
    circle = {"kind": "circle", "center": [0, 0], "radius": 1}
    return {
        "draw: an unknown shape kind (oneOf)": _frame(
            "draw", {"layer": "ink", "shape": {"kind": "star", "center": [0, 0], "radius": 1}}
        ),
        "draw: a circle with a rect's fields (oneOf)": _frame(
            "draw", {"layer": "ink", "shape": {**circle, "width": 2}}
        ),
        "draw: a point of 3 numbers (prefixItems, items false)": _frame(
            "draw", {"layer": "ink", "shape": {**circle, "center": [0, 0, 0]}}
        ),
        "draw: layer 1.5 (type list)": _frame("draw", {"layer": 1.5, "shape": circle}),
        "draw: layer -1 (type list, minimum)": _frame("draw", {"layer": -1, "shape": circle}),
        "profile: no field (minProperties)": _frame("profile", {}),
        "profile: a phone without its country (dependentRequired)": _frame(
            "profile", {"phone": "020 7946 0018"}
        ),
        "profile: display_name 'admin' (not)": _frame("profile", {"display_name": "admin"}),
        "profile: a setting 'Theme' (patternProperties)": _frame(
            "profile", {"settings": {"Theme": "dark"}}
        ),
        "profile: a setting that is a list (patternProperties)": _frame(
            "profile", {"settings": {"theme": ["dark"]}}
        ),
        "tag: a tag twice (uniqueItems)": _frame("tag", {"item": "a", "tags": ["x", "y", "x"]}),
        "tag: a span end written as text (prefixItems)": _frame(
            "tag", {"item": "a", "tags": [], "span": [3, "9"]}
        ),
        "tag: item true (type list)": _frame("tag", {"item": True, "tags": []}),
    }


def generate_checked(scratch: Path) -> Path:
    """The protocol package of ``bench/schemas/checked/`` and the project's envelope,
    generated below ``scratch`` under a fresh name; its folder."""
    schema = scratch / "checked-schema"
    shutil.copytree(CHECKED_SCHEMA, schema)
    shutil.copyfile(PROJECT_SCHEMA / "envelope.schema.json", schema / "envelope.schema.json")
    package = scratch / f"bench_checked_{uuid.uuid4().hex}"
    generate(schema, package)
    return package


@contextmanager
def imported(package: Path) -> Iterator[ModuleType]:
    """The generated package in folder ``package``, imported; its modules are forgotten
    afterwards."""
    root, name = str(package.parent), package.name
    sys.path.insert(0, root)
    try:
        importlib.invalidate_caches()
        yield importlib.import_module(name)
    finally:
        sys.path.remove(root)
        for key in list(sys.modules):
            if key.partition(".")[0] == name:
                del sys.modules[key]


@contextmanager
def checked_protocol(scratch: Path) -> Iterator[ModuleType]:
    """The checked protocol, generated below ``scratch`` and imported (see
    :func:`generate_checked`)."""
    with imported(generate_checked(scratch)) as package:
        yield package


def check_counts(models: ModuleType) -> dict[str, int]:
    """How many run-time checks a generated ``models.py`` holds, by kind."""
    source = Path(models.__file__ or "").read_text(encoding="utf-8")
    return {
        call.removesuffix("(").removeprefix("_CHECKS."): source.count(call) for call in _CHECK_CALLS
    }


# --- Validators --------------------------------------------------------------------------------


class RsValidator:
    """jsonschema-rs over a protocol's bundled schema (draft 2020-12, formats asserted).

    Args:
        protocol: The generated protocol.
        root: Validate against the bundle's root (a ``oneOf`` of every message) instead of
            the message schema that ``event_name`` picks.
    """

    def __init__(self, protocol: Protocol, *, root: bool = False) -> None:
        self._root = (
            jsonschema_rs.Draft202012Validator(protocol.schema, validate_formats=True)
            if root
            else None
        )
        self._by_event = {
            name: jsonschema_rs.Draft202012Validator(
                protocol.event_schema(name), validate_formats=True
            )
            for name in protocol.events
        }

    def is_valid(self, frame: str) -> bool:
        """Whether ``frame`` (JSON text) is a valid message."""
        try:
            data = json.loads(frame)
        except ValueError:
            return False
        return self.is_valid_decoded(data)

    def is_valid_decoded(self, data: object) -> bool:
        """Whether ``data`` (a frame's JSON, decoded) is a valid message."""
        if self._root is not None:
            return self._root.is_valid(data)
        name = data.get("event_name") if isinstance(data, dict) else None
        validator = self._by_event.get(name) if isinstance(name, str) else None
        return validator is not None and validator.is_valid(data)


@dataclass(frozen=True)
class Verdicts:
    """Whether each way of validating accepted one frame."""

    models: bool
    jsonschema: bool
    rs_event: bool
    rs_root: bool

    @property
    def agree(self) -> bool:
        return len({self.models, self.jsonschema, self.rs_event, self.rs_root}) == 1


class Checkers:
    """The four ways of checking a frame of ``protocol``, each a ``frame -> accepted``
    callable."""

    def __init__(self, protocol: Protocol) -> None:
        self.protocol = protocol
        self.reference = Validator(protocol)
        self.rs_event = RsValidator(protocol)
        self.rs_root = RsValidator(protocol, root=True)

    def models(self, frame: str) -> bool:
        try:
            self.protocol.parse(frame)
        except ProtocolError:
            return False
        return True

    def verdicts(self, frame: str) -> Verdicts:
        return Verdicts(
            self.models(frame),
            self.reference.validate(frame).valid,
            self.rs_event.is_valid(frame),
            self.rs_root.is_valid(frame),
        )


# --- Benchmarks ------------------------------------------------------------------------------


def bench_agreement(
    checkers: Checkers, frames: Mapping[str, str], broken: Mapping[str, str]
) -> list[dict[str, Any]]:
    rows = []
    for expected, group in ((True, frames), (False, broken)):
        for name, frame in group.items():
            verdicts = checkers.verdicts(frame)
            rows.append(
                {
                    "frame": name,
                    "expected_valid": expected,
                    "models": verdicts.models,
                    "jsonschema": verdicts.jsonschema,
                    "jsonschema_rs": verdicts.rs_event,
                    "jsonschema_rs_root": verdicts.rs_root,
                    "ok": verdicts.agree and verdicts.models is expected,
                }
            )
    return rows


def bench_parse(
    checkers: Checkers, frames: Mapping[str, str], profile: Profile
) -> list[dict[str, Any]]:
    protocol = checkers.protocol
    rows = []
    for name, frame in frames.items():

        def models(frame: str = frame) -> object:
            return protocol.parse(frame)

        def reference(frame: str = frame) -> object:
            return checkers.reference.validate(frame)

        def rs_event(frame: str = frame) -> object:
            return checkers.rs_event.is_valid(frame)

        def rs_root(frame: str = frame) -> object:
            return checkers.rs_root.is_valid(frame)

        def rs_decoded(data: object = json.loads(frame)) -> object:
            return checkers.rs_event.is_valid_decoded(data)

        timings = measure_cpu(
            {
                "models": models,
                "jsonschema": reference,
                "jsonschema_rs": rs_event,
                "jsonschema_rs_root": rs_root,
                "jsonschema_rs_decoded": rs_decoded,
            },
            repeats=profile.repeats,
            min_time=profile.min_time,
        )
        base = timings["models"].median
        rows.append(
            {
                "frame": name,
                "bytes": len(frame.encode()),
                **{key: t.as_dict() for key, t in timings.items()},
                "ratio_jsonschema_to_models": timings["jsonschema"].median / base,
                "ratio_jsonschema_rs_to_models": timings["jsonschema_rs"].median / base,
                "ratio_jsonschema_rs_root_to_models": timings["jsonschema_rs_root"].median / base,
                "ratio_jsonschema_rs_decoded_to_models": (
                    timings["jsonschema_rs_decoded"].median / base
                ),
            }
        )
    return rows


def bench_serialize(valid: Mapping[str, MessageBase], profile: Profile) -> list[dict[str, Any]]:
    rows = []
    for name, message in valid.items():
        timing = measure(message.to_json, repeats=profile.repeats, min_time=profile.min_time)
        rows.append({"message": name, "bytes": len(message.to_json().encode()), **timing.as_dict()})
    return rows


def synthetic_schema(folder: Path, count: int) -> Path:
    """A schema folder at ``folder``: the project's envelope and definitions, and ``count``
    events of six typed fields each (distinct names, every direction)."""
    (folder / "events").mkdir(parents=True)
    for name in ("envelope.schema.json", "definitions.schema.json"):
        shutil.copyfile(PROJECT_SCHEMA / name, folder / name)
    for i in range(count):
        event = f"ev_{i:04d}"
        schema = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"https://bench.datadivr.test/events/{event}.schema.json",
            "title": f"Ev{i:04d}Payload",
            "description": f"Synthetic event number {i}.",
            "x-datadivr": {"event": event, "direction": _DIRECTIONS[i % len(_DIRECTIONS)]},
            "type": "object",
            "properties": {
                "label": {"description": "A label.", "type": "string", "maxLength": 64},
                "count": {"type": "integer", "minimum": 0},
                "ratio": {"type": "number", "minimum": 0, "maximum": 1},
                "enabled": {"type": "boolean"},
                "values": {"type": "array", "items": {"type": "number"}, "maxItems": 100},
                "position": {"$ref": "../definitions.schema.json#/$defs/Vector3"},
            },
            "required": ["label", "count"],
            "additionalProperties": False,
        }
        text = json.dumps(schema, indent=2) + "\n"
        (folder / "events" / f"{event}.schema.json").write_text(text, encoding="utf-8")
    return folder


def _expect(condition: bool, what: object) -> None:
    if not condition:
        raise RuntimeError(f"unexpected: {what}")


@contextmanager
def _scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="datadivr-bench-") as name:
        yield Path(name)


def bench_generator(profile: Profile, console: Console) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    with _scratch() as scratch:
        # The first generation imports datamodel-code-generator and warms ruff's cache.
        warm_up = synthetic_schema(scratch / "warm-up", 1)
        generate(warm_up, scratch / "warm-up-out")
        for count in profile.event_counts:
            console.print(f"generator: {count} events…", style="dim")
            schema = synthetic_schema(scratch / f"schema-{count}", count)
            outs = iter(scratch / f"out-{count}-{i}" for i in range(profile.generation_repeats))

            def full(schema: Path = schema, outs: Iterator[Path] = outs) -> None:
                result = generate(schema, next(outs))
                _expect(not result.skipped and len(result.written) == len(OUTPUT_FILES), result)

            generation = measure_each(full, repeats=profile.generation_repeats)
            out = scratch / f"out-{count}-0"

            def noop(schema: Path = schema, out: Path = out) -> None:
                _expect(generate(schema, out).skipped, "the regeneration was not skipped")

            skip = measure(noop, repeats=profile.repeats, min_time=profile.min_time)
            rows.append(
                {
                    "events": count,
                    "schema_files": count + 2,
                    "generation": generation.as_dict(),
                    "noop_in_process": skip.as_dict(),
                }
            )
        commands = _bench_commands(scratch, profile)
    by_count = {row["events"]: row["generation"]["median_ns"] for row in rows}
    low, high = profile.ratio_pair
    return {
        "rows": rows,
        "ratio": {"events": [low, high], "value": by_count[high] / by_count[low]},
        "noop_commands": commands,
    }


def _bench_commands(scratch: Path, profile: Profile) -> list[dict[str, Any]]:
    """The no-op regeneration of the project's schemas, end to end, by both commands."""
    out = scratch / "project-out"
    generate(PROJECT_SCHEMA, out)
    folders = ["--schema", str(PROJECT_SCHEMA), "--out", str(out)]
    commands = {
        "python -m datadivr_codegen": [sys.executable, "-m", "datadivr_codegen", *folders],
        "python -m datadivr generate": [sys.executable, "-m", "datadivr", "generate", *folders],
    }
    rows = []
    for label, argv in commands.items():

        def run(argv: list[str] = argv) -> None:
            proc = subprocess.run(argv, capture_output=True, text=True, check=False)
            if proc.returncode != 0 or "wrote " in proc.stdout:
                raise RuntimeError(f"{argv}: exit {proc.returncode}\n{proc.stdout}{proc.stderr}")

        if profile.warm_commands:
            run()  # the file cache
        timing = measure_each(run, repeats=profile.command_repeats)
        rows.append({"command": label, **timing.as_dict()})
    return rows


# --- Instructions (callgrind) -------------------------------------------------------------------

#: Calls per count, by way of validating (``jsonschema`` takes some 30 times longer), of a
#: small frame and of the large scene.
_INSTRUCTION_LOOPS = {"models": 100, "jsonschema": 10, "jsonschema_rs": 100}
_INSTRUCTION_LOOPS_LARGE = {"models": 5, "jsonschema": 1, "jsonschema_rs": 5}


def _instruction_ops(package: ModuleType) -> dict[tuple[str, str, str], Callable[[], object]]:
    """The small frames of both protocols, and the demo's large scene of the full run,
    checked each way: ``(protocol, frame, way)``."""
    rng = random.Random(20240601)
    demo = messages(SMOKE, rng)
    large = scene_update(FULL.large_scene, rng)
    frames = {
        "demo": {
            **{name: m.to_json() for name, m in demo.items() if not name.startswith("L ")},
            f"L scene_update {FULL.large_scene:,} objects": large.to_json(),
        },
        "checked": checked_frames(),
    }
    ops: dict[tuple[str, str, str], Callable[[], object]] = {}
    for label, protocol in (("demo", PROTOCOL), ("checked", package.PROTOCOL)):
        checkers = Checkers(protocol)
        for name, frame in frames[label].items():
            for way, check in (
                ("models", checkers.protocol.parse),
                ("jsonschema", checkers.reference.validate),
                ("jsonschema_rs", checkers.rs_event.is_valid),
            ):
                ops[label, name, way] = partial(check, frame)
    return ops


def _instructions_child(package: Path) -> int:
    """The process :func:`bench_instructions` counts: it prints its operations' keys, warms
    every operation up, prints ``ready``, then runs ``key<TAB>loops`` lines from stdin."""
    with imported(package) as module:
        ops = _instruction_ops(module)
        for key, operation in ops.items():
            for _ in range(3):
                operation()
            print("\t".join(key), flush=True)
        print("ready", flush=True)
        for line in sys.stdin:
            label, frame, way, loops = line.rstrip("\n").split("\t")
            operation = ops[label, frame, way]
            for _ in range(int(loops)):
                operation()
            print("done", flush=True)
    return 0


def _callgrind(*args: str) -> str:
    return subprocess.run(
        ["callgrind_control", *args], check=True, capture_output=True, text=True
    ).stdout


def bench_instructions(console: Console) -> list[dict[str, Any]]:
    """Instructions per parse of each small frame and of the large scene, each way, counted
    by valgrind's callgrind: the same count for the same code whatever else the machine does."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    with _scratch() as scratch:
        package = generate_checked(scratch)
        console.print("instructions: the checks' process starts under callgrind…", style="dim")
        proc = subprocess.Popen(
            ["valgrind", "--tool=callgrind", "--instr-atstart=no",
             "--callgrind-out-file=/dev/null", sys.executable, "-m", "bench.micro",
             "--instructions-child", str(package)],
            cwd=PROJECT_ROOT, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        assert proc.stdin is not None
        assert proc.stdout is not None
        pid = str(proc.pid)
        try:
            keys = []
            while (line := proc.stdout.readline()) and line != "ready\n":
                keys.append(line.rstrip("\n").split("\t"))
            _expect(line == "ready\n", "the counted process stopped")
            _callgrind("--instr=on", pid)
            for label, frame, way in keys:
                loops = (
                    _INSTRUCTION_LOOPS_LARGE if frame.startswith("L ") else _INSTRUCTION_LOOPS
                )[way]
                _callgrind("--zero", pid)
                proc.stdin.write(f"{label}\t{frame}\t{way}\t{loops}\n")
                proc.stdin.flush()
                _expect(proc.stdout.readline() == "done\n", "the counted process stopped")
                counters = _callgrind("-e", "Ir", pid)
                found = re.findall(r"Th \d+\s+([\d,]+)", counters)
                total = sum(int(n.replace(",", "")) for n in found)
                row = rows.setdefault((label, frame), {"protocol": label, "frame": frame})
                row[way] = total / loops
        finally:
            proc.stdin.close()
            try:
                proc.wait(120)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    for row in rows.values():
        row["ratio_jsonschema_to_models"] = row["jsonschema"] / row["models"]
        row["ratio_jsonschema_rs_to_models"] = row["jsonschema_rs"] / row["models"]
    return list(rows.values())


def report_instructions(rows: Sequence[Mapping[str, Any]], console: Console) -> None:
    table = Table(title="Instructions per parse + validate of one frame (callgrind)")
    for column in ("protocol", "frame", "models", "jsonschema", "jsonschema-rs"):
        table.add_column(column, justify="left" if column in ("protocol", "frame") else "right")
    for column in ("jsonschema/models", "rs/models"):
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(
            row["protocol"],
            row["frame"],
            *(f"{row[key] / 1e3:,.1f}k" for key in ("models", "jsonschema", "jsonschema_rs")),
            f"{row['ratio_jsonschema_to_models']:.1f}x",
            f"{row['ratio_jsonschema_rs_to_models']:.2f}x",
        )
    console.print(table)


# --- Report ----------------------------------------------------------------------------------


def _ns(value: float) -> str:
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if value >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value:.3g} ns"


def _spread(timing: Mapping[str, Any]) -> str:
    """``median [min-max] unit``, in the median's unit."""
    median = timing["median_ns"]
    unit, scale = next(
        ((u, f) for u, f in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)) if median >= f), ("ns", 1.0)
    )
    low, high = timing["min_ns"] / scale, timing["max_ns"] / scale
    return escape(f"{median / scale:.3g} [{low:.3g}-{high:.3g}] {unit}")


def environment() -> dict[str, Any]:
    """What the figures depend on."""
    versions: dict[str, str | None] = {}
    for dist in (
        "pydantic",
        "pydantic-core",
        "jsonschema",
        "jsonschema-rs",
        "datamodel-code-generator",
        "ruff",
    ):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "cpus": os.cpu_count(),
        "versions": versions,
    }


def report(results: Mapping[str, Any], console: Console) -> None:
    env = results["environment"]
    console.print(
        f"[bold]datadivr micro-benchmarks[/] ({results['profile']}) — Python {env['python']} "
        f"on {env['platform']}, {env['cpus']} CPUs"
    )
    console.print(", ".join(f"{k} {v}" for k, v in env["versions"].items()), style="dim")

    _report_parse(results["agreement"], results["parse"], "", console)
    checked = results["checked"]
    _report_parse(checked["agreement"], checked["parse"], ", checked protocol", console)
    console.print(
        "run-time checks in models.py: demo "
        + ", ".join(f"{n} {kind}" for kind, n in results["demo_checks"].items())
        + " (its parse is the code it was before checks existed); checked protocol "
        + ", ".join(f"{n} {kind}" for kind, n in checked["checks"].items())
    )
    for label, figures in (
        ("demo, small frames", results["demo_summary"]),
        ("checked protocol", checked["summary"]),
    ):
        console.print(
            f"models vs jsonschema (Validator), {label}: "
            f"{figures['jsonschema']['min']:.1f}x faster at least, "
            f"{figures['jsonschema']['median']:.1f}x median (target: 20x); "
            f"vs jsonschema-rs: {figures['jsonschema_rs']['min']:.2f}x at least, "
            f"{figures['jsonschema_rs']['median']:.2f}x median"
        )

    for row in results["parse"]:
        if row["frame"].startswith("L "):
            console.print(
                f"models vs jsonschema-rs, {row['frame']}: "
                f"{row['ratio_jsonschema_rs_to_models']:.2f}x its speed "
                "(json.loads + validation, the event's schema), "
                f"{row['ratio_jsonschema_rs_decoded_to_models']:.2f}x its validation alone"
            )

    table = Table(title="Serialize one message: message.to_json()")
    for column in ("message", "bytes", "time"):
        table.add_column(column, justify="left" if column == "message" else "right")
    for row in results["serialize"]:
        table.add_row(row["message"], f"{row['bytes']:,}", _spread(row))
    console.print(table)

    generator = results["generator"]
    table = Table(title="Generator (in process, after a warm-up)")
    for column in ("events", "full generation", "per event", "no-op (skipped)"):
        table.add_column(column, justify="right")
    for row in generator["rows"]:
        table.add_row(
            str(row["events"]),
            _spread(row["generation"]),
            _ns(row["generation"]["median_ns"] / row["events"]),
            _spread(row["noop_in_process"]),
        )
    console.print(table)
    low, high = generator["ratio"]["events"]
    console.print(
        f"full generation, {high} events / {low} events: {generator['ratio']['value']:.1f}x "
        f"(linear would be {high / low:.1f}x)"
    )
    table = Table(title="No-op regeneration of schema/, end to end (a new interpreter)")
    table.add_column("command")
    table.add_column("time", justify="right")
    for row in generator["noop_commands"]:
        table.add_row(row["command"], _spread(row))
    console.print(table)


def bench_checked(profile: Profile, console: Console) -> dict[str, Any]:
    """The checked protocol: its checks, the validators' agreement, the parse timings."""
    with _scratch() as scratch, checked_protocol(scratch) as package:
        checks = check_counts(package.models)
        _expect(all(checks.values()), f"the checked protocol's models.py has {checks}")
        checkers = Checkers(package.PROTOCOL)
        frames = checked_frames()
        agreement = bench_agreement(checkers, frames, checked_broken_frames())
        console.print("parse, checked protocol…", style="dim")
        parse = bench_parse(checkers, frames, profile)
    return {"checks": checks, "agreement": agreement, "parse": parse}


def summary(parse: Sequence[Mapping[str, Any]], frames: Sequence[str]) -> dict[str, Any]:
    """The least and the median of the speed-ups of the models over the validators, over
    the rows of ``frames``."""
    rows = [row for row in parse if row["frame"] in frames]
    out: dict[str, Any] = {"frames": [row["frame"] for row in rows]}
    for key in ("jsonschema", "jsonschema_rs", "jsonschema_rs_root"):
        ratios = [row[f"ratio_{key}_to_models"] for row in rows]
        out[key] = {"min": min(ratios), "median": statistics.median(ratios)}
    return out


def _report_parse(
    agreement: Sequence[Mapping[str, Any]],
    parse: Sequence[Mapping[str, Any]],
    which: str,
    console: Console,
) -> None:
    table = Table(title=f"Validators agree{which} (✓ accepted, ✗ refused)")
    for column in ("frame", "models", "jsonschema", "jsonschema-rs", "rs root", ""):
        table.add_column(column)
    for row in agreement:
        marks = [
            "✓" if row[key] else "✗"
            for key in ("models", "jsonschema", "jsonschema_rs", "jsonschema_rs_root")
        ]
        table.add_row(row["frame"], *marks, "ok" if row["ok"] else "[red]DISAGREE[/]")
    console.print(table)

    table = Table(
        title=escape(f"Parse + validate one frame{which}: median [min-max] CPU time per frame")
    )
    columns = ("frame", "bytes", "models", "jsonschema", "jsonschema-rs", "rs root", "rs, decoded")
    for column in columns:
        table.add_column(column, justify="left" if column == "frame" else "right")
    for column in ("jsonschema/models", "rs/models", "rs root/models", "rs, decoded/models"):
        table.add_column(column, justify="right")
    for row in parse:
        table.add_row(
            row["frame"],
            f"{row['bytes']:,}",
            *(
                _spread(row[key])
                for key in (
                    "models",
                    "jsonschema",
                    "jsonschema_rs",
                    "jsonschema_rs_root",
                    "jsonschema_rs_decoded",
                )
            ),
            f"{row['ratio_jsonschema_to_models']:.1f}x",
            f"{row['ratio_jsonschema_rs_to_models']:.2f}x",
            f"{row['ratio_jsonschema_rs_root_to_models']:.2f}x",
            f"{row['ratio_jsonschema_rs_decoded_to_models']:.2f}x",
        )
    console.print(table)


def run(profile: Profile, console: Console) -> dict[str, Any]:
    """Run every benchmark; return the results as plain data."""
    # No cost for a schema that needs no checks: its models are the code they were before.
    demo_source = Path(demo_models.__file__ or "").read_text(encoding="utf-8")
    _expect("_CHECKS" not in demo_source, "the demo's models.py has run-time checks")
    demo_checks = check_counts(demo_models)
    rng = random.Random(20240601)
    valid = messages(profile, rng)
    frames = {name: message.to_json() for name, message in valid.items()}
    checkers = Checkers(PROTOCOL)
    agreement = bench_agreement(checkers, frames, broken_frames(valid))
    console.print("parse…", style="dim")
    parse = bench_parse(checkers, frames, profile)
    checked = bench_checked(profile, console)
    small = [name for name in frames if not name.startswith("L ")]
    checked["summary"] = summary(checked["parse"], [row["frame"] for row in checked["parse"]])
    console.print("serialize…", style="dim")
    serialize = bench_serialize(valid, profile)
    generator = bench_generator(profile, console)
    return {
        "profile": profile.name,
        "environment": environment(),
        "agreement": agreement,
        "parse": parse,
        "demo_checks": demo_checks,
        "demo_summary": summary(parse, small),
        "checked": checked,
        "serialize": serialize,
        "generator": generator,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmarks, print the tables; exit 1 when the validators disagree."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.micro", description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    parser.add_argument(
        "--smoke", action="store_true", help="tiny and fast: everything runs, for CI"
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON")
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="instead: count the instructions of each way of parsing the small frames and "
        "the large scene (valgrind's callgrind, a minute or two)",
    )
    parser.add_argument("--instructions-child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.instructions_child is not None:
        return _instructions_child(args.instructions_child)
    console = Console(width=200)
    if args.instructions:
        if shutil.which("valgrind") is None:
            console.print("valgrind is not installed (Debian: apt-get install valgrind)")
            return 2
        rows = bench_instructions(console)
        report_instructions(rows, console)
        if args.json is not None:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
            console.print(f"wrote {args.json}")
        return 0
    results = run(SMOKE if args.smoke else FULL, console)
    report(results, console)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        console.print(f"wrote {args.json}")
    if not all(row["ok"] for row in (*results["agreement"], *results["checked"]["agreement"])):
        console.print("[red]the validators disagree: the comparison is not valid[/]")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
