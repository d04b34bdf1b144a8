"""Requesting a review from the web UI in a real headless Chromium, auth on (issue #19):
a bad field is refused with a message naming it and the form keeps what was typed;
nothing is stored until the request is right. No console errors but those 400s."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect
from signin_support import Team, csrf_of, make_team, sign_in, sign_in_page
from signin_support import browser as browser
from signin_support import db_url as db_url
from signin_support import page as page
from signin_support import server as server
from test_ui_review_browser import images

from helpers import AppServer
from lablink.core.lab import Lab
from lablink.sdk.data import add

pytestmark = pytest.mark.browser

# The refused form posts answer 400 on purpose.
EXPECTED_PROBLEMS = ("status of 400 (Bad Request)",)


@pytest.fixture
def team(lab: Lab) -> Team:
    found = make_team(lab)
    lab.team.add("root", "lee", "Asia/Tokyo", ["09:00-17:30"])  # on the roster, no contact
    return found


def test_a_member_requests_a_review_from_the_review_page(
    page: Page, team: Team, tmp_path: Path
) -> None:
    mia = dataclasses.replace(team.lab.settings, user="mia")
    add(images(tmp_path / "v1", extra=False), "images", settings=mia)

    sign_in_page(page, "mia")
    page.goto("/datasets/images?v=1")
    page.click('[data-role="review-link"]')
    expect(page).to_have_url(re.compile(r"/datasets/images/v/1/review$"))
    form = page.locator('[data-role="request-form"]')
    expect(form).to_be_visible()
    select = form.locator('[data-role="reviewer-select"]')
    expect(select.locator('option[value="lee"]')).to_contain_text("Asia/Tokyo")
    expect(select.locator('option[value="kenji"]')).to_contain_text("not on the team roster")
    expect(select.locator('option[value="mia"]')).to_have_count(0)  # she made it

    select.select_option(["lee"])
    form.locator('input[name="splits"]').fill("train")
    form.locator('button[type="submit"]').click()
    error = page.locator('[data-role="review-error"]')
    expect(error).to_contain_text("splits: 'train' is not NAME=PATH")
    expect(error).to_contain_text("write train=train/,val=val/")
    expect(form.locator('input[name="splits"]')).to_have_value("train")
    expect(form.locator('option[value="lee"]')).to_have_js_property("selected", True)

    form.locator('input[name="splits"]').fill("train=train/,val=nowhere/")
    form.locator('button[type="submit"]').click()
    expect(error).to_contain_text("split 'val': no file of images@v1 is at or under")
    form.locator('input[name="approvals"]').fill("two")
    form.locator('input[name="splits"]').fill("train=train/,val=val/")
    form.locator('button[type="submit"]').click()
    expect(error).to_contain_text("approvals: 'two' is not a whole number")
    assert team.lab.reviews.find("images@v1") is None  # nothing stored yet

    form.locator('input[name="approvals"]').fill("")
    form.locator('input[name="key"]').fill("")
    form.locator('button[type="submit"]').click()
    expect(page).to_have_url(re.compile(r"/datasets/images/v/1/review$"))
    expect(page.locator('[data-role="state"]')).to_have_text("pending")
    expect(page.locator('tr[data-check="leakage.exact"]')).to_contain_text("fail")
    expect(page.locator('[data-role="discussion"] li[data-action="request"]')).to_contain_text(
        "mia"
    )
    expect(page.locator('[data-role="request-form"]')).to_have_count(0)
    # lee is on the roster without a contact, and there are no [notify] channels
    notice = page.locator('[data-role="notifications"] li[data-state="failed"]')
    expect(notice).to_contain_text("request to lee")
    expect(notice).to_contain_text("no contact on the team roster, and no [notify] channels")
    review = team.lab.reviews.get("images@v1")
    assert review.reviewers == ("lee",) and review.requested_by == "mia"
    assert dict(review.options["splits"]) == {"train": "train/", "val": "val/"}


def test_the_request_form_needs_the_session_token_and_a_member(
    team: Team, server: AppServer, tmp_path: Path
) -> None:
    mia = dataclasses.replace(team.lab.settings, user="mia")
    add(images(tmp_path / "v1", extra=False), "images", settings=mia)
    url = "/datasets/images/v/1/review"
    with httpx.Client(base_url=server.url) as viewer, httpx.Client(base_url=server.url) as member:
        sign_in(viewer, "kenji")
        page = viewer.get(url).text
        assert "request-form" not in page  # a viewer of vision gets no form
        refused = viewer.post(
            f"{url}/request", data={"csrf_token": csrf_of(page), "reviewer": "lee"}
        )
        sign_in(member, "mia")
        forged = member.post(f"{url}/request", data={"reviewer": "lee"})  # no CSRF token
    assert refused.status_code == 403
    assert forged.status_code == 403
    assert team.lab.reviews.find("images@v1") is None
