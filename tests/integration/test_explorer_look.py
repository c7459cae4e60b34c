"""The explorer page as it looks, in headless Chromium against a real server: a layout that
holds as the log grows, descriptions rendered from Markdown and nothing else, the links to
the exports, and the screenshots in the docs.

The screenshots are written into ``$DATADIVR_SCREENSHOTS`` when it is set, else into a
temporary folder; the docs' copies are made with::

    DATADIVR_SCREENSHOTS=docs/img uv run --frozen pytest tests/integration/test_explorer_look.py -k screenshots
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from playwright.sync_api import Browser, Dialog, Page, expect

from datadivr import create_app
from datadivr.demo import PROTOCOL
from tests.browser import Tab, launch
from tests.case_protocols import CASES_DIR, generated_package
from tests.conftest import LiveServer

#: The largest a screenshot kept in the docs may be.
MAX_SCREENSHOT_BYTES = 200 * 1024


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from launch()


@pytest.fixture
def open_page(browser: Browser, live_server: LiveServer) -> Iterator[Callable[..., Page]]:
    """Open the explorer of ``live_server`` in a new tab of the given size, once it is
    connected; at the end, each tab must have had no console error and no policy violation."""
    tabs: list[Tab] = []

    def open_page(width: int = 1280, height: int = 800) -> Page:
        tab = Tab.open(browser, live_server.http + "/")
        tabs.append(tab)
        tab.page.set_viewport_size({"width": width, "height": height})
        expect(tab.page.locator("#state")).to_have_attribute("data-state", "open")
        expect(tab.page.locator("#client-id")).not_to_be_empty()
        expect(tab.page.locator("#events tr")).to_have_count(len(PROTOCOL.events))
        return tab.page

    yield open_page
    for tab in tabs:
        tab.check()
        tab.close()


def box(page: Page, selector: str) -> dict[str, float]:
    found = page.locator(selector).bounding_box()
    assert found is not None, selector
    return dict(found)


def send_examples(page: Page, count: int) -> None:
    """Send ``sum_event``'s example ``count`` times, and wait for every answer."""
    page.select_option("#event", "sum_event")
    page.evaluate(
        "(n) => { for (let i = 0; i < n; i++) document.getElementById('send').click(); }", count
    )
    answers = page.locator("#log .entry.received", has_text="sum_handler_result")
    expect(answers).to_have_count(count)


def scrolls(page: Page, selector: str) -> bool:
    return bool(
        page.eval_on_selector(selector, "(node) => node.scrollHeight > node.clientHeight + 1")
    )


def test_the_events_stay_under_send_as_the_log_grows(open_page: Callable[..., Page]) -> None:
    page = open_page()
    send, events = box(page, "#send"), box(page, "#events-title")
    gap = events["y"] - (send["y"] + send["height"])
    assert 0 < gap < 80, gap
    assert not scrolls(page, "#log")
    send_examples(page, 20)
    # The composer and the events have not moved, the log scrolls in its own pane, and the
    # page itself has not grown.
    assert box(page, "#send") == send
    assert box(page, "#events-title") == events
    assert scrolls(page, "#log")
    assert page.evaluate("document.documentElement.scrollHeight <= window.innerHeight")
    # The newest entry is in view at the top of the log.
    expect(page.locator("#log .entry").first).to_be_in_viewport()


def test_on_a_narrow_screen_the_log_keeps_its_height(open_page: Callable[..., Page]) -> None:
    page = open_page(width=420, height=860)
    send, log, events = box(page, "#send"), box(page, ".log"), box(page, "#events-title")
    # One column: the composer, the log under it, then the events.
    assert send["y"] < log["y"] < events["y"]
    assert log["x"] == pytest.approx(box(page, ".compose")["x"])
    send_examples(page, 20)
    assert box(page, "#send") == send
    assert box(page, ".log") == log
    assert box(page, "#events-title") == events
    assert scrolls(page, "#log")


def test_the_links_to_the_exports_answer(
    open_page: Callable[..., Page], live_server: LiveServer
) -> None:
    page = open_page()
    nav = page.get_by_role("navigation", name="The protocol for other tools")
    links = nav.get_by_role("link")
    expect(links).to_have_text(["Events", "Schema", "AsyncAPI", "TypeScript", "HTTP API"])
    urls = [link.evaluate("(a) => a.href") for link in links.all()]
    base = live_server.http
    assert urls == [
        f"{base}/events",
        f"{base}/schema",
        f"{base}/asyncapi.json",
        f"{base}/protocol.d.ts",
        f"{base}/docs",
    ]
    with httpx.Client(timeout=10) as http:
        answers = {url.removeprefix(base): http.get(url) for url in urls}
    assert {path: answer.status_code for path, answer in answers.items()} == dict.fromkeys(
        answers, 200
    )
    assert answers["/schema"].json() == PROTOCOL.schema
    served = answers["/asyncapi.json"].json()
    assert served["servers"]["datadivr"]["host"] == base.removeprefix("http://")
    assert {k: v for k, v in served.items() if k != "servers"} == PROTOCOL.asyncapi
    assert answers["/protocol.d.ts"].text == PROTOCOL.typescript
    assert [event["name"] for event in answers["/events"].json()] == sorted(PROTOCOL.events)
    assert answers["/docs"].headers["content-type"].startswith("text/html")


# -- Markdown ------------------------------------------------------------------------------

#: Markdown, and the HTML its rendering serializes to.
MARKDOWN = [
    ("Adds `numbers`.", "<p>Adds <code>numbers</code>.</p>"),
    ("``a `b` c`` and ` x `", "<p><code>a `b` c</code> and <code>x</code></p>"),
    (
        "*em*, _em_, **strong**, __strong__",
        "<p><em>em</em>, <em>em</em>, <strong>strong</strong>, <strong>strong</strong></p>",
    ),
    ("**a *b* `c`**", "<p><strong>a <em>b</em> <code>c</code></strong></p>"),
    ("snake_case_name, 2*3*4, a * b", "<p>snake_case_name, 2*3*4, a * b</p>"),
    ("`unclosed and *also", "<p>`unclosed and *also</p>"),
    (r"\*not em\* and \`not code\`", "<p>*not em* and `not code`</p>"),
    ("one\nparagraph\n\ntwo", "<p>one paragraph</p><p>two</p>"),
    ("- a `x`\n- b", "<ul><li>a <code>x</code></li><li>b</li></ul>"),
    (
        "[the docs](https://example.com/a_(b)?c=1&d=2)",
        '<p><a href="https://example.com/a_(b)?c=1&amp;d=2" target="_blank"'
        ' rel="noopener noreferrer">the docs</a></p>',
    ),
    (
        "see <http://example.com/x>",
        '<p>see <a href="http://example.com/x" target="_blank" rel="noopener noreferrer">'
        "http://example.com/x</a></p>",
    ),
    (
        "[`code` label](https://a.example/)",
        '<p><a href="https://a.example/" target="_blank" rel="noopener noreferrer"><code>code</code> label</a></p>',
    ),
    # Only web addresses are links: the label of any other is text.
    ("[click](javascript:alert(1))", "<p>click</p>"),
    ("[click](JavaScript:alert(1))", "<p>click</p>"),
    ("[x](data:text/html,<script>alert(1)</script>)", "<p>x</p>"),
    ("[relative](../x.md)", "<p>relative</p>"),
    ("<javascript:alert(1)>", "<p>&lt;javascript:alert(1)&gt;</p>"),
    # HTML is text.
    (
        "<img src=x onerror=alert(1)> <script>alert(2)</script>",
        "<p>&lt;img src=x onerror=alert(1)&gt; &lt;script&gt;alert(2)&lt;/script&gt;</p>",
    ),
    ("`<b>bold</b>` &amp;", "<p><code>&lt;b&gt;bold&lt;/b&gt;</code> &amp;amp;</p>"),
    ("", ""),
]


def test_markdown_renders_as_elements_and_text(open_page: Callable[..., Page]) -> None:
    page = open_page()
    rendered = page.evaluate(
        """async (texts) => {
            const { render } = await import(new URL("explorer/markdown.js", location.href));
            return texts.map((text) => {
                const holder = document.createElement("div");
                holder.append(render(text));
                return holder.innerHTML;
            });
        }""",
        [text for text, _ in MARKDOWN],
    )
    assert dict(zip((text for text, _ in MARKDOWN), rendered, strict=True)) == dict(MARKDOWN)


#: A description with Markdown, and HTML and a link that would run code if they were not text.
INJECTION = (
    "Say `hello` to *the server*; see [the docs](https://example.com/docs?a=1&b=2).\n\n"
    "<img src=x onerror=alert(1)> <script>alert(2)</script> "
    "[click](javascript:alert(3)) **bold `<b>code</b>`**"
)


@pytest.fixture
def injected(tmp_path: Path) -> Iterator[Any]:
    """A protocol whose ``hello`` event has the INJECTION description."""
    schema = tmp_path / "schema"
    shutil.copytree(CASES_DIR / "minimal" / "schema", schema)
    event = schema / "events" / "hello.schema.json"
    data = json.loads(event.read_text(encoding="utf-8"))
    data["description"] = INJECTION
    event.write_text(json.dumps(data, indent=2), encoding="utf-8")
    with generated_package(schema, tmp_path / "out", "gen_injected") as package:
        yield package.PROTOCOL


def test_a_description_runs_no_code(
    browser: Browser,
    serve_app: Callable[[FastAPI], AbstractContextManager[LiveServer]],
    injected: Any,
) -> None:
    with serve_app(create_app(protocol=injected)) as server:
        tab = Tab.open(browser, server.http + "/")
        dialogs: list[str] = []

        def dialog(shown: Dialog) -> None:
            dialogs.append(shown.message)
            shown.dismiss()

        tab.page.on("dialog", dialog)
        try:
            cell = tab.page.locator('#events tr[data-event="hello"] td.description')
            expect(cell.locator("p")).to_have_count(2)
            expect(cell.locator("code")).to_have_text(["hello", "<b>code</b>"])
            expect(cell.locator("em")).to_have_text("the server")
            expect(cell.locator("strong")).to_have_text("bold <b>code</b>")
            link = cell.get_by_role("link")
            expect(link).to_have_count(1)
            expect(link).to_have_text("the docs")
            expect(link).to_have_attribute("href", "https://example.com/docs?a=1&b=2")
            expect(link).to_have_attribute("rel", "noopener noreferrer")
            expect(cell.locator("p").last).to_have_text(
                "<img src=x onerror=alert(1)> <script>alert(2)</script> click bold <b>code</b>"
            )
            # No element but the page's own came of it.
            assert cell.locator("img, script, b, a[href^='javascript']").count() == 0
            assert tab.page.locator("img, script:not([src])").count() == 0
            expect(tab.page.locator("#state")).to_have_attribute("data-state", "open")
            assert dialogs == []
            tab.check()  # no console error, no policy violation
        finally:
            tab.close()


# -- screenshots ---------------------------------------------------------------------------


def _scene(page: Page) -> None:
    """A few messages and answers: one refused, with its failing value marked."""
    page.select_option("#event", "sum_event")
    page.click("#send")
    expect(page.locator("#log .entry.received", has_text="sum_handler_result")).to_have_count(1)
    bad = {"event_name": "sum_event", "payload": {"numbers": [1, "two", 3]}}
    page.fill("#editor", json.dumps(bad, indent=2))
    page.click("#send")
    expect(page.locator("#log .entry.error")).to_have_count(1)


@pytest.mark.parametrize(
    ("name", "width", "height"), [("desktop", 1280, 800), ("narrow", 420, 900)]
)
def test_screenshots(
    open_page: Callable[..., Page], tmp_path: Path, name: str, width: int, height: int
) -> None:
    folder = Path(os.environ.get("DATADIVR_SCREENSHOTS") or tmp_path)
    page = open_page(width, height)
    _scene(page)
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        path = folder / f"explorer-{name}-{scheme}.png"
        page.screenshot(path=path, animations="disabled", caret="hide")
        assert path.read_bytes().startswith(b"\x89PNG")
        assert path.stat().st_size < MAX_SCREENSHOT_BYTES, path
