"""The Team page, the bus-factor page and acknowledging an incident, in a real browser
(issue 20). The ``page`` fixture fails a test on any console error."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from uiseed import USER, project_name

from helpers import LoopbackServer, make_settings, wait_for
from lablink.checks.watch_rules import Finding
from lablink.core.lab import Lab


@pytest.fixture(scope="module")
def team(ui_lab: Lab) -> Lab:
    t = ui_lab.team
    t.add("admin", "ana", "Europe/London", ["09:00-17:30"], ["Tue,Thu 13:00-16:00"],
          contacts=["json://127.0.0.1:9/ana"], email="ana@lab.org")  # fmt: skip
    t.add("admin", "lucia", "America/Los_Angeles", ["09:00-17:00"],
          contacts=["json://127.0.0.1:9/lucia"], email="lucia@lab.org")  # fmt: skip
    t.create_rotation("admin", "research", ["ana", "lucia"], "Mon 09:00", escalate_after="1h")
    return ui_lab


def test_the_team_page_shows_roster_heat_map_and_on_call(team: Lab, page: Page) -> None:
    page.goto("/team?week=2026-W50&min=2")
    roster = page.locator("[data-role=roster]")
    expect(roster.locator("[data-member=ana] th")).to_have_text("ana")
    expect(roster.locator("[data-member=ana] [data-role=local-time]")).to_have_text(
        re.compile(r"^\w{3} \d\d:\d\d (GMT|BST)$")
    )
    expect(roster.locator("[data-member=ana] [data-role=focus]")).to_have_text(
        "Tue 13:00-16:00; Thu 13:00-16:00"
    )
    expect(page.locator("[data-role=oncall-now]")).to_have_text(re.compile("^(ana|lucia)$"))
    heat = page.locator("[data-role=heat] svg rect")
    expect(heat).to_have_count(7 * 24)
    # London 09:00-17:30 GMT and Los Angeles 09:00-17:00 PST meet 17:00-17:30 UTC
    expect(page.locator("[data-role=best] li").first).to_contain_text(
        "Mon 2026-12-07 17:00-17:30 UTC"
    )
    expect(page.locator("[data-role=best] li").first).to_contain_text("lucia Mon 09:00-09:30 PST")
    page.locator("#min").fill("1")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url("/team?week=2026-W50&min=1")
    expect(page.locator("nav.sections a[href='/team']")).to_be_visible()


def test_acknowledging_from_the_page_cancels_the_escalation(team: Lab, page: Page) -> None:
    run = team.tracking.create_run("ana@lab.org", project_name(), "ui-team")
    finding = Finding("nan", "loss", "critical", "alert", "reopen", "loss is NaN", {})
    incident = team.watchdog.incidents.raise_finding(run.id, finding).incident
    page.goto(f"/incidents?run={run.id}")
    deliveries = page.locator("[data-role=delivery]")
    expect(deliveries).to_have_count(2)
    expect(deliveries.first).to_contain_text("why: critical incident: paging on-call")
    expect(deliveries.nth(1)).to_contain_text("escalation 1 to")
    page.get_by_role("button", name="Acknowledge").click()
    expect(page.locator(f"[data-incident='{incident.id}']")).to_have_attribute(
        "data-state", "acknowledged"
    )
    rows = team.watchdog.incidents.detail(incident.id)["deliveries"]
    assert rows[1]["state"] == "cancelled" and "acknowledged by" in rows[1]["last_error"]
    assert team.watchdog.incidents.get(incident.id).acknowledged_by == USER


def test_the_busfactor_page_says_how_to_enable_it(page: Page) -> None:
    page.goto("/team/busfactor")
    expect(page.locator("[data-role=enable]")).to_contain_text("LABLINK_BUSFACTOR_REPO")


@pytest.fixture
def repo_server(tmp_path: Path) -> Iterator[LoopbackServer]:
    repo = tmp_path / "repo"
    repo.mkdir()
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    for i, (who, path) in enumerate([("Ana", "a.py"), ("Ana", "b.py"), ("Kenji", "lib/c.py")]):
        (repo / path).parent.mkdir(exist_ok=True)
        (repo / path).write_text(f"x = {i}\n" * 20)
        person = {**env, "GIT_AUTHOR_NAME": who, "GIT_AUTHOR_EMAIL": f"{who}@lab.org",
                  "GIT_COMMITTER_NAME": who, "GIT_COMMITTER_EMAIL": f"{who}@lab.org"}  # fmt: skip
        if i == 0:
            subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True, env=env)
        subprocess.run(["git", "add", "."], cwd=repo, check=True, env=person)
        subprocess.run(["git", "commit", "-qm", f"c{i}"], cwd=repo, check=True, env=person)
    home = tmp_path / "home"
    settings = make_settings(home, busfactor_repo=str(repo), user=USER)
    with Lab(settings) as lab:
        server = LoopbackServer(lab).start()
        yield server
        server.stop()


def test_the_busfactor_page_analyses_the_configured_repository(
    browser: Browser, repo_server: LoopbackServer, page_problems: list[str]
) -> None:
    context = browser.new_context(base_url=repo_server.url)
    try:
        page = context.new_page()
        page.on("console", lambda m: m.type == "error" and page_problems.append(m.text))
        page.goto("/team/busfactor")
        expect(page.locator("[data-role=factor]")).to_have_text("1")
        expect(page.locator("table").first).to_contain_text("Ana")
        wait_for(lambda: page.locator("h1").is_visible(), 10, "the heading")
    finally:
        context.close()
    assert page_problems == []
