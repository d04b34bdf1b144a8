"""Alerts through apprise to a real webhook receiver on 127.0.0.1: what they say, retries
with backoff recorded per attempt, and ingestion that never waits on delivery."""

from __future__ import annotations

import math
from collections.abc import Callable

from watch_support import Receiver

from helpers import wait_for
from lablink.checks.watch_rules import Finding
from lablink.core.lab import Lab


def notify_toml(url: str, **extra: str) -> str:
    lines = [f'channels = ["{url}"]', 'backoff = "50ms"', *(f"{k} = {v}" for k, v in extra.items())]
    rules = '[watch.rules.loss]\nmetric = "train/loss"\n'
    return rules + "[notify]\n" + "\n".join(lines) + "\n"


NAN = Finding("nan", "loss", "high", "stop", "reopen", "train/loss is NaN at step 7", {
    "metric": "train/loss", "step": 7, "value": "NaN",
    "window": {"steps": [5, 6, 7], "values": [0.5, 0.4, "nan"]},
})  # fmt: skip


def deliveries(lab: Lab, incident_id: int) -> list[dict]:  # type: ignore[type-arg]
    return lab.watchdog.incidents.detail(incident_id)["deliveries"]


def test_the_alert_names_run_rule_evidence_link_and_what_to_do(
    make_lab: Callable[..., Lab],
) -> None:
    with Receiver() as hook:
        lab = make_lab(notify_toml(hook.url), public_url="https://lab.example.org")
        run = lab.tracking.create_run("ana", "vision", "resnet-7")
        incident = lab.watchdog.incidents.raise_finding(run.id, NAN).incident
        [body] = wait_for(lambda: hook.bodies, 30, "the webhook")
        [delivery] = wait_for(
            lambda: [d for d in deliveries(lab, incident.id) if d["state"] == "sent"], 30, "sent"
        )
    assert "high" in body["title"] and "vision/resnet-7" in body["title"]
    text = body["message"]
    assert f"Incident #{incident.id} opened: train/loss is NaN at step 7" in text
    assert f"Run: vision/resnet-7 ({run.id})" in text
    assert "Rule: loss (nan)" in text and "step=7" in text and "last values 0.5, 0.4, nan" in text
    assert f"https://lab.example.org/r/{run.id}" in text
    assert "What to do:" in text and f"lablink incidents ack {incident.id}" in text
    assert "asked the run to stop" in text
    assert delivery["channel"].startswith("json://127.0.0.1") and delivery["attempts"] == 1
    assert [a["ok"] for a in delivery["history"]] == [True]


def test_a_failing_endpoint_is_retried_and_every_attempt_recorded(
    make_lab: Callable[..., Lab],
) -> None:
    with Receiver(fail_first=2, status=503) as hook:
        lab = make_lab(notify_toml(hook.url))
        run = lab.tracking.create_run("ana", "vision")
        incident = lab.watchdog.incidents.raise_finding(run.id, NAN).incident
        wait_for(lambda: hook.bodies, 30, "the third attempt")
        [delivery] = wait_for(
            lambda: [d for d in deliveries(lab, incident.id) if d["state"] == "sent"], 30, "sent"
        )
    attempts = delivery["history"]
    assert delivery["attempts"] == 3 and [a["ok"] for a in attempts] == [False, False, True]
    assert [a["attempt"] for a in attempts] == [1, 2, 3]
    assert all("503" in (a["error"] or "") for a in attempts[:2]) and attempts[2]["error"] is None
    assert attempts[1]["at"] > attempts[0]["at"]  # backoff between them


def test_an_endpoint_that_never_answers_is_given_up(make_lab: Callable[..., Lab]) -> None:
    with Receiver(fail_first=1000) as hook:
        lab = make_lab(notify_toml(hook.url, max_attempts="3"))
        run = lab.tracking.create_run("ana", "vision")
        incident = lab.watchdog.incidents.raise_finding(run.id, NAN).incident
        [delivery] = wait_for(
            lambda: [d for d in deliveries(lab, incident.id) if d["state"] == "failed"],
            30,
            "failed",
        )
    assert len(delivery["history"]) == 3 and not any(a["ok"] for a in delivery["history"])
    assert delivery["last_error"]
    assert hook.bodies == []


def test_ingestion_never_waits_on_delivery(make_lab: Callable[..., Lab]) -> None:
    with Receiver(hold=True) as hook:  # the receiver answers only when the test says so
        lab = make_lab(notify_toml(hook.url))
        run = lab.tracking.create_run("ana", "vision")
        metrics = {"train/loss": {"steps": [0, 1], "times": [1.0, 2.0], "values": [1.0, math.nan]}}
        assert lab.tracking.log_batch(run.id, 0, metrics)["ingested"]  # returns while held
        [incident] = lab.watchdog.incidents.list(run=run.id)
        assert [d["state"] for d in deliveries(lab, incident.id)] in (["pending"], ["sending"])
        hook.release.set()
        wait_for(
            lambda: [d for d in deliveries(lab, incident.id) if d["state"] == "sent"], 30, "sent"
        )
    assert "NaN" in hook.bodies[0]["message"]


def test_repeats_do_not_alert_again_but_a_reopen_does(make_lab: Callable[..., Lab]) -> None:
    with Receiver() as hook:
        lab = make_lab(notify_toml(hook.url))
        run = lab.tracking.create_run("ana", "vision")
        incidents = lab.watchdog.incidents
        first = incidents.raise_finding(run.id, NAN).incident
        incidents.raise_finding(run.id, NAN)
        wait_for(lambda: len(hook.bodies) == 1, 30, "the first alert")
        incidents.resolve("bo", first.id, "fixed")
        incidents.raise_finding(run.id, NAN)
        wait_for(lambda: len(hook.bodies) == 2, 30, "the reopen alert")
    assert "reopened" in hook.bodies[1]["message"]
    assert [d["event"] for d in deliveries(lab, first.id)] == ["opened", "reopened"]
