"""``examples/browser/``, the plain JavaScript client, in headless Chromium against the server
its ``serve.py`` builds: Ajv checks messages against ``GET /schema`` before they are sent."""

from __future__ import annotations

import asyncio
import os
import runpy
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
from fastapi import FastAPI
from playwright.sync_api import Browser, Page, expect
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket

from datadivr import Identity, create_app
from datadivr.demo import PROTOCOL
from tests.browser import Tab, launch
from tests.case_protocols import case_package
from tests.conftest import LiveServer
from tests.typescript import assert_compiles, tsc

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "browser"
AJV = EXAMPLE / "node_modules" / "ajv-dist" / "dist" / "ajv2020.min.js"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not AJV.is_file():
        message = "the example's Ajv bundle is missing: run `make browser-example` (npm ci)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    yield from launch()


@pytest.fixture
def open_page(
    browser: Browser, serve_app: Callable[[FastAPI], AbstractContextManager[LiveServer]]
) -> Iterator[Callable[[], Page]]:
    """Open the example, served by ``serve.py``'s app, in new tabs; at the end each must have
    had no console error."""
    app = runpy.run_path(str(EXAMPLE / "serve.py"))["app"]
    tabs: list[Tab] = []
    with serve_app(app) as server:

        def open_page() -> Page:
            tab = Tab.open(browser, server.http + "/example/")
            tabs.append(tab)
            expect(tab.page.locator("#status")).to_contain_text("connected as ")
            return tab.page

        yield open_page
        for tab in tabs:
            tab.check()
            tab.close()


def test_nothing_is_sent_unless_connected(
    browser: Browser, serve_app: Callable[[FastAPI], AbstractContextManager[LiveServer]]
) -> None:
    # serve.py's app, with a handshake held until the test lets it through.
    gate = threading.Event()

    async def authenticate(websocket: WebSocket) -> Identity:
        await asyncio.to_thread(gate.wait, 10)
        return Identity("test")

    app = create_app(authenticate=authenticate)
    app.mount("/example", StaticFiles(directory=EXAMPLE, html=True), name="example")
    with serve_app(app) as server:
        tab = Tab.open(browser, server.http + "/example/")
        try:
            page = tab.page
            # The forms are wired once the events are listed, with the socket still opening.
            expect(page.locator("#events")).not_to_be_empty()
            page.click("#sum button")
            expect(page.locator("#log li").first).to_have_text("not sent: not connected")
            gate.set()
            expect(page.locator("#status")).to_contain_text("connected as ")
            page.click("#sum button")
            expect(page.locator("#log li", has_text="sent m1")).to_have_count(1)
        finally:
            gate.set()
    try:
        expect(page.locator("#status")).to_contain_text("closed (")
        page.click("#sum button")
        expect(page.locator("#log li").first).to_have_text("not sent: not connected")
        expect(page.locator("#log li", has_text="sent m")).to_have_count(1)
        tab.check()
    finally:
        tab.close()


def test_the_example_lists_what_a_client_may_send(open_page: Callable[[], Page]) -> None:
    page = open_page()
    sendable = [name for name, spec in PROTOCOL.events.items() if spec.direction.client_may_send]
    expect(page.locator("#events")).to_have_text(", ".join(sendable))


def test_a_sum_is_checked_sent_and_answered(open_page: Callable[[], Page]) -> None:
    page = open_page()
    page.fill("#numbers", "1, 2, 3")
    page.click("#sum button")
    expect(page.locator("#log")).to_contain_text("sum for m1: 6")
    # Refused by the schema in the page, with the path the server would name: not sent.
    page.fill("#numbers", "1, two")
    page.click("#sum button")
    refused = page.locator("#log li").first
    expect(refused).to_have_text("not sent: $.payload.numbers[1]: must be number")
    expect(page.locator("#log li", has_text="sent m2")).to_have_count(0)
    expect(page.locator("#log li", has_text="error")).to_have_count(0)


def test_a_chat_between_two_pages(open_page: Callable[[], Page]) -> None:
    alice, bob = open_page(), open_page()
    alice.fill("#text", "hi bob")
    alice.click("#chat button")
    alice_id = alice.inner_text("#status").removeprefix("connected as ")
    expect(bob.locator("#log")).to_contain_text(f"{alice_id} says: hi bob")
    # An empty recipient breaks the schema: the page says so, and sends nothing.
    alice.fill("#to", "")
    alice.click("#chat button")
    expect(alice.locator("#log li").first).to_contain_text("not sent: $.to: must NOT have fewer")
    # One the schema allows but the server does not know: the server's error is shown.
    alice.fill("#to", "nobody")
    alice.click("#chat button")
    expect(alice.locator("#log li").first).to_contain_text("error unknown_recipient:")


def test_the_example_type_checks_against_the_declarations(tmp_path: Path) -> None:
    """``chat.js`` is type-checked JavaScript: ``tsc --strict --checkJs`` passes with the
    demo's ``protocol.d.ts``, and fails with another protocol's."""
    for name in ("chat.js", "ajv.d.ts", "tsconfig.json"):
        shutil.copy(EXAMPLE / name, tmp_path / name)
    (tmp_path / "protocol.d.ts").write_text(PROTOCOL.typescript, encoding="utf-8")
    assert_compiles("--project", ".", cwd=tmp_path)

    with case_package("reply", tmp_path) as package:
        (tmp_path / "protocol.d.ts").write_text(package.PROTOCOL.typescript, encoding="utf-8")
    wrong = tsc("--project", ".", cwd=tmp_path)
    assert wrong.returncode != 0
    assert "chat.js" in wrong.stdout
