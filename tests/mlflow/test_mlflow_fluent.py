"""Unchanged MLflow code (the fluent API) against a lablink server, seen from both sides."""

from __future__ import annotations

import math
from pathlib import Path

import httpx

import mlflow
from helpers import LoopbackServer
from mlflow import MlflowClient


def test_a_fluent_run_lands_in_lablink(
    tracking_uri: str, server: LoopbackServer, tmp_path: Path
) -> None:
    exp_id = mlflow.set_experiment("vision baseline").experiment_id
    with mlflow.start_run(run_name="resnet") as active:
        mlflow.log_param("lr", "0.1")
        mlflow.log_params({"batch": 32, "optimizer": "adam", "lr_text": "1e-3"})
        for step in range(20):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        mlflow.log_metrics({"acc": 0.5, "diverged": math.inf, "gap": math.nan}, step=3)
        mlflow.set_tag("team", "perception")
        out = tmp_path / "out"
        (out / "nested" / "deeper").mkdir(parents=True)
        (out / "model.txt").write_text("weights")
        (out / "nested" / "deeper" / "cfg.json").write_text('{"a": 1}')
        mlflow.log_artifacts(str(out), "model")
        mlflow.log_artifact(str(out / "model.txt"))
    run_id = active.info.run_id

    client = MlflowClient()
    run = client.get_run(run_id)
    assert run.info.experiment_id == exp_id
    assert run.info.status == "FINISHED" and run.info.end_time >= run.info.start_time
    assert run.info.run_name == "resnet"
    assert run.info.artifact_uri == f"mlflow-artifacts:/{exp_id}/{run_id}/artifacts"
    assert run.data.params == {"lr": "0.1", "batch": "32", "optimizer": "adam", "lr_text": "1e-3"}
    assert run.data.metrics["loss"] == 1.0 / 20 and run.data.metrics["diverged"] == math.inf
    assert math.isnan(run.data.metrics["gap"])
    assert run.data.tags["team"] == "perception"
    history = client.get_metric_history(run_id, "loss")
    assert [m.step for m in history] == list(range(20))
    assert [m.value for m in history] == [1.0 / (s + 1) for s in range(20)]
    assert all(m.timestamp > 1_600_000_000_000 for m in history)  # milliseconds

    names = {f.path: f for f in client.list_artifacts(run_id)}
    assert names["model"].is_dir and names["model.txt"].file_size == len("weights")
    nested = [f.path for f in client.list_artifacts(run_id, "model/nested")]
    assert nested == ["model/nested/deeper"]
    got = client.download_artifacts(run_id, "model/nested/deeper/cfg.json", str(tmp_path))
    assert Path(got).read_text() == '{"a": 1}'

    # the same run through lablink's own API: project, config, metrics, artifacts
    with httpx.Client(base_url=server.url, timeout=10) as api:
        ours = api.get(f"/api/v1/runs/{run_id}").json()
        assert ours["project"] == "vision-baseline" and ours["name"] == "resnet"
        assert ours["status"] == "finished"
        assert ours["config"]["lr"] == 0.1 and ours["config"]["batch"] == 32
        assert ours["metrics"]["loss"]["count"] == 20
        steps = api.get(f"/api/v1/runs/{run_id}/history", params={"key": "loss"}).json()
        assert steps["steps"] == list(range(20))
        arts = {a["name"] for a in api.get(f"/api/v1/runs/{run_id}/artifacts").json()["artifacts"]}
        assert arts == {"model/model.txt", "model/nested/deeper/cfg.json", "model.txt"}


def test_a_run_without_an_experiment_goes_to_default(tracking_uri: str) -> None:
    with mlflow.start_run(experiment_id="0") as run:
        mlflow.log_metric("x", 1.0)
    client = MlflowClient()
    assert client.get_experiment("0").name == "Default"
    assert client.get_run(run.info.run_id).info.experiment_id == "0"


def test_a_large_artifact_streams_both_ways(tracking_uri: str, tmp_path: Path) -> None:
    mlflow.set_experiment("big-files")
    blob = tmp_path / "weights.bin"
    chunk = bytes(range(256)) * 4096  # 1 MiB
    with blob.open("wb") as fh:
        for i in range(24):  # over the 1 MiB request limit of ordinary routes
            fh.write(chunk[i:] + chunk[:i])
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(blob), "ckpt")
    back = MlflowClient().download_artifacts(
        run.info.run_id, "ckpt/weights.bin", str(tmp_path / "d")
    )
    assert Path(back).read_bytes() == blob.read_bytes()
