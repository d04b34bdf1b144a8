"""Signing in and staying signed in, in a real headless Chromium on a server with auth on.

The page fixture's rule holds here too: any console error (a Content-Security-Policy
violation is one) fails the test.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_pages import launched_browser, watched_page
from playwright.sync_api import Browser, Page, expect
from signin_support import PASSWORD, Team, make_team
from uiseed import curve, log

from helpers import AppServer
from lablink.core.lab import Lab
from lablink.server.app import create_app
from lablink.server.auth import AuthConfig

pytestmark = pytest.mark.browser
LIVE_WAIT_MS = 15_000


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """SQLite only: the browser's part does not depend on the backend; the HTTP tests
    (``test_ui_signin.py``) run on both."""
    return f"sqlite:///{tmp_path / 'home' / 'lablink.db'}"


@pytest.fixture
def team(lab: Lab) -> Team:
    return make_team(lab)


@pytest.fixture
def server(team: Team) -> Iterator[AppServer]:
    srv = AppServer(create_app(team.lab, auth=AuthConfig("required"))).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from launched_browser()


@pytest.fixture
def page(browser: Browser, server: AppServer) -> Iterator[Page]:
    with watched_page(browser, server.url) as (page, problems):
        yield page
    # Chromium logs the answers the tests provoke: the wrong password's 401 and the
    # CSRF-less fetch's 403. Anything else fails the test.
    expected = ("status of 401 (Unauthorized) at", "status of 403 (Forbidden) at")
    assert [
        p
        for p in problems
        if not p.startswith(("Failed to load resource",)) or not any(e in p for e in expected)
    ] == []


def test_sign_in_returns_to_the_page_and_its_chart_goes_live(page: Page, team: Team) -> None:
    run = team.lab.tracking.create_run("ana", "vision", "live")
    log(team.lab, run.id, {"train/loss": curve(10)})
    page.goto(f"/r/{run.id}")
    expect(page).to_have_url(re.compile(rf"/signin\?next=%2Fr%2F{run.id}$"))
    page.fill('input[name="user"]', "kenji")
    page.fill('input[name="password"]', "wrong password")
    page.click('button[type="submit"]')
    expect(page.locator(".error-box")).to_contain_text("wrong user name or password")
    page.fill('input[name="password"]', PASSWORD)
    page.click('form.signin button[type="submit"]')
    expect(page.locator("h1")).to_have_text("live")
    expect(page.locator('[data-role="user"]')).to_have_text("kenji")
    cookie = next(c for c in page.context.cookies() if c["name"] == "lablink_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and not cookie["secure"]
    loss = page.locator('figure.chart[data-key="train/loss"]')
    expect(loss).to_have_attribute("data-last-step", "9")

    def train() -> None:
        for step in range(10, 20):
            log(team.lab, run.id, {"train/loss": curve(1, start=step)})
            time.sleep(0.05)

    worker = threading.Thread(target=train)
    worker.start()
    worker.join(timeout=30)
    expect(loss).to_have_attribute("data-last-step", "19", timeout=LIVE_WAIT_MS)
    page.click('form.signout button[type="submit"]')
    expect(page).to_have_url(re.compile(r"/signin$"))
    page.goto(f"/r/{run.id}")
    expect(page.locator('input[name="password"]')).to_be_visible()


def test_the_page_script_sends_its_csrf_token_to_the_api(page: Page, team: Team) -> None:
    page.goto("/signin")
    page.fill('input[name="user"]', "mia")
    page.fill('input[name="password"]', PASSWORD)
    page.click('form.signin button[type="submit"]')
    page.goto("/me")
    expect(page.locator('[data-role="me"]')).to_have_text("mia")
    url = f"/api/v1/runs/{team.vision_run}/notes"
    without = page.evaluate(
        """async (url) => (await fetch(url, { method: "POST", body: "{}",
             headers: { "Content-Type": "application/json" } })).status""",
        url,
    )
    assert without == 403
    status = page.evaluate(
        "async (url) => (await lablink.send('POST', url, { text: 'from the page' })).status", url
    )
    assert status == 200
    assert [n.author for n in team.lab.tracking.get_run(team.vision_run).notes] == ["mia"]
    page.fill('input[name="name"]', "laptop")
    page.click('form.token-form button[type="submit"]')
    expect(page.locator('[data-role="new-token"] code')).to_contain_text("ll_")
    page.locator("tr[data-token] button").first.click()
    expect(page.locator("tr[data-token] td").nth(5)).to_have_text("revoked")
