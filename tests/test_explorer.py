"""The explorer's files and headers, over ASGI (the page itself runs in
``tests/integration/test_explorer_page.py``, in Chromium)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from importlib import resources

import httpx
import pytest

from datadivr import create_app
from datadivr.server._explorer import ASSETS, content_security_policy


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
        ("/explorer/frames.js", "frames.js"),
        ("/explorer/markdown.js", "markdown.js"),
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


class _Page(HTMLParser):
    """Every element of a page with its attributes, and the text inside each script and style
    element, whatever the markup's spelling (upper case, single quotes, no quotes)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.inline: dict[str, str] = {}
        self._inside: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))
        if tag in ("script", "style"):
            self._inside = tag

    def handle_endtag(self, tag: str) -> None:
        if tag == self._inside:
            self._inside = None

    def handle_data(self, data: str) -> None:
        if self._inside is not None:
            self.inline[self._inside] = self.inline.get(self._inside, "") + data


def _page(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    page.close()
    return page


def _offences(html: str) -> list[str]:
    """What in ``html`` refers elsewhere or runs code of its own."""
    page = _page(html)
    found = [f"inline <{tag}>" for tag, text in page.inline.items() if text.strip()]
    for tag, attrs in page.elements:
        if tag == "script" and attrs.get("src") != "explorer/explorer.js":
            found.append(f"script {attrs}")
        if tag == "style":
            found.append("<style>")
        stylesheet = tag == "link" and attrs.get("rel") == "stylesheet"
        if stylesheet and attrs.get("href") != "explorer/explorer.css":
            found.append(f"stylesheet {attrs}")
        for name, value in attrs.items():
            if name.startswith("on") or name == "style":
                found.append(f"{tag} {name}=")
            if value and re.search(r"^\s*(https?:|//|javascript:)", value, re.IGNORECASE):
                found.append(f"{tag} {name}={value}")
    return found


@pytest.mark.parametrize(
    "injected",
    [
        "<script>alert(1)</script>",
        "<SCRIPT type='module'>alert(1)</SCRIPT>",
        "<script src=https://cdn.example.com/x.js></script>",
        '<img src="//cdn.example.com/x.png">',
        "<style>body { color: red }</style>",
        '<p style="color: red">x</p>',
        "<button onClick=alert(1)>x</button>",
        '<a href="javascript:alert(1)">x</a>',
        '<link rel="stylesheet" href="https://cdn.example.com/x.css">',
    ],
)
def test_the_page_check_sees_what_is_injected(injected: str) -> None:
    html = (resources.files("datadivr") / "static" / "explorer" / "index.html").read_text(
        encoding="utf-8"
    )
    assert _offences(html.replace("</body>", injected + "</body>")), injected


async def test_the_page_refers_to_nothing_elsewhere_and_runs_no_inline_code() -> None:
    folder = resources.files("datadivr") / "static" / "explorer"
    html = folder.joinpath("index.html").read_text(encoding="utf-8")
    assert _offences(html) == []
    page = _page(html)
    assert [a.get("src") for t, a in page.elements if t == "script"] == ["explorer/explorer.js"]
    assert [a.get("href") for t, a in page.elements if a.get("rel") == "stylesheet"] == [
        "explorer/explorer.css"
    ]
    assert not re.search(r"https?://", html)
    for name in ("explorer.js", "frames.js", "markdown.js"):
        script = folder.joinpath(name).read_text(encoding="utf-8")
        # Messages come from other clients, descriptions from a schema: both set as text.
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write"):
            assert sink not in script, f"{name} uses {sink}"
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
