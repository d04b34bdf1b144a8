"""``lablink launch`` end to end: real subprocesses, the embedded store and a real server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from helpers import LoopbackServer, wait_for
from lablink.sdk.client import Client

SRC = str(Path(__file__).resolve().parents[2] / "src")
LIMIT = 60  # seconds any one launch may take before the test fails


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABLINK_")}
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    env["LABLINK_USER"] = "tester@example.org"
    env["LABLINK_CONFIG"] = os.environ["LABLINK_CONFIG"]
    env.update(extra)
    return env


def lablink(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lablink.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=LIMIT,
    )


def _gone(pid: int) -> bool:
    """No such process, or a zombie that only waits for a parent to reap it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def _runs(home: Path, project: str) -> list[Any]:
    with Client(home=str(home)) as client:
        found, _ = client._transport.search_runs(project, None, None, False, 100, 0)
    return found


FLAKY = """
import os, lablink
run = lablink.init(project="launch", config={"lr": 0.1})
ck = lablink.checkpoint.latest()
start = int(open(ck).read()) if ck else 0
n = int(open("attempts.txt").read()) if os.path.exists("attempts.txt") else 0
open("attempts.txt", "w").write(str(n + 1))
open("resumed.txt", "a").write(f"{start}\\n")
for step in range(start, 20):
    run.log({"loss": 1.0 / (step + 1)}, step=step)
    if step % 5 == 4:
        open("ck.txt", "w").write(str(step + 1))
        lablink.checkpoint.save("ck.txt", step=step)
    if n < 2 and step == 7 + 5 * n:
        os._exit(3)
print("done", flush=True)
run.finish()
"""


def test_crashes_twice_then_finishes_as_one_run(git_repo: Path) -> None:
    (git_repo / "flaky.py").write_text(FLAKY)
    home = git_repo / ".lablink"
    env = _env(LABLINK_HOME=str(home))
    done = lablink(
        git_repo,
        env,
        "launch",
        "--project",
        "launch",
        "--restarts",
        "3",
        "--name",
        "flaky",
        "--",
        sys.executable,
        "flaky.py",
    )
    assert done.returncode == 0, done.stderr
    assert "done" in done.stdout  # echoed to the terminal
    runs = _runs(home, "launch")
    assert len(runs) == 1
    run = runs[0]
    assert run.status == "finished" and run.name == "flaky"
    assert run.config == {"lr": 0.1}
    assert run.git.commit is not None
    assert (git_repo / "resumed.txt").read_text().split() == ["0", "5", "10"]
    with Client(home=str(home)) as client:
        steps = client.history(run.id, "loss").steps
        job = json.loads(lablink(git_repo, env, "jobs", "show", run.id, "--json").stdout)["job"]
    assert list(steps) == list(range(20))
    attempts = job["attempts"]
    assert [a["status"] for a in attempts] == ["failed", "failed", "finished"]
    assert [a["exit_code"] for a in attempts] == [3, 3, 0]
    assert attempts[0]["reason"] == "exit status 3"


def test_timeout_ends_the_whole_process_group(tmp_path: Path) -> None:
    home = tmp_path / "home"
    script = "sleep 300 & echo $! >>job.pids; echo $$ >>job.pids; trap '' TERM; sleep 300"
    done = lablink(
        tmp_path,
        _env(LABLINK_HOME=str(home)),
        "launch",
        "--project",
        "p",
        "--timeout",
        "1s",
        "--grace",
        "1s",
        "--",
        "bash",
        "-c",
        script,
    )
    assert done.returncode != 0
    pids = [int(p) for p in (tmp_path / "job.pids").read_text().split()]
    assert len(pids) == 2
    for pid in pids:
        assert wait_for(lambda pid=pid: _gone(pid), 10, f"process {pid} to end")
    (run,) = _runs(home, "p")
    assert run.status == "timed_out"
    assert "timeout of 1.0s" in (run.status_reason or "")


def test_sigterm_from_outside_is_preempted_and_restartable(tmp_path: Path) -> None:
    home = tmp_path / "home"
    script = textwrap.dedent(
        """
        import os, signal
        if not os.path.exists("once"):
            open("once", "w").close()
            os.kill(os.getpid(), signal.SIGTERM)
        print("second attempt")
        """
    )
    (tmp_path / "job.py").write_text(script)
    env = _env(LABLINK_HOME=str(home))
    done = lablink(tmp_path, env, "launch", "-p", "p", "--", sys.executable, "job.py")
    assert done.returncode != 0
    (tmp_path / "once").unlink()
    again = lablink(
        tmp_path, env, "launch", "-p", "p", "--restarts", "1", "--", sys.executable, "job.py"
    )
    assert again.returncode == 0, again.stderr
    statuses = sorted(r.status for r in _runs(home, "p"))
    assert statuses == ["finished", "preempted"]


LAUNCH = [sys.executable, "-m", "lablink.cli", "launch"]


def _signal_the_launcher(tmp_path: Path, options: list[str], sig: int) -> tuple[int, Any]:
    """Launch a job that writes its pid and sleeps, send ``sig`` to the launcher once the
    job runs; the launcher's exit code and the run, after the job's process is gone."""
    home = tmp_path / "home"
    proc = subprocess.Popen(
        [*LAUNCH, "-p", "p", *options, "--", "bash", "-c", "echo $$ > pid; sleep 300"],
        cwd=tmp_path,
        env=_env(LABLINK_HOME=str(home)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        pid = int(
            wait_for(
                lambda: (tmp_path / "pid").exists() and (tmp_path / "pid").read_text().strip(),
                30,
                "the job",
            )
        )
        proc.send_signal(sig)
        code = proc.wait(LIMIT)
    finally:
        proc.kill()
    assert wait_for(lambda: _gone(pid), 10, f"process {pid} to end")
    (run,) = _runs(home, "p")
    return code, run


def test_launcher_sigterm_is_preempted(tmp_path: Path) -> None:
    _, run = _signal_the_launcher(tmp_path, ["--restarts", "2"], signal.SIGTERM)
    assert run.status == "preempted"


def test_launcher_hangup_ends_a_local_job_killed(tmp_path: Path) -> None:
    # the terminal gone: the job's output files have no reader left, so the job ends
    # too, and its run with it (not left running)
    code, run = _signal_the_launcher(tmp_path, ["--grace", "2s"], signal.SIGHUP)
    assert code == 1
    assert run.status == "killed" and "SIGHUP" in (run.status_reason or "")


def _reapers_of(pgid: int) -> list[int]:
    """The pids of reapers watching process group ``pgid``."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"lablink-reaper" in args and str(pgid).encode() in args:
            found.append(int(entry.name))
    return found


def test_a_killed_launcher_leaves_no_job_behind(tmp_path: Path) -> None:
    """SIGKILL gives the launcher no chance to end the job: its reaper does, SIGTERM
    then SIGKILL after the grace period (the job ignores SIGTERM)."""
    proc = subprocess.Popen(
        [*LAUNCH, "-p", "p", "--grace", "1s", "--", "bash", "-c", KILLED_JOB],
        cwd=tmp_path,
        env=_env(LABLINK_HOME=str(tmp_path / "home")),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        pids = wait_for(lambda: _pids(tmp_path / "job.pids", 2), 30, "the job")
        assert _reapers_of(pids[0])  # the job's shell leads its group
        proc.kill()
        proc.wait(LIMIT)
    finally:
        proc.kill()
    for pid in pids:
        assert wait_for(lambda pid=pid: _gone(pid), 15, f"process {pid} to end")
    assert wait_for(lambda: not _reapers_of(pids[0]), 15, "the reaper to exit")


def test_a_job_that_ends_leaves_no_reaper(tmp_path: Path) -> None:
    env = _env(LABLINK_HOME=str(tmp_path / "home"))
    done = lablink(tmp_path, env, "launch", "-p", "p", "--", "bash", "-c", "echo $$ > job.pids")
    assert done.returncode == 0, done.stderr
    (pid,) = _pids(tmp_path / "job.pids", 1)
    assert not _reapers_of(pid)
    (run,) = _runs(tmp_path / "home", "p")
    assert run.status == "finished"


# a shell ignoring SIGTERM (as its sleep does, the disposition inherited) and a child
KILLED_JOB = "trap '' TERM; sleep 300 & echo $! >>job.pids; echo $$ >>job.pids; wait"


def _pids(path: Path, count: int) -> list[int] | None:
    """The pids written to ``path``, the group leader's first, once there are ``count``."""
    if not path.exists():
        return None
    pids = [int(p) for p in path.read_text().split()]
    return pids[::-1] if len(pids) >= count else None


def test_a_command_that_cannot_run_is_a_failed_run(tmp_path: Path) -> None:
    home = tmp_path / "home"
    done = lablink(
        tmp_path, _env(LABLINK_HOME=str(home)), "launch", "-p", "p", "--", "no-such-cmd-x"
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    (run,) = _runs(home, "p")
    assert run.status == "failed"
    assert "cannot execute 'no-such-cmd-x'" in (run.status_reason or "")


@pytest.mark.parametrize("args", [["--timeout", "12x", "--", "true"], []])
def test_bad_input_leaves_no_run(tmp_path: Path, args: list[str]) -> None:
    home = tmp_path / "home"
    done = lablink(tmp_path, _env(LABLINK_HOME=str(home)), "launch", "-p", "p", *args)
    assert done.returncode == 1
    assert "error:" in done.stderr
    assert not (home / "lablink.db").exists() or _runs(home, "p") == []


def test_plain_command_over_a_server_output_and_stop(
    server: LoopbackServer, tmp_path: Path
) -> None:
    env = _env(LABLINK_SERVER=server.url, LABLINK_HOME=str(tmp_path / "home"))
    script = "for i in $(seq 1 500); do echo out-$i; done; echo oops >&2; exit 4"
    done = lablink(tmp_path, env, "launch", "-p", "p", "--detach", "--", "bash", "-c", script)
    assert done.returncode == 4
    assert "out-1" not in done.stdout  # detached: not echoed
    listed = json.loads(lablink(tmp_path, env, "jobs", "ls", "--json").stdout)["jobs"]
    (job,) = listed
    assert job["status"] == "failed" and job["status_reason"] == "exit status 4"
    assert job["command"] == ["bash", "-c", script]
    logs = lablink(tmp_path, env, "jobs", "logs", job["id"])
    assert logs.stdout.split() == [f"out-{i}" for i in range(1, 501)]
    assert "oops" in logs.stderr

    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lablink.cli",
            "launch",
            "-p",
            "q",
            "--",
            "bash",
            "-c",
            "echo $$ > pid; sleep 300",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: (tmp_path / "pid").exists(), 30, "the job")

        def listed() -> list[dict[str, Any]]:  # the run is created beside the command
            done = lablink(tmp_path, env, "jobs", "ls", "-p", "q", "--json")
            return list(json.loads(done.stdout)["jobs"]) if done.returncode == 0 else []

        run_id = wait_for(listed, 30, "the job's run")[0]["id"]
        assert lablink(tmp_path, env, "jobs", "stop", run_id).returncode == 0
        proc.wait(LIMIT)
    finally:
        proc.kill()
    with Client(server=server.url) as client:
        run = client._transport.get_run(run_id)
    assert run.status == "killed"
    assert time.time() - run.created_at < LIMIT


def test_launch_defaults_come_from_lablink_toml(git_repo: Path) -> None:
    (git_repo / "lablink.toml").write_text(
        '[launch]\nproject = "team"\ntimeout = "1s"\ngrace = "1s"\n'
    )
    home = git_repo / ".lablink"
    done = lablink(git_repo, _env(LABLINK_HOME=str(home)), "launch", "--", "sleep", "30")
    assert done.returncode == 1
    (run,) = _runs(home, "team")
    assert run.status == "timed_out"
