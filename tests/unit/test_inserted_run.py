"""A run's record as created equals the record a read of it gives."""

from __future__ import annotations

import math

import pytest

from lablink.core.lab import Lab


@pytest.mark.parametrize(
    ("config", "tags", "capture"),
    [
        ({}, (), {}),
        ({"lr": 0.1, "layers": [64, 32], "opt": {"name": "adam", "beta": 0.9}}, (), {}),
        ({"n": 3, "flag": True, "text": "x", "nothing": None}, ("b", "a", "b"), {}),
        (
            {"big": 10**18, "neg": -1.5e-300},
            ("sweep",),
            {"git_commit": "abc123", "git_branch": "main", "host": "gpu-1", "gpus": ["A100"]},
        ),
    ],
)
def test_created_run_record_is_what_a_read_gives(
    lab: Lab, config: dict[str, object], tags: tuple[str, ...], capture: dict[str, object]
) -> None:
    created = lab.tracking.create_run(
        "ana", "records", "r1", config=config, tags=tags, capture=capture
    )
    assert created == lab.store.get_run(created.id)


def test_mlflow_created_run_is_what_a_read_gives(lab: Lab) -> None:
    exp = lab.mlflow.create_experiment("records", {})
    run, _ = lab.mlflow.create_run(
        "ana", str(exp.experiment_id), None, "r2", {"mlflow.source.git.commit": "f00d"}
    )
    read = lab.store.get_run(run.id)
    assert run == read and read.git.commit == "f00d" and not math.isnan(read.created_at)
