"""Single sign-on in a real headless Chromium, through the test provider on 127.0.0.1.

The browser leaves lablink for the provider, which approves at once, and comes back
signed in on the page it first asked for. Any console error fails the test.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect
from signin_support import Team
from signin_support import browser as browser
from signin_support import db_url as db_url
from signin_support import page as page
from signin_support import team as team

from helpers import AppServer
from lablink.core.oidc_config import OidcConfig
from lablink.server.app import create_app
from lablink.server.auth import AuthConfig
from oidc_provider import CLIENT_ID, CLIENT_SECRET, Person, Provider

pytestmark = pytest.mark.browser

# The refused sign-in's page answers 401, which Chromium logs.
EXPECTED_PROBLEMS = ("status of 401",)


@pytest.fixture
def provider() -> Iterator[Provider]:
    idp = Provider(Person("sub-kenji", "kenji@lab.org")).start()
    yield idp
    idp.stop()


@pytest.fixture
def server(team: Team, provider: Provider) -> Iterator[AppServer]:
    config = OidcConfig(provider.url, CLIENT_ID, CLIENT_SECRET, "Lab Login")
    srv = AppServer(create_app(team.lab, auth=AuthConfig("required", oidc=config))).start()
    yield srv
    srv.stop()


def test_sign_in_with_the_provider_lands_on_the_page_asked_for(
    page: Page, team: Team, provider: Provider
) -> None:
    page.goto(f"/r/{team.vision_run}")
    expect(page).to_have_url(re.compile(r"/signin\?next="))
    page.click('a[data-role="sso"]')
    expect(page).to_have_url(re.compile(rf"/r/{team.vision_run}$"))
    expect(page.locator('[data-role="user"]')).to_have_text("kenji")
    cookie = next(c for c in page.context.cookies() if c["name"] == "lablink_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert not [c for c in page.context.cookies() if c["name"] == "lablink_oidc"]
    entry = team.lab.people.audit_log(action="signin")[0]
    assert (entry.actor, entry.detail["method"]) == ("kenji", "oidc")
    page.click('form.signout button[type="submit"]')
    expect(page).to_have_url(re.compile(r"/signin$"))
    provider.person = Person("sub-x", "stranger@lab.org")
    page.click('a[data-role="sso"]')
    expect(page.locator('[data-role="refused"]')).to_contain_text(
        "no lablink user has the e-mail address stranger@lab.org"
    )
    page.click("text=Back to the sign-in page")
    expect(page.locator('a[data-role="sso"]')).to_have_text("Sign in with Lab Login")
