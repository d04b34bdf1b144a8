"""``lablink launch`` starts the command first and creates its run beside it (issue 16,
start-up): the job's code joins a run stored a moment later, bad input still fails
before anything starts, and a run that cannot be created ends the command."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import lablink
from lablink.checks.names import new_run_id
from lablink.errors import NotFound
from lablink.sdk.client import Client
from lablink.sdk.launched import PENDING_ENV, RUN_ENV
from launch_helpers import cli_env, runs_of

SRC = str(Path(__file__).resolve().parents[2] / "src")


def _gone(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def test_init_joins_a_run_that_is_created_a_moment_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = str(tmp_path / "home")
    run_id = new_run_id()
    with Client(home=home):  # the store exists, the run does not yet
        pass

    def create_later() -> None:
        time.sleep(0.5)  # the launcher still opening its store and reading git state
        with Client(home=home) as client:
            client._transport.create_run("late", "job", {"a": 1}, ["launched"], run_id, {})

    creator = threading.Thread(target=create_later)
    creator.start()
    monkeypatch.setenv(RUN_ENV, run_id)
    monkeypatch.setenv(PENDING_ENV, run_id)  # as the local launcher says it
    try:
        run = lablink.init(project="late", config={"b": 2}, home=home)
        run.log({"loss": 0.5}, step=0)
        run.finish()
    finally:
        creator.join()
    with Client(home=home) as client:
        stored = client.run(run_id)
        assert list(client.history(run_id, "loss").steps) == [0]
    assert run.id == run_id
    assert stored.config == {"a": 1, "b": 2}
    assert stored.status == "running"  # the launcher, not the job, ends a launched run


@pytest.mark.parametrize("pending", [None, "some-other-run"])
def test_init_with_a_run_id_that_names_no_run_fails_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pending: str | None
) -> None:
    home = str(tmp_path / "home")
    run_id = new_run_id()
    with Client(home=home):
        pass
    monkeypatch.setenv(RUN_ENV, run_id)
    if pending is None:
        monkeypatch.delenv(PENDING_ENV, raising=False)
    else:  # a word from a launcher about another run (a shell inside another job)
        monkeypatch.setenv(PENDING_ENV, pending)
    with pytest.raises(NotFound, match="to join") as raised:
        lablink.init(project="late", home=home)
    assert f"no run {run_id} to join" in raised.value.message
    assert raised.value.hint is not None and f"unset {RUN_ENV}" in raised.value.hint
    assert runs_of(Path(home), "late") == []


def test_a_launched_job_is_told_its_run_may_be_pending(tmp_path: Path) -> None:
    env = cli_env(LABLINK_HOME=str(tmp_path / "home"), LABLINK_RUN_PENDING="stale")
    script = (
        "import os, lablink; "
        "print('pending', os.environ['LABLINK_RUN_PENDING'] == os.environ['LABLINK_RUN_ID']); "
        "run = lablink.init(project='told'); run.log({'x': 1.0}, step=0); run.finish()"
    )
    python = [sys.executable, "-c", script]
    done = subprocess.run(
        [sys.executable, "-m", "lablink.cli", "launch", "-p", "told", "--", *python],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "pending True" in done.stdout
    (run,) = runs_of(tmp_path / "home", "told")
    assert run.status == "finished"


@pytest.mark.parametrize(
    "args",
    [
        ["--backend", "nope"],
        ["-p", "bad name!"],
        ["--timeout", "12x"],
        ["--restarts", "-1"],
    ],
)
def test_bad_input_fails_before_the_command_starts(tmp_path: Path, args: list[str]) -> None:
    home = tmp_path / "home"
    done = subprocess.run(
        [sys.executable, "-m", "lablink.cli", "launch", *args, "--", "touch", "started"],
        cwd=tmp_path,
        env=cli_env(LABLINK_HOME=str(home)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "error" in done.stderr.lower()
    assert not (tmp_path / "started").exists()
    assert runs_of(home, "default") == []


def test_a_run_that_cannot_be_created_ends_the_command(tmp_path: Path) -> None:
    # a database under /proc cannot be made: the store fails after the command started
    env = cli_env(LABLINK_HOME=str(tmp_path / "home"), LABLINK_DB="sqlite:////proc/nope/x.db")
    script = "echo $$ > pid; sleep 300"
    done = subprocess.run(
        [sys.executable, "-m", "lablink.cli", "launch", "--grace", "1s", "--", "sh", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "/proc/nope" in done.stderr
    if (tmp_path / "pid").exists():  # it may have been ended before it wrote its pid
        pid = int((tmp_path / "pid").read_text())
        assert _gone(pid)
