"""``examples/browser/``, the plain JavaScript client, in headless Chromium against the server
its ``serve.py`` builds: Ajv checks messages against ``GET /schema`` before they are sent."""

from __future__ import annotations

import os
import runpy
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
from fastapi import FastAPI
from playwright.sync_api import Browser, Page, expect

from datadivr import PROTOCOL
from tests.browser import Tab, launch
from tests.conftest import LiveServer

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
