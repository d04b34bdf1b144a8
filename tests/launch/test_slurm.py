"""``lablink launch --backend slurm`` against a real Slurm (``.ci/slurm-up`` starts a
one-node cluster on localhost); skipped where there is no ``sbatch`` or no node up."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from launch_helpers import cli_env, lablink, runs_of


def _slurm_up() -> str | None:
    """Why the Slurm tests cannot run here, or None."""
    if shutil.which("sbatch") is None:
        return "no sbatch on PATH (run .ci/slurm-up as root to start a one-node Slurm)"
    try:
        states = subprocess.run(
            ["sinfo", "-h", "-o", "%t"], capture_output=True, text=True, timeout=10
        ).stdout.split()
    except (OSError, subprocess.SubprocessError) as exc:
        return f"sinfo failed: {exc}"
    if not any(s.rstrip("*") in ("idle", "mix", "alloc") for s in states):
        return f"no Slurm node is up (sinfo: {states}); run .ci/slurm-up"
    return None


WHY = _slurm_up()
pytestmark = [pytest.mark.slurm, pytest.mark.skipif(WHY is not None, reason=WHY or "")]


def test_a_slurm_job_prints_exits_0_and_keeps_its_script(git_repo: Path) -> None:
    (git_repo / "job.py").write_text(
        "import lablink\n"
        "run = lablink.init(project='slurm', config={'lr': 0.5})\n"
        "print('hello from slurm', flush=True)\n"
        "run.log({'loss': 0.25}, step=0)\n"
        "run.finish()\n"
    )
    home = git_repo / ".lablink"
    env = cli_env(LABLINK_HOME=str(home))
    done = lablink(
        git_repo,
        env,
        *("launch", "-p", "slurm", "--backend", "slurm", "--cpus", "1", "--time", "5:00"),
        *("--", sys.executable, "job.py"),
    )
    assert done.returncode == 0, done.stderr
    assert "hello from slurm" in done.stdout
    (run,) = runs_of(home, "slurm")
    assert run.status == "finished" and run.config == {"lr": 0.5}
    assert run.metrics["loss"].value == 0.25
    assert run.summary["launch/backend"] == "slurm"
    assert str(run.summary["launch/job_id"]).isdigit()
    assert run.summary["launch/resources"] == {"cpus": 1, "time": "5:00"}
    assert run.summary["launch/host"]
    assert lablink(git_repo, env, "jobs", "logs", run.id).stdout.split("\n")[0] == (
        "hello from slurm"
    )
    shown = json.loads(lablink(git_repo, env, "jobs", "show", run.id, "--json").stdout)
    assert shown["job"]["backend"] == "slurm"
    names = {a["name"] for a in _artifacts(home, run.id)}
    assert "launch/job.sbatch" in names


def test_a_failing_slurm_job_fails_the_run(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = cli_env(LABLINK_HOME=str(home))
    done = lablink(
        tmp_path,
        env,
        *("launch", "-p", "slurm", "--backend", "slurm", "--"),
        *("bash", "-c", "echo bad >&2; exit 3"),
    )
    assert done.returncode == 3, done.stderr
    (run,) = runs_of(home, "slurm")
    assert run.status == "failed" and run.status_reason == "exit status 3"
    logs = lablink(tmp_path, env, "jobs", "logs", run.id)
    assert "bad" in logs.stderr


def test_a_timeout_cancels_the_slurm_job(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = cli_env(LABLINK_HOME=str(home))
    done = lablink(
        tmp_path,
        env,
        *("launch", "-p", "slurm", "--backend", "slurm", "--timeout", "3s", "--grace", "1s"),
        *("--", "sleep", "300"),
    )
    assert done.returncode == 1, done.stderr
    (run,) = runs_of(home, "slurm")
    assert run.status == "timed_out"
    job_id = str(run.summary["launch/job_id"])
    shown = subprocess.run(
        ["scontrol", "show", "job", "-o", job_id], capture_output=True, text=True, timeout=10
    ).stdout
    assert "JobState=RUNNING" not in shown and "JobState=PENDING" not in shown


def _artifacts(home: Path, run_id: str) -> list[dict[str, str]]:
    from lablink.sdk.client import Client

    with Client(home=str(home)) as client:
        return [{"name": a.name} for a in client._transport.list_artifacts(run_id)]
