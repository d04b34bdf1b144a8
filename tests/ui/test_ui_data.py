"""The chart-data endpoint and static files: bounds, NaN handling, compression, caching."""

from __future__ import annotations

import json
import math
from typing import Any

import httpx
import pytest
from uiseed import log, make_run, project_name

from lablink.core.lab import Lab


def strict_json(text: str) -> Any:
    """Parse JSON the way a browser does: NaN and Infinity are errors."""

    def refuse(token: str) -> Any:
        raise ValueError(f"{token} is not JSON")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture
def long_run(ui_lab: Lab) -> str:
    run = make_run(ui_lab, project_name(), "long", points=0, status=None)
    steps = list(range(20_000))
    values = [math.sin(s / 500) for s in steps]
    values[7] = math.nan
    values[8] = math.inf
    values[12_345] = 50.0  # a spike the downsampling must keep
    log(ui_lab, run.id, {"train/loss": (steps, values), "short": ([0, 1], [math.nan, -math.inf])})
    return run.id


def history(http: httpx.Client, **params: Any) -> httpx.Response:
    return http.get("/ui-data/history", params=params)


def test_series_are_downsampled_and_keep_ends_and_extremes(
    http: httpx.Client, long_run: str
) -> None:
    answer = history(http, run=long_run, key="train/loss", max_points=1000)
    assert answer.status_code == 200
    (series,) = strict_json(answer.text)["series"]
    assert len(series["steps"]) <= 1000
    assert series["total"] == 20_000 and series["downsampled"]
    assert series["steps"][0] == 0 and series["steps"][-1] == 19_999
    assert 50.0 in series["values"]
    assert len(series["times"]) == len(series["values"]) == len(series["steps"])


def test_nan_and_inf_reach_the_browser_as_null(http: httpx.Client, long_run: str) -> None:
    answer = history(http, run=long_run, key="short")
    (series,) = strict_json(answer.text)["series"]
    assert series["values"] == [None, None]
    full = strict_json(history(http, run=long_run, key="train/loss", step_max=10).text)
    assert full["series"][0]["values"][7:9] == [None, None]
    assert full["series"][0]["steps"] == list(range(11))  # a step range comes at full detail


@pytest.mark.parametrize(
    ("params", "status", "message"),
    [
        (
            {"key": "train/loss", "max_points": 100_000},
            400,
            "max_points must be between 2 and 5000",
        ),
        ({"key": "train/loss", "max_points": 1}, 400, "max_points must be between"),
        ({"key": "train/loss", "max_points": "many"}, 400, "max_points must be an integer"),
        ({"key": "train/loss", "step_min": "x"}, 400, "step_min must be an integer"),
        ({}, 400, "name at least one run and one key"),
        ({"key": [f"k{i}" for i in range(201)]}, 400, "at most 200 series"),
    ],
)
def test_bad_requests_are_4xx_json(
    http: httpx.Client, long_run: str, params: dict[str, Any], status: int, message: str
) -> None:
    answer = history(http, run=long_run, **params)
    assert answer.status_code == status
    assert message in answer.json()["error"]["message"]


def test_unknown_run_is_404_and_a_missing_key_is_an_empty_series(
    http: httpx.Client, long_run: str
) -> None:
    assert history(http, run="zzzzzzzzzzzz", key="train/loss").status_code == 404
    (series,) = history(http, run=long_run, key="nope").json()["series"]
    assert series["missing"] and series["steps"] == []


def test_chart_data_is_gzipped_and_never_cached(http: httpx.Client, long_run: str) -> None:
    answer = history(http, run=long_run, key="train/loss")
    assert answer.headers["content-encoding"] == "gzip"
    assert answer.headers["cache-control"] == "no-store"


def test_plotly_comes_compressed_and_cached(http: httpx.Client) -> None:
    page = http.get("/").text
    assert "/static/base.js?v=" in page
    first = http.get("/static/plotly.min.js")
    assert first.headers["cache-control"] == "public, max-age=0, must-revalidate"
    etag = first.headers["etag"]
    versioned = http.get(f"/static/plotly.min.js?v={etag.strip(chr(34))}")
    assert versioned.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert versioned.headers["content-encoding"] == "gzip"
    assert versioned.num_bytes_downloaded < 2_000_000 < len(versioned.content)
    assert b"plotly.js" in versioned.content[:200]
    again = http.get("/static/plotly.min.js", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert http.get("/static/nope.js").status_code == 404


def test_run_page_first_load_is_under_five_megabytes(
    ui_lab: Lab, http: httpx.Client, long_run: str
) -> None:
    import re

    html = http.get(f"/r/{long_run}")
    total = html.num_bytes_downloaded
    for src in re.findall(r'(?:src|href)="(/static/[^"]+)"', html.text):
        total += http.get(src).num_bytes_downloaded
    for key in ("train/loss", "short"):
        total += history(http, run=long_run, key=key).num_bytes_downloaded
    assert total < 5_000_000
