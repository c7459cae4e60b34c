"""Hostile peers for the robustness tests, and the real server they are turned against.

- :func:`hostile_batches`: Hypothesis strategies for what a broken or malicious client may
  send;
- :func:`serve_process`: ``datadivr serve`` in a subprocess, as it is deployed, with its
  memory read from ``/proc``;
- :func:`raw_connect`: a WebSocket handshake over a bare TCP socket, for peers that never read
  or vanish without a close handshake.

A frame strategy draws a *spec*, not the bytes on the wire. The client ids of a live run are
not known when strategies are built, so documents hold :class:`Peer` placeholders; large and
deeply nested frames are drawn as a shape and a size and built only by :func:`render`, so that
drawing them is cheap and a failing example prints in one line. What the server must answer
is for the test to decide (``tests/integration/test_fuzz.py``), not for this module.

The kinds of frames (:data:`KINDS`, one of each in every batch):

- binary frames: random bytes, invalid UTF-8, JSON messages sent as bytes;
- text that is not JSON, JSON that is not an object, objects without an ``event_name`` or with
  one that is not a string, unknown events;
- valid messages of every event of the schema (so also the events only the server may send:
  ``error``, ``welcome``, ``sum_handler_result``), routed to ``all``, ``others``, ``server``, a
  live client, an unknown id, and with a forged ``from_id``;
- valid messages broken by one schema mutation (``tests.agreement.strategies``: wrong type,
  missing required, extra property, bounds, enum, pattern, length, format) or with any JSON
  value put at any envelope or payload path;
- huge strings, arrays and objects up to 1 MB, and nesting from 10 to 5000 levels.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import enum
import json
import re
import resource
import secrets
import socket
import struct
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from hypothesis import strategies as st

from datadivr.demo import PROTOCOL
from tests.agreement.strategies import (
    MUTATIONS,
    applicable,
    event_schema,
    from_schema,
    mutated,
    sites,
)
from tests.commands import CLI_ENV, DATADIVR


class Peer(enum.Enum):
    """A connection of the fuzz run; a document holding one is rendered with its client id."""

    SENDER = "sender"
    """Sends the hostile frames."""
    BYSTANDER = "bystander"
    """Only listens."""
    BROADCASTER = "broadcaster"
    """Sends valid broadcasts all along."""


@dataclass(frozen=True)
class Binary:
    """Bytes sent as a binary frame."""

    data: bytes


@dataclass(frozen=True)
class Text:
    """A text frame sent as it is."""

    data: str


@dataclass(frozen=True)
class Document:
    """A JSON value, serialized when sent; :class:`Peer` members become client ids."""

    value: Any
    ensure_ascii: bool = True


@dataclass(frozen=True)
class Huge:
    """A large frame of one of :data:`HUGE_SHAPES`, built when rendered."""

    shape: str
    size: int


@dataclass(frozen=True)
class Deep:
    """A deeply nested frame of one of :data:`DEEP_SHAPES`, built when rendered."""

    shape: str
    depth: int


Spec = Binary | Text | Document | Huge | Deep
"""One hostile frame, before it is rendered."""

Ids = Mapping[Peer, str]
"""The client id of each peer of a live run."""


# --------------------------------------------------------------------------- rendering


def render(spec: Spec, ids: Ids) -> str | bytes:
    """The frame to send for ``spec``: ``str`` for a text frame, ``bytes`` for a binary one."""
    if isinstance(spec, Binary):
        return spec.data
    if isinstance(spec, Text):
        return spec.data
    if isinstance(spec, Document):
        return dumps(spec.value, ids, ensure_ascii=spec.ensure_ascii)
    if isinstance(spec, Huge):
        wire = _huge(spec.shape, spec.size, ids)
        size = len(wire) if isinstance(wire, bytes) else len(wire.encode())
        assert size <= MAX_HUGE, f"{spec} renders to {size} bytes"
        return wire
    return _deep(spec.shape, spec.depth, ids)


def dumps(value: Any, ids: Ids, *, ensure_ascii: bool = True, compact: bool = False) -> str:
    """``value`` as JSON text, each :class:`Peer` as its client id."""

    def peer_id(obj: object) -> str:
        if isinstance(obj, Peer):
            return ids[obj]
        raise TypeError(f"not JSON: {obj!r}")

    return json.dumps(
        value,
        ensure_ascii=ensure_ascii,
        allow_nan=False,
        default=peer_id,
        separators=(",", ":") if compact else None,
    )


#: The largest frame drawn: the server closes the connection on a frame over 1 MiB (1009).
MAX_HUGE = 1_000_100
#: Shape -> sizes (characters, elements or members).
HUGE_SHAPES: dict[str, tuple[int, ...]] = {
    "message": (65_536, 65_537, 500_000, 1_000_000),  # msg text to the sender itself
    "unicode_message": (65_536, 400_000),  # two UTF-8 bytes a character
    "numbers": (1_000, 99_997, 99_998, 100_000, 100_001, 199_998, 300_000),  # sum_event
    "strings": (1_000, 50_000, 150_000),  # sum_event "numbers" that are strings
    "event_name": (65, 70_000, 1_000_000),
    "to": (129, 100_000),
    "id": (129, 100_000),
    "members": (1_000, 70_000),  # msg with that many undeclared properties
    "array": (1_000, 100_001, 400_000),  # a top-level array
    "object_payload": (1_000, 60_000),  # an unknown event with a payload of that many members
    "garbage": (10_000, 1_000_000),  # not JSON
    "binary": (10_000, 1_000_000),  # bytes
}


def _huge(shape: str, n: int, ids: Ids) -> str | bytes:
    sender = ids[Peer.SENDER]

    def compact(value: Any, *, ensure_ascii: bool = True) -> str:
        return dumps(value, ids, ensure_ascii=ensure_ascii, compact=True)

    if shape == "message":
        return compact({"event_name": "msg", "message": "x" * n, "to": sender})
    if shape == "unicode_message":
        return compact({"event_name": "msg", "message": "é" * n, "to": sender}, ensure_ascii=False)
    if shape == "numbers":
        return compact({"event_name": "sum_event", "payload": {"numbers": [1] * n}})
    if shape == "strings":
        return compact({"event_name": "sum_event", "payload": {"numbers": ["x"] * n}})
    if shape == "event_name":
        return compact({"event_name": "e" * n})
    if shape == "to":
        return compact({"event_name": "msg", "message": "x", "to": "t" * n})
    if shape == "id":
        return compact({"event_name": "msg", "message": "x", "to": sender, "id": "i" * n})
    if shape == "members":
        extra = {f"k{i}": 0 for i in range(n)}
        return compact({"event_name": "msg", "message": "x", "to": sender, **extra})
    if shape == "array":
        return compact([0] * n)
    if shape == "object_payload":
        return compact({"event_name": "nope", "payload": {f"k{i}": i for i in range(n)}})
    if shape == "garbage":
        return "x" * n
    if shape == "binary":
        return b"\xff" * n
    raise ValueError(f"unknown huge shape {shape!r}")


#: What a deep frame holds; it nests its drawn depth (plus the envelope where it has one).
DEEP_SHAPES = (
    "payload_array",  # msg whose payload (which must be null) is [[[...]]]
    "payload_object",  # unknown event whose payload is {"a": {"a": ...}}
    "top_array",  # [[[...]]]
    "top_object",  # {"a": {"a": ... 1}}: no event_name
    "numbers",  # sum_event whose numbers are [[[...]]]
    "event_name",  # {"event_name": [[[...]]]}
    "unclosed",  # [[[[ : not JSON
    "unbalanced",  # [[[]] : not JSON
    "brackets_in_text",  # msg to the sender whose text is \"[{\"[{...: nests nothing, valid
)


def _deep(shape: str, d: int, ids: Ids) -> str:
    arrays = "[" * d + "]" * d
    if shape == "payload_array":
        return '{"event_name":"msg","message":"deep","payload":' + arrays + "}"
    if shape == "payload_object":
        return '{"event_name":"nope","payload":' + '{"a":' * d + "1" + "}" * d + "}"
    if shape == "top_array":
        return arrays
    if shape == "top_object":
        return '{"a":' * d + "1" + "}" * d
    if shape == "numbers":
        return '{"event_name":"sum_event","payload":{"numbers":' + arrays + "}}"
    if shape == "event_name":
        return '{"event_name":' + arrays + "}"
    if shape == "unclosed":
        return "[" * d
    if shape == "unbalanced":
        return "[" * d + "]" * (d - 1)
    if shape == "brackets_in_text":
        text = '\\"[{' * d  # brackets and escaped quotes inside a string
        return dumps({"event_name": "msg", "to": Peer.SENDER}, ids)[:-1] + f',"message":"{text}"}}'
    raise ValueError(f"unknown deep shape {shape!r}")


# --------------------------------------------------------------------------- strategies

BUNDLE: dict[str, Any] = PROTOCOL.schema
EVENTS = sorted(PROTOCOL.events)
SCHEMAS = {event: event_schema(BUNDLE, event) for event in EVENTS}
INSTANCES = {event: from_schema(SCHEMAS[event], BUNDLE) for event in EVENTS}
SERVER_TO_CLIENT = sorted(e for e in EVENTS if not PROTOCOL.events[e].direction.client_may_send)
ENVELOPE_KEYS = ("event_name", "payload", "to", "from_id", "message", "id", "reply_to")


class _Absent(enum.Enum):
    ABSENT = "absent"


ABSENT = _Absent.ABSENT
"""Drawn for an envelope field: leave it out."""

#: Integers in a range every JSON parser keeps exact; floats that are not whole numbers (an
#: integer written 3.0 is the one documented corner where the models are stricter than the
#: schema) and always finite (JSON has no NaN).
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63),
    st.floats(-1e300, 1e300, allow_nan=False, allow_infinity=False).filter(
        lambda f: not f.is_integer()
    ),
    st.text(max_size=16),
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=8,
)
routes = st.one_of(
    st.sampled_from([ABSENT, "all", "others", "server", *Peer]),
    st.text(min_size=1, max_size=128),  # nobody
)
spoofs = st.one_of(
    st.sampled_from([ABSENT, None, "server", "all", *Peer]),
    st.text(max_size=128),
)


def _with(value: dict[str, Any], key: str, new: Any) -> dict[str, Any]:
    out = dict(value)
    if new is ABSENT:
        out.pop(key, None)
    else:
        out[key] = new
    return out


def _at(value: Any, path: tuple[str | int, ...], new: Any) -> Any:
    """A copy of ``value`` with ``new`` at ``path`` (copied along the path only)."""
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _at(value[head], rest, new)}
    out = list(value)
    out[head] = _at(value[head], rest, new)  # type: ignore[index]
    return out


@st.composite
def valid_messages(draw: st.DrawFn, events: tuple[str, ...] = tuple(EVENTS)) -> Document:
    """A valid message of one of ``events``, routed anywhere, maybe with a forged sender."""
    event = draw(st.sampled_from(events))
    value = draw(INSTANCES[event])
    value = _with(value, "to", draw(routes))
    value = _with(value, "from_id", draw(spoofs))
    return Document(value, draw(st.booleans()))


@st.composite
def spoofed_messages(draw: st.DrawFn) -> Document:
    """A valid ``msg`` that claims to come from someone else."""
    value = {
        "event_name": "msg",
        "message": draw(st.text(max_size=32)),
        "to": draw(st.sampled_from(["all", "others", *Peer])),
        "from_id": draw(st.sampled_from(["server", "all", Peer.BYSTANDER, Peer.BROADCASTER])),
    }
    return Document(value)


@st.composite
def broken_messages(draw: st.DrawFn) -> Document:
    """A valid message of any event, broken by one mutation the schema refuses."""
    event = draw(st.sampled_from(EVENTS))
    schema = SCHEMAS[event]
    instance = draw(INSTANCES[event])
    kinds = [kind for kind in MUTATIONS if applicable(kind, schema, instance)]
    if not kinds:
        return Document(instance)
    broken, _ = draw(mutated(draw(st.sampled_from(kinds)), schema, instance))
    return Document(broken, draw(st.booleans()))


@st.composite
def retyped_messages(draw: st.DrawFn) -> Document:
    """A valid message with any JSON value at one of its paths, or at an envelope key."""
    event = draw(st.sampled_from(EVENTS))
    instance = draw(INSTANCES[event])
    new = draw(json_values)
    paths = [site.path for site in sites(SCHEMAS[event], instance) if site.path]
    at_path = draw(st.booleans())
    if paths and at_path:
        return Document(_at(instance, draw(st.sampled_from(paths)), new))
    key = draw(st.sampled_from([*ENVELOPE_KEYS, "from", "zz_extra"]))
    return Document({**instance, key: new})


@st.composite
def nameless_objects(draw: st.DrawFn) -> Document:
    """Objects without an ``event_name``, or with one that is not a string."""
    keys = st.sampled_from(ENVELOPE_KEYS[1:]) | st.text(max_size=8)
    value = draw(st.dictionaries(keys.filter(lambda k: k != "event_name"), json_values, max_size=3))
    if draw(st.booleans()):
        value["event_name"] = draw(json_values.filter(lambda v: not isinstance(v, str)))
    return Document(value)


KNOWN = frozenset(EVENTS)
event_names = st.one_of(
    st.text(max_size=70),
    st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True),
    st.sampled_from(
        [e.upper() for e in EVENTS]
        + [f" {e}" for e in EVENTS]
        + [f"{e}\x00" for e in EVENTS]
        + ["", "Msg", "msg ", "\uff4d\uff53\uff47", "__proto__", "constructor"]
    ),
).filter(lambda name: name not in KNOWN)


@st.composite
def unknown_events(draw: st.DrawFn) -> Document:
    """Messages of events the schema does not have."""
    value: dict[str, Any] = {"event_name": draw(event_names)}
    if draw(st.booleans()):
        value["payload"] = draw(json_values)
    value = _with(value, "to", draw(routes))
    value = _with(value, "id", draw(st.sampled_from([ABSENT, "q1", "", "i" * 129])))
    return Document(value, draw(st.booleans()))


#: Text that no JSON parser takes, each for its own reason.
GARBAGE = (
    "",
    " ",
    "{",
    "}",
    "[1,]",
    '{"a":1,}',
    "{'event_name': 'msg'}",
    '{"event_name":"msg","message":"x"} x',
    '{"event_name":"msg","message":"x"}{"event_name":"msg","message":"y"}',
    "\ufeff{}",
    "nul",
    "tru",
    "01",
    "1.",
    ".5",
    "+1",
    "0x10",
    '"unterminated',
    '"\x01"',
    '{"event_name":"msg","message":"a\nb"}',  # a raw control character inside a string
    "/* comment */ {}",
    "undefined",
)
#: JSON texts whose strings hold surrogate escapes: a lone one cannot be decoded to Unicode.
SURROGATES = (
    '"\\ud800"',
    '{"event_name":"msg","message":"\\udc80"}',
    '{"event_name":"msg","message":"\\ud83d\\ude00","to":"all"}',  # a valid pair
    '{"event_name":"\\ud800"}',
    '{"event_name":"msg","message":"x","id":"\\udfff"}',
)


@st.composite
def truncated_messages(draw: st.DrawFn) -> Text:
    """A valid message cut short."""
    event = draw(st.sampled_from(EVENTS))
    text = json.dumps(draw(INSTANCES[event]))
    return Text(text[: draw(st.integers(0, len(text) - 1))])


non_json_text = st.one_of(
    st.text(max_size=64).map(Text),
    st.sampled_from(GARBAGE + SURROGATES).map(Text),
    truncated_messages(),
)
non_object_json = st.one_of(
    json_values.filter(lambda v: not isinstance(v, dict)).map(Document),
    st.sampled_from(["NaN", "-Infinity", "1e400", " [] ", "\t\n0\r", '"{}"', "-0"]).map(Text),
)

#: Byte strings that are not UTF-8: a lone continuation byte, a truncated sequence, an
#: overlong encoding, an encoded surrogate, a code point above U+10FFFF, bytes never used.
INVALID_UTF8 = (
    b"\x80",
    b"\xc3",
    b"\xc3\x28",
    b"\xe2\x82",
    b"\xc0\xaf",
    b"\xe0\x80\xaf",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
    b"\xfe\xff",
    b'{"event_name":"msg","message":"\xff"}',
)


@st.composite
def binary_frames(draw: st.DrawFn) -> Binary:
    """Binary frames: random bytes, invalid UTF-8, or a valid message as bytes."""
    choice = draw(st.integers(0, 2))
    if choice == 0:
        return Binary(draw(st.binary(max_size=64)))
    if choice == 1:
        return Binary(draw(st.sampled_from(INVALID_UTF8)))
    event = draw(st.sampled_from(EVENTS))
    return Binary(json.dumps(draw(INSTANCES[event])).encode())


huge_frames = st.sampled_from(
    [Huge(shape, size) for shape, sizes in HUGE_SHAPES.items() for size in sizes]
)
depths = st.one_of(
    st.integers(10, 64),
    st.sampled_from([10, 31, 32, 33, 64, 199, 200, 201, 1000, 5000]),
    st.integers(10, 5000),
)
deep_frames = st.builds(Deep, st.sampled_from(DEEP_SHAPES), depths)


def _itself(strategy: st.SearchStrategy[Spec]) -> st.SearchStrategy[Spec]:
    return strategy


#: Deep frames, or now and then a huge one (the costliest to send and to judge).
_DEEP_OR_HUGE: list[st.SearchStrategy[Spec]] = [deep_frames, deep_frames, deep_frames, huge_frames]
#: One frame of each kind per batch.
KINDS: tuple[st.SearchStrategy[Spec], ...] = (
    binary_frames(),
    non_json_text,
    non_object_json,
    nameless_objects(),
    unknown_events(),
    valid_messages(),
    valid_messages(tuple(SERVER_TO_CLIENT)),  # wrong direction, valid otherwise
    spoofed_messages(),
    broken_messages(),
    broken_messages(),
    retyped_messages(),
    retyped_messages(),
    deep_frames,
    st.sampled_from(_DEEP_OR_HUGE).flatmap(_itself),
)


def hostile_batches() -> st.SearchStrategy[list[Spec]]:
    """One frame of each kind of :data:`KINDS`, shuffled."""
    return st.tuples(*KINDS).flatmap(st.permutations)


# --------------------------------------------------------------------------- the server


@dataclass(frozen=True)
class ServerProcess:
    """A ``datadivr serve`` process listening on a loopback port."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        return self.process.poll() is None

    def memory(self) -> tuple[int, int]:
        """Resident memory now and at its peak (``VmRSS``, ``VmHWM``), in bytes."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        found = dict(re.findall(r"^(VmRSS|VmHWM):\s+(\d+) kB$", status, re.MULTILINE))
        return int(found["VmRSS"]) * 1024, int(found["VmHWM"]) * 1024

    def reset_peak(self) -> None:
        """Restart ``VmHWM`` from the current resident memory (Linux: ``clear_refs`` 5)."""
        Path(f"/proc/{self.process.pid}/clear_refs").write_text("5")


@contextlib.contextmanager
def serve_process(
    directory: Path, *options: str, timeout: float = 30, open_files: int | None = None
) -> Iterator[ServerProcess]:
    """Run ``datadivr serve`` on a free loopback port with its default limits (``DATADIVR_…``
    variables are dropped from its environment) until the block ends, then stop it with
    SIGTERM. Its log, JSON lines, goes to ``directory/server.log``.

    Args:
        open_files: The process's limit of open files (soft and hard ``RLIMIT_NOFILE``).
    """
    log = directory / "server.log"
    env = {name: value for name, value in CLI_ENV.items() if not name.startswith("DATADIVR_")}
    command = [*DATADIVR, "serve", "--host", "127.0.0.1", "--port", "0", "--log-format", "json"]

    def limit_open_files() -> None:
        if open_files is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, open_files))

    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, *options], stdout=out, stderr=out, env=env, preexec_fn=limit_open_files
        )
    try:
        deadline = time.monotonic() + timeout
        port = None
        while port is None:
            found = re.search(rb"ws://127\.0\.0\.1:(\d+)/ws", log.read_bytes())
            if found:
                port = int(found[1])
                break
            assert process.poll() is None, f"the server exited: {log.read_text()[-2000:]}"
            assert time.monotonic() < deadline, f"the server did not start: {log.read_text()}"
            time.sleep(0.05)  # a subprocess's log file cannot be awaited
        server = ServerProcess(process, port, log)
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{server.http}/health", timeout=2).status_code == 200:
                    break
            assert process.poll() is None, f"the server exited: {log.read_text()[-2000:]}"
            assert time.monotonic() < deadline, f"/health never answered: {log.read_text()}"
            time.sleep(0.05)
        yield server
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


# --------------------------------------------------------------------------- raw sockets


class RawClient:
    """A WebSocket connection over a bare non-blocking TCP socket, read only when asked to:
    nothing drains it in the background, so a client that stops reading really stops."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.client_id = ""
        self._buffer = bytearray()

    async def _read(self, size: int) -> bytes:
        loop = asyncio.get_running_loop()
        while len(self._buffer) < size:
            chunk = await loop.sock_recv(self.sock, 65536)
            if not chunk:
                raise EOFError(f"the connection ended ({len(self._buffer)} of {size} bytes)")
            self._buffer += chunk
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    async def _read_until(self, marker: bytes) -> bytes:
        loop = asyncio.get_running_loop()
        while marker not in self._buffer:
            chunk = await loop.sock_recv(self.sock, 65536)
            if not chunk:
                raise EOFError("the connection ended")
            self._buffer += chunk
        end = self._buffer.index(marker) + len(marker)
        return await self._read(end)

    async def read_frame(self) -> tuple[int, bytes]:
        """The next frame from the server (unmasked): its opcode and payload."""
        head = await self._read(2)
        length = head[1] & 0x7F
        if length == 126:
            length = struct.unpack("!H", await self._read(2))[0]
        elif length == 127:
            length = struct.unpack("!Q", await self._read(8))[0]
        return head[0] & 0x0F, await self._read(length)

    def abort(self, *, reset: bool) -> None:
        """Drop the connection without a close handshake: a TCP RST (``reset``) or a FIN.
        Idempotent."""
        if self.sock.fileno() == -1:
            return
        if reset:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()


async def raw_connect(url: str, *, receive_buffer: int | None = None) -> RawClient:
    """Complete a WebSocket handshake with ``url`` over a bare socket and read the welcome.

    Args:
        url: ``ws://host:port/path``.
        receive_buffer: ``SO_RCVBUF`` for the socket, set before it connects.
    """
    found = re.fullmatch(r"ws://([^:/]+):(\d+)(/.*)", url)
    assert found, url
    host, port, path = found[1], int(found[2]), found[3]
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        if receive_buffer is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.setblocking(False)
        await loop.sock_connect(sock, (host, port))
        key = base64.b64encode(secrets.token_bytes(16)).decode()
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        )
        await loop.sock_sendall(sock, request.encode())
        client = RawClient(sock)
        head = await client._read_until(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head
        opcode, payload = await client.read_frame()
    except BaseException:
        sock.close()
        raise
    welcome = json.loads(payload)
    assert (opcode, welcome["event_name"]) == (1, "welcome"), welcome
    client.client_id = welcome["payload"]["client_id"]
    return client
