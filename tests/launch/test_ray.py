"""``lablink launch --backend ray`` against a real Ray head on 127.0.0.1.

One head for the session (``ray start --head --block`` in its own process group, ended
with its group afterwards, so no other Ray on the machine is touched). Marked serial:
a head per xdist worker would not fit the machine.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import wait_for
from launch_helpers import LIMIT, SRC, cli_env, lablink, runs_of

pytestmark = [
    pytest.mark.ray,
    pytest.mark.serial,
    pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="needs lablink[ray]"),
]
RAY = str(Path(sys.executable).parent / "ray")
START_LIMIT = 120  # seconds the head may take to serve its dashboard


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def ray_head() -> Iterator[str]:
    """The dashboard address of a Ray head started for these tests."""
    dashboard = _port()
    temp = tempfile.mkdtemp(prefix="ll-ray-")  # short: Ray's socket paths are bounded
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    log = Path(temp) / "head.log"
    with log.open("wb") as out:
        head = subprocess.Popen(
            [
                RAY,
                *("start", "--head", "--block", "--port=0", "--num-cpus=2"),
                "--include-dashboard=true",
                "--node-ip-address=127.0.0.1",
                "--dashboard-host=127.0.0.1",
                f"--dashboard-port={dashboard}",
                f"--ray-client-server-port={_port()}",
                f"--dashboard-agent-listen-port={_port()}",
                f"--temp-dir={temp}",
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    address = f"http://127.0.0.1:{dashboard}"
    try:

        def up() -> bool:
            time.sleep(0.5)
            if head.poll() is not None:
                raise RuntimeError(f"ray start exited: {log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{address}/api/version", timeout=2) as answer:
                    return bool(answer.status == 200)
            except OSError:
                return False

        if not wait_for(up, START_LIMIT, "the Ray dashboard"):
            pytest.fail(f"Ray's dashboard did not come up: {log.read_text()[-2000:]}")
        yield address
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(head.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            head.wait(30)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(head.pid, signal.SIGKILL)
        head.wait(10)


JOB = """
import lablink
run = lablink.init(project="ray", config={"lr": 0.5})
print("hello from ray", flush=True)
for step in range(3):
    run.log({"loss": 1.0 / (step + 1)}, step=step)
run.finish()
"""


def test_a_job_that_prints_and_exits_0(ray_head: str, git_repo: Path) -> None:
    (git_repo / "job.py").write_text(JOB)
    home = git_repo.parent / "home"  # outside the working_dir Ray uploads
    env = cli_env(LABLINK_HOME=str(home))
    done = lablink(
        git_repo,
        env,
        *("launch", "-p", "ray", "--backend", "ray", "--address", ray_head, "--cpus", "1"),
        *("--name", "r1", "--", sys.executable, "job.py"),
    )
    assert done.returncode == 0, done.stderr
    assert "hello from ray" in done.stdout
    (run,) = runs_of(home, "ray")
    assert run.status == "finished" and run.name == "r1"
    assert run.config == {"lr": 0.5}
    assert run.metrics["loss"].value == pytest.approx(1 / 3)
    assert run.summary["launch/backend"] == "ray"
    assert run.summary["launch/job_id"] == f"lablink-{run.id}-1"
    assert run.summary["launch/host"] == socket.gethostname()
    assert run.summary["launch/resources"] == {"cpus": 1}
    logs = lablink(git_repo, env, "jobs", "logs", run.id).stdout.splitlines()
    assert logs == ["hello from ray"]  # Ray's own lines and the where-line left out
    shown = json.loads(lablink(git_repo, env, "jobs", "show", run.id, "--json").stdout)["job"]
    assert shown["backend"] == "ray" and shown["address"] == ray_head
    (attempt,) = shown["attempts"]
    assert attempt["status"] == "finished" and attempt["exit_code"] == 0
    text = lablink(git_repo, env, "jobs", "show", run.id).stdout
    assert f"job lablink-{run.id}-1" in text and "backend: ray" in text


def test_a_failing_job_fails_the_run_with_its_exit_status(ray_head: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = cli_env(LABLINK_HOME=str(home))
    script = "import sys; print('bad', flush=True); sys.exit(3)"
    done = lablink(
        tmp_path,
        env,
        *("launch", "-p", "ray", "--backend", "ray", "--address", ray_head, "--restarts", "1"),
        *("--", sys.executable, "-c", script),
    )
    assert done.returncode == 3, done.stderr
    (run,) = runs_of(home, "ray")
    assert run.status == "failed"
    assert run.status_reason == "exit status 3 (attempt 2)"
    job = json.loads(lablink(tmp_path, env, "jobs", "show", run.id, "--json").stdout)["job"]
    # a restart is a new submission
    assert [a["job_id"] for a in job["attempts"]] == [
        f"lablink-{run.id}-1",
        f"lablink-{run.id}-2",
    ]


def test_jobs_stop_stops_the_ray_job(ray_head: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = cli_env(LABLINK_HOME=str(home))
    script = "import time\nprint('started', flush=True)\ntime.sleep(300)"
    proc = subprocess.Popen(
        [
            sys.executable,
            *("-m", "lablink.cli", "launch", "-p", "ray", "--backend", "ray"),
            *("--address", ray_head, "--", sys.executable, "-c", script),
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def started() -> bool:
            time.sleep(0.5)
            found = runs_of(home, "ray")
            return bool(found) and "launch/host" in found[0].summary

        assert wait_for(started, LIMIT, "the Ray job to start")
        (run,) = runs_of(home, "ray")
        stopped = lablink(tmp_path, env, "jobs", "stop", run.id)
        assert stopped.returncode == 0, stopped.stderr
        assert proc.wait(LIMIT) == 1
    finally:
        proc.kill()
    (run,) = runs_of(home, "ray")
    assert run.status == "killed"
    assert time.time() - run.created_at < LIMIT
