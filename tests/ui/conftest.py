"""UI fixtures: one SQLite lab, one loopback server and one Chromium per module; data per test.

Each test makes its own project (``uiseed.project_name``), so tests sharing the
module's server never see each other's runs. The ``page`` fixture fails a test on any
console error, uncaught script error or dialog: a page that throws is broken even when
the assertions about it happen to pass.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import chromium
import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from helpers import LoopbackServer, make_settings
from lablink.core.lab import Lab


@pytest.fixture(scope="module")
def ui_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    home: Path = tmp_path_factory.mktemp("uihome")
    settings = make_settings(home, db=f"sqlite:///{home / 'lablink.db'}", user="tester@example.org")
    with Lab(settings) as lab:
        yield lab


@pytest.fixture(scope="module")
def ui_server(ui_lab: Lab) -> Iterator[LoopbackServer]:
    server = LoopbackServer(ui_lab).start()
    yield server
    server.stop()


@pytest.fixture
def http(ui_server: LoopbackServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=ui_server.url, timeout=10) as client:
        yield client


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        browser = chromium.launch(pw)
        yield browser
        browser.close()


def _console(problems: list[str], msg: ConsoleMessage) -> None:
    if msg.type == "error":
        problems.append(f"console error: {msg.text} at {msg.location.get('url')}")


@pytest.fixture
def page_problems() -> list[str]:
    """What went wrong in the page: console errors, script errors, dialogs."""
    return []


@pytest.fixture
def page(browser: Browser, ui_server: LoopbackServer, page_problems: list[str]) -> Iterator[Page]:
    """A 1280 px wide page; any console error, script error or dialog fails the test."""
    context = browser.new_context(base_url=ui_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.on("console", lambda msg: _console(page_problems, msg))
    page.on("pageerror", lambda exc: page_problems.append(f"script error: {exc}"))
    page.on("dialog", lambda d: (page_problems.append(f"dialog: {d.message}"), d.dismiss()))
    yield page
    context.close()
    assert page_problems == []
