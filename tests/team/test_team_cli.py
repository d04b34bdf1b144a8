"""``lablink team`` and ``lablink oncall`` on a real SQLite store (issue 20)."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from pathlib import Path
from typing import Any

import icalendar
import pytest
from team_support import utc
from typer.testing import CliRunner, Result

from lablink.cli.main import app


class Lablink:
    """``lablink --db URL ...`` in-process, on SQLite and on PostgreSQL."""

    def __init__(self, tmp_path: Path, db_url: str) -> None:
        self.db = db_url
        self.tmp = tmp_path

    def __call__(self, *args: str, code: int = 0) -> Result:
        found = CliRunner().invoke(app, ["--db", self.db, *args], catch_exceptions=False)
        assert found.exit_code == code, found.output
        return found

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "--json").stdout)


@pytest.fixture
def lablink(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Lablink:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LABLINK_USER", "admin")
    return Lablink(tmp_path, db_url)


def add_three(lablink: Lablink) -> None:
    lablink("team", "add", "ana", "--tz", "Europe/London", "--hours", "09:00-17:30",
            "--focus", "Tue,Thu 13:00-16:00", "--contact", "json://127.0.0.1:9/ana",
            "--email", "ana@lab.org")  # fmt: skip
    lablink("team", "add", "kenji", "--tz", "Asia/Tokyo", "--hours", "09:00-18:00",
            "--email", "kenji@lab.org")  # fmt: skip
    lablink("team", "add", "lucia", "--tz", "America/Los_Angeles", "--hours", "09:00-17:00",
            "--hours", "Fri 09:00-12:00", "--email", "lucia@lab.org")  # fmt: skip


def test_the_roster_lists_shows_and_removes_people(lablink: Lablink) -> None:
    add_three(lablink)
    members = lablink.json("team", "ls")["members"]
    assert [m["name"] for m in members] == ["ana", "kenji", "lucia"]
    lucia = lablink.json("team", "show", "lucia")
    assert lucia["hours"]["Thu"] == ["09:00-17:00"] and lucia["hours"]["Fri"] == ["09:00-12:00"]
    assert "Sat" not in lucia["hours"] and lucia["tz"] == "America/Los_Angeles"
    ana = lablink.json("team", "show", "ana")
    assert ana["focus"] == {"Tue": ["13:00-16:00"], "Thu": ["13:00-16:00"]}
    assert ana["contacts"] == ["json://127.0.0.1:9/…"] and ana["email"] == "ana@lab.org"
    assert "ana" in lablink("team", "ls").stdout
    lablink("team", "rm", "kenji")
    assert [m["name"] for m in lablink.json("team", "ls")["members"]] == ["ana", "lucia"]
    assert "not on the team" in lablink("team", "rm", "kenji", code=1).output


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--tz", "Mars/Olympus", "--hours", "09:00-17:00"], "tz"),
        (["--tz", "UTC", "--hours", "9-5"], "hours"),
        (["--tz", "UTC", "--hours", "17:00-09:00"], "hours"),
        (["--tz", "UTC", "--hours", "Funday 09:00-17:00"], "hours"),
        (["--tz", "UTC", "--hours", "09:00-17:00", "--focus", "Sat 10:00-12:00"], "focus"),
        (["--tz", "UTC", "--hours", "09:00-17:00", "--away", "2026-12-24..2026-12-01"], "away"),
        (["--tz", "UTC", "--hours", "09:00-17:00", "--contact", "nonsense"], "contact"),
    ],
)
def test_a_bad_field_is_named_and_nothing_is_saved(
    lablink: Lablink, args: list[str], field: str
) -> None:
    found = lablink("team", "add", "zoe", *args, "--email", "zoe@lab.org", code=1)
    assert f"error: {field}:" in found.output
    assert lablink.json("team", "ls")["members"] == []
    assert "zoe" not in lablink("users", "ls").output  # the user was not made either


def test_adding_someone_who_is_no_user_needs_an_email(lablink: Lablink) -> None:
    found = lablink("team", "add", "ghost", "--tz", "UTC", "--hours", "09:00-17:00", code=1)
    assert "no user 'ghost'" in found.output and "--email" in found.output


def test_a_teammate_is_the_user_the_server_knows(lablink: Lablink) -> None:
    lablink("users", "add", "ben", "--email", "ben@lab.org")
    lablink("team", "add", "ben", "--tz", "UTC", "--hours", "09:00-17:00")
    lablink("team", "add", "ben", "--tz", "UTC", "--hours", "10:00-18:00", "--email", "b@x.org")
    users = [u for u in json.loads(lablink("users", "ls", "--json").stdout)["users"]]
    assert [u["email"] for u in users if u["name"] == "ben"] == ["ben@lab.org"]  # one record
    assert lablink.json("team", "show", "ben")["hours"]["Mon"] == ["10:00-18:00"]
    assert "team.add" in lablink("audit").output


def test_overlap_moves_when_los_angeles_changes_clocks_inside_the_week(lablink: Lablink) -> None:
    # 2026-W10: Los Angeles springs forward on Sunday 8 March, London only on 29 March.
    lablink("team", "add", "ana", "--tz", "Europe/London", "--hours", "Mon-Sun 09:00-17:30",
            "--email", "ana@lab.org")  # fmt: skip
    lablink("team", "add", "lucia", "--tz", "America/Los_Angeles", "--hours",
            "Mon-Sun 09:00-17:00", "--email", "lucia@lab.org")  # fmt: skip
    found = lablink.json("team", "overlap", "--week", "2026-W10")
    minutes = [s["minutes"] for s in found["slots"]]
    assert minutes == [30] * 6 + [90]
    sat, sun = found["slots"][5], found["slots"][6]
    assert sat["local"] == {"ana": "Sat 17:00-17:30 GMT", "lucia": "Sat 09:00-09:30 PST"}
    assert sun["local"] == {"ana": "Sun 16:00-17:30 GMT", "lucia": "Sun 09:00-10:30 PDT"}
    assert found["best"][6]["minutes"] == 90
    # 2026-W14: both on summer time again, an hour closer than in winter.
    after = lablink.json("team", "overlap", "--week", "2026-W14")
    assert after["slots"][0]["local"]["ana"] == "Mon 17:00-17:30 BST"
    html = lablink.tmp / "overlap.html"
    lablink("team", "overlap", "--week", "2026-W10", "--html", str(html))
    assert "<svg" in html.read_text() and "Sun 16:00-17:30 GMT" in html.read_text()


def test_overlap_with_at_least_k_people(lablink: Lablink) -> None:
    add_three(lablink)
    everyone = lablink.json("team", "overlap", "--week", "2026-W50")
    assert everyone["slots"] == []  # London, Tokyo and Los Angeles never meet in hours
    two = lablink.json("team", "overlap", "--week", "2026-W50", "--min", "2")
    assert {tuple(s["people"]) for s in two["slots"]} == {("ana", "lucia"), ("kenji", "lucia")}
    # ana's focus block (Tue 13:00-16:00 London) leaves ana and lucia 16:00-17:30 UTC
    tuesday = [s for s in two["slots"] if s["utc"].startswith("Tue") and "ana" in s["people"]]
    assert tuesday[0]["utc"] == "Tue 2026-12-08 17:00-17:30 UTC"
    assert "min: 4" in lablink("team", "overlap", "--min", "4", code=1).output
    assert "week:" in lablink("team", "overlap", "--week", "2026-50", code=1).output


def test_rotations_overrides_and_the_calendar(lablink: Lablink) -> None:
    add_three(lablink)
    assert (
        "members:" in lablink("oncall", "rotation", "create", "r", "--members", " ", code=1).output
    )
    assert (
        "not on the team"
        in lablink("oncall", "rotation", "create", "r", "--members", "ana,zed", code=1).output
    )
    assert (
        "handoff:"
        in lablink(
            "oncall", "rotation", "create", "r", "--members", "ana", "--handoff", "Someday", code=1
        ).output
    )
    lablink("oncall", "rotation", "create", "research", "--members", "ana,kenji,lucia",
            "--handoff", "Mon 09:00", "--escalate-after", "10m", "--fallback", "lucia")  # fmt: skip
    [now] = lablink.json("oncall", "now")["rotations"]
    assert now["now"]["person"] in ("ana", "kenji", "lucia") and now["next"]["person"]
    assert now["now"]["end"] - now["now"]["start"] <= 7 * 86400 + 3600
    shifts = lablink.json("oncall", "schedule", "--weeks", "4")["shifts"]
    people = [s["person"] for s in shifts]
    assert all(p != q for p, q in itertools.pairwise(people))
    assert 4 <= len(shifts) <= 5

    soon = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
    override = lablink.json(
        "oncall", "override", "kenji", "--from", "now", "--to", f"{soon:%Y-%m-%dT%H:%M}"
    )
    assert "outside the schedule" in lablink(
        "oncall", "override", "kenji", "--from", "2090-01-01T00:00", "--to", "2090-01-02T00:00",
        code=1,
    ).output  # fmt: skip
    assert "over already" in lablink(
        "oncall", "override", "kenji", "--from", "2020-01-01T00:00", "--to", "2020-01-02T00:00",
        code=1,
    ).output  # fmt: skip
    assert override["person"] == "kenji"
    assert "in rotation research" in lablink("team", "rm", "kenji", code=1).output
    [after] = lablink.json("oncall", "now")["rotations"]
    assert after["now"]["person"] == "kenji" and "override" in after["now"]["why"]
    ics = lablink.tmp / "oncall.ics"
    lablink("oncall", "export", "research", "--ics", str(ics), "--weeks", "4")
    calendar = icalendar.Calendar.from_ical(ics.read_bytes())
    events = list(calendar.walk("VEVENT"))
    shifts = lablink.json("oncall", "schedule", "--weeks", "4", "--rotation", "research")["shifts"]
    assert len(events) == len(shifts) >= 1
    for i, (event, shift) in enumerate(zip(events, shifts, strict=True)):
        assert str(event["summary"]) == f"On call: {shift['person']} (research)"
        start = event.decoded("dtstart").timestamp()
        if i == 0:  # "now" of each command: the export ran first, seconds apart on a busy machine
            assert shift["start"] - 60 <= start <= shift["start"]
        else:
            assert start == pytest.approx(shift["start"], abs=1)
        assert event.decoded("dtend") > event.decoded("dtstart")
    assert len({str(e["uid"]) for e in events}) == len(events)


def test_sync_loads_the_toml_and_names_a_bad_field(lablink: Lablink) -> None:
    good = lablink.tmp / "lablink.toml"
    good.write_text(
        '[team.ana]\nemail = "ana@lab.org"\ntz = "Europe/London"\nhours = "09:00-17:30"\n'
        'focus = ["Tue 13:00-16:00"]\n'
        '[team.kenji]\nemail = "kenji@lab.org"\ntz = "Asia/Tokyo"\nhours = ["09:00-18:00"]\n'
        '[oncall.research]\nmembers = ["ana", "kenji"]\nhandoff = "09:00"\ndaily = true\n'
        'follow_the_sun = true\nescalate_after = "5m"\n'
    )
    assert "2 people and 1 rotations" in lablink("team", "sync").output
    assert [r["name"] for r in lablink.json("oncall", "rotation", "ls")["rotations"]] == [
        "research"
    ]
    bad = lablink.tmp / "bad.toml"
    bad.write_text(
        '[team.ana]\ntz = "Nowhere/Town"\nhours = "09:00-17:30"\n[team.lee]\ntz = "UTC"\nhours = "09:00-17:00"\nemail = "lee@lab.org"\n'
    )
    found = lablink("team", "sync", "--file", str(bad), code=1)
    assert "team.ana: tz:" in found.output
    assert [m["name"] for m in lablink.json("team", "ls")["members"]] == ["ana", "kenji"]
    # dropping kenji from the file removes him (he came from it), not hand-made entries
    lablink("team", "add", "lucia", "--tz", "UTC", "--hours", "09:00-17:00", "--email", "l@lab.org")
    good.write_text('[team.ana]\ntz = "Europe/London"\nhours = "09:00-17:30"\n')
    lablink("team", "sync")
    assert [m["name"] for m in lablink.json("team", "ls")["members"]] == ["ana", "lucia"]
    empty = lablink.tmp / "empty.toml"
    empty.write_text("[watch]\n")
    assert "no [team] or [oncall]" in lablink("team", "sync", "--file", str(empty), code=1).output
    assert lablink.json("oncall", "rotation", "ls")["rotations"] == []


def test_follow_the_sun_hands_over_across_three_continents(lablink: Lablink) -> None:
    from lablink.core.team import Team
    from lablink.store import open_store

    add_three(lablink)
    lablink("oncall", "rotation", "create", "sun", "--members", "ana,kenji,lucia",
            "--follow-the-sun")  # fmt: skip
    store = open_store(lablink.db)
    try:
        team = Team(store, lambda: utc("2026-12-09T00:00"))
        at = {s.start: s.person for s in team.schedule(1)}
        assert at[utc("2026-12-09T00:00")] == "kenji"  # 09:00 in Tokyo
        assert at[utc("2026-12-09T09:00")] == "ana"  # 09:00 in London
        assert at[utc("2026-12-09T17:30")] == "lucia"  # 09:30 in Los Angeles
        # lucia works until 01:00 UTC, but kenji comes first in this week's turn order
        assert at[utc("2026-12-10T00:00")] == "kenji"
    finally:
        store.close()
