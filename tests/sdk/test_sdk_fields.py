"""``Client().runs(fields=...)``: lean rows on both transports, the same on both."""

from __future__ import annotations

import math

import httpx
import pytest
from sdk_support import Sdk

from helpers import LoopbackServer
from lablink.core.lab import Lab
from lablink.errors import InvalidInput
from lablink.run_columns import all_finite


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


def test_nan_and_infinite_values_come_back_in_a_lean_list(sdk: Sdk) -> None:
    with sdk.init(project="odd", config={"lr": math.nan, "wd": 0.5}) as run:
        run.log({"loss": math.inf}, step=1)
        run.summary["acc"] = -math.inf
    with sdk.init(project="odd", config={"lr": 0.1}) as plain:
        plain.log({"loss": 0.5}, step=1)
    odd, fine = sorted(sdk.client.runs("odd", fields=["lean"]), key=lambda r: r.id != run.id)
    assert math.isnan(odd.params["lr"]) and odd.params["wd"] == 0.5
    assert odd.metrics["loss"].last_value == math.inf
    assert odd.metrics["acc"].summary_value == -math.inf
    assert fine.id == plain.id and fine.metrics["loss"].last_value == 0.5
    # one run alone holds no NaN: written by the fast encoder, read back the same
    (alone,) = sdk.client.runs("odd", filter=f"name = '{plain.name}'", fields=["lean"])
    assert alone == fine


def test_only_answers_without_nan_or_infinity_count_as_finite() -> None:
    times = {"id": ["a", "b"], "created_at": [1.0, 2.0], "ended_at": [None, 3.0]}
    metric = {"loss": [2, 1, 0.5, 0.1, 0.9, None]}
    assert all_finite({**times, "metrics": [metric, {}], "params": [{"lr": 0.1}, {"n": 3}]})
    assert not all_finite({**times, "ended_at": [None, math.inf]})
    assert not all_finite({**times, "metrics": [{"loss": [2, 1, math.nan, 0, 1, None]}, {}]})
    assert not all_finite({**times, "params": [{"lr": -math.inf}, {}]})
    assert not all_finite({**times, "params": [{"lr": [0.1]}, {}]})  # not looked into
    assert not all_finite({**times, "summary": [{}, {}]})  # a column it does not check
    assert not all_finite({**times, "created_at": [1e308, 1e308]})  # the sum overflows
