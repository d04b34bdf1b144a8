"""Runs over the real server: create, search, show, finish, annotate, compare."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from apitools import API, assert_envelope, post_batch, series

from lablink.core.lab import Lab


def test_healthz_and_openapi_docs(api: httpx.Client) -> None:
    health = api.get("/healthz")
    assert health.status_code == 200
    assert health.json()["ok"] is True
    assert isinstance(health.json()["version"], str)
    assert api.get("/docs").status_code == 200
    paths = api.get("/openapi.json").json()["paths"]
    assert f"{API}/runs/{{run_id}}/batches" in paths
    assert f"{API}/events" in paths


def test_create_get_search_finish(
    api: httpx.Client, new_run: Callable[..., dict[str, Any]]
) -> None:
    capture = {
        "git_commit": "a" * 40,
        "git_branch": "main",
        "git_dirty": True,
        "command": ["python", "train.py", "--lr", "3e-4"],
        "host": "gpu-7",
        "python_version": "3.11.9",
        "packages": {"numpy": "2.0.0"},
        "gpus": ["NVIDIA H100"],
        "some_future_field": 1,  # ignored: an older server accepts a newer SDK
    }
    run = new_run(
        name="resnet-lr3e-4",
        config={"lr": 3e-4, "model": {"depth": 50}},
        tags=["baseline"],
        capture=capture,
    )
    assert run["status"] == "running"
    assert run["user"] == "tester@example.org"
    assert run["params"] == {"lr": 3e-4, "model.depth": 50}
    assert run["git"]["commit"] == "a" * 40 and run["git"]["dirty"] is True
    assert run["command"] == capture["command"] and run["gpus"] == ["NVIDIA H100"]
    other = new_run(name="other", config={"lr": 1e-2})

    by_prefix = api.get(f"{API}/runs/{run['id'][:6]}")
    assert by_prefix.status_code == 200 and by_prefix.json()["id"] == run["id"]

    found = api.get(
        f"{API}/runs", params={"project": "vision", "filter": "params.lr <= 1e-3 and tags.baseline"}
    ).json()
    assert found["total"] == 1 and [r["id"] for r in found["runs"]] == [run["id"]]
    everything = api.get(f"{API}/runs", params={"sort": "name", "desc": "false"}).json()
    assert [r["name"] for r in everything["runs"]] == ["other", "resnet-lr3e-4"]
    page = api.get(f"{API}/runs", params={"limit": 1, "offset": 1}).json()
    assert page["total"] == 2 and len(page["runs"]) == 1

    finished = api.post(
        f"{API}/runs/{run['id']}/finish", json={"status": "failed", "reason": "OOM"}
    )
    assert finished.status_code == 200
    assert finished.json()["status"] == "failed"
    assert finished.json()["status_reason"] == "OOM"
    assert finished.json()["ended_at"] is not None
    # Finishing again changes nothing.
    again = api.post(f"{API}/runs/{run['id']}/finish", json={"status": "finished"}).json()
    assert again["status"] == "failed"
    running = api.get(f"{API}/runs", params={"filter": 'status = "running"'}).json()
    assert [r["id"] for r in running["runs"]] == [other["id"]]

    projects = api.get(f"{API}/projects").json()["projects"]
    assert [(p["name"], p["run_count"], p["active_runs"]) for p in projects] == [("vision", 2, 1)]


def test_tags_notes_inputs_summary_stop(
    api: httpx.Client, new_run: Callable[..., dict[str, Any]], lab: Lab
) -> None:
    run = new_run(tags=["a", "b"])
    rid = run["id"]
    tagged = api.post(f"{API}/runs/{rid}/tags", json={"add": ["c"], "remove": ["a"]})
    assert tagged.json()["tags"] == ["b", "c"]

    noted = api.post(f"{API}/runs/{rid}/notes", json={"text": "lr too high", "outcome": "negative"})
    assert noted.status_code == 200
    assert noted.json()["outcome"] == "negative"
    assert noted.json()["notes"][0]["author"] == "tester@example.org"

    assert (
        api.post(
            f"{API}/runs/{rid}/inputs", json={"kind": "dataset", "ref": "iris@v3", "digest": None}
        ).json()
        == {}
    )
    summary = api.post(f"{API}/runs/{rid}/summary", json={"val/acc": 0.91, "best": {"epoch": 3}})
    assert summary.status_code == 200
    shown = api.get(f"{API}/runs/{rid}").json()
    assert shown["inputs"] == [{"kind": "dataset", "ref": "iris@v3", "digest": None}]
    assert shown["summary"]["val/acc"] == 0.91 and shown["summary"]["best"] == {"epoch": 3}
    assert api.get(f"{API}/runs", params={"filter": "metrics.val/acc > 0.9"}).json()["total"] == 1

    stopped = api.post(f"{API}/runs/{rid}/stop", json={"reason": "budget"})
    assert stopped.json()["stop_requested"] == "budget (by tester@example.org)"
    beat = api.post(f"{API}/runs/{rid}/heartbeat", json={"system": {"sys/cpu": 12.5}, "seq": 7})
    assert beat.json() == {"status": "running", "stop": "budget (by tester@example.org)"}
    assert lab.tracking.history(rid, "sys/cpu").values == [12.5]


def test_heartbeat_without_body_and_after_finish(
    api: httpx.Client, new_run: Callable[..., dict[str, Any]]
) -> None:
    rid = new_run()["id"]
    empty = {"Content-Type": "application/json"}  # a bodyless POST still names JSON
    assert api.post(f"{API}/runs/{rid}/heartbeat", headers=empty).json() == {
        "status": "running",
        "stop": None,
    }
    api.post(f"{API}/runs/{rid}/finish", json={"status": "killed"})
    beat = api.post(f"{API}/runs/{rid}/heartbeat", json={"system": None, "seq": None}).json()
    assert beat["status"] == "killed" and beat["stop"]


def test_compare(api: httpx.Client, new_run: Callable[..., dict[str, Any]]) -> None:
    a = new_run(config={"lr": 0.1, "seed": 1})
    b = new_run(config={"lr": 0.01, "seed": 1})
    post_batch(api, a["id"], 0, {"loss": series([0, 1], [2.0, 1.0])})
    post_batch(api, b["id"], 0, {"loss": series([0, 1], [2.0, 0.5])})
    answer = api.get(f"{API}/compare", params=[("run", a["id"]), ("run", b["id"])]).json()
    assert answer["params_differing"] == {"lr": [0.1, 0.01]}
    assert answer["params_same"] == {"seed": 1}
    assert [cell["final"] for cell in answer["metrics"]["loss"]] == [1.0, 0.5]
    one = api.get(f"{API}/compare", params={"run": a["id"]})
    assert_envelope(one, 400, "bad_request")


def test_create_with_chosen_id_twice_is_409(
    api: httpx.Client, new_run: Callable[..., dict[str, Any]]
) -> None:
    new_run(id="my-run-0001")
    again = api.post(f"{API}/runs", json={"project": "vision", "id": "my-run-0001"})
    assert_envelope(again, 409, "already_exists")


def test_capture_text_is_repaired_not_refused(api: httpx.Client) -> None:
    # sys.argv may hold undecodable file names (surrogate escapes); git remotes may be long.
    body = (
        '{"project": "vision", "capture": {"command": ["python", "caf\\udce9.py"],'
        ' "git_remote": "' + "r" * 3000 + '", "host": "a\\u0000b"}}'
    )
    created = api.post(f"{API}/runs", content=body, headers={"Content-Type": "application/json"})
    assert created.status_code == 201, created.text
    run = created.json()
    assert run["command"] == ["python", "caf\ufffd.py"]
    assert len(run["git"]["remote"]) == 2000 and run["host"] == "ab"
