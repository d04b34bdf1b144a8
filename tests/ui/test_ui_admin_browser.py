"""The admin pages in a real headless Chromium: an admin adds a user, grants them a
project and finds it in the audit log; someone else is refused. Any console error but
the refusal's own 403 fails the test."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from signin_support import Team, sign_in_page
from signin_support import browser as browser
from signin_support import db_url as db_url
from signin_support import page as page
from signin_support import server as server
from signin_support import team as team

pytestmark = pytest.mark.browser

EXPECTED_PROBLEMS = ("status of 403",)  # kenji's refusal, on purpose


def test_in_a_browser_an_admin_adds_a_user_and_grants_a_project(page: Page, team: Team) -> None:
    sign_in_page(page, "ana")
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
    expect(page.locator('[data-role="audit"] [data-role="action"]').first).to_have_text("grant.set")
    page.click('form.signout button[type="submit"]')
    sign_in_page(page, "kenji", None)
    assert page.locator('a[data-role="admin"]').count() == 0
    page.goto("/admin/users")
    expect(page.locator(".error-box")).to_contain_text("kenji is not a server admin")
    assert team.lab.people.role_for("zoe", "vision") == "member"
