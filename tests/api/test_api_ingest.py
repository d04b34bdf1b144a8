"""Batch ingestion and history over the real server."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import httpx
import numpy as np
from apitools import API, JSON, assert_envelope, post_batch, series

from lablink.core.lab import Lab


def test_same_seq_twice_is_stored_once(
    api: httpx.Client, new_run: Callable[..., dict[str, Any]], lab: Lab
) -> None:
    rid = new_run()["id"]
    batch = {"train/loss": series([0, 1, 2], [3.0, 2.0, 1.0]), "train/acc": series([2], [0.5])}
    first = post_batch(api, rid, 0, batch)
    assert first.json() == {"ingested": True, "points": 4}
    replay = post_batch(api, rid, 0, batch)
    assert replay.json() == {"ingested": False, "points": 0}
    post_batch(api, rid, 1, {"train/loss": series([3], [0.5])})

    history = api.get(f"{API}/runs/{rid}/history", params={"key": "train/loss"}).json()
    assert history["steps"] == [0, 1, 2, 3] and history["values"] == [3.0, 2.0, 1.0, 0.5]
    assert history["total"] == 4 and history["downsampled"] is False
    run = api.get(f"{API}/runs/{rid}").json()
    assert run["metrics"]["train/loss"]["count"] == 4
    assert lab.tracking.get_run(rid).metrics["train/acc"].count == 1


def test_nan_and_infinity_round_trip(
    api: httpx.Client, new_run: Callable[..., dict[str, Any]]
) -> None:
    rid = new_run()["id"]
    values = [math.nan, math.inf, -math.inf, 1.7976931348623157e308, -5e-324, 0.0]
    raw = json.dumps({"seq": 0, "metrics": {"x": series(list(range(6)), values)}})
    assert "NaN" in raw and "Infinity" in raw  # the tokens the SDK sends
    assert api.post(f"{API}/runs/{rid}/batches", content=raw, headers=JSON).status_code == 200
    api.post(
        f"{API}/runs/{rid}/summary", content='{"best": Infinity, "worst": -Infinity}', headers=JSON
    )

    answer = api.get(f"{API}/runs/{rid}/history", params={"key": "x"})
    assert "NaN" in answer.text and "-Infinity" in answer.text
    got = json.loads(answer.content)["values"]
    assert math.isnan(got[0]) and got[1:] == values[1:]
    binary = api.get(f"{API}/runs/{rid}/history", params={"key": "x", "format": "binary"})
    assert binary.headers["content-type"] == "application/octet-stream"
    assert binary.headers["x-lablink-points"] == "6" and binary.headers["x-lablink-total"] == "6"
    steps = np.frombuffer(binary.content[:48], "<i8")
    times = np.frombuffer(binary.content[48:96], "<f8")
    floats = np.frombuffer(binary.content[96:], "<f8")
    assert steps.tolist() == list(range(6)) and times[0] == 1.7e9
    assert np.isnan(floats[0]) and floats[1:].tolist() == values[1:]
    run = json.loads(api.get(f"{API}/runs/{rid}").content)
    assert run["summary"]["best"] == math.inf and run["summary"]["worst"] == -math.inf
    assert run["metrics"]["x"]["max_value"] == math.inf


def test_history_downsampling_keeps_ends_and_extremes(
    api: httpx.Client, new_run: Callable[..., dict[str, Any]]
) -> None:
    rid = new_run()["id"]
    n = 20_000
    values = [math.sin(i / 300) for i in range(n)]
    values[4321], values[777], values[15_000] = 50.0, -50.0, math.nan
    for seq, start in enumerate(range(0, n, 5000)):  # out of order: last chunk first
        steps = list(range(start, start + 5000))
        post_batch(api, rid, 3 - seq, {"loss": series(steps, [values[s] for s in steps])})

    for max_points in (4, 5, 10, 100, 1000):
        h = api.get(
            f"{API}/runs/{rid}/history", params={"key": "loss", "max_points": max_points}
        ).json()
        assert len(h["steps"]) == max_points, max_points
        assert h["total"] == n and h["downsampled"] is True
        assert h["steps"] == sorted(set(h["steps"]))
        assert h["steps"][0] == 0 and h["steps"][-1] == n - 1
        assert 4321 in h["steps"] and 777 in h["steps"], max_points

    ends = api.get(f"{API}/runs/{rid}/history", params={"key": "loss", "max_points": 2}).json()
    assert ends["steps"] == [0, n - 1]
    too_few = api.get(f"{API}/runs/{rid}/history", params={"key": "loss", "max_points": 1})
    assert_envelope(too_few, 400, "bad_request")
    assert "at least 2" in too_few.json()["error"]["hint"]
    full = api.get(f"{API}/runs/{rid}/history", params={"key": "loss"}).json()
    assert full["steps"] == list(range(n)) and full["downsampled"] is False
    window = api.get(
        f"{API}/runs/{rid}/history", params={"key": "loss", "step_min": 4000, "step_max": 4999}
    ).json()
    assert window["steps"] == list(range(4000, 5000))
    assert window["values"][321] == 50.0


def test_points_to_a_finished_run_are_refused(
    api: httpx.Client, new_run: Callable[..., dict[str, Any]], snapshot: Callable[[], str]
) -> None:
    rid = new_run()["id"]
    post_batch(api, rid, 0, {"loss": series([0], [1.0])})
    api.post(f"{API}/runs/{rid}/finish", json={"status": "finished"})
    before = snapshot()
    refused = post_batch(api, rid, 1, {"loss": series([1], [0.5])})
    error = assert_envelope(refused, 409, "run_not_active")
    assert rid in error["message"]
    assert snapshot() == before


def test_integer_steps_up_to_2_62_are_stored_exactly(
    api: httpx.Client, new_run: Callable[..., dict[str, Any]]
) -> None:
    rid = new_run()["id"]
    steps = [2**53 + 1, 2**62 - 1, 2**62]  # float64 would round each of these
    assert post_batch(api, rid, 0, {"k": series(steps, [1.0, 2.0, 3.0], t0=0)}).status_code == 200
    history = api.get(f"{API}/runs/{rid}/history", params={"key": "k"}).json()
    assert history["steps"] == steps
