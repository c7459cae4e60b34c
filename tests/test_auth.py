"""Access checks without sockets: tokens, origins, addresses and log redaction."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest
from starlette.websockets import WebSocket

from datadivr import Identity, create_app, token_authenticator
from datadivr._logging import (
    LIBRARY_LOGGERS,
    LogFormat,
    RedactingFilter,
    configure_logging,
    get_logger,
    redact_tokens,
)
from datadivr.server._auth import origin_allowed
from datadivr.server._server import _address


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
        (websocket(query=b"%74oken=tok-1"), True),  # names are percent-decoded
        (websocket(query=b"x_token=1&%74oken=tok-1"), True),
        (websocket(query=b"token=tok%2D1"), True),
        (websocket(query=b"x_token=tok-1"), False),  # exact names
        (websocket(query=b"TOKEN=tok-1"), False),
        (websocket(query=b"a=1;token=tok-1"), False),  # only & separates parameters
        (websocket(query=b"token%3Dtok-1"), False),
        (websocket(query=b"token=tok-1#frag"), False),
        (websocket(query=b"token=tok-1&token=tok-1"), False),  # repeated: ambiguous
        (websocket(query=b"token=wrong&token=tok-1"), False),  # nor many tries at once
        (websocket(query=b"token="), False),
        (websocket(query=b"token=tok-1%C3%A9"), False),
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


#: A token in every spelling and place a log line may show it, and the line redacted.
REDACTIONS = [
    # uvicorn's handshake lines and the websockets library's request line dumps.
    (
        '127.0.0.1:5 - "WebSocket /ws?x_token=1&%74oken=SECRET" 403',
        '127.0.0.1:5 - "WebSocket /ws?x_token=***&token=***" 403',
    ),
    ('"WebSocket /ws?token=SECRET" [accepted]', '"WebSocket /ws?token=***" [accepted]'),
    ("< GET /ws?TOKEN=SECRET HTTP/1.1", "< GET /ws?TOKEN=*** HTTP/1.1"),
    ("/ws?a=1;token=SECRET", "/ws?a=***;token=***"),
    ("/ws?token=other&token=SECRET&b=2", "/ws?token=***&token=***&b=***"),
    ("/ws?token=%53%45%43%52%45%54", "/ws?token=***"),
    ("/ws?token=SEC+RET", "/ws?token=***"),
    ("/ws?token%3DSECRET", "/ws?***"),
    ("/ws?token%3DSECRET=1", "/ws?***=***"),
    ("/ws?SECRET", "/ws?***"),
    ("/ws?token=SECRET#frag", "/ws?token=***"),
    ("/ws#token=SECRET", "/ws#token=***"),
    ("/ws%3Ftoken=SECRET", "/ws%3Ftoken=***"),
    ("/ws%3ftoken%3DSECRET", "/ws%3f***"),
    ("/ws?t%C3%B6ken=SECRET", "/ws?***=***"),
    ("/wsé?tökén=SECRET&ü=SECRET", "/wsé?***=***&***=***"),
    ('/ws?a="SECRET"&token=\\SECRET"', '/ws?a=***&token=***"'),
    ("?token=SECRET", "?token=***"),
    (
        "invalid HTTP request line: GET /ws?token=SECRET",
        "invalid HTTP request line: GET /ws?token=***",
    ),
    # Header dumps at debug level, and headers in a repr.
    ("< Authorization: Bearer SECRET", "< Authorization: ***"),
    ("< authorization: bearer SECRET", "< authorization: ***"),
    ('< AUTHORIZATION: Bearer "SECRET"', "< AUTHORIZATION: ***"),
    ("< Proxy-Authorization: Basic SECRET", "< Proxy-Authorization: ***"),
    ("< Cookie: session=SECRET; theme=dark", "< Cookie: ***"),
    (
        "< Sec-WebSocket-Protocol: datadivr, datadivr.token.SECRET",
        "< Sec-WebSocket-Protocol: datadivr, datadivr.token.***",
    ),
    (
        "< sec-websocket-protocol: DATADIVR.TOKEN.SECRET",
        "< sec-websocket-protocol: DATADIVR.TOKEN.***",
    ),
    ("headers=[('authorization', 'Bearer SECRET')]", "headers=[('authorization', '***')]"),
    (
        "[(b'authorization', b'Bearer SECRET'), (b'cookie', b'a=SECRET')]",
        "[(b'authorization', b'***'), (b'cookie', b'***')]",
    ),
    ('{"Authorization": "Bearer \\"SECRET\\""}', '{"Authorization": "***"}'),
    # Text that holds no request target is left alone.
    ("What? No.", "What? No."),
    ("client connected", "client connected"),
]


@pytest.mark.parametrize(("line", "redacted"), REDACTIONS)
def test_redaction(line: str, redacted: str) -> None:
    assert redact_tokens(line) == redacted
    assert redact_tokens(redacted) == redacted


class _Request:
    """An object whose repr shows a request target (as a renderer would print it)."""

    def __repr__(self) -> str:
        return "<Request GET /ws?token=SECRET2>"


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
        log.debug("< %s: %s", "Authorization", "Bearer SECRET2")
        log.debug("< %s: %s", "Cookie", "s=SECRET2")
        log.debug("< GET %s HTTP/1.1", "/ws?%74oken=SECRET2")
        log.info('%s - "WebSocket %s" %d', "127.0.0.1:5", "/ws?a=1;TOKEN=SECRET2", 403)
        get_logger("tests.redaction").info(
            "request",
            path="/ws?token=SECRET2",
            authorization="Bearer SECRET2",
            headers={"Cookie": "SECRET2"},
            subprotocols=["datadivr", "datadivr.token.SECRET2"],
            request=_Request(),
        )
        try:
            headers = {"authorization": "Bearer SECRET2"}  # noqa: F841 - a local, on purpose
            raise RuntimeError("hook failed for GET /ws?token=SECRET2")
        except RuntimeError:
            logging.getLogger("datadivr.server").exception("the authentication hook failed")
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    err = capsys.readouterr().err
    assert "hook failed" in err
    assert "token=***" in err
    assert "Authorization: ***" in err
    assert "SECRET2" not in err
    if fmt is LogFormat.JSON:
        assert all(json.loads(line) for line in err.splitlines())


def test_the_library_filter_redacts_records_whatever_formats_them() -> None:
    secret = "s3cr3t"
    records = [
        # uvicorn's access line: its formatter unpacks the arguments, which keep their places.
        ('%s - "%s %s HTTP/%s" %d', ("127.0.0.1:5", "GET", f"/ws?token={secret}", "1.1", 403)),
        # the websockets library's header dump: the credential shows once the parts are joined.
        ("< %s: %s", ("authorization", f"Bearer {secret}")),
        ("Started scope=%s", ({"query_string": f"token={secret}".encode()},)),
        (f"connect to /ws?token={secret}", None),
    ]
    filter_ = RedactingFilter()
    for msg, args in records:
        record = logging.LogRecord("uvicorn.error", logging.INFO, __file__, 1, msg, args, None)
        assert filter_.filter(record)
        text = logging.Formatter().format(record)
        assert secret not in text, text
        assert "***" in text, text
    access = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, *records[0], None)
    filter_.filter(access)
    assert isinstance(access.args, tuple)
    assert access.args[2] == "/ws?token=***"
    assert access.args[4] == 403


def test_create_app_puts_the_filter_on_the_library_loggers() -> None:
    create_app()
    create_app()
    for name in LIBRARY_LOGGERS:
        filters = logging.getLogger(name).filters
        assert sum(isinstance(f, RedactingFilter) for f in filters) == 1, name
