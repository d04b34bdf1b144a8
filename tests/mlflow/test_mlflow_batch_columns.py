"""MLflow batches of many keys, checked and stored as columns: the same errors and the
same stored points and summaries as lablink's key-by-key batch."""

from __future__ import annotations

import math
import re
import time

import numpy as np
import pytest
from mlflow.entities import Metric
from mlflow.exceptions import MlflowException

from lablink.checks.series import PointColumns, check_columns
from lablink.core.lab import Lab
from lablink.errors import InvalidInput
from mlflow import MlflowClient


def _batch(now_ms: int, step: int = 0) -> list[tuple[str, float, int, int]]:
    return [(f"m{k}", k * 0.5, now_ms, step) for k in range(1000)]


def _new_run(lab: Lab) -> str:
    exp = lab.mlflow.create_experiment(f"cols-{time.time_ns()}", {})
    run, _ = lab.mlflow.create_run("ana", str(exp.experiment_id), None, None, {})
    return run.id


@pytest.mark.parametrize(
    ("at", "bad", "message"),
    [
        (500, ("m500", 1.0, 1, -3), "metric 'm500': step -3 is negative"),
        (700, ("bad\x07key", 1.0, 1, 0), "contains a control character"),
        (999, ("m999", 1.0, 1, 2**62 + 1), "metric 'm999': steps are integers from 0 to 2**62"),
    ],
)
def test_one_bad_point_of_a_thousand_refuses_the_batch(
    lab: Lab, at: int, bad: tuple[str, float, int, int], message: str
) -> None:
    rid = _new_run(lab)
    points = _batch(1_000)
    points[at] = bad
    with pytest.raises(InvalidInput, match=re.escape(message)):
        lab.mlflow.log(rid, metrics=points)
    assert lab.store.metric_summaries(rid) == {}  # nothing stored


def test_the_first_bad_point_sent_is_named() -> None:
    keys = ["a", "b", "c", "b"]
    steps = np.array([0, 1, 2**62 + 5, -1], dtype=np.int64)
    times = np.array([1.0, 2.0, 3.0, math.inf])
    # "b" comes first: its step -1 is named, as a key-by-key check of "b" finds it first
    with pytest.raises(InvalidInput, match=r"metric 'b': steps are integers"):
        check_columns(keys, steps, times)
    with pytest.raises(InvalidInput, match=r"metric 'b': times must be finite"):
        check_columns(keys, np.array([0, 1, 2, 3]), times)
    check_columns(keys, np.array([0, 1, 2, 3]), np.array([1.0, 2.0, 3.0, 4.0]))


def test_columns_read_as_a_batch_of_keys() -> None:
    cols = PointColumns(["x", "y"], np.array([3, 4]), np.array([1.0, 2.0]), np.array([0.5, 9.0]))
    assert list(cols) == ["x", "y"] and len(cols) == 2 and "y" in cols and "z" not in cols
    steps, times, values = cols["y"]
    assert steps.tolist() == [4] and times.tolist() == [2.0] and values.tolist() == [9.0]


def test_columns_store_what_key_by_key_stores(lab: Lab) -> None:
    """Summaries and points of a thousand-key batch equal the per-key batch's, NaN and
    infinities included, on both databases."""
    special = {"m1": math.nan, "m2": math.inf, "m3": -math.inf}
    by_columns, by_keys = _new_run(lab), _new_run(lab)
    for step in range(3):
        points = [(k, special.get(k, v + step), ts + step, step) for k, v, ts, _ in _batch(5)[:999]]
        points.append(("late", 1.0 - step, 7, 10 - step))  # steps arrive out of order
        lab.mlflow.log(by_columns, metrics=points)
        lab.tracking.log_batch(
            by_keys,
            time.time_ns(),
            {k: {"steps": [s], "times": [ts / 1000], "values": [v]} for k, v, ts, s in points},
        )
    ours, theirs = lab.store.metric_summaries(by_columns), lab.store.metric_summaries(by_keys)
    assert len(ours) == 1000
    assert {k: repr(v) for k, v in ours.items()} == {k: repr(v) for k, v in theirs.items()}
    assert ours["late"].last_step == 10 and ours["late"].last_value == 1.0
    assert math.isnan(ours["m1"].last_value) and ours["m1"].min_value is None
    for key in ("m0", "m1", "m2", "late"):
        mine = lab.store.read_series(by_columns, key, None, None)
        other = lab.store.read_series(by_keys, key, None, None)
        for a, b in zip(mine, other, strict=True):
            assert a.tobytes() == b.tobytes()


def test_a_key_sent_twice_in_a_batch_keeps_both_points(lab: Lab) -> None:
    rid = _new_run(lab)
    lab.mlflow.log(
        rid, metrics=[("loss", 0.9, 1_000, 0), ("acc", 0.1, 1_000, 0), ("loss", 0.5, 2_000, 1)]
    )
    steps, times, values = lab.store.read_series(rid, "loss", None, None)
    assert steps.tolist() == [0, 1] and times.tolist() == [1.0, 2.0]
    assert values.tolist() == [0.9, 0.5]
    assert lab.store.metric_summaries(rid)["acc"].count == 1


def test_a_thousand_key_batch_over_http(tracking_uri: str) -> None:
    client = MlflowClient()
    rid = client.create_run(client.create_experiment("wide")).info.run_id
    now = int(time.time() * 1000)
    for step in range(2):
        client.log_batch(rid, [Metric(f"m{k}", k * 0.5 + step, now, step) for k in range(1000)])
    run = client.get_run(rid)
    assert len(run.data.metrics) == 1000 and run.data.metrics["m7"] == 4.5
    assert [m.value for m in client.get_metric_history(rid, "m7")] == [3.5, 4.5]
    bad = [Metric(f"m{k}", 1.0, now, 2) for k in range(1000)]
    bad[640] = Metric("m640", 1.0, now, -1)
    with pytest.raises(MlflowException, match="step -1 is negative") as info:
        client.log_batch(rid, bad)
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"
    assert [m.step for m in client.get_metric_history(rid, "m1")] == [0, 1]


def test_tails_of_many_keys_fold_together_and_read_whole(lab: Lab) -> None:
    import sqlalchemy as sa

    from lablink.store import schema as t
    from lablink.store.metrics_sql import TAIL_ROWS

    rid = _new_run(lab)
    keys = [f"k{i}" for i in range(150)]  # more than one fold group of keys
    batches = TAIL_ROWS + 6
    for step in range(batches):
        lab.mlflow.log(
            rid, metrics=[(k, i + step / 10, 1_000 * step, step) for i, k in enumerate(keys)]
        )

    def rows(table: sa.Table) -> int:
        with lab.store.engine.connect() as conn:
            query = sa.select(sa.func.count()).select_from(table).where(table.c.run_id == rid)
            return int(conn.execute(query).scalar_one())

    assert rows(t.metric_blocks) >= len(keys) and rows(t.metric_chunks) == 6 * len(keys)
    for i in (0, 77, 149):
        steps, times, values = lab.store.read_series(rid, keys[i], None, None)
        assert steps.tolist() == list(range(batches))
        assert times.tolist() == [float(s) for s in range(batches)]
        assert values.tolist() == [i + s / 10 for s in range(batches)]
    lab.tracking.finish_run("ana", rid, "finished")  # the end folds every key's tail
    assert rows(t.metric_chunks) == 0
    assert lab.store.read_series(rid, "k3", None, None)[0].tolist() == list(range(batches))
