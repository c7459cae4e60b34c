"""Access checks without sockets: tokens, origins, addresses and log redaction."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from starlette.websockets import WebSocket

from datadivr import Identity, token_authenticator
from datadivr._auth import origin_allowed
from datadivr._logging import LogFormat, configure_logging, redact_tokens
from datadivr._server import _address


def websocket(
    headers: dict[str, str] | None = None,
    query: bytes = b"",
    subprotocols: list[str] | None = None,
    client: tuple[str, int] = ("127.0.0.1", 5000),
) -> WebSocket:
    scope: dict[str, Any] = {
        "type": "websocket",
        "path": "/ws",
        "headers": [(k.lower().encode(), v.encode("latin-1")) for k, v in (headers or {}).items()],
        "query_string": query,
        "subprotocols": subprotocols or [],
        "client": client,
    }

    async def receive() -> Any:
        raise AssertionError

    async def send(message: Any) -> None:
        raise AssertionError

    return WebSocket(scope, receive, send)


@pytest.mark.parametrize(
    ("ws", "admitted"),
    [
        (websocket(), False),
        (websocket({"Authorization": "Bearer tok-1"}), True),
        (websocket({"Authorization": "bearer  tok-1 "}), True),
        (websocket({"Authorization": "Basic tok-1"}), False),
        (websocket({"Authorization": "Bearer tok-2"}), False),
        (websocket(query=b"token=tok-1"), True),
        (websocket(query=b"a=1&token=tok-1"), True),
        (websocket(query=b"%74oken=tok-1"), False),  # would slip past log redaction
        (websocket(subprotocols=["datadivr", "datadivr.token.tok-1"]), True),
        (websocket(subprotocols=["datadivr.token.tok-"]), False),
        (websocket({"Authorization": "Bearer tok-1é"}), False),
    ],
)
def test_shared_token(ws: WebSocket, admitted: bool) -> None:
    identity = asyncio.run(token_authenticator("tok-1")(ws))
    assert (identity == Identity("token")) is admitted


@pytest.mark.parametrize(
    "ws",
    [
        websocket({"Authorization": "Bearer a/b=c:d@e"}),
        websocket(query=b"token=a%2Fb%3Dc%3Ad%40e"),
        websocket(subprotocols=["datadivr", "datadivr.token.a/b=c:d@e"]),
    ],
)
def test_a_token_a_browser_cannot_offer_as_a_subprotocol_is_still_accepted(
    ws: WebSocket,
) -> None:
    identity = asyncio.run(token_authenticator("a/b=c:d@e")(ws))
    assert identity == Identity("token")


@pytest.mark.parametrize("token", ["", "with space", "comma,", "é-token", 'quote"', "tab\t"])
def test_unusable_tokens_are_refused_at_once(token: str) -> None:
    with pytest.raises(ValueError, match="token"):
        token_authenticator(token)


def test_origins() -> None:
    allowed = ["https://app.example.com", "http://localhost:5173/"]
    assert origin_allowed(None, allowed)
    assert origin_allowed("https://APP.example.com", allowed)
    assert origin_allowed("http://localhost:5173", allowed)
    assert not origin_allowed("http://localhost:5174", allowed)
    assert not origin_allowed("null", allowed)
    assert origin_allowed("https://evil.example", None)
    assert origin_allowed("https://evil.example", ["*"])


@pytest.mark.parametrize(
    ("host", "counted_as"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("::ffff:10.1.2.3", "10.1.2.3"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"),
        ("::1", "::/64"),
    ],
)
def test_connection_limits_count_an_ipv6_host_by_its_64(host: str, counted_as: str) -> None:
    assert _address(websocket(client=(host, 1))) == counted_as


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ('"WebSocket /ws?token=SECRET1" [accepted]', "SECRET1"),
        ("/ws?a=1&token=SECRET1&b=2", "SECRET1"),
        ("< authorization: Bearer SECRET1", "SECRET1"),
        ("< Sec-WebSocket-Protocol: datadivr, datadivr.token.SECRET1", "SECRET1"),
        ("headers=[('authorization', 'Bearer SECRET1')]", "SECRET1"),
        ("[(b'authorization', b'Bearer SECRET1')]", "SECRET1"),
        ('{"Authorization": "Bearer SECRET1"}', "SECRET1"),
    ],
)
def test_redaction(line: str, secret: str) -> None:
    assert secret not in redact_tokens(line)
    assert "***" in redact_tokens(line)


@pytest.mark.parametrize("fmt", list(LogFormat))
def test_logs_never_show_tokens_nor_traceback_locals(
    fmt: LogFormat, capsys: pytest.CaptureFixture[str]
) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging("debug", fmt)
        # A logger of the test's own: uvicorn's may have been given a level by other tests.
        log = logging.getLogger("tests.redaction")
        log.setLevel(logging.DEBUG)
        log.debug("< authorization: Bearer SECRET2")
        log.info('%s - "WebSocket %s" [accepted]', "127.0.0.1:5", "/ws?token=SECRET2")
        try:
            headers = {"authorization": "Bearer SECRET2"}  # noqa: F841 - a local, on purpose
            raise RuntimeError("hook failed")
        except RuntimeError:
            logging.getLogger("datadivr.server").exception("the authentication hook failed")
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    err = capsys.readouterr().err
    assert "hook failed" in err
    assert "token=***" in err
    assert "SECRET2" not in err
