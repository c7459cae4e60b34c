"""Headless Chromium for the browser tests: Debian's ``chromium``, driven by Playwright.

The binary is ``$DATADIVR_CHROMIUM``, else ``chromium`` on the ``PATH``; ``make test``
installs Debian's ``chromium`` package when it is missing (Playwright's own browser builds are
never downloaded). Without one the tests are skipped on a developer's machine, and fail under
``CI``, where a skip would hide that nothing ran.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

__all__ = ["LAUNCH_ARGS", "TIMEOUT_MS", "Tab", "chromium_binary", "launch"]

#: Every Playwright wait in the browser tests gives up after this long.
TIMEOUT_MS = 5000
#: Headless, and quiet: without the background-networking flags Chromium calls Google's hosts
#: at start, which a closed network refuses, many times over.
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_binary() -> str | None:
    """The Chromium to run, if there is one."""
    named = os.environ.get("DATADIVR_CHROMIUM")
    if named:
        return named
    return shutil.which("chromium") or (
        "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None
    )


def launch() -> Iterator[Browser]:
    """Chromium, started once for a module's tests, with a fresh profile of its own (Playwright
    makes a temporary user-data directory and removes it at the end)."""
    binary = chromium_binary()
    if binary is None:
        message = (
            "no Chromium: run `make chromium` (Debian's chromium package), or set "
            "DATADIVR_CHROMIUM to a Chromium binary"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=binary, headless=True, args=LAUNCH_ARGS, timeout=30_000
        )
        try:
            yield browser
        finally:
            browser.close()


_RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(`${event.violatedDirective}: ${event.blockedURI}`);
});
"""


@dataclass
class Tab:
    """A page in a context of its own, which records what the console and the page reported:
    a test that loads a page fails on any of it (a CSP violation is a console error)."""

    page: Page
    problems: list[str] = field(default_factory=list)

    @classmethod
    def open(cls, browser: Browser, url: str) -> Tab:
        context = browser.new_context()
        context.set_default_timeout(TIMEOUT_MS)
        tab = cls(context.new_page())

        def console(message: ConsoleMessage) -> None:
            if message.type in ("error", "warning"):
                tab.problems.append(f"console {message.type}: {message.text}")

        tab.page.on("console", console)
        tab.page.on("pageerror", lambda error: tab.problems.append(f"page error: {error}"))
        # Init scripts run outside the page's policy; this one records what the policy blocked.
        tab.page.add_init_script(_RECORD_VIOLATIONS)
        tab.page.goto(url)
        return tab

    def check(self) -> None:
        """Fail on anything the console or the page reported, or the policy blocked."""
        blocked = self.page.evaluate("window.__violations")
        assert blocked == [], f"Content-Security-Policy violations: {blocked}"
        assert self.problems == []

    def close(self) -> None:
        self.page.context.close()
