"""With auth on (issue 20): the Team page for any signed-in user, and the incident
page's Acknowledge button, which needs member in the project and the page's CSRF token."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from signin_support import Team, make_team, sign_in_page
from signin_support import browser as browser
from signin_support import db_url as db_url
from signin_support import page as page
from signin_support import server as server

from lablink.checks.watch_rules import Finding
from lablink.core.lab import Lab

pytestmark = pytest.mark.browser


@pytest.fixture
def team(lab: Lab) -> Team:
    found = make_team(lab)
    lab.team.add("root", "mia", "Europe/London", ["Mon-Sun 00:00-24:00"],
                 contacts=["json://127.0.0.1:9/mia"])  # fmt: skip
    lab.team.add("root", "lee", "Asia/Tokyo", ["09:00-18:00"], contacts=["json://127.0.0.1:9/lee"])
    lab.team.create_rotation("root", "vision", ["mia", "lee"], escalate_after="1h")
    return found


# The viewer's refused acknowledgement is a 403 page, which Chromium logs.
EXPECTED_PROBLEMS = ("status of 403",)


def test_a_member_acknowledges_a_viewer_may_not(page: Page, team: Team) -> None:
    finding = Finding("nan", "loss", "critical", "alert", "reopen", "loss is NaN", {})
    incident = team.lab.watchdog.incidents.raise_finding(team.vision_run, finding).incident
    sign_in_page(page, "kenji", f"/incidents?run={team.vision_run}")
    expect(page.locator("[data-role=delivery]").first).to_contain_text("on call in vision")
    page.get_by_role("button", name="Acknowledge").click()
    expect(page.locator("h1")).to_contain_text("Cannot acknowledge")
    assert team.lab.watchdog.incidents.get(incident.id).state == "open"
    page.click('form.signout button[type="submit"]')
    sign_in_page(page, "mia", f"/incidents?run={team.vision_run}")
    page.get_by_role("button", name="Acknowledge").click()
    card = page.locator(f"[data-incident='{incident.id}']")
    expect(card).to_have_attribute("data-state", "acknowledged")
    expect(card).to_contain_text("acknowledged by mia")
    states = [d["state"] for d in team.lab.watchdog.incidents.detail(incident.id)["deliveries"]]
    assert states[1:] == ["cancelled"]


def test_any_signed_in_user_sees_the_team_page(page: Page, team: Team) -> None:
    sign_in_page(page, "nobody", "/team")
    expect(page.locator("[data-member=mia] [data-role=local-time]")).to_have_text(
        re.compile(r"(GMT|BST)$")
    )
    expect(page.locator("[data-role=oncall-now]")).to_have_text(re.compile("^(mia|lee)$"))
