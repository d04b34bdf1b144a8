"""What the signed-in browser tests share: one Chromium per module, and pages whose
console errors and script errors are collected for the test to judge."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import chromium
from playwright.sync_api import Browser, Page, sync_playwright


def launched_browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, for a module-scoped fixture to yield from."""
    with sync_playwright() as pw:
        browser = chromium.launch(pw)
        yield browser
        browser.close()


@contextlib.contextmanager
def watched_page(browser: Browser, base_url: str) -> Iterator[tuple[Page, list[str]]]:
    """A page at ``base_url`` and the console and script errors it logs, in order."""
    problems: list[str] = []
    context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.on(
        "console",
        lambda m: (
            problems.append(f"{m.text} at {m.location.get('url')}") if m.type == "error" else None
        ),
    )
    page.on("pageerror", lambda exc: problems.append(f"script error: {exc}"))
    try:
        yield page, problems
    finally:
        context.close()
