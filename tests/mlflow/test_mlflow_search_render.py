"""A run found by ``runs/search`` is rendered as ``runs/get`` renders it, whatever it
holds: the search reads fewer of a run's parts and writes its answer another way."""

from __future__ import annotations

import json
import math
import time

import httpx
from mlflow.entities import Metric, Param, RunTag

import mlflow
from helpers import LoopbackServer
from mlflow import MlflowClient

API = "/api/2.0/mlflow"


def test_search_renders_each_run_as_get_does(tracking_uri: str, server: LoopbackServer) -> None:
    client = MlflowClient()
    eid = client.create_experiment("render")
    ts = int(time.time() * 1000)
    full = client.create_run(
        eid,
        start_time=1_767_225_600_123,
        tags={"mlflow.user": "kenji", "mlflow.source.git.commit": "b" * 40, "é": "ü ✓"},
        run_name="everything",
    ).info.run_id
    client.log_batch(
        full,
        metrics=[Metric("m", v, ts, i) for i, v in enumerate([1.5, math.nan])]
        + [Metric("up", math.inf, ts, 0), Metric("down", -math.inf, ts, 0)],
        params=[Param("lr", "0.10"), Param("name", "naïve ✓"), Param("big", str(10**30))],
        tags=[RunTag("note", "batch")],
    )
    dataset = mlflow.data.meta_dataset.MetaDataset(
        source=mlflow.data.http_dataset_source.HTTPDatasetSource("http://x/d.csv"), name="iris"
    )
    client.log_inputs(full, [mlflow.entities.DatasetInput(dataset._to_mlflow_entity())])
    client.set_terminated(full, "KILLED", end_time=1_767_225_660_000)
    bare = client.create_run(eid).info.run_id
    gone = client.create_run(eid, run_name="gone").info.run_id
    client.delete_run(gone)

    with httpx.Client(base_url=server.url, timeout=30) as api:
        found = api.post(
            API + "/runs/search", json={"experiment_ids": [eid], "run_view_type": "ALL"}
        )
        assert found.status_code == 200, found.text
        runs = {r["info"]["run_id"]: r for r in json.loads(found.content)["runs"]}
        assert set(runs) == {full, bare, gone}
        for rid, rendered in runs.items():
            got = api.get(API + "/runs/get", params={"run_id": rid})
            assert rendered == json.loads(got.content)["run"], rid
    metrics = runs[full]["data"]["metrics"]
    assert {m["key"]: m["value"] for m in metrics} == {
        "down": "-Infinity",
        "m": "NaN",  # the last point logged
        "up": "Infinity",
    }
    assert {"key": "name", "value": "naïve ✓"} in runs[full]["data"]["params"]
    assert runs[gone]["info"]["lifecycle_stage"] == "deleted"
