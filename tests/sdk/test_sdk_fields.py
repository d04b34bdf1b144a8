"""``Client().runs(fields=...)``: lean rows on both transports, the same on both."""

from __future__ import annotations

import httpx
import pytest
from sdk_support import Sdk

from helpers import LoopbackServer
from lablink.core.lab import Lab
from lablink.errors import InvalidInput


def test_lean_rows_keep_what_a_table_shows_and_drop_the_bulk(sdk: Sdk) -> None:
    with sdk.init(project="lean", config={"lr": 0.1}, tags=["base"]) as run:
        run.log({"loss": 0.5}, step=1)
        run_id = run.id
    full = sdk.client.runs("lean")
    lean = sdk.client.runs("lean", fields=["lean"])
    assert [r.id for r in lean] == [r.id for r in full] == [run_id]
    (f,), (r,) = full, lean
    assert (r.name, r.status, r.created_at, r.ended_at) == (
        f.name,
        f.status,
        f.created_at,
        f.ended_at,
    )
    assert r.tags == f.tags == ["base"] and r.params == f.params == {"lr": 0.1}
    assert r.metrics == f.metrics and r.metrics["loss"].count == 1
    assert r.packages == {} and r.command == [] and r.config == {} and r.notes == []
    assert r.git.commit is None


def test_a_chosen_field_comes_with_the_identity_fields_only(sdk: Sdk) -> None:
    with sdk.init(project="lean", config={"lr": 0.1}) as run:
        run.log({"loss": 0.5}, step=1)
    (r,) = sdk.client.runs("lean", fields=["metrics"])
    assert r.project == "lean" and r.status == "finished"
    assert set(r.metrics) == {"loss"} and r.params == {} and r.tags == []


def test_an_unknown_field_is_refused_with_the_names_to_use(sdk: Sdk) -> None:
    with pytest.raises(InvalidInput, match="colour") as info:
        sdk.client.runs("lean", fields=["colour"])
    assert "lean" in (info.value.hint or "")


def test_the_http_answer_holds_only_the_chosen_keys(lab: Lab, server: LoopbackServer) -> None:
    run = lab.tracking.create_run("ana@example.org", "lean", "r", {"lr": 0.1}, ["base"])
    lab.tracking.log_batch(run.id, 0, {"loss": {"steps": [1], "times": [1.0], "values": [0.5]}})
    answer = httpx.get(f"{server.url}/api/v1/runs", params={"project": "lean", "fields": "lean"})
    (row,) = answer.json()["runs"]
    assert set(row) == {
        *("id", "project", "name", "status", "created_at", "user", "ended_at"),
        *("heartbeat_at", "duration", "tags", "params", "metrics"),
    }
    assert row["params"] == {"lr": 0.1} and row["metrics"]["loss"]["count"] == 1


def test_the_column_answer_holds_a_list_per_field(lab: Lab, server: LoopbackServer) -> None:
    run = lab.tracking.create_run("ana@example.org", "lean", "r", {"lr": 0.1}, ["base"])
    lab.tracking.log_batch(run.id, 0, {"loss": {"steps": [1], "times": [1.0], "values": [0.5]}})
    params = {"project": "lean", "fields": "tags,metrics", "form": "columns"}
    answer = httpx.get(f"{server.url}/api/v1/runs", params=params).json()
    assert answer["total"] == 1
    assert answer["columns"]["id"] == [run.id] and answer["columns"]["tags"] == [["base"]]
    assert answer["columns"]["metrics"] == [{"loss": [1, 1, 0.5, 0.5, 0.5, None]}]
    assert set(answer["columns"]) == {"id", "project", "name", "status", "created_at"} | {
        "tags",
        "metrics",
    }
