"""Review notifications reach people on their own team contacts within their working
hours (issue #19): end to end through apprise to a webhook receiver on 127.0.0.1, with
the notifier's clock moved by the test, on both dialects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from reviewtools import add_version, make_people, split_folder, team_settings
from typer.testing import CliRunner

from helpers import wait_for
from lablink.cli.main import app
from lablink.core.lab import Lab
from lablink.core.review_report import ReviewOptions
from lablink.core.reviews import Reviewer
from lablink.core.team import Team
from team.team_support import Clock, Inbox, utc

WED_10 = utc("2026-12-09T10:00")  # 19:00 in Tokyo (off), 10:00 in London, 02:00 in LA
KENJI_OPENS = utc("2026-12-10T00:00")  # Thu 09:00 in Tokyo
ANA_OPENS = utc("2026-12-09T17:00")  # Wed 09:00 in Los Angeles

TOML = """
[notify]
channels = ["{channel}"]
"""


def open_lab(tmp_path: Path, db_url: str, toml: str, monkeypatch: pytest.MonkeyPatch) -> Lab:
    settings = team_settings(tmp_path / "repo", db_url, tmp_path / "home", toml, "ana")
    monkeypatch.chdir(tmp_path / "repo")
    return Lab(settings)


def roster(lab: Lab, inbox: Inbox, clock: Clock) -> None:
    """ana (the author) in Los Angeles, kenji in Tokyo, mia in London; bob is a user who
    is not on the team."""
    lab.watchdog.notifier.clock = clock
    make_people(lab, "ana", "kenji", "mia", "bob")
    team = Team(lab.store, clock)
    for name, tz in (
        ("ana", "America/Los_Angeles"),
        ("kenji", "Asia/Tokyo"),
        ("mia", "Europe/London"),
    ):
        team.add("admin", name, tz, ["09:00-17:30"], contacts=[inbox.url(name)])


def by_person(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["recipient"]: r for r in rows}


def test_reviewers_and_the_author_are_told_within_their_hours(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(WED_10)
    with Inbox() as inbox:
        toml = TOML.format(channel=inbox.url("channel"))
        with open_lab(tmp_path, db_url, toml, monkeypatch) as lab:
            roster(lab, inbox, clock)
            ref = add_version(lab, split_folder(tmp_path / "images"), "images", "ana")
            asked = lab.reviews.request(
                Reviewer("ana", verified=True), ref, ReviewOptions(), ["kenji", "mia", "bob"]
            )
            told = {n["to"]: n for n in asked.notified}
            assert {k: v["state"] for k, v in told.items()} == {
                "kenji": "held",
                "mia": "queued",
                "bob": "queued",
            }
            assert told["kenji"]["at"] == KENJI_OPENS
            assert "outside working hours (Wed 19:00 Asia/Tokyo)" in told["kenji"]["reason"]
            assert "held until Thu 09:00 local" in told["kenji"]["reason"]
            assert told["bob"]["channel"].startswith("json://127.0.0.1")
            assert (
                "not on the team roster: the project's [notify] channels" in (told["bob"]["reason"])
            )

            [mia] = wait_for(lambda: inbox.to("mia"), 30, "mia's request")
            [channel] = wait_for(lambda: inbox.to("channel"), 30, "bob's request")
            assert "review requested: images@v1" in mia["title"]
            assert "lablink review approve images@v1" in mia["message"]
            assert "Why you: reviewer of images@v1, working now" in mia["message"]
            assert "Why you: reviewer of images@v1; not on the team roster" in channel["message"]

            clock.at = KENJI_OPENS - 60
            lab.watchdog.notifier.run_once()
            assert inbox.to("kenji") == []
            held = by_person(lab.reviews.deliveries(ref))["kenji"]
            assert held["state"] == "pending" and held["held_until"] == KENJI_OPENS
            assert held["event"] == "request" and held["sent_at"] is None

            clock.at = KENJI_OPENS
            [kenji] = wait_for(lambda: inbox.to("kenji"), 30, "kenji's held request")
            assert "images@v1" in kenji["title"] and "held until Thu 09:00" in kenji["message"]
            wait_for(
                lambda: by_person(lab.reviews.deliveries(ref))["kenji"]["state"] == "sent",
                30,
                "kenji's row sent",
            )
            sent = by_person(lab.reviews.deliveries(ref))["kenji"]
            assert sent["sent_at"] == KENJI_OPENS and len(sent["history"]) == 1

            # Thu 00:00 UTC: 16:00 Wed in Los Angeles, ana (the author) is working
            approved = lab.reviews.approve(Reviewer("kenji", verified=True), ref, "labels ok")
            assert [(n["to"], n["state"]) for n in approved.notified] == [("ana", "queued")]
            [ana] = wait_for(lambda: inbox.to("ana"), 30, "ana's approval notice")
            assert ana["title"] == "[lablink] kenji approved images@v1"
            assert "Note: labels ok" in ana["message"] and "now approved" in ana["message"]

            # Thu 02:00 UTC: 18:00 in Los Angeles, after ana's hours: held to Thu 09:00
            clock.at = KENJI_OPENS + 2 * 3600
            said = lab.reviews.comment(Reviewer("mia", verified=True), ref, "see row 12")
            [note] = said.notified
            assert note["to"] == "ana" and note["state"] == "held"
            assert note["at"] == ANA_OPENS + 86400
            assert lab.reviews.comment(Reviewer("ana", verified=True), ref, "thanks").notified == ()
            clock.at = ANA_OPENS + 86400
            wait_for(lambda: len(inbox.to("ana")) == 2, 30, "ana's held comment notice")
            assert "Note: see row 12" in inbox.to("ana")[1]["message"]

            rows = lab.reviews.deliveries(ref)
            assert [(r["event"], r["recipient"]) for r in rows] == [
                ("request", "kenji"),
                ("request", "mia"),
                ("request", "bob"),
                ("approve", "ana"),
                ("comment", "ana"),
            ]
            wait_for(
                lambda: all(r["state"] == "sent" for r in lab.reviews.deliveries(ref)),
                30,
                "every row sent",
            )
            assert all(r["incident_id"] is None for r in rows)
            assert lab.reviews.show(ref)["deliveries"][0]["recipient"] == "kenji"
            shown = CliRunner().invoke(
                app, ["--db", lab.settings.db, "review", "show", ref], catch_exceptions=False
            )
            text = " ".join(shown.output.split())
            assert shown.exit_code == 0, shown.output
            assert "request to kenji via json://127.0.0.1" in text and "reviewer of" in text
            assert "comment to ana via json://127.0.0.1" in text and "sent " in text


def test_a_held_request_is_dropped_once_the_review_is_decided(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(WED_10)
    with Inbox() as inbox, open_lab(tmp_path, db_url, "", monkeypatch) as lab:
        roster(lab, inbox, clock)
        ref = add_version(lab, split_folder(tmp_path / "images"), "images", "ana")
        lab.reviews.request(Reviewer("ana", verified=True), ref, ReviewOptions(), ["kenji"])
        lab.reviews.approve(Reviewer("root", verified=True, is_admin=True), ref)
        clock.at = KENJI_OPENS
        lab.watchdog.notifier.run_once()  # or the worker, which the request started
        kenji = wait_for(
            lambda: (
                (row := by_person(lab.reviews.deliveries(ref))["kenji"])["state"] == "cancelled"
                and row
            ),
            30,
            "kenji's held request cancelled",
        )
        assert "the review was approved while this was held" in kenji["last_error"]
        assert inbox.to("kenji") == []


def test_someone_with_no_contact_and_no_channels_is_recorded_as_not_reached(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Inbox() as inbox, open_lab(tmp_path, db_url, "", monkeypatch) as lab:
        roster(lab, inbox, Clock(WED_10))
        ref = add_version(lab, split_folder(tmp_path / "images"), "images", "ana")
        asked = lab.reviews.request(Reviewer("ana"), ref, ReviewOptions(), ["bob"])
        [told] = asked.notified
        assert told["state"] == "failed" and "no [notify] channels" in told["reason"]
        [row] = lab.reviews.deliveries(ref)
        assert row["recipient"] == "bob" and row["state"] == "failed"
        assert lab.reviews.get(ref).state == "pending"  # the request itself stands
