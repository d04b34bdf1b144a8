"""Routing the watchdog's incidents to people (issue 20), end to end through apprise to a
real webhook receiver on 127.0.0.1, with the notifier's clock moved by the test."""

from __future__ import annotations

from typing import Any

from team_support import Clock, Inbox, utc
from typer.testing import CliRunner

from helpers import wait_for
from lablink.checks.watch_rules import Finding
from lablink.cli.main import app
from lablink.core.lab import Lab
from lablink.core.team import Team

WED_10 = utc("2026-12-09T10:00")  # a Wednesday: 10:00 in London, 02:00 in Los Angeles


def finding(severity: str, kind: str = "stalled") -> Finding:
    return Finding(kind, "loss", severity, "alert", "reopen", f"{kind} on train/loss", {})


def setup(lab: Lab, inbox: Inbox, clock: Clock) -> Team:
    lab.watchdog.notifier.clock = clock
    team = Team(lab.store, clock)
    for name, tz in (
        ("ana", "Europe/London"),
        ("kenji", "Asia/Tokyo"),
        ("lucia", "America/Los_Angeles"),
        ("boss", "UTC"),
    ):
        team.add(
            "admin",
            name,
            tz,
            ["09:00-17:30"],
            ["Wed 13:00-16:00"],
            contacts=[inbox.url(name)],
            email=f"{name}@lab.org",
        )
    team.create_rotation(
        "admin",
        "research",
        ["ana", "kenji", "lucia"],
        "Mon 09:00",
        escalate_after="15m",
        fallback="boss",
    )
    return team


def rows(lab: Lab, incident_id: int) -> list[dict[str, Any]]:
    return list(lab.watchdog.incidents.detail(incident_id)["deliveries"])


def test_a_critical_incident_escalates_when_nobody_acknowledges(lab: Lab) -> None:
    clock = Clock(WED_10)
    with Inbox() as inbox:
        team = setup(lab, inbox, clock)
        first = team.now()[0]["now"]["person"]
        order = ["ana", "kenji", "lucia"]
        second = order[(order.index(first) + 1) % 3]
        run = lab.tracking.create_run("ana@lab.org", "vision")
        incident = lab.watchdog.incidents.raise_finding(
            run.id, finding("critical", "nan"), now=clock()
        ).incident
        wait_for(lambda: inbox.to(first), 30, f"the page to {first}")
        wait_for(lambda: rows(lab, incident.id)[0]["state"] == "sent", 30, "sent")
        found = rows(lab, incident.id)
        assert [(r["recipient"], r["step"], r["state"]) for r in found] == [
            (first, 0, "sent"), (second, 1, "pending"), ("boss", 2, "pending"),
        ]  # fmt: skip
        assert "on call in research" in found[0]["reason"]
        assert found[1]["next_at"] == WED_10 + 900 and found[2]["next_at"] == WED_10 + 1800
        assert "Why you:" in inbox.to(first)[0]["message"]
        lab.watchdog.notifier.run_once()
        assert inbox.to(second) == []  # the window is not over yet

        clock.at = WED_10 + 901
        wait_for(lambda: inbox.to(second), 30, f"the escalation to {second}")
        assert "not acknowledged within 15 min" in rows(lab, incident.id)[1]["reason"]

        lab.watchdog.incidents.acknowledge(first, incident.id)
        clock.at = WED_10 + 1801
        lab.watchdog.notifier.run_once()
        last = rows(lab, incident.id)[2]
        assert last["state"] == "cancelled" and "acknowledged" in last["last_error"]
        assert inbox.to("boss") == []
    shown = CliRunner().invoke(
        app,
        ["--db", lab.settings.db, "incidents", "show", str(incident.id)],
        catch_exceptions=False,
    )
    assert shown.exit_code == 0, shown.output
    text = " ".join(shown.output.split())
    assert f"to {first} via json://127.0.0.1" in text and "why: critical incident" in text
    assert f"escalation 1 to {second}" in text and "escalation 2 to boss" in text
    assert "cancelled" in text


def test_acknowledging_in_time_stops_the_escalation(lab: Lab) -> None:
    clock = Clock(WED_10)
    with Inbox() as inbox:
        team = setup(lab, inbox, clock)
        first = team.now()[0]["now"]["person"]
        run = lab.tracking.create_run("ana@lab.org", "vision")
        incident = lab.watchdog.incidents.raise_finding(
            run.id, finding("critical", "nan"), now=clock()
        ).incident
        wait_for(lambda: inbox.to(first), 30, "the first page")
        wait_for(lambda: rows(lab, incident.id)[0]["state"] == "sent", 30, "sent")
        lab.watchdog.incidents.acknowledge(first, incident.id)
        clock.at = WED_10 + 3600
        lab.watchdog.notifier.run_once()
        assert [r["state"] for r in rows(lab, incident.id)] == ["sent", "cancelled", "cancelled"]
        assert len(inbox.got) == 1


def test_a_held_notification_is_released_when_the_focus_block_ends(lab: Lab) -> None:
    clock = Clock(utc("2026-12-09T14:00"))  # ana (London, GMT) is in her Wed 13-16 focus block
    with Inbox() as inbox:
        setup(lab, inbox, clock)
        run = lab.tracking.create_run("ana@lab.org", "vision")
        incident = lab.watchdog.incidents.raise_finding(
            run.id, finding("warning"), now=clock()
        ).incident
        [row] = rows(lab, incident.id)
        assert row["recipient"] == "ana" and row["held_until"] == utc("2026-12-09T16:00")
        assert "in a focus block" in row["reason"] and "held until Wed 16:00" in row["reason"]
        clock.at = utc("2026-12-09T15:59")
        lab.watchdog.notifier.run_once()
        assert inbox.got == []
        clock.at = utc("2026-12-09T16:00")
        wait_for(lambda: inbox.to("ana"), 30, "the held alert")
        wait_for(lambda: rows(lab, incident.id)[0]["state"] == "sent", 30, "sent")


def test_a_notification_at_night_waits_for_working_hours(lab: Lab) -> None:
    clock = Clock(utc("2026-12-10T00:30"))
    with Inbox() as inbox:
        setup(lab, inbox, clock)
        run = lab.tracking.create_run("lucia@lab.org", "vision")  # Los Angeles: Wed 16:30, working
        lab.watchdog.incidents.raise_finding(run.id, finding("warning"), now=clock())
        wait_for(lambda: inbox.to("lucia"), 30, "lucia's alert")
        run = lab.tracking.create_run("ana", "vision")  # London: Thu 00:30, off
        incident = lab.watchdog.incidents.raise_finding(
            run.id, finding("warning"), now=clock()
        ).incident
        [row] = rows(lab, incident.id)
        assert (
            row["held_until"] == utc("2026-12-10T09:00")
            and "outside working hours" in row["reason"]
        )
        clock.at = utc("2026-12-10T08:59")
        lab.watchdog.notifier.run_once()
        assert inbox.to("ana") == []
        clock.at = utc("2026-12-10T09:00")  # Thursday 09:00 in London: her day begins
        wait_for(lambda: inbox.to("ana"), 30, "ana's alert when her hours begin")


def test_an_away_owner_sends_the_alert_to_on_call(lab: Lab) -> None:
    clock = Clock(WED_10)
    with Inbox() as inbox:
        team = setup(lab, inbox, clock)
        team.add(
            "admin",
            "ana",
            "Europe/London",
            ["09:00-17:30"],
            away=["2026-12-07..2026-12-11"],
            contacts=[inbox.url("ana")],
        )
        run = lab.tracking.create_run("ana@lab.org", "vision")
        incident = lab.watchdog.incidents.raise_finding(
            run.id, finding("warning"), now=clock()
        ).incident
        first = rows(lab, incident.id)[0]
        assert first["recipient"] != "ana" and "the owner ana is away" in first["reason"]


def test_without_a_team_the_notify_channels_still_get_every_alert(lab: Lab) -> None:
    with Inbox() as inbox:
        lab.watchdog.notifier.channels = {"k": inbox.url("channel")}
        lab.watchdog.notifier._labels = [("json://127.0.0.1/channel", "k")]
        run = lab.tracking.create_run("ana", "vision")
        incident = lab.watchdog.incidents.raise_finding(run.id, finding("critical")).incident
        wait_for(lambda: inbox.to("channel"), 30, "the channel alert")
        [row] = rows(lab, incident.id)
        assert row["recipient"] is None and row["reason"] is None
