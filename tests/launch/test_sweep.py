"""``lablink sweep`` end to end: real trial processes, the embedded store, Optuna."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from helpers import LoopbackServer, wait_for
from lablink.sdk.client import Client

SRC = str(Path(__file__).resolve().parents[2] / "src")
LIMIT = 120  # seconds any one sweep may take before the test fails

# A tiny "training": gradient descent on a quadratic; lr >= 1.5 makes the loss NaN.
TRAIN = """
import os, time, lablink
import numpy as np
run = lablink.init(project="sw", config={"lr": 0.5, "width": 1})
lr, width = float(run.config["lr"]), int(run.config["width"])
with open("started.txt", "a") as f:
    f.write(f"{lr} {width}\\n")
if os.path.exists("hold") and len(open("started.txt").read().split("\\n")) > 3:
    open("holding", "w").close()
    for _ in range(600):
        if not os.path.exists("hold"):
            break
        time.sleep(0.1)
w = np.zeros(width)
for step in range(10):
    w -= lr * 2 * (w - 1.0)
    loss = float(np.mean((w - 1.0) ** 2)) + 0.001 * width if lr < 1.5 else float("nan")
    run.log({"loss": loss}, step=step)
run.finish()
"""


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABLINK_")}
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
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


def _write(tmp: Path, name: str, body: str) -> Path:
    (tmp / "train.py").write_text(TRAIN)
    path = tmp / name
    path.write_text(body)
    return path


GRID = """
name: grid
project: sw
command: python train.py
method: grid
metric: {name: loss, goal: minimize}
space:
  lr: [0.1, 0.3]
  width: [1, 3]
parallel: 2
"""

TPE = """
name: tpe
project: sw
command: [python, train.py]
method: tpe
metric: {name: loss, goal: minimize}
space:
  lr: {distribution: loguniform, low: 0.01, high: 1.2}
  width: {distribution: int, low: 1, high: 3}
budget: {trials: 4}
parallel: 2
seed: 3
"""


def _show(tmp: Path, env: dict[str, str], sweep_id: str) -> dict[str, Any]:
    done = lablink(tmp, env, "sweeps", "show", sweep_id, "--json")
    assert done.returncode == 0, done.stderr
    data: dict[str, Any] = json.loads(done.stdout)
    return data


def _sweep_ids(tmp: Path, env: dict[str, str]) -> list[str]:
    listed = json.loads(lablink(tmp, env, "sweeps", "ls", "--json").stdout)["sweeps"]
    return [s["id"] for s in listed]


def test_grid_runs_every_point_once_and_finds_the_best(tmp_path: Path) -> None:
    env = _env(LABLINK_HOME=str(tmp_path / "home"))
    spec = _write(tmp_path, "grid.yaml", GRID)
    done = lablink(tmp_path, env, "sweep", str(spec))
    assert done.returncode == 0, done.stderr
    (sweep_id,) = _sweep_ids(tmp_path, env)
    shown = _show(tmp_path, env, sweep_id)
    assert shown["status"] == "finished" and shown["done"] == 4
    points = sorted((t["params"]["lr"], t["params"]["width"]) for t in shown["trials"])
    assert points == [(0.1, 1), (0.1, 3), (0.3, 1), (0.3, 3)]
    assert {t["state"] for t in shown["trials"]} == {"complete"}
    # the loss is lowest with the larger step and the narrower model
    assert shown["best"]["params"] == {"lr": 0.3, "width": 1}
    with Client(home=str(tmp_path / "home")) as client:
        run = client._transport.get_run(shown["best"]["run_id"])
    assert {"sweep", f"sweep:{sweep_id}", "launched"} <= set(run.tags)
    assert run.config == {"lr": 0.3, "width": 1}
    assert "best: trial" in done.stderr


def test_tpe_with_four_trials_over_a_server(server: LoopbackServer, tmp_path: Path) -> None:
    env = _env(LABLINK_SERVER=server.url, LABLINK_HOME=str(tmp_path / "home"))
    spec = _write(tmp_path, "tpe.yaml", TPE)
    done = lablink(tmp_path, env, "sweep", str(spec), "--new")
    assert done.returncode == 0, done.stderr
    sweep_id = done.stderr.split()[1].rstrip(":")
    shown = _show(tmp_path, env, sweep_id)
    trials = shown["trials"]
    assert [t["number"] for t in trials] == [0, 1, 2, 3]
    assert shown["done"] == 4 and shown["status"] == "finished"
    for t in trials:
        assert 0.01 <= t["params"]["lr"] <= 1.2 and t["params"]["width"] in (1, 2, 3)
    complete = [t for t in trials if t["state"] == "complete"]
    assert shown["best"]["value"] == min(t["value"] for t in complete)


def test_a_nan_trial_is_pruned(tmp_path: Path) -> None:
    env = _env(LABLINK_HOME=str(tmp_path / "home"))
    spec = _write(tmp_path, "nan.yaml", GRID.replace("[0.1, 0.3]", "[0.3, 1.6]"))
    done = lablink(tmp_path, env, "sweep", str(spec), "-j", "1")
    assert done.returncode == 0, done.stderr
    (sweep_id,) = _sweep_ids(tmp_path, env)
    shown = _show(tmp_path, env, sweep_id)
    states = {(t["params"]["lr"], t["params"]["width"]): t["state"] for t in shown["trials"]}
    assert states == {
        (1.6, 1): "pruned",
        (1.6, 3): "pruned",
        (0.3, 1): "complete",
        (0.3, 3): "complete",
    }
    assert shown["best"]["params"] == {"lr": 0.3, "width": 1}
    pruned = [t for t in shown["trials"] if t["state"] == "pruned"]
    with Client(home=str(tmp_path / "home")) as client:
        run = client._transport.get_run(pruned[0]["run_id"])
    assert "pruned" in run.tags
    assert any("pruned by the sweep" in n.text for n in run.notes)


def test_stopped_sweep_resumes_without_repeating_finished_trials(tmp_path: Path) -> None:
    env = _env(LABLINK_HOME=str(tmp_path / "home"))
    spec = _write(tmp_path, "grid.yaml", GRID.replace("parallel: 2", "parallel: 1"))
    (tmp_path / "hold").touch()  # the third trial waits until this goes
    proc = subprocess.Popen(
        [sys.executable, "-m", "lablink.cli", "sweep", str(spec)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: (tmp_path / "holding").exists(), LIMIT, "the third trial")
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=LIMIT)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "--resume" in err
    (sweep_id,) = _sweep_ids(tmp_path, env)
    shown = _show(tmp_path, env, sweep_id)
    assert shown["status"] == "stopped"
    assert sorted(t["state"] for t in shown["trials"]) == ["complete", "complete", "interrupted"]
    interrupted = next(t for t in shown["trials"] if t["state"] == "interrupted")
    with Client(home=str(tmp_path / "home")) as client:
        assert client._transport.get_run(interrupted["run_id"]).status == "killed"

    (tmp_path / "hold").unlink()
    again = lablink(tmp_path, env, "sweep", str(spec))  # resumed by name
    assert again.returncode == 0, again.stderr
    assert f"resuming sweep {sweep_id}: 2 of 4" in again.stderr
    assert _sweep_ids(tmp_path, env) == [sweep_id]
    shown = _show(tmp_path, env, sweep_id)
    assert shown["status"] == "finished"
    assert [t["state"] for t in shown["trials"]] == ["complete"] * 4
    # every grid point started once, but the interrupted one twice
    started = (tmp_path / "started.txt").read_text().split("\n")
    assert len([s for s in started if s]) == 5
    assert (
        next(t for t in shown["trials"] if t["number"] == interrupted["number"])["params"]
        == interrupted["params"]
    )


@pytest.mark.parametrize(
    ("space", "message"),
    [
        ("space: {lr: [0.1]}\ncolour: red", "unknown key 'colour'"),
        ("space: {}", "space: no parameters"),
        (
            "space: {lr: {distribution: gauss, low: 0, high: 1}}",
            "space.lr.distribution: no distribution 'gauss'",
        ),
        (
            "space: {lr: {distribution: loguniform, low: 0, high: 1}}\nbudget: {trials: 2}",
            "space.lr: loguniform needs low > 0",
        ),
        (
            "space: {lr: {distribution: uniform, low: 0, high: 1, mean: 3}}",
            "unknown key 'space.lr.mean'",
        ),
        ("space: {lr: [0.1]}\nbudget: {trials: 0}", "budget.trials"),
        ("space: {rate: [0.1]}", "${lr} is not a parameter of space"),
        ("space: {lr: [1, 2]}\nmethod: bayes", "method"),
    ],
)
def test_bad_sweep_files_exit_2_and_create_nothing(
    tmp_path: Path, space: str, message: str
) -> None:
    home = tmp_path / "home"
    head = "name: bad\nproject: sw\ncommand: python train.py --lr ${lr}\n"
    body = head + "metric: {name: loss, goal: minimize}\n" + space
    if "method" not in space:
        body += "\nmethod: " + ("tpe" if "distribution" in space else "grid")
    spec = _write(tmp_path, "bad.yaml", body)
    done = lablink(tmp_path, _env(LABLINK_HOME=str(home)), "sweep", str(spec))
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "started.txt").exists()
    assert not (home / "lablink.db").exists()
