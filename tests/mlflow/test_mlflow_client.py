"""MlflowClient against lablink: every tracking call, its errors and MLflow's semantics."""

from __future__ import annotations

import math
import time

import httpx
import pytest
from mlflow.entities import Metric, Param, RunTag, ViewType
from mlflow.exceptions import MlflowException

import mlflow
from helpers import LoopbackServer
from mlflow import MlflowClient


def error_code(call: object) -> str:
    with pytest.raises(MlflowException, match=r"\w") as info:
        call()  # type: ignore[operator]
    return str(info.value.error_code)


def test_experiments(tracking_uri: str) -> None:
    client = MlflowClient()
    eid = client.create_experiment("nlp/translation v2", tags={"owner": "ana"})
    exp = client.get_experiment(eid)
    assert exp.name == "nlp/translation v2" and exp.tags == {"owner": "ana"}
    assert exp.lifecycle_stage == "active" and exp.creation_time > 1_600_000_000_000
    assert client.get_experiment_by_name("nlp/translation v2").experiment_id == eid
    assert client.get_experiment_by_name("nope") is None
    assert error_code(lambda: client.create_experiment("nlp/translation v2")) == (
        "RESOURCE_ALREADY_EXISTS"
    )
    assert error_code(lambda: client.get_experiment("999999")) == "RESOURCE_DOES_NOT_EXIST"
    assert error_code(lambda: client.create_experiment("")) == "INVALID_PARAMETER_VALUE"

    other = client.create_experiment("vision")
    found = client.search_experiments(filter_string="name LIKE 'nlp%'")
    assert [e.experiment_id for e in found] == [eid]
    client.set_experiment_tag(other, "stage", "prod")
    assert [e.name for e in client.search_experiments(filter_string="tags.stage = 'prod'")] == [
        "vision"
    ]

    client.rename_experiment(eid, "translation")
    assert client.get_experiment(eid).name == "translation"
    run = client.create_run(eid)
    client.delete_experiment(eid)
    assert client.get_experiment(eid).lifecycle_stage == "deleted"
    assert client.get_run(run.info.run_id).info.lifecycle_stage == "deleted"
    assert eid not in {e.experiment_id for e in client.search_experiments()}
    deleted = client.search_experiments(view_type=ViewType.DELETED_ONLY)
    assert [e.experiment_id for e in deleted] == [eid]
    client.restore_experiment(eid)
    assert client.get_run(run.info.run_id).info.lifecycle_stage == "active"


def test_runs_log_everything_mlflow_sends(tracking_uri: str, server: LoopbackServer) -> None:
    client = MlflowClient()
    eid = client.create_experiment("runs")
    start = 1_767_225_600_123
    run = client.create_run(
        eid,
        start_time=start,
        tags={"mlflow.user": "kenji", "mlflow.source.git.commit": "a" * 40, "k": "v"},
        run_name="first",
    )
    rid = run.info.run_id
    assert run.info.start_time == start and run.info.user_id == "kenji"
    assert run.data.tags["mlflow.runName"] == "first"

    ts = int(time.time() * 1000)
    client.log_batch(
        rid,
        metrics=[Metric("m", v, ts + i, i) for i, v in enumerate([1.5, math.nan, math.inf])]
        + [Metric("neg", -math.inf, ts, 0)],
        params=[Param("lr", "0.10"), Param("layers", "[64, 64]")],
        tags=[RunTag("note", "batch")],
    )
    client.log_metric(rid, "m", 2.5, timestamp=ts + 10, step=3)
    client.log_param(rid, "lr", "0.10")  # the same value again is fine
    assert error_code(lambda: client.log_param(rid, "lr", "0.2")) == "INVALID_PARAMETER_VALUE"
    client.set_tag(rid, "mlflow.runName", "renamed")
    client.set_tag(rid, "gone", "x")
    client.delete_tag(rid, "gone")
    assert error_code(lambda: client.delete_tag(rid, "gone")) == "RESOURCE_DOES_NOT_EXIST"
    dataset = mlflow.data.meta_dataset.MetaDataset(
        source=mlflow.data.http_dataset_source.HTTPDatasetSource("http://x/d.csv"), name="iris"
    )
    client.log_inputs(rid, [mlflow.entities.DatasetInput(dataset._to_mlflow_entity())])

    got = client.get_run(rid)
    assert got.data.params == {"lr": "0.10", "layers": "[64, 64]"}  # exactly as sent
    assert got.info.run_name == "renamed" and "gone" not in got.data.tags
    assert got.data.metrics["m"] == 2.5 and got.data.metrics["neg"] == -math.inf
    history = client.get_metric_history(rid, "m")
    assert [(h.step, h.timestamp) for h in history] == [
        (0, ts),
        (1, ts + 1),
        (2, ts + 2),
        (3, ts + 10),
    ]
    assert math.isnan(history[1].value) and history[2].value == math.inf
    assert client.get_metric_history(rid, "never") == []
    assert [d.dataset.name for d in got.inputs.dataset_inputs] == ["iris"]

    end = start + 60_000
    client.set_terminated(rid, "FAILED", end_time=end)
    ended = client.get_run(rid).info
    assert ended.status == "FAILED" and ended.end_time == end
    with httpx.Client(base_url=server.url, timeout=10) as api:
        ours = api.get(f"/api/v1/runs/{rid}").json()
    assert ours["user"] == "kenji" and ours["git"]["commit"] == "a" * 40
    assert ours["name"] == "renamed" and ours["status"] == "failed"
    assert ours["config"] == {"lr": 0.1, "layers": "[64, 64]"}
    assert ours["created_at"] == start / 1000
    assert {"kind": "mlflow-dataset"}.items() <= ours["inputs"][0].items()

    client.delete_run(rid)
    assert client.get_run(rid).info.lifecycle_stage == "deleted"
    assert client.search_runs([eid]) == []
    assert error_code(lambda: client.log_metric(rid, "m", 1.0)) == "INVALID_PARAMETER_VALUE"
    assert len(client.search_runs([eid], run_view_type=ViewType.DELETED_ONLY)) == 1
    client.restore_run(rid)
    assert [r.info.run_id for r in client.search_runs([eid])] == [rid]
    assert error_code(lambda: client.get_run("missing-run")) == "RESOURCE_DOES_NOT_EXIST"
    assert error_code(lambda: client.log_metric(rid, "m", 1.0, step=-1)) == (
        "INVALID_PARAMETER_VALUE"
    )


def test_search_runs_filters_sorts_and_pages(tracking_uri: str) -> None:
    client = MlflowClient()
    eid = client.create_experiment("sweep")
    ids = {}
    for i in range(7):
        run = client.create_run(eid, run_name=f"r{i}", tags={"group": "a" if i % 2 else "b"})
        client.log_batch(
            run.info.run_id,
            metrics=[Metric("acc", i / 10, 0, 0)],
            params=[Param("lr", str(10**-i)), Param("i", str(i))],
        )
        if i < 5:
            client.set_terminated(run.info.run_id)
        ids[i] = run.info.run_id

    def names(filter_string: str = "", order_by: list[str] | None = None) -> list[str]:
        runs = client.search_runs([eid], filter_string, order_by=order_by)
        return [r.info.run_name for r in runs]

    assert names("metrics.acc > 0.35", ["metrics.acc DESC"]) == ["r6", "r5", "r4"]
    assert names("params.i = '3'") == ["r3"]
    assert names("params.lr = '0.01'") == ["r2"]  # strings: '0.010' would not match
    assert names("tags.group = 'a' and metrics.acc < 0.4", ["params.i ASC"]) == ["r1", "r3"]
    assert names("attributes.status = 'FINISHED' and metrics.acc >= 0.3", ["metrics.acc"]) == [
        "r3",
        "r4",
    ]
    assert names("attributes.run_name LIKE 'r%' and params.i != '0'", ["attributes.run_name DESC"])[
        :2
    ] == ["r6", "r5"]
    assert names("tags.`group` = 'b'", ["metrics.`acc` ASC"]) == ["r0", "r2", "r4", "r6"]
    assert names("metrics.acc > 0.5 and params.missing IS NULL") == ["r6"]
    assert error_code(lambda: client.search_runs([eid], "metrics.acc >")) == (
        "INVALID_PARAMETER_VALUE"
    )

    page = client.search_runs([eid], order_by=["params.i ASC"], max_results=3)
    seen = [r.info.run_name for r in page]
    while page.token:
        page = client.search_runs(
            [eid], order_by=["params.i ASC"], max_results=3, page_token=page.token
        )
        seen += [r.info.run_name for r in page]
    assert seen == [f"r{i}" for i in range(7)]


def test_metric_history_pages(tracking_uri: str, server: LoopbackServer) -> None:
    client = MlflowClient()
    run = client.create_run(client.create_experiment("long"))
    rid = run.info.run_id
    for start in range(0, 3000, 1000):
        client.log_batch(
            rid,
            [Metric("loss", s * 0.5, 1_700_000_000_000 + s, s) for s in range(start, start + 1000)],
        )
    assert [m.step for m in client.get_metric_history(rid, "loss")] == list(range(3000))
    url = "/api/2.0/mlflow/metrics/get-history"
    steps: list[int] = []
    token = None
    with httpx.Client(base_url=server.url, timeout=10) as api:
        while True:
            params = {"run_id": rid, "metric_key": "loss", "max_results": 1100}
            answer = api.get(url, params={**params, **({"page_token": token} if token else {})})
            body = answer.json()
            steps += [m["step"] for m in body["metrics"]]
            token = body.get("next_page_token")
            if not token:
                break
    assert steps == list(range(3000))


def test_errors_come_in_mlflows_envelope(tracking_uri: str, server: LoopbackServer) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as api:
        unknown = api.post("/api/2.0/mlflow/webhooks", json={"name": "m"})
        assert unknown.status_code == 404
        assert unknown.json()["error_code"] == "ENDPOINT_NOT_FOUND"
        bad = api.post(
            "/api/2.0/mlflow/runs/create",
            content=b"{nope",
            headers={"content-type": "application/json"},
        )
        assert bad.status_code == 400 and bad.json()["error_code"] == "INVALID_PARAMETER_VALUE"
        missing = api.get("/api/2.0/mlflow/runs/get", params={"run_id": "nosuchrun"})
        assert missing.status_code == 404
        assert missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
        assert (
            api.get("/api/2.0/mlflow/experiments/get", params={"experiment_id": "x"}).json()[
                "error_code"
            ]
            == "INVALID_PARAMETER_VALUE"
        )
        outside = api.get("/api/2.0/mlflow-artifacts/artifacts", params={"path": "1/x/../../etc"})
        assert outside.status_code == 400 and "error_code" in outside.json()
        # lablink's own API keeps its envelope
        assert "error" in api.get("/api/v1/runs/nosuchrun").json()
