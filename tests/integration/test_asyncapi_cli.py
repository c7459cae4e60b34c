"""``datadivr schema asyncapi`` as a user runs it, and ``GET /asyncapi.json`` of a live
server: the document with its server, read by the official AsyncAPI parser."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable
from contextlib import AbstractContextManager
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from datadivr import create_app
from datadivr.core._asyncapi import SECURITY_SCHEMES, asyncapi_for
from datadivr.demo import PROTOCOL
from datadivr_codegen.generator import generate
from tests.asyncapi_parser import above_info, parse
from tests.commands import CLI_ENV, run_datadivr
from tests.conftest import LiveServer

CASES = Path(__file__).parents[1] / "codegen" / "cases"
CHATROOM = Path(__file__).parents[2] / "examples" / "chatroom" / "schema"
DEFAULT_SERVER = "ws://127.0.0.1:8765/ws"
#: What the parser's model says of the token's security schemes, in the server's order.
TOKEN_SECURITY = [
    [{"type": "http", "name": None, "in": None, "scheme": "bearer"}],
    [{"type": "httpApiKey", "name": "token", "in": "query", "scheme": None}],
    [{"type": "httpApiKey", "name": "Sec-WebSocket-Protocol", "in": "header", "scheme": None}],
]


def packaged() -> str:
    return resources.files("datadivr.demo").joinpath("asyncapi.json").read_text("utf-8")


def served(text: str, url: str = DEFAULT_SERVER, *, token: bool = False) -> str:
    """What the command writes for a packaged document ``text``."""
    document = asyncapi_for(json.loads(text), url, token=token)
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def parsed_server(document: dict[str, Any] | str) -> dict[str, Any]:
    """The one server of the document as the official parser reads it; nothing above
    "information" said."""
    result = parse(document)
    assert above_info(result) == []
    servers: dict[str, Any] = result["model"]["servers"]
    assert list(servers) == ["datadivr"]
    return servers["datadivr"]  # type: ignore[no-any-return]


def test_prints_the_packaged_document_with_its_server() -> None:
    result = run_datadivr("schema", "asyncapi")
    assert result.returncode == 0, result.stderr
    assert result.stdout == served(packaged())
    document = json.loads(result.stdout)
    assert document["asyncapi"] == "3.0.0"
    assert document["info"]["version"] == PROTOCOL.fingerprint
    assert {k: v for k, v in document.items() if k != "servers"} == PROTOCOL.asyncapi
    assert list(document)[:3] == ["asyncapi", "info", "servers"]
    assert document["servers"]["datadivr"]["host"] == "127.0.0.1:8765"
    server = parsed_server(result.stdout)
    assert server["protocol"] == "ws"
    assert server["host"] == "127.0.0.1:8765"
    assert server["pathname"] is None  # /ws is the channel's address
    assert server["security"] == []
    # The envelope is one reusable schema, which every message refers to.
    schemas = document["components"]["schemas"]
    for message in document["components"]["messages"].values():
        name = message["payload"]["$ref"].rpartition("/")[2]
        assert schemas[name]["allOf"][0] == {"$ref": "#/components/schemas/Envelope"}


def test_server_and_token_security_options() -> None:
    result = run_datadivr(
        "schema", "asyncapi", "--server", "wss://chat.example.com/app/ws", "--token-security"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == served(packaged(), "wss://chat.example.com/app/ws", token=True)
    document = json.loads(result.stdout)
    assert document["components"]["securitySchemes"] == SECURITY_SCHEMES
    server = parsed_server(result.stdout)
    assert (server["host"], server["protocol"], server["pathname"]) == (
        "chat.example.com",
        "wss",
        "/app",
    )
    assert server["security"] == TOKEN_SECURITY


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://127.0.0.1:8765/ws", "must start with ws:// or wss://"),
        ("ws:///ws", "must name a host"),
        ("ws://127.0.0.1:8765/socket", "must end in /ws"),
        ("ws://127.0.0.1:8765/ws?token=x", "no query"),
        ("ws://user:pw@127.0.0.1/ws", "credentials"),
        ("ws://[::1/ws", "is not a URL"),
        ("ws://127.0.0.1:99999/ws", "is not a URL"),
        ("ws://127.0.0.1:port/ws", "is not a URL"),
    ],
)
def test_a_bad_server_url_is_a_usage_error(url: str, says: str) -> None:
    result = run_datadivr("schema", "asyncapi", "--server", url)
    assert result.returncode == 2
    assert says in result.stderr
    assert result.stdout == ""


def test_the_chatroom_document(tmp_path: Path) -> None:
    generate(CHATROOM, tmp_path / "chatroom_protocol")
    path = [str(tmp_path), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**CLI_ENV, "PYTHONPATH": os.pathsep.join(path)}
    result = run_datadivr(
        "schema", "asyncapi", "--protocol", "chatroom_protocol", "--token-security", env=env
    )
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "chatroom_protocol" / "asyncapi.json").read_text("utf-8")
    assert result.stdout == served(text, token=True)
    assert parsed_server(result.stdout)["security"] == TOKEN_SECURITY


def test_out_writes_the_file(tmp_path: Path) -> None:
    for option in ("--out", "-o"):
        out = tmp_path / f"asyncapi{option}.json"
        result = run_datadivr("schema", "asyncapi", option, str(out))
        assert result.returncode == 0, result.stderr
        assert result.stdout == ""
        assert result.stderr.strip() == f"wrote {out}"
        assert out.read_text(encoding="utf-8") == served(packaged())


def test_other_protocol_package(tmp_path: Path) -> None:
    generate(CASES / "reply" / "schema", tmp_path / "reply_protocol")
    path = [str(tmp_path), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**CLI_ENV, "PYTHONPATH": os.pathsep.join(path)}

    result = run_datadivr("schema", "asyncapi", "--protocol", "reply_protocol", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == served(
        (tmp_path / "reply_protocol" / "asyncapi.json").read_text("utf-8")
    )
    assert "receive_add" in json.loads(result.stdout)["operations"]

    # A package generated before asyncapi.json existed.
    (tmp_path / "reply_protocol" / "asyncapi.json").unlink()
    missing = run_datadivr("schema", "asyncapi", "--protocol", "reply_protocol", env=env)
    assert missing.returncode == 2
    assert "has no asyncapi.json" in missing.stderr
    assert missing.stdout == ""


def test_unknown_protocol_package() -> None:
    result = run_datadivr("schema", "asyncapi", "--protocol", "no_such_protocol_package")
    assert result.returncode == 2
    assert "cannot import protocol" in result.stderr


def test_a_live_server_declares_itself(
    serve_app: Callable[[FastAPI], AbstractContextManager[LiveServer]],
) -> None:
    """``GET /asyncapi.json``: the host the request named, ``wss`` behind https, and the
    token's security when the app has one."""
    with serve_app(create_app(token="s3cret-token")) as server:
        response = httpx.get(server.http + "/asyncapi.json", timeout=10)
        assert response.status_code == 200
        document = response.json()
        assert document == asyncapi_for(PROTOCOL.asyncapi, server.url, token=True)
        found = parsed_server(response.text)
        assert (found["host"], found["protocol"]) == (f"127.0.0.1:{server.port}", "ws")
        assert found["security"] == TOKEN_SECURITY

        # Reached by another name, through a TLS-terminating proxy on this host.
        response = httpx.get(
            server.http + "/asyncapi.json",
            headers={"Host": "chat.example.com", "X-Forwarded-Proto": "https"},
            timeout=10,
        )
        found = parsed_server(response.text)
        assert (found["host"], found["protocol"]) == ("chat.example.com", "wss")

    with serve_app(create_app()) as server:
        response = httpx.get(server.http + "/asyncapi.json", timeout=10)
        document = response.json()
        assert document == asyncapi_for(PROTOCOL.asyncapi, server.url)
        assert "securitySchemes" not in document["components"]
        assert parsed_server(response.text)["security"] == []


def _raw_get(port: int, path: str, host: str) -> tuple[int, bytes]:
    """A GET with the ``Host`` header as given, which HTTP clients check or rewrite."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


@pytest.mark.parametrize("host", ["[::1", "user@example.com", "example.com/x?y", "a b", ""])
def test_a_host_header_that_makes_no_url_names_the_listening_address(
    serve_app: Callable[[FastAPI], AbstractContextManager[LiveServer]], host: str
) -> None:
    """Starlette reads such a request's URL from the address the server listens on."""
    with serve_app(create_app()) as server:
        status, body = _raw_get(server.port, "/asyncapi.json", host)
        assert status == 200
        assert json.loads(body) == asyncapi_for(PROTOCOL.asyncapi, server.url)
