"""Who may connect, over real sockets: tokens, origins, identities and connection limits."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
import secrets
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager, AsyncExitStack

import pytest
import websockets
from fastapi import FastAPI, WebSocket

from datadivr import HandlerContext, HandlerType, Identity, Limits, Registry, create_app
from datadivr.demo import Client, MsgMessage, websocket_handler
from tests.commands import CLI_ENV, DATADIVR, run_datadivr, serving
from tests.conftest import LiveServer

TIMEOUT = 5.0
TOKEN = "s3cr3t-T0ken_with.chars~"

ServeApp = Callable[[FastAPI], AbstractContextManager[LiveServer]]


async def status_of(url: str, **options: object) -> int:
    """The HTTP status a refused handshake got (101 when it was accepted)."""
    try:
        ws = await websockets.connect(url, open_timeout=TIMEOUT, **options)  # type: ignore[arg-type]
    except websockets.InvalidStatus as exc:
        return exc.response.status_code
    async with ws:
        welcome = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        assert welcome["event_name"] == "welcome"
    return 101


async def eventually_admitted(url: str) -> bool:
    """Whether a connection is admitted within a few seconds (polled: the server learns of a
    closed connection a moment after the client)."""
    for _ in range(100):
        if await status_of(url) == 101:
            return True
        await asyncio.sleep(0.05)
    return False


async def test_shared_token_in_each_supported_place(serve_app: ServeApp) -> None:
    with serve_app(create_app(token=TOKEN)) as server:
        assert await status_of(server.url) == 403
        assert await status_of(server.url, additional_headers={"Authorization": "Bearer no"}) == 403
        assert await status_of(server.url + "?token=" + TOKEN[:-1]) == 403
        assert await status_of(server.url + "?token=") == 403
        assert await status_of(server.url, additional_headers={"Authorization": TOKEN}) == 403
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        assert await status_of(server.url, additional_headers=bearer) == 101
        assert await status_of(server.url + "?token=" + TOKEN) == 101
        offered = ["datadivr", f"datadivr.token.{TOKEN}"]
        assert await status_of(server.url, subprotocols=offered) == 101
        assert await status_of(server.url, subprotocols=["datadivr", "datadivr.token.x"]) == 403
        # the typed client sends headers
        async with Client(server.url, headers=bearer) as client:
            assert client.client_id is not None


async def test_the_server_selects_the_datadivr_subprotocol(serve_app: ServeApp) -> None:
    with serve_app(create_app(token=TOKEN)) as server:
        offered = [f"datadivr.token.{TOKEN}", "datadivr"]
        async with websockets.connect(server.url, subprotocols=offered) as ws:  # type: ignore[list-item]
            assert ws.subprotocol == "datadivr"


async def test_refusals_say_why(serve_app: ServeApp) -> None:
    with serve_app(create_app(token=TOKEN)) as server:
        with pytest.raises(websockets.InvalidStatus) as info:
            await websockets.connect(server.url, open_timeout=TIMEOUT)
        assert info.value.response.status_code == 403
        assert info.value.response.body == b"not authenticated\n"


async def test_origin_allowlist(serve_app: ServeApp) -> None:
    app = create_app(allowed_origins=["https://app.example.com", "http://localhost:5173/"])
    with serve_app(app) as server:
        assert await status_of(server.url, origin="https://app.example.com") == 101
        assert await status_of(server.url, origin="http://localhost:5173") == 101
        assert await status_of(server.url, origin="https://evil.example.com") == 403
        assert await status_of(server.url, origin="http://app.example.com") == 403
        assert await status_of(server.url, origin="null") == 403
        # no Origin header: not a browser, admitted (and left to authentication)
        assert await status_of(server.url) == 101


async def test_handlers_see_the_identity(serve_app: ServeApp, registry: Registry) -> None:
    async def authenticate(websocket: WebSocket) -> Identity | None:
        user = websocket.headers.get("x-user")
        return Identity(user, {"role": "tester"}) if user else None

    @websocket_handler("msg", HandlerType.SERVER, registry=registry)
    async def whoami(message: MsgMessage, ctx: HandlerContext) -> MsgMessage:
        assert isinstance(ctx.identity, Identity)
        return MsgMessage(message=f"{ctx.identity.subject} ({ctx.identity.claims['role']})")

    with serve_app(create_app(registry=registry, authenticate=authenticate)) as server:
        assert await status_of(server.url) == 403
        async with Client(server.url, headers={"X-User": "ada"}) as client:
            await client.msg("who am I?", to="server")
            answer = await client.receive(timeout=TIMEOUT)
            assert isinstance(answer, MsgMessage)
            assert answer.message == "ada (tester)"


async def test_a_failing_hook_refuses_and_the_server_carries_on(serve_app: ServeApp) -> None:
    calls = 0

    async def authenticate(websocket: WebSocket) -> Identity | None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("the user database is down")
        return Identity("ok")

    with serve_app(create_app(authenticate=authenticate)) as server:
        assert await status_of(server.url) == 403
        assert await status_of(server.url) == 101


def test_token_and_hook_are_exclusive() -> None:
    async def authenticate(websocket: WebSocket) -> Identity | None:
        return None

    with pytest.raises(ValueError, match="either"):
        create_app(token="x", authenticate=authenticate)
    with pytest.raises(ValueError, match="empty"):
        create_app(token="")


async def test_connection_limits_refuse_with_503(serve_app: ServeApp) -> None:
    app = create_app(limits=Limits(max_connections=3, max_connections_per_address=2))
    with serve_app(app) as server:
        async with AsyncExitStack() as stack:
            first = await stack.enter_async_context(Client(server.url))
            await stack.enter_async_context(Client(server.url))
            with pytest.raises(websockets.InvalidStatus) as info:
                await websockets.connect(server.url, open_timeout=TIMEOUT)
            assert info.value.response.status_code == 503
            assert b"too many connections from this address" in info.value.response.body
            # the refused one took nothing: the open ones still talk
            await first.msg("still here", to="all")
            assert isinstance(await first.receive(timeout=TIMEOUT), MsgMessage)
        # closed connections free their places, once the server has seen them close
        assert await eventually_admitted(server.url)
    app = create_app(limits=Limits(max_connections=1))
    with serve_app(app) as server:
        async with Client(server.url):
            with pytest.raises(websockets.InvalidStatus) as info:
                await websockets.connect(server.url, open_timeout=TIMEOUT)
            assert info.value.response.status_code == 503
            assert b"the server is full" in info.value.response.body


@pytest.mark.timeout(60)
async def test_the_command_line_token_is_enforced_and_never_logged() -> None:
    env = {**CLI_ENV, "DATADIVR_TOKEN": TOKEN}
    origins = "https://app.example.com, https://other.example.com"
    args = ("--log-level", "debug", "--allowed-origins", origins)
    async with serving(*args, env=env) as server:
        url = server.url
        assert server.listening["authentication"] == "token"
        assert server.listening["allowed_origins"] == [
            "https://app.example.com",
            "https://other.example.com",
        ]
        assert await status_of(url) == 403
        assert await status_of(url + "?token=" + TOKEN) == 101
        assert await status_of(url, subprotocols=["datadivr", f"datadivr.token.{TOKEN}"]) == 101
        assert await status_of(url + "?token=wrong" + TOKEN) == 403
        assert await status_of(url + "?token=" + TOKEN, origin="https://evil.example") == 403
        assert await status_of(url + "?token=" + TOKEN, origin="https://other.example.com") == 101
        server.proc.terminate()
        assert server.proc.stderr is not None
        rest = await asyncio.wait_for(server.proc.stderr.read(), TIMEOUT * 2)
        assert await asyncio.wait_for(server.proc.wait(), TIMEOUT * 2) == 0
    text = "".join(server.lines) + rest.decode()
    assert "WebSocket /ws?token=***" in text  # uvicorn logs each handshake, redacted
    assert TOKEN not in text


def test_the_command_line_client_presents_its_token(serve_app: ServeApp) -> None:
    with serve_app(create_app(token=TOKEN)) as server:
        line = 'sum_event {"numbers": [4, 5]}\n'
        refused = run_datadivr("client", "--url", server.url, stdin=line)
        assert refused.returncode == 1
        assert "403" in refused.stdout + refused.stderr
        env = {**CLI_ENV, "DATADIVR_TOKEN": TOKEN}
        admitted = run_datadivr("client", "--url", server.url, "--linger", "1", stdin=line, env=env)
        assert admitted.returncode == 0, admitted.stdout + admitted.stderr
        assert "sum_handler_result" in admitted.stdout
        assert TOKEN not in admitted.stdout + admitted.stderr


@pytest.mark.parametrize(
    ("args", "env", "said"),
    [
        (("--shutdown-timeout", "inf"), {}, "invalid limits"),
        (("--rate", "inf"), {}, "invalid limits"),
        ((), {"DATADIVR_PING_TIMEOUT": "inf"}, "invalid limits"),
        (("--token", "has space"), {}, "invalid access settings"),
        ((), {"DATADIVR_TOKEN": ""}, "invalid access settings"),
    ],
)
def test_serve_refuses_unusable_settings(
    args: tuple[str, ...], env: dict[str, str], said: str
) -> None:
    result = run_datadivr("serve", "--port", "0", *args, env={**CLI_ENV, **env}, timeout=30)
    assert result.returncode == 2, result.stderr
    assert said in result.stderr
    assert "Traceback" not in result.stderr


# -- the log of a real server -----------------------------------------------------------------

#: The token with every byte percent-encoded.
ENCODED_TOKEN = "".join(f"%{byte:02X}" for byte in TOKEN.encode())
#: A handshake's request target and headers, and the status it gets, for every spelling and
#: place of the token a client may try.
HANDSHAKES: list[tuple[str, dict[str, str], int]] = [
    (f"/ws?token={TOKEN}", {}, 101),
    (f"/ws?x_token=1&%74oken={TOKEN}", {}, 101),  # names are percent-decoded
    (f"/ws?token={ENCODED_TOKEN}", {}, 101),
    (f"/ws?TOKEN={TOKEN}", {}, 403),
    (f"/ws?token={TOKEN.upper()}", {}, 403),
    (f"/ws?a=1;token={TOKEN}", {}, 403),
    (f"/ws?token={TOKEN}&token={TOKEN}", {}, 403),
    (f"/ws?token=wrong&token={TOKEN}", {}, 403),
    (f"/ws?token%3D{TOKEN}", {}, 403),
    (f"/ws?token%3d{TOKEN}=1", {}, 403),
    (f"/ws?token={TOKEN}+", {}, 403),
    (f"/ws?token={TOKEN}#fragment", {}, 403),
    (f"/ws#token={TOKEN}", {}, 403),
    (f"/ws%3Ftoken={TOKEN}", {}, 403),
    (f"/ws?t%C3%B6ken={TOKEN}&%C3%BC={TOKEN}", {}, 403),
    (f"/nowhere?token={TOKEN}", {}, 403),
    ("/ws", {"Authorization": f"Bearer {TOKEN}"}, 101),
    ("/ws", {"authorization": f"bearer {TOKEN}"}, 101),
    ("/ws", {"AUTHORIZATION": f'Bearer "{TOKEN}"'}, 403),
    ("/ws", {"Proxy-Authorization": f"Bearer {TOKEN}"}, 403),
    ("/ws", {"Cookie": f"token={TOKEN}; theme=dark"}, 403),
    ("/ws", {"Sec-WebSocket-Protocol": f"datadivr, datadivr.token.{TOKEN}"}, 101),
    ("/ws", {"Sec-WebSocket-Protocol": f"DATADIVR.TOKEN.{TOKEN}"}, 403),
]


async def handshake(port: int, target: str, headers: dict[str, str]) -> int:
    """The HTTP status of a WebSocket handshake sent as raw bytes (any request target)."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), TIMEOUT)
    try:
        key = base64.b64encode(secrets.token_bytes(16)).decode()
        lines = [
            f"GET {target} HTTP/1.1",
            f"Host: 127.0.0.1:{port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
            *(f"{name}: {value}" for name, value in headers.items()),
        ]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        status_line = await asyncio.wait_for(reader.readline(), TIMEOUT)
        return int(status_line.split()[1])
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


@contextlib.asynccontextmanager
async def logging_server(*args: str) -> AsyncIterator[tuple[int, list[str]]]:
    """``datadivr serve ARGS`` with the token, on a free port: that port, and every line of its
    standard error, complete once the block ends (it is stopped with SIGTERM)."""
    command = [*DATADIVR, "serve", "--port", "0", *args]
    async with logging_process(command, r"(?=.*listening).*ws://127\.0\.0\.1:(\d+)/ws") as served:
        yield served


@contextlib.asynccontextmanager
async def logging_process(
    command: list[str], listening_line: str, *, status: int = 0
) -> AsyncIterator[tuple[int, list[str]]]:
    """A server process with the token in its environment: its port, read from the first line
    of its standard error that matches ``listening_line``, and every line of its standard error,
    complete once the block ends (it is stopped with SIGTERM, and must exit with ``status``)."""
    proc = await asyncio.create_subprocess_exec(
        *command,
        stdout=subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env={**CLI_ENV, "DATADIVR_TOKEN": TOKEN},
    )
    assert proc.stderr is not None
    lines: list[str] = []
    listening: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def read(stream: asyncio.StreamReader) -> None:
        # Read all along: a full pipe would stop the server at debug level.
        async for raw in stream:
            lines.append(raw.decode())
            found = re.search(listening_line, lines[-1])
            if found and not listening.done():
                listening.set_result(int(found[1]))

    reader = asyncio.create_task(read(proc.stderr))
    try:
        done, _ = await asyncio.wait([listening, reader], timeout=20, return_when="FIRST_COMPLETED")
        assert listening in done, "".join(lines)
        yield listening.result(), lines
        proc.terminate()
        assert await asyncio.wait_for(proc.wait(), 20) == status
        await asyncio.wait_for(reader, TIMEOUT)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        reader.cancel()


@pytest.mark.timeout(90)
@pytest.mark.parametrize("log_format", ["json", "console"])
async def test_no_token_in_the_debug_log_of_a_real_server(log_format: str) -> None:
    async with logging_server("--log-level", "debug", "--log-format", log_format) as (port, lines):
        statuses = [await handshake(port, target, headers) for target, headers, _ in HANDSHAKES]
    text = "".join(lines)
    # The log did show the handshakes: their request lines and headers, redacted.
    assert "< GET /ws?x_token=***&token=*** HTTP/1.1" in text
    assert "< authorization: ***" in text  # the websockets library writes names in lower case
    assert "datadivr.token.***" in text
    for secret in (TOKEN, TOKEN.upper(), ENCODED_TOKEN, ENCODED_TOKEN.lower()):
        assert secret not in text
    assert TOKEN.split("-")[0] not in text  # nor any piece of it
    assert statuses == [status for _, _, status in HANDSHAKES]
    if log_format == "json":
        records = [json.loads(line) for line in lines]
        assert not [record for record in records if record["level"] == "error"]
    else:
        assert "[error" not in text


@pytest.mark.timeout(90)
@pytest.mark.parametrize("ws", ["auto", "websockets", "websockets-sansio"])
async def test_no_token_in_uvicorn_s_own_log_of_an_app(ws: str) -> None:
    """An app run by plain ``uvicorn module:app``, with uvicorn's logging and any of its
    WebSocket protocols: the handshake and access lines it writes show no token either."""
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "tests.integration.token_app:app",
        "--port",
        "0",
        "--log-level",
        "trace",
        "--ws",
        ws,
    ]
    # uvicorn ends as killed by the signal it was stopped with.
    listening = r"Uvicorn running on http://127\.0\.0\.1:(\d+)"
    async with logging_process(command, listening, status=-signal.SIGTERM) as (port, lines):
        statuses = [await handshake(port, target, headers) for target, headers, _ in HANDSHAKES]
    text = "".join(lines)
    assert "/ws?x_token=***&token=***" in text, text  # the handshakes were logged, redacted
    for secret in (TOKEN, TOKEN.upper(), ENCODED_TOKEN, ENCODED_TOKEN.lower()):
        assert secret not in text
    assert TOKEN.split("-")[0] not in text
    assert statuses == [status for _, _, status in HANDSHAKES]


@pytest.mark.timeout(90)
async def test_refused_handshakes_are_logged_as_a_bounded_summary() -> None:
    origins = "https://app.example.com"
    args = ("--log-format", "json", "--allowed-origins", origins, "--max-connections", "1")
    async with logging_server(*args) as (port, lines):
        for n in range(120):
            assert await handshake(port, f"/ws?token=wrong{n}", {}) == 403
        for _ in range(40):
            origin = {"Origin": "https://evil.example"}
            assert await handshake(port, f"/ws?token={TOKEN}", origin) == 403
        async with Client(
            f"ws://127.0.0.1:{port}/ws", headers={"Authorization": f"Bearer {TOKEN}"}
        ):
            for _ in range(40):
                assert await handshake(port, f"/ws?token={TOKEN}", {}) == 503
    records = [json.loads(line) for line in lines]
    assert not [record for record in records if record["level"] == "error"]
    summaries = [record for record in records if record["event"] == "connections refused"]
    # The first one at once, the rest at the end of the interval or at shutdown.
    assert 2 <= len(summaries) <= 3
    assert all(record["level"] == "warning" for record in summaries)
    assert sum(record["refused"] for record in summaries) == 200
    reasons: Counter[str] = Counter()
    for record in summaries:
        reasons.update(record["reasons"])
    assert reasons == {
        "403 not authenticated": 120,
        "403 origin not allowed": 40,
        "503 the server is full": 40,
    }
    assert len(records) < 20
