"""The set-based merge of metric summaries equals a point-by-point reference, on both backends.

Each batch folds into ``run_metrics`` with one statement; the reference below walks
every point in ingestion order with the documented rules: the last point is the one
with the highest step (a later point wins a tie), NaN never becomes a minimum or
maximum, and +-inf do.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lablink.core.lab import Lab

USER = "tester@example.org"
KEYS = ("loss", "acc", "grad/norm")

VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(
        [
            *(math.nan, math.inf, -math.inf, 1.7976931348623157e308, -1.7976931348623157e308),
            *(5e-324, -5e-324, 2.2250738585072014e-308, 0.0, -0.0, 1.0),
        ]
    ),
)
# Few distinct steps, so ties (within a batch and across batches) are common.
STEPS = st.one_of(st.integers(0, 6), st.sampled_from([2**62, 2**62 - 1, 2**53 + 1]))
POINTS = st.lists(st.tuples(STEPS, VALUES), min_size=1, max_size=12)
BATCH = st.dictionaries(st.sampled_from(KEYS), POINTS, min_size=1, max_size=len(KEYS))
BATCHES = st.lists(BATCH, min_size=1, max_size=5)

Batch = dict[str, list[tuple[int, float]]]


def reference(batches: Sequence[Batch]) -> dict[str, dict[str, Any]]:
    """Summaries computed point by point, without SQL."""
    out: dict[str, dict[str, Any]] = {}
    for batch in batches:
        for key, points in batch.items():
            s = out.setdefault(
                key,
                {"count": 0, "last_step": None, "last_value": None, "min": None, "max": None},
            )
            for step, value in points:
                s["count"] += 1
                if s["last_step"] is None or step >= s["last_step"]:
                    s["last_step"], s["last_value"] = step, value
                if not math.isnan(value):
                    if s["min"] is None or value < s["min"]:
                        s["min"] = value
                    if s["max"] is None or value > s["max"]:
                        s["max"] = value
    return out


def same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return (math.isnan(a) and math.isnan(b)) or a == b


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batches=BATCHES)
def test_merged_summaries_equal_the_reference(lab: Lab, batches: list[Batch]) -> None:
    run = lab.tracking.create_run(USER, "merge", "r")
    for seq, batch in enumerate(batches):
        wire = {
            key: {
                "steps": [p[0] for p in points],
                "times": [1000.0 + i for i in range(len(points))],
                "values": [p[1] for p in points],
            }
            for key, points in batch.items()
        }
        assert lab.tracking.log_batch(run.id, seq, wire)["ingested"] is True
    got = lab.store.metric_summaries(run.id)
    want = reference(batches)
    assert set(got) == set(want)
    for key, w in want.items():
        g = got[key]
        assert g.count == w["count"], key
        assert g.last_step == w["last_step"], key
        assert same(g.last_value, w["last_value"]), (key, g.last_value, w["last_value"])
        assert same(g.min_value, w["min"]), (key, g.min_value, w["min"])
        assert same(g.max_value, w["max"]), (key, g.max_value, w["max"])


def test_a_replayed_batch_changes_no_summary(lab: Lab) -> None:
    run = lab.tracking.create_run(USER, "merge", "r")
    batch = {"loss": {"steps": [0, 1], "times": [1.0, 2.0], "values": [math.nan, -math.inf]}}
    lab.tracking.log_batch(run.id, 7, batch)
    before = lab.store.metric_summaries(run.id)["loss"]
    assert lab.tracking.log_batch(run.id, 7, batch)["ingested"] is False
    after = lab.store.metric_summaries(run.id)["loss"]
    assert after.count == before.count == 2
    assert after.min_value == after.max_value == -math.inf
