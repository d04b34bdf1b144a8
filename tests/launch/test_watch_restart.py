"""A watchdog rule with ``action = "restart"`` restarts a launched job (issue 16): a real
``lablink launch``, a real watchdog acting on the NaN the job logs, a real restart."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from test_launch import _env, _runs, lablink

from helpers import LoopbackServer, wait_for
from lablink.core.lab import Lab
from lablink.sdk.client import Client
from launch_helpers import runs_of

TOML = """
[launch]
project = "watched"
restarts = 1
backoff = "0.1s"
grace = "5s"

[watch.rules.loss]
metric = "loss"
action = "restart"
"""

# Attempt 1 logs a NaN and waits to be ended (bounded: it gives up after a minute and
# fails, which the test would see); attempt 2 logs a good point and finishes.
JOB = """
import os, time, lablink
run = lablink.init(project="watched")
if os.environ["LABLINK_ATTEMPT"] == "1":
    run.log({"loss": 1.0}, step=0)
    run.log({"loss": float("nan")}, step=1)
    print("diverged", flush=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        time.sleep(0.05)
    raise SystemExit(9)
run.log({"loss": 0.5}, step=2)
print("second attempt done", flush=True)
run.finish()
"""


def _launch_and_check(git_repo: Path, env: dict[str, str], runs: Callable[[], list[Any]]) -> None:
    (git_repo / "lablink.toml").write_text(TOML)
    (git_repo / "job.py").write_text(JOB)
    done = lablink(git_repo, env, "launch", "--name", "nan", "--", sys.executable, "job.py")
    assert done.returncode == 0, done.stderr
    assert "second attempt done" in done.stdout
    (run,) = runs()
    assert run.status == "finished" and run.stop_requested is None
    job = json.loads(lablink(git_repo, env, "jobs", "show", run.id, "--json").stdout)["job"]
    first, second = job["attempts"]
    assert first["status"] == "restarted"
    assert first["reason"] == "watchdog: loss: loss is NaN at step 1: the run diverged"
    assert first["exit_code"] != 9  # ended by the launcher, not by giving up
    assert second["status"] == "finished"
    with Client(home=env["LABLINK_HOME"], server=env.get("LABLINK_SERVER")) as client:
        incidents = client._transport.list_incidents(False, run.id, 10)
        assert [i.kind for i in incidents] == ["nan"]
        assert list(client.history(run.id, "loss").steps) == [0, 1, 2]


def test_a_watchdog_restart_on_the_embedded_store(git_repo: Path) -> None:
    """The job's own SDK runs the watchdog's ingestion check; the launcher takes it."""
    home = git_repo / ".lablink"
    _launch_and_check(git_repo, _env(LABLINK_HOME=str(home)), lambda: _runs(home, "watched"))


def test_a_watchdog_restart_over_a_server(git_repo: Path, server: LoopbackServer, lab: Lab) -> None:
    """The server's watchdog acts on the run's policy (the repository's [watch], sent by
    the launcher); the launcher takes the restart from its heartbeat over HTTP."""
    env = _env(LABLINK_HOME=str(git_repo / ".lablink"), LABLINK_SERVER=server.url)

    def runs() -> list[Any]:
        return lab.tracking.search_runs("watched", None, None, False, 10, 0)[0]

    _launch_and_check(git_repo, env, runs)


LAUNCH = [sys.executable, "-m", "lablink.cli", "launch", "-p", "p"]


def test_a_stop_during_the_backoff_ends_the_job_before_the_next_attempt(tmp_path: Path) -> None:
    """The launcher heartbeats while it waits out a (long) backoff: `jobs stop` is heard."""
    home = tmp_path / "home"
    (tmp_path / "lablink.toml").write_text('[launch]\nbackoff = "10m"\n')
    env = _env(LABLINK_HOME=str(home))
    proc = subprocess.Popen(
        [*LAUNCH, "--restarts", "1", "--", "bash", "-c", "echo ran >> attempts; exit 3"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def first_attempt_recorded() -> str | None:
            runs = runs_of(home, "p")  # the run is created beside the first attempt
            if not (tmp_path / "attempts").exists() or not runs:
                return None
            (run,) = runs
            shown = lablink(tmp_path, env, "jobs", "show", run.id, "--json")
            attempts = json.loads(shown.stdout)["job"]["attempts"]
            return run.id if attempts and attempts[-1]["status"] == "failed" else None

        run_id = wait_for(first_attempt_recorded, 60, "the first attempt to fail")
        assert lablink(tmp_path, env, "jobs", "stop", run_id).returncode == 0
        proc.wait(60)
    finally:
        proc.kill()
    assert proc.returncode == 1
    (run,) = _runs(home, "p")
    assert run.status == "killed" and "stopped from the command line" in (run.status_reason or "")
    assert (tmp_path / "attempts").read_text().split() == ["ran"]
