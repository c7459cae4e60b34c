"""The explorer's files and headers, over ASGI (the page itself runs in
``tests/integration/test_explorer_page.py``, in Chromium)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from importlib import resources

import httpx
import pytest

from datadivr import create_app
from datadivr._explorer import ASSETS, content_security_policy


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8765") as client:
        yield client


async def test_the_page_and_its_files_are_served_with_a_strict_policy(
    http: httpx.AsyncClient,
) -> None:
    for path, name in [
        ("/", "index.html"),
        ("/explorer/explorer.js", "explorer.js"),
        ("/explorer/explorer.css", "explorer.css"),
    ]:
        response = await http.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"] == ASSETS[name]
        assert response.content == (
            (resources.files("datadivr") / "static" / "explorer" / name).read_bytes()
        )
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["content-security-policy"] == content_security_policy(
            "127.0.0.1:8765"
        )


async def test_only_the_page_s_own_files_are_served(http: httpx.AsyncClient) -> None:
    for path in ("/explorer/index.html", "/explorer/nope.js", "/explorer/../_http.py"):
        assert (await http.get(path)).status_code == 404, path


async def test_the_page_refers_to_nothing_elsewhere_and_runs_no_inline_code() -> None:
    folder = resources.files("datadivr") / "static" / "explorer"
    html = folder.joinpath("index.html").read_text(encoding="utf-8")
    assert re.findall(r'<script[^>]*src="([^"]+)"', html) == ["explorer/explorer.js"]
    assert re.findall(r'<link rel="stylesheet" href="([^"]+)"', html) == ["explorer/explorer.css"]
    assert "<style" not in html
    assert " style=" not in html
    assert not re.search(r"\son[a-z]+=", html), "inline event handlers"
    assert not re.search(r"https?://", html)
    script = folder.joinpath("explorer.js").read_text(encoding="utf-8")
    assert "innerHTML" not in script, "messages from other clients must be shown as text"
    assert not re.search(r"https?://", script)


def test_the_policy() -> None:
    policy = dict(
        directive.split(" ", 1) for directive in content_security_policy("example.com").split("; ")
    )
    assert policy["default-src"] == "'self'"
    assert policy["connect-src"] == "'self' ws://example.com wss://example.com"
    assert policy["frame-ancestors"] == "'none'"
    assert "script-src" not in policy  # default-src 'self': no inline code, no eval
    assert "unsafe" not in content_security_policy("example.com")
    for host in ("[::1]:8765", "127.0.0.1:8765", "localhost"):
        assert f"ws://{host} wss://{host}" in content_security_policy(host)
    # A Host header that would add directives, or nothing usable: only 'self'.
    for host in (None, "evil.com; script-src *", "a b", ""):
        assert "connect-src 'self';" in content_security_policy(host)


async def test_without_the_explorer_there_is_no_page() -> None:
    transport = httpx.ASGITransport(app=create_app(explorer=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        for path in ("/", "/explorer/explorer.js"):
            assert (await client.get(path)).status_code == 404
        assert (await client.get("/events")).status_code == 200
