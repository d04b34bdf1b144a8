"""The admin pages in a real headless Chromium: an admin adds a user, grants them a
project and finds it in the audit log; someone else is refused. Any console error but
the refusal's own 403 fails the test."""

from __future__ import annotations

from pathlib import Path

import chromium
import pytest
from playwright.sync_api import expect, sync_playwright
from signin_support import PASSWORD, make_team

from helpers import AppServer
from lablink.core.lab import Lab
from lablink.server.app import create_app
from lablink.server.auth import AuthConfig

pytestmark = pytest.mark.browser


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """SQLite only: the HTTP tests (``test_ui_admin.py``) run on both backends."""
    return f"sqlite:///{tmp_path / 'home' / 'lablink.db'}"


def test_in_a_browser_an_admin_adds_a_user_and_grants_a_project(lab: Lab) -> None:
    team = make_team(lab)
    problems: list[str] = []
    with (
        AppServer(create_app(team.lab, auth=AuthConfig("required"))).start() as server,
        sync_playwright() as pw,
    ):
        browser = chromium.launch(pw)
        context = browser.new_context(base_url=server.url)
        context.set_default_timeout(10_000)
        page = context.new_page()
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda exc: problems.append(f"script error: {exc}"))
        page.goto("/signin")
        page.fill('input[name="user"]', "ana")
        page.fill('input[name="password"]', PASSWORD)
        page.click('form.signin button[type="submit"]')
        page.click('a[data-role="admin"]')
        page.fill('form[data-role="add-user"] input[name="name"]', "zoe")
        page.fill('form[data-role="add-user"] input[name="email"]', "zoe@lab.org")
        page.click('form[data-role="add-user"] button[type="submit"]')
        expect(page.locator('[data-role="new-user"] pre code')).to_contain_text("ll_")
        expect(page.locator('tr[data-user="zoe"] [data-role="state"]')).to_have_text("active")
        page.click('.admin-nav a[href="/admin/projects"]')
        page.fill('form[data-role="grant"] input[name="project"]', "vision")
        page.select_option('form[data-role="grant"] select[name="user"]', "zoe")
        page.select_option('form[data-role="grant"] select[name="role"]', "member")
        page.click('form[data-role="grant"] button[type="submit"]')
        expect(page.locator('[data-project="vision"] tr[data-grant="zoe"] td').first).to_have_text(
            "member"
        )
        page.click('.admin-nav a[href="/admin/audit"]')
        page.fill('form[data-role="audit-filter"] input[name="user"]', "zoe")
        page.click('form[data-role="audit-filter"] button[type="submit"]')
        expect(page.locator('[data-role="audit"] [data-role="action"]').first).to_have_text(
            "grant.set"
        )
        page.click('form.signout button[type="submit"]')
        page.fill('input[name="user"]', "kenji")
        page.fill('input[name="password"]', PASSWORD)
        page.click('form.signin button[type="submit"]')
        expect(page.locator('[data-role="user"]')).to_have_text("kenji")
        assert page.locator('a[data-role="admin"]').count() == 0
        page.goto("/admin/users")
        expect(page.locator(".error-box")).to_contain_text("kenji is not a server admin")
        context.close()
        browser.close()
    assert team.lab.people.role_for("zoe", "vision") == "member"
    assert [p for p in problems if "status of 403" not in p] == []
