"""A run's config and summary on every backend: NaN and ±inf kept, bounds in the core."""

from __future__ import annotations

import math

import pytest

from lablink.checks.limits import MAX_DEPTH
from lablink.core.lab import Lab
from lablink.errors import InvalidInput

USER = "tester@example.org"


def test_nan_and_inf_in_config_and_summary_round_trip(lab: Lab) -> None:
    config = {"a": math.nan, "b": [math.inf, -math.inf, 1.5], "c": {"d": math.nan}}
    run = lab.tracking.create_run(USER, "nan", "r", config)
    lab.tracking.set_summary(run.id, {"best": -math.inf, "note": "text"})
    got = lab.tracking.get_run(run.id)
    assert math.isnan(got.config["a"]) and math.isnan(got.config["c"]["d"])
    assert got.config["b"] == [math.inf, -math.inf, 1.5]
    assert math.isnan(got.params["a"]) and math.isnan(got.params["c.d"])
    assert got.summary["best"] == -math.inf and got.summary["note"] == "text"


def test_a_config_that_looks_like_json_markers_is_plain_data(lab: Lab) -> None:
    config = {"m": {"$numberDouble": "1.5"}, "n": {"$numberDouble": "NaN", "x": 1}}
    run = lab.tracking.create_run(USER, "nan", "r", config)
    assert lab.tracking.get_run(run.id).config == config


def test_the_direct_transport_refuses_a_too_deep_config(lab: Lab) -> None:
    config: dict[str, object] = {"leaf": 1}
    for _ in range(MAX_DEPTH + 1):
        config = {"k": config}
    with pytest.raises(InvalidInput, match="nested deeper than"):
        lab.tracking.create_run(USER, "deep", "r", config)
    assert "deep" not in {p.name for p in lab.tracking.list_projects()}
