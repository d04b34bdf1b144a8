"""A run's record as created without a read equals the record a read of it gives."""

from __future__ import annotations

import time

import pytest

from lablink.core.lab import Lab
from lablink.errors import NotFound


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
        "ana", "records", "r1", config=config, tags=tags, capture=capture, read_back=False
    )
    assert created == lab.store.get_run(created.id)


def test_created_run_takes_the_times_given(lab: Lab) -> None:
    times = {"created_at": 1_000.5, "heartbeat_at": time.time()}
    created = lab.tracking.create_run("ana", "records", times=times, read_back=False)
    read = lab.store.get_run(created.id)
    assert created == read
    assert (read.created_at, read.heartbeat_at) == (times["created_at"], times["heartbeat_at"])


@pytest.mark.parametrize("start_ms", [None, 1_000_250])
def test_mlflow_created_run_is_what_a_read_gives(lab: Lab, start_ms: int | None) -> None:
    exp = lab.mlflow.create_experiment("records", {})
    before = time.time()
    run, extras = lab.mlflow.create_run(
        "ana", str(exp.experiment_id), start_ms, "r2", {"mlflow.source.git.commit": "f00d"}
    )
    read, read_extras, _ = lab.mlflow.run(run.id)
    assert (run, extras) == (read, read_extras)
    assert read.git.commit == "f00d" and read.name == "r2"
    if start_ms is not None:  # an old start; heard from now all the same
        assert read.created_at == start_ms / 1000
        assert read.heartbeat_at is not None and read.heartbeat_at >= before


def test_mlflow_batch_names_its_run_by_a_unique_prefix(lab: Lab) -> None:
    exp = lab.mlflow.create_experiment("records", {})
    run, _ = lab.mlflow.create_run("ana", str(exp.experiment_id), None, "r3", {})
    lab.mlflow.log(run.id[:12], [("acc", 0.5, 1_000, 0)], {"lr": "0.1"}, {"t": "v"})
    read, extras, _ = lab.mlflow.run(run.id)
    assert read.metrics["acc"].value == 0.5 and read.config == {"lr": 0.1}
    assert extras.params == {"lr": "0.1"} and extras.tags["t"] == "v"
    with pytest.raises(NotFound, match="no run with id"):
        lab.mlflow.log("f" * 32, params={"lr": "0.1"})


def test_a_new_run_has_its_policy_before_its_first_batch(lab: Lab) -> None:
    plain = lab.tracking.create_run("ana", "records")
    own = {"heartbeat_timeout": "5m"}
    watched = lab.tracking.create_run("ana", "records", capture={"watch": own})
    assert lab.watchdog.policy_for(plain.id) == lab.watchdog.default
    assert lab.watchdog.policy_for(watched.id).heartbeat_timeout == 300
