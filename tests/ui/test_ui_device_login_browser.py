"""Approving a ``lablink login`` in a real headless Chromium (issue 15).

The browser opens the verification URL the CLI would print, is sent to sign in and
back, and approves; the CLI's side polls over HTTP. Any console error fails the test.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser_pages import launched_browser, watched_page
from playwright.sync_api import Browser, Page, expect
from signin_support import PASSWORD, Team, make_team

from helpers import AppServer
from lablink.core.lab import Lab
from lablink.server.app import create_app
from lablink.server.auth import AuthConfig

pytestmark = pytest.mark.browser
START, POLL = "/api/v1/login/device", "/api/v1/login/device/token"


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """SQLite only: the HTTP tests (``test_ui_device_login.py``) run on both backends."""
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
    assert problems == []


@pytest.fixture
def cli(server: AppServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as c:
        yield c


def start(cli: httpx.Client) -> dict[str, Any]:
    answer = cli.post(START, json={"name": "laptop"})
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def sign_in_here(page: Page, user: str) -> None:
    page.fill("input[name=user]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("form.signin button[type=submit]")


def test_open_the_link_sign_in_approve_and_the_cli_gets_its_token(
    page: Page, cli: httpx.Client, team: Team
) -> None:
    got = start(cli)
    page.goto(got["verification_uri_complete"])
    expect(page).to_have_url(re.compile(r"/signin\?next="))
    sign_in_here(page, "mia")
    expect(page.locator("[data-role=device-code]")).to_have_text(got["user_code"])
    expect(page.locator("[data-role=device-label]")).to_have_text("laptop")
    page.click("[data-role=approve]")
    expect(page.locator("[data-role=device-approved]")).to_be_visible()
    answer = cli.post(POLL, json={"device_code": got["device_code"]})
    assert answer.status_code == 200 and answer.json()["user"] == "mia"


def test_type_the_code_then_deny(page: Page, cli: httpx.Client, team: Team) -> None:
    got = start(cli)
    page.goto("/signin?next=/login/device")
    sign_in_here(page, "kenji")
    page.fill("input[name=code]", got["user_code"].lower().replace("-", ""))
    page.click("form.device-code-form button[type=submit]")
    expect(page.locator("[data-role=device-code]")).to_have_text(got["user_code"])
    page.click("[data-role=deny]")
    expect(page.locator("[data-role=device-denied]")).to_be_visible()
    answer = cli.post(POLL, json={"device_code": got["device_code"]})
    assert answer.json()["error"]["code"] == "access_denied"
