"""The review page in a real headless Chromium, auth on, two people (issue #19): the
author requests and may not approve; a second person approves. No console errors."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Page, expect
from signin_support import Team, sign_in_page
from signin_support import browser as browser
from signin_support import db_url as db_url
from signin_support import page as page
from signin_support import server as server
from signin_support import team as team

from lablink.sdk.data import add

pytestmark = pytest.mark.browser

# The author's forged approval is answered 403 on purpose.
EXPECTED_PROBLEMS = ("status of 403 (Forbidden)",)


def images(root: Path, extra: bool) -> Path:
    """train/ and val/ PNGs; val/copy.png is train/0.png byte for byte (a leak)."""
    for split, shades in (("train", (10, 60, 110)), ("val", (160, 210))):
        (root / split).mkdir(parents=True, exist_ok=True)
        for i, shade in enumerate(shades):
            Image.new("RGB", (24, 24), (shade, 40, 90)).save(root / split / f"{i}.png")
    (root / "val" / "copy.png").write_bytes((root / "train" / "0.png").read_bytes())
    if extra:
        Image.new("RGB", (24, 24), (0, 0, 0)).save(root / "train" / "new.png")
    return root


def test_the_author_requests_and_a_second_person_approves(
    page: Page, team: Team, tmp_path: Path
) -> None:
    mia = dataclasses.replace(team.lab.settings, user="mia")
    add(images(tmp_path / "v1", extra=False), "images", settings=mia)
    add(images(tmp_path / "v2", extra=True), "images", settings=mia)

    sign_in_page(page, "mia")
    page.goto("/datasets/images?v=2")
    status = page.evaluate(
        """async () => (await lablink.send('POST', '/api/v1/datasets/images/versions/v2/review',
             { reviewers: ['lee'], splits: { train: 'train/', val: 'val/' } })).status"""
    )
    assert status == 201
    page.click('[data-role="review-link"]')
    expect(page).to_have_url(re.compile(r"/datasets/images/v/2/review$"))
    expect(page.locator('[data-role="summary"]')).to_be_visible()
    expect(page.locator('[data-role="report-status"]')).to_have_text("fail")
    expect(page.locator('tr[data-check="leakage.exact"]')).to_contain_text("fail")
    expect(page.locator('[data-role="diff"]')).to_contain_text("1 added, 0 removed, 0 changed")
    preview = page.locator('[data-role="flagged"] img').first
    expect(preview).to_be_visible()
    page.wait_for_function(  # the first preview came through the authorised route
        "() => { const i = document.querySelector('[data-role=flagged] img');"
        " return i.complete && i.naturalWidth === 24; }"
    )
    expect(page.locator('[data-role="approve-form"]')).to_have_count(0)
    expect(page.locator('[data-role="author-note"]')).to_be_visible()
    page.fill('[data-role="comment-form"] input[name="note"]', "val/copy.png is a copy")
    page.click('[data-role="comment-form"] button')
    expect(page.locator('[data-role="discussion"] li[data-action="comment"]')).to_contain_text(
        "val/copy.png is a copy"
    )

    # The author forges the approve form the page does not offer: refused, nothing changes.
    page.evaluate(
        """() => { const f = document.createElement('form'); f.method = 'post';
             f.action = location.pathname + '/approve';
             const t = document.createElement('input'); t.type = 'hidden'; t.name = 'csrf_token';
             t.value = lablink.csrfToken(); f.appendChild(t); document.body.appendChild(f);
             f.submit(); }"""
    )
    expect(page.locator('[data-role="review-error"]')).to_contain_text(
        "mia made images@v2 and cannot approve it"
    )
    assert team.lab.reviews.get("images@v2").state == "pending"

    page.click('form.signout button[type="submit"]')
    sign_in_page(page, "lee")
    page.goto("/datasets/images/v/2/review")
    page.fill('[data-role="approve-form"] input[name="note"]', "the copy is a known duplicate")
    page.click('[data-role="approve-form"] button')
    expect(page.locator('[data-role="state"]')).to_have_text("approved")
    expect(page.locator('[data-role="discussion"] li[data-action="approve"]')).to_contain_text(
        "lee"
    )
    review = team.lab.reviews.get("images@v2")
    assert review.state == "approved" and review.approvers == ("lee",)
