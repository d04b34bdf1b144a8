"""Incident lifecycle on SQLite and PostgreSQL: open → acknowledged → resolved, repeats
folded in, reopen or anew by rule, and one incident however many watchdogs see it."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from lablink.checks.watch_rules import Finding
from lablink.core.lab import Lab
from lablink.errors import Conflict, InvalidInput, NotFound


def finding(repeat: str = "reopen", kind: str = "nan", value: str = "NaN") -> Finding:
    return Finding(
        kind, "loss", "high", "alert", repeat, f"train/loss is {value}", {"value": value}
    )


def test_lifecycle_and_who_acted(make_lab: Callable[..., Lab]) -> None:
    lab = make_lab()
    run = lab.tracking.create_run("ana", "p")
    incidents = lab.watchdog.incidents
    raised = incidents.raise_finding(run.id, finding())
    assert raised.outcome == "opened"
    first = raised.incident
    assert (first.state, first.count, first.opened_by, first.run_name) == (
        "open",
        1,
        "watchdog",
        run.name,
    )
    acked = incidents.acknowledge("bo@example.org", first.id)
    assert acked.state == "acknowledged" and acked.acknowledged_by == "bo@example.org"
    assert incidents.acknowledge("cy", first.id).acknowledged_by == "bo@example.org"  # no-op
    done = incidents.resolve("cy", first.id, "lowered the learning rate")
    assert (done.state, done.resolved_by, done.resolution_note) == (
        "resolved",
        "cy",
        "lowered the learning rate",
    )
    with pytest.raises(Conflict, match="already resolved"):
        incidents.resolve("cy", first.id)
    with pytest.raises(Conflict, match="already resolved"):
        incidents.acknowledge("cy", first.id)
    with pytest.raises(NotFound, match="no incident"):
        incidents.acknowledge("cy", 999_999)
    with pytest.raises(InvalidInput, match="positive integer"):
        incidents.resolve("cy", 0)
    kinds = [e.kind for e in lab.store.events_since(0, None, run.id, 100)]
    assert kinds.count("incident") == 3  # opened, acknowledged, resolved


def test_repeats_fold_into_the_unresolved_incident(make_lab: Callable[..., Lab]) -> None:
    lab = make_lab()
    run = lab.tracking.create_run("ana", "p")
    incidents = lab.watchdog.incidents
    first = incidents.raise_finding(run.id, finding(value="NaN")).incident
    incidents.acknowledge("bo", first.id)
    again = incidents.raise_finding(run.id, finding(value="inf"))
    assert again.outcome == "repeat" and again.incident.id == first.id
    assert again.incident.count == 2 and again.incident.state == "acknowledged"
    assert again.incident.evidence == {"value": "inf"}
    other = incidents.raise_finding(run.id, finding(kind="diverged"))
    assert other.outcome == "opened" and other.incident.id != first.id
    assert [i.id for i in incidents.list(open_only=True, run=run.id)] == [
        other.incident.id,
        first.id,
    ]


def test_a_resolved_condition_that_comes_back_reopens(make_lab: Callable[..., Lab]) -> None:
    lab = make_lab()
    run = lab.tracking.create_run("ana", "p")
    incidents = lab.watchdog.incidents
    first = incidents.raise_finding(run.id, finding("reopen")).incident
    incidents.resolve("bo", first.id, "restarted")
    back = incidents.raise_finding(run.id, finding("reopen"))
    assert back.outcome == "reopened" and back.incident.id == first.id
    assert (back.incident.state, back.incident.reopened, back.incident.resolved_by) == (
        "open",
        1,
        None,
    )
    assert len(incidents.list(run=run.id)) == 1


def test_or_opens_anew(make_lab: Callable[..., Lab]) -> None:
    lab = make_lab()
    run = lab.tracking.create_run("ana", "p")
    incidents = lab.watchdog.incidents
    first = incidents.raise_finding(run.id, finding("new")).incident
    incidents.resolve("bo", first.id)
    back = incidents.raise_finding(run.id, finding("new"))
    assert back.outcome == "opened" and back.incident.id != first.id
    states = {i.id: i.state for i in incidents.list(run=run.id)}
    assert states == {first.id: "resolved", back.incident.id: "open"}


def test_two_watchdogs_on_one_database_open_one_incident(make_lab: Callable[..., Lab]) -> None:
    """Two Labs (two server processes' watchdogs) race on the same finding."""
    a, b = make_lab(name="a"), make_lab(name="b")
    run = a.tracking.create_run("ana", "p")
    outcomes: list[str] = []
    barrier = threading.Barrier(8)

    def fire(lab: Lab) -> None:
        barrier.wait()
        for _ in range(5):
            outcomes.append(lab.watchdog.incidents.raise_finding(run.id, finding()).outcome)

    threads = [threading.Thread(target=fire, args=(lab,)) for lab in (a, b) * 4]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(outcomes).count("opened") == 1 and len(outcomes) == 40
    found = a.watchdog.incidents.list(run=run.id)
    assert len(found) == 1 and found[0].count == 40


def test_two_watchdogs_crash_a_run_once(make_lab: Callable[..., Lab]) -> None:
    toml = '[watch]\nheartbeat_timeout = "1s"\n'
    a, b = make_lab(toml, name="a"), make_lab(toml, name="b")
    run = a.tracking.create_run("ana", "p")
    later = run.heartbeat_at + 60  # type: ignore[operator]
    for lab in (a, b):
        lab.watchdog._grace_from = 0.0  # as if both had been up for long
    threads = [threading.Thread(target=lab.watchdog.tick, args=(later,)) for lab in (a, b, a, b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert a.tracking.get_run(run.id).status == "crashed"
    found = a.watchdog.incidents.list(run=run.id)
    assert [(i.kind, i.count) for i in found] == [("lost_heartbeat", 1)]
    statuses = [
        e.payload["status"]
        for e in a.store.events_since(0, None, run.id, 100)
        if e.kind == "status"
    ]
    assert statuses == ["crashed"]
