"""Signing in and staying signed in, in a real headless Chromium on a server with auth on.

The page fixture's rule holds here too: any console error (a Content-Security-Policy
violation is one) fails the test.
"""

from __future__ import annotations

import re
import threading
import time

import pytest
from playwright.sync_api import Page, expect
from signin_support import PASSWORD, Team
from signin_support import browser as browser
from signin_support import db_url as db_url
from signin_support import page as page
from signin_support import server as server
from signin_support import team as team
from uiseed import curve, log

pytestmark = pytest.mark.browser
LIVE_WAIT_MS = 15_000

# Chromium logs the answers the tests provoke: the wrong password's 401 and the
# CSRF-less fetch's 403. Anything else fails the test.
EXPECTED_PROBLEMS = ("status of 401 (Unauthorized) at", "status of 403 (Forbidden) at")


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
