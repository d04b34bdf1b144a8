"""Approving a ``lablink login`` in a real headless Chromium (issue 15).

The browser opens the verification URL the CLI would print, is sent to sign in and
back, and approves; the CLI's side polls over HTTP. Any console error fails the test.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect
from signin_support import Team, sign_in_page
from signin_support import browser as browser
from signin_support import db_url as db_url
from signin_support import page as page
from signin_support import server as server
from signin_support import team as team

from helpers import AppServer

pytestmark = pytest.mark.browser
START, POLL = "/api/v1/login/device", "/api/v1/login/device/token"


@pytest.fixture
def cli(server: AppServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as c:
        yield c


def start(cli: httpx.Client) -> dict[str, Any]:
    answer = cli.post(START, json={"name": "laptop"})
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def test_open_the_link_sign_in_approve_and_the_cli_gets_its_token(
    page: Page, cli: httpx.Client, team: Team
) -> None:
    got = start(cli)
    page.goto(got["verification_uri_complete"])
    expect(page).to_have_url(re.compile(r"/signin\?next="))
    sign_in_page(page, "mia", None)
    expect(page.locator("[data-role=device-code]")).to_have_text(got["user_code"])
    expect(page.locator("[data-role=device-label]")).to_have_text("laptop")
    page.click("[data-role=approve]")
    expect(page.locator("[data-role=device-approved]")).to_be_visible()
    answer = cli.post(POLL, json={"device_code": got["device_code"]})
    assert answer.status_code == 200 and answer.json()["user"] == "mia"


def test_type_the_code_then_deny(page: Page, cli: httpx.Client, team: Team) -> None:
    got = start(cli)
    page.goto("/signin?next=/login/device")
    sign_in_page(page, "kenji", None)
    page.fill("input[name=code]", got["user_code"].lower().replace("-", ""))
    page.click("form.device-code-form button[type=submit]")
    expect(page.locator("[data-role=device-code]")).to_have_text(got["user_code"])
    page.click("[data-role=deny]")
    expect(page.locator("[data-role=device-denied]")).to_be_visible()
    answer = cli.post(POLL, json={"device_code": got["device_code"]})
    assert answer.json()["error"]["code"] == "access_denied"
