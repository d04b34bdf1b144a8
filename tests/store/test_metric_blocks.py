"""Compacted metric storage: a key's tail folds into compressed blocks and every read,
whole or by step range, gives the same points bit for bit before and after, on SQLite
and PostgreSQL. A store from before the blocks (0014) migrates without a point changed.
"""

from __future__ import annotations

import math
import struct
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lablink.core.lab import Lab
from lablink.settings import Settings
from lablink.store import metrics_sql, open_store
from lablink.store import schema as t
from lablink.store.migrate import HEAD, MIGRATIONS, current_revision, upgrade

USER = "tester@example.org"
BITS = st.integers(0, 2**64 - 1).map(lambda b: struct.unpack("<d", struct.pack("<Q", b))[0])
VALUES = st.one_of(BITS, st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 0.0, 5e-324]))
STEPS = st.one_of(st.integers(0, 8), st.sampled_from([2**62, 2**53 + 1]))  # ties, disorder
POINTS = st.lists(st.tuples(STEPS, VALUES), min_size=1, max_size=9)
BATCHES = st.lists(
    st.dictionaries(st.sampled_from(["loss", "acc"]), POINTS, min_size=1), max_size=8
)
RANGES = st.tuples(st.none() | st.integers(-1, 9), st.none() | st.integers(-1, 9))

Point = tuple[int, float, float]


def bits(series: Any) -> tuple[bytes, bytes, bytes]:
    steps, times, values = series
    return (
        np.asarray(steps, "<i8").tobytes(),
        np.asarray(times, "<f8").tobytes(),
        np.asarray(values, "<f8").tobytes(),
    )


def expected(points: list[Point], lo: int | None, hi: int | None) -> tuple[bytes, bytes, bytes]:
    """Points in arrival order, stably sorted by step, cut to ``[lo, hi]``."""
    kept = sorted(points, key=lambda p: p[0])
    kept = [p for p in kept if (lo is None or p[0] >= lo) and (hi is None or p[0] <= hi)]
    return bits(
        (
            [p[0] for p in kept],
            [p[1] for p in kept],
            [p[2] for p in kept],
        )
    )


@pytest.fixture
def small_tails(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fold after a few points, so blocks and tail mix in every example."""
    monkeypatch.setattr(metrics_sql, "TAIL_POINTS", 7)
    monkeypatch.setattr(metrics_sql, "TAIL_ROWS", 3)


def stored(lab: Lab, table: sa.Table, run_id: str) -> int:
    with lab.store.engine.connect() as conn:  # type: ignore[attr-defined]
        return int(
            conn.execute(
                sa.select(sa.func.count()).select_from(table).where(table.c.run_id == run_id)
            ).scalar_one()
        )


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batches=BATCHES, ranges=st.lists(RANGES, min_size=1, max_size=3))
def test_reads_match_the_points_sent_as_tails_fold(
    lab: Lab, small_tails: None, batches: list[dict[str, list[tuple[int, float]]]], ranges: Any
) -> None:
    run = lab.tracking.create_run(USER, "blocks", "r")
    sent: dict[str, list[Point]] = {}
    clock = 1.7e9
    for seq, batch in enumerate(batches):
        wire = {}
        for key, points in batch.items():
            times = [clock + i * 1e-3 for i in range(len(points))]
            clock += 1
            wire[key] = {
                "steps": [p[0] for p in points],
                "times": times,
                "values": [p[1] for p in points],
            }
            sent.setdefault(key, []).extend(
                (p[0], w, p[1]) for p, w in zip(points, times, strict=True)
            )
        lab.tracking.log_batch(run.id, seq, wire)
        for key, points in sent.items():
            for lo, hi in ranges:
                assert bits(lab.store.read_series(run.id, key, lo, hi)) == expected(points, lo, hi)
    lab.tracking.finish_run(USER, run.id)
    assert stored(lab, t.metric_chunks, run.id) == 0  # the run's end folded every tail
    for key, points in sent.items():
        assert bits(lab.store.read_series(run.id, key, None, None)) == expected(points, None, None)
        for lo, hi in ranges:
            assert bits(lab.store.read_series(run.id, key, lo, hi)) == expected(points, lo, hi)


def test_a_long_history_reads_back_from_blocks_and_tail(lab: Lab) -> None:
    run = lab.tracking.create_run(USER, "blocks", "long")
    rng = np.random.default_rng(1)
    n, per = 102_000, 1_000  # folds every 5,000 points: the last 2,000 stay in the tail
    steps = np.arange(n)
    times = 1.7e9 + np.cumsum(rng.uniform(0.001, 0.002, n))
    values = (np.exp(-steps / 20_000) + 0.01 * rng.standard_normal(n)).astype(np.float32)
    values = values.astype(np.float64)
    values[::997] = np.nan
    for seq, start in enumerate(range(0, n, per)):
        part = slice(start, start + per)
        lab.tracking.log_batch(
            run.id,
            seq,
            {
                "loss": {
                    "steps": steps[part].tolist(),
                    "times": times[part].tolist(),
                    "values": values[part].tolist(),
                }
            },
        )
    assert stored(lab, t.metric_blocks, run.id) > 0 and stored(lab, t.metric_chunks, run.id) > 0
    assert bits(lab.store.read_series(run.id, "loss", None, None)) == bits((steps, times, values))
    cut = slice(12_345, 67_891)
    assert bits(lab.store.read_series(run.id, "loss", 12_345, 67_890)) == bits(
        (steps[cut], times[cut], values[cut])
    )
    h = lab.tracking.history(run.id, "loss", max_points=1000)
    assert h.total == n and h.steps[0] == 0 and h.steps[-1] == n - 1
    with lab.store.engine.connect() as conn:  # type: ignore[attr-defined]
        size = conn.execute(sa.select(sa.func.sum(sa.func.length(t.metric_blocks.c.data)))).scalar()
        folded = conn.execute(sa.select(sa.func.sum(t.metric_blocks.c.n))).scalar()
    assert size / folded < 10  # bytes a point in blocks


# -- migration 0015 -----------------------------------------------------------------------

LEGACY = [  # chunks as lablink 0014 stored them: (step_min order differs from id order)
    ([5, 3, 3], [1.0, 2.0, 3.0], [math.nan, -0.0, math.inf]),
    ([1, 2], [4.0, 5.0], [struct.unpack("<d", struct.pack("<Q", 0x7FF8DEADBEEF0001))[0], 5e-324]),
    ([3, 9], [6.0, 7.0], [-math.inf, 1.5]),
]


def legacy_read(chunks: list[tuple[list[int], list[float], list[float]]]) -> Any:
    """What lablink 0014 returned: chunks by (step_min, id), then a stable sort by step."""
    order = sorted(range(len(chunks)), key=lambda i: (min(chunks[i][0]), i))
    steps = np.concatenate([np.array(chunks[i][0], "<i8") for i in order])
    times = np.concatenate([np.array(chunks[i][1], "<f8") for i in order])
    values = np.concatenate([np.array(chunks[i][2], "<f8") for i in order])
    idx = np.argsort(steps, kind="stable")
    return steps[idx], times[idx], values[idx]


def alembic(engine: sa.Engine, how: str, target: str) -> None:
    from alembic import command
    from alembic.config import Config

    with engine.begin() as conn:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = conn
        getattr(command, how)(config, target)


def test_a_0014_store_migrates_every_point_bit_for_bit(settings: Settings) -> None:
    store = open_store(settings.db)
    try:
        run_ids = []
        with Lab(settings) as lab:
            for name in ("a", "b"):
                run_ids.append(lab.tracking.create_run(USER, "legacy", name).id)
    finally:
        store.close()
    engine = sa.create_engine(settings.db)
    try:
        alembic(engine, "downgrade", "0014")
        assert not sa.inspect(engine).has_table("metric_blocks")
        with engine.begin() as conn:
            for run_id in run_ids:
                for steps, times, values in LEGACY:
                    s = np.array(steps, "<i8")
                    conn.execute(
                        t.metric_chunks.insert().values(
                            run_id=run_id,
                            key="loss",
                            n=len(s),
                            step_min=int(s.min()),
                            step_max=int(s.max()),
                            steps=s.tobytes(),
                            times=np.array(times, "<f8").tobytes(),
                            values=np.array(values, "<f8").tobytes(),
                        )
                    )
        upgrade(engine)
        assert current_revision(engine) == HEAD
        with engine.connect() as conn:
            diffs = compare_metadata(MigrationContext.configure(conn), t.metadata)
            assert [d for d in diffs if "metric_blocks" in repr(d)] == []
            assert (
                conn.execute(sa.select(sa.func.count()).select_from(t.metric_chunks)).scalar() == 0
            )
    finally:
        engine.dispose()
    want = bits(legacy_read(LEGACY))
    store = open_store(settings.db)
    try:
        for run_id in run_ids:
            assert bits(store.read_series(run_id, "loss", None, None)) == want
    finally:
        store.close()
    engine = sa.create_engine(settings.db)
    try:
        alembic(engine, "downgrade", "0014")  # and back: one chunk a key, same points
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(
                    t.metric_chunks.c.steps, t.metric_chunks.c.times, t.metric_chunks.c["values"]
                )
            ).all()
        assert len(rows) == 2 and all(tuple(r) == want for r in rows)
        upgrade(engine)
    finally:
        engine.dispose()


def points_payloads(lab: Lab, run_id: str) -> list[dict[str, Any]]:
    events = lab.store.events_since(0, None, run_id, 1000)
    return [e.payload for e in events if e.kind == "points"]


def test_folded_points_events_keep_only_their_keys(
    lab: Lab, small_tails: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = lab.tracking.create_run(USER, "blocks", "events")
    batch = {"b": series([0, 1], [0.5, math.nan]), "a": series([0], [1.0])}
    lab.tracking.log_batch(run.id, 0, batch)
    assert points_payloads(lab, run.id)[0]["metrics"]["b"]["steps"] == [0, 1]  # live: inline
    monkeypatch.setattr(metrics_sql, "EVENT_POINTS_KEEP", 0.0)  # old enough at once
    for seq in range(1, 4):
        lab.tracking.log_batch(run.id, seq, {"b": series([seq + 1], [2.0])})  # 3 rows: a fold
    payloads = points_payloads(lab, run.id)
    assert payloads[0] == {"points": 3, "keys": ["a", "b"]}
    assert all("keys" in p for p in payloads[:3])
    lab.tracking.finish_run(USER, run.id)
    assert points_payloads(lab, run.id) == [
        {"points": 3, "keys": ["a", "b"]},
        *({"points": 1, "keys": ["b"]} for _ in range(3)),
    ]


def test_fresh_points_events_keep_their_points_through_folds(lab: Lab, small_tails: None) -> None:
    run = lab.tracking.create_run(USER, "blocks", "fresh")
    for seq in range(8):  # several folds, all within EVENT_POINTS_KEEP
        lab.tracking.log_batch(run.id, seq, {"b": series([seq], [1.0])})
    assert all("metrics" in p for p in points_payloads(lab, run.id))
    lab.tracking.finish_run(USER, run.id)
    assert all("metrics" not in p for p in points_payloads(lab, run.id))


def test_tails_filled_by_one_batch_fold_a_group_at_a_time(
    lab: Lab, small_tails: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An MLflow-style batch (a point per key) fills every key's tail at once: all fold,
    ``FOLD_GROUP`` keys a transaction, and read back as sent."""
    monkeypatch.setattr(metrics_sql, "FOLD_GROUP", 2)
    run = lab.tracking.create_run(USER, "blocks", "many-keys")
    keys = [f"k{i}" for i in range(5)]
    for seq in range(3):  # TAIL_ROWS = 3: the third batch fills all five tails
        lab.tracking.log_batch(run.id, seq, {k: series([seq], [seq + 0.5]) for k in keys})
    assert stored(lab, t.metric_chunks, run.id) == 0
    with lab.store.engine.connect() as conn:  # type: ignore[attr-defined]
        folded = conn.execute(
            sa.select(t.metric_blocks.c.key).where(t.metric_blocks.c.run_id == run.id)
        ).scalars()
        assert sorted(set(folded)) == keys
    for key in keys:
        steps, _, values = lab.store.read_series(run.id, key, None, None)
        assert steps.tolist() == [0, 1, 2] and values.tolist() == [0.5, 1.5, 2.5]


def test_the_event_clock_names_the_newest_event_old_enough(lab: Lab) -> None:
    """A fold reads events only up to the id this names: all written before the cut."""
    store: Any = lab.store
    store._event_clock.clear()
    for at, event_id in ((100.0, 1), (100.4, 2), (101.2, 3), (101.9, 4), (103.0, 5)):
        store._note_event(at, event_id)
    assert store._old_event_id(100.0) is None  # nothing that old: the fold reads nothing
    assert store._old_event_id(100.5) == 2
    assert store._old_event_id(101.5) == 2  # 3 shares its second with 4, which is newer
    assert store._old_event_id(102.0) == 4
    assert store._old_event_id(1e12) == 5


def series(steps: list[int], values: list[float]) -> dict[str, list[Any]]:
    return {"steps": steps, "times": [1.7e9 + s for s in steps], "values": values}


def test_readers_never_see_a_gap_or_a_twin_while_tails_fold(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ingestion, extra folds and reads in three threads: every read is a prefix of what
    was sent, without a duplicate, and the end reads exactly what was sent."""
    import threading

    monkeypatch.setattr(metrics_sql, "TAIL_POINTS", 120)
    run = lab.tracking.create_run(USER, "blocks", "race")
    batches, per = 40, 50
    done = threading.Event()
    problems: list[str] = []

    def ingest() -> None:
        try:
            for seq in range(batches):
                steps = list(range(seq * per, (seq + 1) * per))
                lab.tracking.log_batch(run.id, seq, {"x": series(steps, [float(s) for s in steps])})
        finally:
            done.set()

    def fold() -> None:
        while not done.is_set():
            lab.store.fold_tail(run.id, ["x"])  # type: ignore[attr-defined]

    def read() -> None:
        seen = 0
        while not done.is_set():
            steps, _, values = lab.store.read_series(run.id, "x", None, None)
            n = len(steps)
            if not np.array_equal(steps, np.arange(n)) or not np.array_equal(values, steps):
                problems.append(f"a read of {n} points is not the first {n} points sent")
                return
            if n < seen:
                problems.append(f"a read lost points: {n} after {seen}")
                return
            seen = n

    threads = [threading.Thread(target=f) for f in (ingest, fold, read)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert problems == []
    steps, _, _ = lab.store.read_series(run.id, "x", None, None)
    assert np.array_equal(steps, np.arange(batches * per))
