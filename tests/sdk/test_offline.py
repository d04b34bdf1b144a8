"""No data loss: outages, spooling, replays, a server killed and restarted mid-run."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sdk_support import FAST, Flaky, PortServer, Sdk
from typer.testing import CliRunner

import lablink
from helpers import free_port, wait_for
from lablink.cli.main import app
from lablink.core.lab import Lab
from lablink.sdk.spool import replay_all
from lablink.settings import Settings


def unreachable_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "unreachable" in r.getMessage()]


@pytest.fixture
def http_settings(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """SDK settings aimed at a port where the test starts and stops servers."""
    monkeypatch.chdir(tmp_path)
    port = free_port()
    return dataclasses.replace(
        settings, server=f"http://127.0.0.1:{port}", spool_dir=tmp_path / "spool", **FAST
    )


@pytest.fixture
def servers(lab: Lab, http_settings: Settings) -> Iterator[list[PortServer]]:
    """Servers started by the test; each is stopped at teardown if still running."""
    started: list[PortServer] = []
    yield started
    for srv in started:
        if srv.thread.is_alive():
            srv.stop()


def start(lab: Lab, settings: Settings, servers: list[PortServer]) -> PortServer:
    port = int(str(settings.server).rsplit(":", 1)[1])
    srv = PortServer(lab, port).start()
    servers.append(srv)
    return srv


def test_server_killed_and_restarted_mid_run_loses_and_doubles_nothing(
    lab: Lab,
    http_settings: Settings,
    servers: list[PortServer],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="lablink")
    first = start(lab, http_settings, servers)
    run = lablink.init(project="outage", settings=http_settings, finish_timeout=60)
    spool = Path(http_settings.spool_dir) / f"{run.id}.jsonl"
    for step in range(1000):
        run.log({"loss": 1.0 / (step + 1), "acc": step / 4000}, step=step)
    first.stop()
    for step in range(1000, 3000):
        run.log({"loss": 1.0 / (step + 1), "acc": step / 4000}, step=step)
    run.summary["during"] = "outage"
    run.tag("survived")
    wait_for(spool.exists, 30, "the spool file")
    start(lab, http_settings, servers)  # a new server process on the same port and DB
    for step in range(3000, 4000):
        run.log({"loss": 1.0 / (step + 1), "acc": step / 4000}, step=step)
    run.finish()
    stored = lab.tracking.get_run(run.id)
    assert stored.status == "finished"
    for key in ("loss", "acc"):
        history = lab.tracking.history(run.id, key)
        assert history.steps == list(range(4000))  # every point, exactly once
        assert stored.metrics[key].count == 4000
    assert stored.summary["during"] == "outage"
    assert "survived" in stored.tags
    assert not spool.exists()
    assert len(unreachable_warnings(caplog)) == 1


def test_server_down_at_start_then_up(
    lab: Lab,
    http_settings: Settings,
    servers: list[PortServer],
    git_repo: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(git_repo)
    (git_repo / "train.py").write_text("print('changed')\n")
    run = lablink.init(project="late", settings=http_settings, config={"lr": 0.1}, tags=["t"])
    for step in range(100):
        run.log({"x": step})
    start(lab, http_settings, servers)
    run.finish()
    stored = lab.tracking.get_run(run.id)
    assert (stored.status, stored.config, list(stored.tags)) == ("finished", {"lr": 0.1}, ["t"])
    assert lab.tracking.history(run.id, "x").steps == list(range(100))
    assert stored.git.dirty
    assert b"changed" in lab.blobs.read_bytes(stored.git.diff_digest)


def test_spool_left_at_finish_is_replayed_later(
    lab: Lab,
    http_settings: Settings,
    servers: list[PortServer],
    caplog: pytest.LogCaptureFixture,
) -> None:
    srv = start(lab, http_settings, servers)
    run = lablink.init(project="later", settings=http_settings, finish_timeout=0.3)
    run.log({"x": 0.0})
    srv.stop()
    for step in range(1, 500):
        run.log({"x": float(step)})
    run.finish()  # the server is still away: the spool stays, nothing is lost
    spool = Path(http_settings.spool_dir) / f"{run.id}.jsonl"
    assert spool.exists()
    assert any("stay spooled" in r.getMessage() for r in caplog.records)
    assert lab.tracking.get_run(run.id).status == "running"

    start(lab, http_settings, servers)
    # the next run for this server replays it in the background
    with lablink.init(project="later", settings=http_settings) as second:
        second.log({"y": 1.0})
    assert not spool.exists()
    stored = lab.tracking.get_run(run.id)
    assert stored.status == "finished"
    assert lab.tracking.history(run.id, "x").steps == list(range(500))


def test_replay_all_sends_leftover_spools(
    lab: Lab, http_settings: Settings, servers: list[PortServer]
) -> None:
    run = lablink.init(project="offline", settings=http_settings)
    for step in range(300):
        run.log({"x": step})
    run.summary["best"] = 1.5
    run.finish("failed", "boom", timeout=0.1)
    start(lab, http_settings, servers)
    transport = lablink.Client(settings=http_settings)._transport
    try:
        report = replay_all(transport)
        again = replay_all(transport)
    finally:
        transport.close()
    assert report.replayed == [f"{run.id}.jsonl"] and report.ops >= 4
    assert again.replayed == [] and again.ops == 0
    stored = lab.tracking.get_run(run.id)
    assert (stored.status, stored.status_reason) == ("failed", "boom")
    assert stored.summary == {"best": 1.5}
    assert lab.tracking.history(run.id, "x").steps == list(range(300))


def test_outage_through_either_transport_loses_nothing(
    sdk: Sdk, caplog: pytest.LogCaptureFixture
) -> None:
    flaky = Flaky(sdk.transport())
    run = lablink.init(project="flaky", settings=sdk.settings, transport=flaky)
    for step in range(200):
        run.log({"x": step})
    wait_for(lambda: sdk.points(run.id, "x") == list(range(200)), 30, "the first points")
    flaky.down.set()
    for step in range(200, 700):
        run.log({"x": step})
    run.note("written while away")
    wait_for(lambda: (Path(sdk.settings.spool_dir) / f"{run.id}.jsonl").exists(), 30, "spool")
    flaky.down.clear()
    for step in range(700, 800):
        run.log({"x": step})
    run.finish()
    assert sdk.points(run.id, "x") == list(range(800))
    stored = sdk.client.run(run.id)
    assert stored.status == "finished"
    assert [n.text for n in stored.notes] == ["written while away"]
    assert len(unreachable_warnings(caplog)) == 1


def test_a_refused_batch_is_dropped_not_retried(sdk: Sdk, caplog: pytest.LogCaptureFixture) -> None:
    flaky = Flaky(sdk.transport())
    flaky.refuse["log_batch"] = lablink.InvalidInput("test: bad batch")
    run = lablink.init(project="refused", settings=sdk.settings, transport=flaky)
    run.log({"x": 1.0})
    wait_for(lambda: "log_batch" in flaky.calls, 30, "the batch to be sent")
    del flaky.refuse["log_batch"]
    run.log({"x": 2.0})
    run.finish()
    assert sdk.points(run.id, "x") == [1]
    assert sdk.client.run(run.id).status == "finished"
    assert any("dropped" in r.getMessage() for r in caplog.records)
    assert not (Path(sdk.settings.spool_dir) / f"{run.id}.jsonl").exists()


EXIT_WHILE_AWAY = """
import lablink
run = lablink.init(project="away")
for step in range(100):
    run.log({"x": float(step)})
print(run.id, flush=True)
"""


def test_a_script_ends_promptly_when_the_server_is_down_and_lablink_sync_sends_it_later(
    lab: Lab,
    http_settings: Settings,
    servers: list[PortServer],
    tmp_path: Path,
) -> None:
    script = tmp_path / "train_away.py"
    script.write_text(EXIT_WHILE_AWAY)
    env = dict(os.environ)
    env.update(
        LABLINK_HOME=str(http_settings.home),
        LABLINK_SERVER=str(http_settings.server),  # nothing listens there
        LABLINK_SPOOL_DIR=str(http_settings.spool_dir),
        PYTHONPATH=os.pathsep.join(p for p in sys.path if p),
    )
    started = time.monotonic()
    child = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    took = time.monotonic() - started
    assert child.returncode == 0, child.stderr
    # Before, the exit waited out a 30 s finish timeout; a generous bound well under it.
    assert took < 20, f"the script took {took:.1f} s to end"
    assert child.stderr.count("lablink sync") == 1, child.stderr
    run_id = child.stdout.strip()
    assert (Path(http_settings.spool_dir) / f"{run_id}.jsonl").exists()

    start(lab, http_settings, servers)
    result = CliRunner().invoke(app, ["sync", "--json"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["replayed"] == [f"{run_id}.jsonl"]
    assert lab.tracking.get_run(run_id).status == "finished"
    assert lab.tracking.history(run_id, "x").steps == list(range(100))
    again = CliRunner().invoke(app, ["sync"], env=env, catch_exceptions=False)
    assert "nothing to send" in again.output


@pytest.mark.parametrize("url", ["127.0.0.1:8500", "localhost:8500", "http://", "ftp://host"])
def test_a_server_url_without_scheme_is_refused_at_init(settings: Settings, url: str) -> None:
    with pytest.raises(lablink.InvalidInput, match="not an http") as caught:
        lablink.init(project="p", settings=dataclasses.replace(settings, server=url))
    assert caught.value.hint and "http://" in caught.value.hint
