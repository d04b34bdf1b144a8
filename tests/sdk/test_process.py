"""Real child processes running training code: killed, crashing, exiting."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sdk_support import Sdk

from helpers import wait_for

LOOP = """
import sys, time, lablink
run = lablink.init(project="child", name="child")
print(run.id, flush=True)
step = 0
while True:
    run.log({"x": float(step)})
    step += 1
    time.sleep(0.002)
"""


def spawn(sdk: Sdk, tmp_path: Path, source: str, **env: str) -> tuple[subprocess.Popen[str], str]:
    """Start ``source`` as a child process; returns it and the run id it prints first."""
    script = tmp_path / "train_child.py"
    script.write_text(textwrap.dedent(source))
    child = subprocess.Popen(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=sdk.env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    run_id = child.stdout.readline().strip()
    assert run_id, f"child printed no run id: {child.communicate(timeout=30)[1]}"
    return child, run_id


def end(child: subprocess.Popen[str]) -> tuple[int, str]:
    _, err = child.communicate(timeout=60)
    return child.returncode, err


def test_sigterm_marks_killed_and_flushes_every_point(sdk: Sdk, tmp_path: Path) -> None:
    child, run_id = spawn(sdk, tmp_path, LOOP)
    try:
        wait_for(lambda: len(sdk.points(run_id, "x")) >= 50, 60, "points from the child")
        child.send_signal(signal.SIGTERM)
        code, err = end(child)
    finally:
        child.kill()
        child.communicate()
    assert code == -signal.SIGTERM, err  # still ends the way SIGTERM ends a process
    stored = sdk.client.run(run_id)
    assert stored.status == "killed"
    assert "SIGTERM" in stored.status_reason
    steps = sdk.points(run_id, "x")
    assert len(steps) >= 50
    assert steps == list(range(len(steps)))  # drained in full: no gap, no double


def test_sigkill_leaves_the_run_running_with_flushed_points(sdk: Sdk, tmp_path: Path) -> None:
    child, run_id = spawn(sdk, tmp_path, LOOP)
    try:
        wait_for(lambda: len(sdk.points(run_id, "x")) >= 50, 60, "points from the child")
        flushed = sdk.points(run_id, "x")
        child.kill()
        child.communicate(timeout=60)
    finally:
        child.kill()
        child.communicate()
    assert child.returncode == -signal.SIGKILL
    assert sdk.client.run(run_id).status == "running"  # the watchdog marks it crashed later
    stored = sdk.points(run_id, "x")
    assert stored[: len(flushed)] == flushed == list(range(len(flushed)))


def test_sigint_marks_killed_and_raises_keyboard_interrupt(sdk: Sdk, tmp_path: Path) -> None:
    source = """
import sys, time, lablink
run = lablink.init(project="child")
print(run.id, flush=True)
try:
    while True:
        run.log({"x": 1.0})
        time.sleep(0.002)
except KeyboardInterrupt:
    print("interrupted", flush=True)
    raise
"""
    child, run_id = spawn(sdk, tmp_path, source)
    try:
        wait_for(lambda: sdk.points(run_id, "x"), 60, "points from the child")
        child.send_signal(signal.SIGINT)
        code, err = end(child)
    finally:
        child.kill()
        child.communicate()
    # Python ends on an uncaught KeyboardInterrupt by re-raising SIGINT
    assert code == -signal.SIGINT and "KeyboardInterrupt" in err, err
    stored = sdk.client.run(run_id)
    assert (stored.status, stored.status_reason) == ("killed", "received SIGINT")


def test_uncaught_exception_outside_with_marks_failed(sdk: Sdk, tmp_path: Path) -> None:
    source = """
import lablink
run = lablink.init(project="child")
print(run.id, flush=True)
for step in range(10):
    run.log({"x": step})
raise ValueError("exploded at step 10")
"""
    child, run_id = spawn(sdk, tmp_path, source)
    code, err = end(child)
    assert code == 1 and "exploded at step 10" in err  # the usual traceback still shows
    stored = sdk.client.run(run_id)
    assert stored.status == "failed"
    assert "ValueError: exploded at step 10" in stored.status_reason
    assert "Traceback" in stored.status_reason
    assert sdk.points(run_id, "x") == list(range(10))


def test_interpreter_exit_finishes_an_open_run(sdk: Sdk, tmp_path: Path) -> None:
    source = """
import lablink
run = lablink.init(project="child")
print(run.id, flush=True)
for step in range(1000):
    run.log({"x": step})
"""
    child, run_id = spawn(sdk, tmp_path, source)
    code, err = end(child)
    assert code == 0, err
    assert sdk.client.run(run_id).status == "finished"
    assert sdk.points(run_id, "x") == list(range(1000))


@pytest.mark.parametrize("mode", ["sigterm", "exception"])
def test_stop_request_ends_the_child_as_killed(sdk: Sdk, tmp_path: Path, mode: str) -> None:
    child, run_id = spawn(sdk, tmp_path, LOOP, LABLINK_STOP_SIGNAL=mode)
    try:
        wait_for(lambda: sdk.points(run_id, "x"), 60, "points from the child")
        sdk.lab.tracking.request_stop("alice", run_id, "loss is NaN")
        code, err = end(child)
    finally:
        child.kill()
        child.communicate()
    if mode == "sigterm":
        assert code == -signal.SIGTERM, err
    else:
        assert code == 1 and "RunStopped" in err
    stored = sdk.client.run(run_id)
    assert stored.status == "killed"
    assert "loss is NaN" in stored.status_reason
    steps = sdk.points(run_id, "x")
    assert steps == list(range(len(steps)))


def test_sigint_to_a_background_job_that_ignores_it_changes_nothing(
    sdk: Sdk, tmp_path: Path
) -> None:
    # A job started with `&` runs with SIGINT ignored; lablink must not undo that.
    stop = tmp_path / "stop"
    source = f"""
import os, time, lablink
run = lablink.init(project="child", name="background")
print(run.id, flush=True)
step = 0
while not os.path.exists({str(stop)!r}):
    run.log({{"x": float(step)}})
    step += 1
    time.sleep(0.002)
for _ in range(10):  # logged after the SIGINT: kept too
    run.log({{"x": float(step)}})
    step += 1
print(step, flush=True)
"""
    script = tmp_path / "train_background.py"
    script.write_text(textwrap.dedent(source))
    child = subprocess.Popen(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=sdk.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        assert child.stdout is not None
        run_id = child.stdout.readline().strip()
        wait_for(lambda: sdk.points(run_id, "x"), 60, "points from the child")
        child.send_signal(signal.SIGINT)
        seen = len(sdk.points(run_id, "x"))
        wait_for(lambda: len(sdk.points(run_id, "x")) > seen + 20, 60, "points after SIGINT")
        assert child.poll() is None
        assert sdk.client.run(run_id).status == "running"
        stop.touch()
        out, err = child.communicate(timeout=60)
    finally:
        child.kill()
        child.communicate()
    assert child.returncode == 0, err
    steps = int(out.split()[-1])
    assert sdk.client.run(run_id).status == "finished"
    assert sdk.points(run_id, "x") == list(range(steps))
