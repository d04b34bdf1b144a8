"""``lablink demo --no-serve``: real runs from real SDK calls, and idempotent."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from pathlib import Path

import pytest
from cli_support import Cli

from lablink.demo.runner import LEARNING_RATES, SEEDS
from lablink.demo.train import load_iris


def test_bundled_iris_is_the_classic_data_set() -> None:
    x, y = load_iris()
    assert x.shape == (150, 4)
    assert [int((y == k).sum()) for k in range(3)] == [50, 50, 50]
    assert x[0].tolist() == [5.1, 3.5, 1.4, 0.2]


def test_demo_makes_real_runs_once(
    cli: Cli, tmp_path: Path, git_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(git_repo)  # the SDK records the code version of the current repo
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=git_repo, capture_output=True, text=True, check=True
    ).stdout.strip()
    home = str(tmp_path / "demo-home")
    out = cli("demo", "--home", home, "--no-serve").stdout
    assert "made 11 runs" in out
    flat = " ".join(out.split())
    assert "runs: 11 in project demo: a sweep of 9, 1 negative result, 1 that diverged" in flat
    assert "datasets: iris@v1 (checked by schema iris) and iris@v2" in flat
    assert "incident: the watchdog's NaN alert" in flat
    nxt = next(line for line in out.splitlines() if line.startswith("next, in another shell: "))
    words = shlex.split(nxt.split(": ", 1)[1])
    assert words[words.index("--home") + 1] == home
    # the command printed works as printed
    wide = {**os.environ, "COLUMNS": "200"}  # names are not cut short
    ran = subprocess.run(words, capture_output=True, text=True, timeout=120, check=False, env=wide)
    assert ran.returncode == 0, ran.stderr
    assert "softmax-lr" in ran.stdout

    data = json.loads(cli("--home", home, "runs", "ls", "-p", "demo", "--json").stdout)
    runs = data["runs"]
    assert data["total"] == len(runs) == len(LEARNING_RATES) * len(SEEDS) + 2
    statuses = sorted(r["status"] for r in runs)
    assert statuses.count("failed") == 1 and statuses.count("finished") == len(runs) - 1

    failed = next(r for r in runs if r["status"] == "failed")
    assert "FloatingPointError" in failed["status_reason"]
    # its infinite loss was logged and opened a watchdog incident on that batch
    incidents = json.loads(cli("--home", home, "incidents", "ls", "--json").stdout)
    rows = incidents["incidents"] if isinstance(incidents, dict) else incidents
    assert [(i["kind"], i["run_id"]) for i in rows] == [("nan", failed["id"])]
    # every run read the Iris data as dataset iris@v1
    assert all(
        [(i["kind"], i["ref"]) for i in r["inputs"]] == [("dataset", "iris@v1")] for r in runs
    )
    # iris@v1 passed the schema inferred from it; iris@v2 (millimetres) drifted from it
    log = json.loads(cli("--home", home, "data", "log", "iris", "--json").stdout)
    assert [(v["ref"], v["schema_ref"], v["parents"]) for v in log["versions"]] == [
        ("iris@v2", None, ["iris@v1"]),
        ("iris@v1", "iris@v1", []),
    ]
    drift = json.loads(cli("--home", home, "data", "drift", "iris@v1", "iris@v2", "--json").stdout)
    assert drift["drifted"] == ["petal_length", "petal_width", "sepal_length", "sepal_width"]
    negative = [r for r in runs if r["outcome"] == "negative"]
    assert len(negative) == 1 and negative[0]["notes"][0]["outcome"] == "negative"

    sweep = [r for r in runs if "lr-sweep" in r["tags"]]
    assert len(sweep) == 9
    assert {r["config"]["optimizer"]["lr"] for r in sweep} == set(LEARNING_RATES)
    assert all(len([t for t in r["tags"] if t == "baseline"]) <= 1 for r in runs)
    for run in sweep:
        assert 0.5 <= run["summary"]["val/acc"] <= 1.0
        assert run["metrics"]["train/loss"]["count"] == run["config"]["epochs"]
        assert run["git"]["commit"] == head

    first = sweep[0]["id"]
    history = json.loads(cli("--home", home, "runs", "history", first, "val/acc", "--json").stdout)
    assert history["steps"] == list(range(sweep[0]["config"]["epochs"]))

    again = cli("demo", "--home", home, "--no-serve").stdout
    assert "already has 11 runs" in again
    assert json.loads(cli("--home", home, "projects", "--json").stdout)[0]["run_count"] == 11
    cli("demo", "--home", home, "--no-serve", "--force")
    assert json.loads(cli("--home", home, "projects", "--json").stdout)[0]["run_count"] == 22
    log = json.loads(cli("--home", home, "data", "log", "iris", "--json").stdout)
    assert len(log["versions"]) == 2  # the data is added once
