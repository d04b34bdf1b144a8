"""Fixtures for the lab docs: a git repository and a store filled by real SDK calls."""

from __future__ import annotations

from pathlib import Path

import pytest
from doctools import LabRepo, add_run

import lablink
from lablink.sdk import data as sdk_data


@pytest.fixture
def lab_repo(git_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LabRepo:
    home = tmp_path / "home"
    monkeypatch.setenv("LABLINK_HOME", str(home))
    monkeypatch.chdir(git_repo)
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "t.csv").write_text("x,y\n1,0\n2,1\n3,0\n")
    sdk_data.add(raw, "tiny", message="raw export")
    (raw / "t.csv").write_text("x,y\n1,0\n2,1\n")
    sdk_data.add(raw, "tiny-clean", message="dropped duplicates", parents=["tiny@v1"])
    for seed in range(3):
        with lablink.init(
            project="vision",
            name=f"base-s{seed}",
            config={"lr": 0.1, "seed": seed},
            tags=["baseline"],
        ) as run:
            lablink.dataset("tiny-clean@v1")
            for step in range(3):
                run.log({"val/acc": 0.8 + 0.01 * step + 0.001 * seed}, step=step)
            run.log({"val/acc/indoor": 0.7 + 0.001 * seed}, step=2)
            (git_repo / "model.bin").write_text(f"weights {seed}")
            run.log_artifact(str(git_repo / "model.bin"), kind="model")
    negative = add_run("no-bn", {"lr": 0.1, "batchnorm": False}, 0.41, tags=("ablation",))
    maybe = add_run("wd-1e-4", {"lr": 0.1, "wd": 1e-4}, 0.82, tags=("ablation",))
    with lablink.Client() as client:
        client.note(negative, "removing batchnorm collapses training", outcome="negative")
        client.note(maybe, "weight decay may help\nat longer schedules", outcome="inconclusive")
    (git_repo / "model.bin").unlink()
    return LabRepo(root=git_repo, home=home, negative=negative)
