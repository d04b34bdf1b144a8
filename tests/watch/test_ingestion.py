"""Metric rules on the ingestion path, over both transports and both databases: a NaN
opens its incident on the batch that carries it; a slowly rising loss diverges; points
of a run marked crashed are kept; a stopped run ends as killed."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import lablink
from helpers import LoopbackServer, wait_for
from lablink.core.lab import Lab
from lablink.sdk.connect import make_transport
from lablink.sdk.transport import Transport

LOSS = """
[watch.rules.loss]
metric = "train/loss"
nan = true
diverge_factor = 3.0
diverge_steps = 40
"""


@pytest.fixture(params=["direct", "http"])
def transport(
    request: pytest.FixtureRequest,
    make_lab: Callable[..., Lab],
    serve: Callable[[Lab], LoopbackServer],
) -> Iterator[Transport]:
    lab = make_lab(LOSS)
    settings = lab.settings
    if request.param == "http":
        settings = dataclasses.replace(settings, server=serve(lab).url)
    found = make_transport(settings)
    yield found
    found.close()


def batch(steps: range, values: list[float]) -> dict[str, dict[str, list[float]]]:
    return {
        "train/loss": {"steps": list(steps), "times": [1.7e9 + s for s in steps], "values": values}
    }


def test_a_nan_opens_its_incident_on_the_batch_that_carries_it(transport: Transport) -> None:
    run = transport.create_run("watch", "nan", {}, [], None, {})
    transport.log_batch(run.id, 0, batch(range(0, 30), [1.0 / (s + 1) for s in range(30)]))
    assert transport.list_incidents(False, run.id, 10) == []
    values = [0.03] * 10
    values[7] = math.nan  # step 37
    transport.log_batch(run.id, 1, batch(range(30, 40), values))
    [incident] = transport.list_incidents(True, run.id, 10)  # no wait: it is already there
    assert (incident.kind, incident.rule, incident.state) == ("nan", "loss", "open")
    assert incident.evidence["step"] == 37 and "NaN" in incident.title
    assert incident.evidence["window"]["steps"][-1] == 37
    assert transport.heartbeat(run.id, None, None)["stop"]  # the rule asks the run to stop
    transport.log_batch(run.id, 2, batch(range(40, 41), [math.nan]))
    [again] = transport.list_incidents(True, run.id, 10)
    assert again.id == incident.id  # folded in, not a second incident
    ended = transport.finish_run(run.id, "killed", "RunStopped")
    assert ended.status == "killed" and "NaN" in (ended.status_reason or "")


def test_a_slowly_rising_loss_diverges(transport: Transport) -> None:
    run = transport.create_run("watch", "rising", {}, [], None, {})
    transport.log_batch(
        run.id, 0, batch(range(0, 50), [1.0 - 0.018 * s for s in range(50)])
    )  # min 0.118
    seq = 1
    step = 50
    value = 0.12
    while step < 400 and not transport.list_incidents(False, run.id, 10):
        values = []
        for _ in range(10):
            value *= 1.03  # slow: 3% a step, above 3x the minimum after ~38 steps
            values.append(value)
        transport.log_batch(run.id, seq, batch(range(step, step + 10), values))
        seq, step = seq + 1, step + 10
    [incident] = transport.list_incidents(False, run.id, 10)
    assert incident.kind == "diverged" and incident.evidence["minimum"] == pytest.approx(0.118)
    threshold = incident.evidence["threshold"]
    since = incident.evidence["since_step"]
    assert incident.evidence["step"] - since + 1 >= 40  # above 3x its minimum for 40 steps
    history = transport.history(run.id, "train/loss", None, None, None)
    pairs = zip(history.steps, history.values, strict=True)
    above = [s for s, v in pairs if s >= 50 and v > threshold]
    assert since == above[0]  # the streak began where the rising loss crossed the line


def test_a_spike_is_not_divergence(transport: Transport) -> None:
    run = transport.create_run("watch", "spiky", {}, [], None, {})
    transport.log_batch(run.id, 0, batch(range(0, 100), [1.0] * 100))
    transport.log_batch(run.id, 1, batch(range(100, 130), [5.0] * 30))  # 30 steps < 40
    transport.log_batch(run.id, 2, batch(range(130, 200), [1.0] * 70))
    assert transport.list_incidents(False, run.id, 10) == []


def test_a_crashed_run_keeps_its_points_and_revives(make_lab: Callable[..., Lab]) -> None:
    lab = make_lab('[watch]\nheartbeat_timeout = "1s"\n')
    run = lab.tracking.create_run("ana", "p")
    lab.watchdog._grace_from = 0.0
    lab.watchdog.tick(run.created_at + 30)
    assert lab.tracking.get_run(run.id).status == "crashed"
    # A spool replayed after an outage: the points are stored, not refused.
    assert lab.tracking.log_batch(run.id, 0, batch(range(3), [1.0, 2.0, 3.0]))["ingested"]
    assert lab.tracking.history(run.id, "train/loss").steps == [0, 1, 2]
    # A heartbeat from it: it was frozen, not dead.
    assert lab.tracking.heartbeat(run.id)["status"] == "running"
    assert lab.tracking.get_run(run.id).status == "running"
    [incident] = lab.watchdog.incidents.list(run=run.id)
    assert incident.state == "resolved" and "resumed" in (incident.resolution_note or "")


def test_a_crashed_run_takes_the_status_its_sdk_sends(make_lab: Callable[..., Lab]) -> None:
    lab = make_lab('[watch]\nheartbeat_timeout = "1s"\n')
    run = lab.tracking.create_run("ana", "p")
    lab.watchdog._grace_from = 0.0
    lab.watchdog.tick(run.created_at + 30)
    assert lab.tracking.finish_run("ana", run.id, "finished").status == "finished"
    assert lab.tracking.finish_run("ana", run.id, "failed").status == "finished"  # ended stays


def test_the_sdk_stops_on_a_nan(
    make_lab: Callable[..., Lab], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lab = make_lab()
    monkeypatch.chdir(tmp_path)
    fast = {"flush_interval": 0.05, "heartbeat_interval": 0.1, "system_metrics": False}
    settings = dataclasses.replace(lab.settings, **fast)
    watch = {"rules": {"loss": {"metric": "train/loss"}}}
    init = lablink.init(project="watch", settings=settings, watch=watch)
    with pytest.raises(lablink.RunStopped, match="NaN"), init as run:  # noqa: PT012
        for step in range(100_000):
            run.log({"train/loss": math.nan if step == 20 else 1.0}, step=step)
            if step > 20:  # logging goes on until the stop arrives with a heartbeat
                wait_for(lambda: lab.tracking.get_run(run.id).stop_requested, 30, "the stop")
    stored = lab.tracking.get_run(run.id)
    assert stored.status == "killed" and "NaN" in (stored.status_reason or "")
    [incident] = lab.watchdog.incidents.list(run=run.id)
    assert incident.evidence["step"] == 20


def test_a_bad_watch_policy_fails_at_init(
    make_lab: Callable[..., Lab], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lab = make_lab()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(lablink.InvalidInput, match="heartbeat"):
        lablink.init(project="watch", settings=lab.settings, watch={"heartbeat": "2m"})
    assert lab.tracking.search_runs()[1] == 0


def test_a_stop_ignored_past_stop_grace_ends_the_run(make_lab: Callable[..., Lab]) -> None:
    lab = make_lab('[watch]\nmax_runtime = "10s"\nstop_grace = "5s"\n')
    run = lab.tracking.create_run("ana", "p")
    t0 = run.created_at
    lab.watchdog.tick(t0 + 11)  # over max_runtime: asked to stop
    asked = lab.tracking.get_run(run.id)
    assert asked.status == "running" and "max_runtime" in (asked.stop_requested or "")
    lab.watchdog.tick(t0 + 14)  # within the grace: still running
    assert lab.tracking.get_run(run.id).status == "running"
    lab.watchdog.tick(t0 + 17)  # the training code ignored RunStopped
    ended = lab.tracking.get_run(run.id)
    assert ended.status == "timed_out" and "stop_grace" in (ended.status_reason or "")
    assert lab.tracking.heartbeat(run.id)["stop"]  # a late heartbeat still hears "stop"
