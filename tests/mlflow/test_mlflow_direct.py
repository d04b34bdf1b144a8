"""MLflow's hot calls (``runs/create``, ``runs/log-batch``) answered by the direct ASGI
layer: the same bodies, errors and envelopes as the FastAPI routes behind it."""

from __future__ import annotations

import httpx

from helpers import LoopbackServer

API = "/api/2.0/mlflow"


def test_create_and_log_batch_answer_as_the_routes(server: LoopbackServer) -> None:
    with httpx.Client(base_url=server.url) as http:
        made = http.post(API + "/experiments/create", json={"name": "direct"})
        eid = made.json()["experiment_id"]
        created = http.post(
            API + "/runs/create",
            json={"experiment_id": eid, "run_name": "r1", "start_time": 1_700_000_000_000},
        )
        assert created.status_code == 200
        info = created.json()["run"]["info"]
        assert (info["run_name"], info["experiment_id"], info["lifecycle_stage"]) == (
            "r1",
            eid,
            "active",
        )
        rid = info["run_id"]
        logged = http.post(
            API + "/runs/log-batch",
            json={
                "run_id": rid,
                "metrics": [{"key": "acc", "value": 0.5, "timestamp": 1, "step": 0}],
                "params": [{"key": "lr", "value": "0.1"}],
            },
        )
        assert (logged.status_code, logged.json()) == (200, {})
        run = http.get(API + "/runs/get", params={"run_id": rid}).json()["run"]
        assert run["data"]["params"] == [{"key": "lr", "value": "0.1"}]
        assert [(m["key"], m["value"]) for m in run["data"]["metrics"]] == [("acc", 0.5)]


def test_errors_keep_mlflows_envelope(server: LoopbackServer) -> None:
    with httpx.Client(base_url=server.url) as http:
        missing = http.post(API + "/runs/create", json={"experiment_id": "999"})
        assert missing.status_code == 404
        assert missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
        garbled = http.post(
            API + "/runs/create", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert garbled.status_code == 400
        assert garbled.json()["error_code"] == "INVALID_PARAMETER_VALUE"
        no_run = http.post(API + "/runs/log-batch", json={"run_id": "nosuchrun", "metrics": []})
        assert no_run.status_code == 404
        assert no_run.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
        eid = http.post(API + "/experiments/create", json={"name": "e"}).json()["experiment_id"]
        run = http.post(API + "/runs/create", json={"experiment_id": eid}).json()["run"]
        bad = http.post(
            API + "/runs/log-batch", json={"run_id": run["info"]["run_id"], "metrics": 3}
        )
        assert (bad.status_code, bad.json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
        # other methods still reach the routes: MLflow's answer for an unserved one
        wrong = http.get(API + "/runs/create")
        assert wrong.status_code == 404
        assert wrong.json()["error_code"] == "ENDPOINT_NOT_FOUND"
