"""Picking a backend, its resource flags, the sbatch script and the status mappings.

These run everywhere: no Ray head and no Slurm needed (the Ray and Slurm clusters
themselves are in test_ray.py and test_slurm.py).
"""

from __future__ import annotations

import importlib.util
import os
import re
import socket
from pathlib import Path

import pytest

from lablink.errors import InvalidInput
from lablink.launch.placement import Placement, parse_memory, resolve_placement
from lablink.launch.ray_backend import ray_status
from lablink.launch.remote import WHERE_LINE
from lablink.launch.slurm_backend import ended, render_script, slurm_status
from launch_helpers import cli_env as _env
from launch_helpers import lablink
from launch_helpers import runs_of as _runs


def test_local_is_the_default_and_the_table_can_pick_another() -> None:
    assert resolve_placement({}) == Placement()
    picked = resolve_placement({"backend": "slurm", "partition": "gpu", "gpus": 2})
    assert (picked.backend, picked.partition, picked.gpus) == ("slurm", "gpu", 2)
    # the flag wins over the table
    assert resolve_placement({"backend": "slurm"}, backend="local").backend == "local"


def test_ray_address_defaults_and_resources() -> None:
    p = resolve_placement({}, backend="ray", gpus=1, cpus=2, memory="4GB")
    assert p.address == os.environ.get("RAY_ADDRESS", "http://127.0.0.1:8265")
    assert (p.gpus, p.cpus, p.memory) == (1, 2, 4 << 30)
    assert p.resources() == {"gpus": 1, "cpus": 2, "memory": 4 << 30}


@pytest.mark.parametrize(
    ("table", "flags", "problem"),
    [
        ({}, {"backend": "kubernetes"}, "unknown backend 'kubernetes'"),
        ({"backend": "nomad"}, {}, "unknown backend 'nomad'"),
        ({}, {"gpus": 1}, "--gpus is for --backend ray or slurm"),
        ({}, {"backend": "ray", "partition": "gpu"}, "--partition is for --backend slurm"),
        ({}, {"backend": "slurm", "address": "http://x"}, "--address is for --backend ray"),
        ({}, {"backend": "slurm", "time": "12 hours"}, "not a Slurm time limit"),
        ({}, {"backend": "ray", "gpus": -1}, "gpus must be an integer"),
        ({}, {"backend": "ray", "memory": "lots"}, "memory 'lots' does not parse"),
    ],
)
def test_bad_placements_are_refused(table: dict, flags: dict, problem: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(problem)):
        resolve_placement(table, **flags)


def test_memory_sizes() -> None:
    assert parse_memory("512M") == 512 << 20
    assert parse_memory("2GiB") == parse_memory("2 gb") == 2 << 30
    assert parse_memory(1000) == 1000
    with pytest.raises(InvalidInput, match="more than zero"):
        parse_memory("0")


def test_sbatch_script_is_readable_and_keeps_the_token_out(tmp_path: Path) -> None:
    placement = resolve_placement(
        {}, backend="slurm", partition="gpu", gpus=2, cpus=8, memory="4GB", time="12:00:00"
    )
    env = {
        "LABLINK_RUN_ID": "abc123",
        "LABLINK_HOME": "/shared/lab home",
        "LABLINK_TOKEN": "ll_secret",
        "LABLINK_ATTEMPT": "1",
    }
    text = render_script(
        ["python", "train.py", "--lr", "3e-4"],
        placement,
        env,
        name="lablink-r50",
        workdir=Path("/src/repo"),
        logs=tmp_path,
    )
    lines = text.splitlines()
    assert lines[0] == "#!/bin/bash"
    for expected in (
        "#SBATCH --job-name=lablink-r50",
        f"#SBATCH --output={tmp_path}/slurm-%j.out",
        f"#SBATCH --error={tmp_path}/slurm-%j.err",
        "#SBATCH --chdir=/src/repo",
        "#SBATCH --partition=gpu",
        "#SBATCH --gpus=2",
        "#SBATCH --cpus-per-task=8",
        "#SBATCH --mem=4096M",
        "#SBATCH --time=12:00:00",
        "export LABLINK_RUN_ID=abc123",
        "export LABLINK_HOME='/shared/lab home'",
        WHERE_LINE,
    ):
        assert expected in lines
    assert lines[-1] == "exec python train.py --lr 3e-4"
    assert "ll_secret" not in text and "LABLINK_ATTEMPT=" not in text


def test_sbatch_script_asks_only_for_what_was_given(tmp_path: Path) -> None:
    text = render_script(
        ["true"], Placement(backend="slurm"), {}, name="j", workdir=tmp_path, logs=tmp_path
    )
    assert not any(flag in text for flag in ("--partition", "--gpus", "--cpus", "--mem", "--time"))


@pytest.mark.parametrize(
    ("state", "code", "status", "reason", "exit_code"),
    [
        ("COMPLETED", "0:0", "finished", None, 0),
        ("FAILED", "3:0", "failed", "exit status 3", 3),
        ("FAILED", "0:9", "failed", "killed by signal 9", 0),
        ("CANCELLED by 0", "0:15", "killed", "cancelled on Slurm", 0),
        ("CANCELLED+", "0:15", "killed", "cancelled on Slurm", 0),
        ("PREEMPTED", "0:15", "preempted", "preempted by Slurm", 0),
        ("TIMEOUT", "0:1", "timed_out", "Slurm's time limit was reached", 0),
        ("OUT_OF_MEMORY", "0:125", "failed", "out of memory", 0),
        ("NODE_FAIL", "0:0", "failed", "the node failed", 0),
    ],
)
def test_slurm_states(state: str, code: str, status: str, reason: str, exit_code: int) -> None:
    end = ended(state, code, "node7")
    assert end is not None
    assert (end.status, end.reason, end.exit_code, end.host) == (
        status,
        reason,
        exit_code,
        "node7",
    )


@pytest.mark.parametrize("state", ["PENDING", "RUNNING", "COMPLETING", "REQUEUED", "SUSPENDED"])
def test_slurm_states_still_going(state: str) -> None:
    assert slurm_status(state) is None
    assert ended(state, "0:0", None) is None


def test_ray_statuses() -> None:
    assert ray_status("SUCCEEDED") == "finished"
    assert ray_status("JobStatus.FAILED") == "failed"
    assert ray_status("STOPPED") == "killed"
    assert ray_status("PENDING") is None and ray_status("RUNNING") is None


@pytest.mark.parametrize(
    "args",
    [
        ["--backend", "kubernetes"],
        ["--gpus", "1"],
        ["--backend", "slurm", "--time", "forever"],
    ],
)
def test_a_bad_backend_is_a_usage_error_and_leaves_no_run(tmp_path: Path, args: list) -> None:
    home = tmp_path / "home"
    done = lablink(tmp_path, _env(LABLINK_HOME=str(home)), "launch", "-p", "p", *args, "--", "true")
    assert done.returncode == 2, done.stderr
    assert "error:" in done.stderr and "Traceback" not in done.stderr
    assert _runs(home, "p") == []


def test_slurm_without_sbatch_says_so_and_leaves_no_run(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (tmp_path / "bin").mkdir()  # a PATH without Slurm's tools (/bin may be /usr/bin)
    env = _env(LABLINK_HOME=str(home), PATH=str(tmp_path / "bin"))
    done = lablink(tmp_path, env, "launch", "-p", "p", "--backend", "slurm", "--", "true")
    assert done.returncode == 1
    assert "no sbatch on PATH" in done.stderr and "Slurm login node" in done.stderr
    assert _runs(home, "p") == []


@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="needs lablink[ray]")
def test_an_unreachable_ray_names_the_address_and_leaves_no_run(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        address = f"http://127.0.0.1:{s.getsockname()[1]}"
    home = tmp_path / "home"
    done = lablink(
        tmp_path,
        _env(LABLINK_HOME=str(home)),
        *("launch", "-p", "p", "--backend", "ray", "--address", address, "--", "true"),
    )
    assert done.returncode == 1
    assert f"cannot reach Ray at {address}" in done.stderr
    assert "ray start --head" in done.stderr and "Traceback" not in done.stderr
    assert _runs(home, "p") == []
