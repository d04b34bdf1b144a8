"""Drift and quantiles from stored profiles against scipy and numpy on the raw values.

Columns with few distinct values, and small tables, keep exact value counts: their
quantiles must equal ``numpy.quantile`` and their KS D and p-value must equal
``scipy.stats.ks_2samp``, however the table was split into batches. Larger columns go
through quantile sketches, which must stay within the bound docs/schemas.md states.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from typer.testing import CliRunner

from lablink.checks.drift import compare_profiles
from lablink.checks.profile import QUANTILES, Profiler, profile_frame
from lablink.checks.value_summary import (
    EXACT_ROWS,
    EXACT_VALUES,
    GRID,
    merge_sketches,
    sketch_of_sorted,
)
from lablink.cli.main import app
from lablink.core.datasets.profiles import decode_profile, encode_profile
from lablink.errors import InvalidInput

SKETCH_BOUND = 0.002  # |D - scipy's D| for sketched columns, as docs/schemas.md states

Column = Callable[[np.random.Generator, int], list[Any]]


def _nullable(values: np.ndarray, rng: np.random.Generator, share: float) -> list[Any]:
    return [None if rng.random() < share else v for v in values.tolist()]


COLUMNS: dict[str, Column] = {
    "ratings 1-5": lambda r, n: r.integers(1, 6, n).tolist(),
    "integers 0-40": lambda r, n: r.binomial(40, 0.3, n).tolist(),
    "continuous": lambda r, n: r.normal(0, 1, n).tolist(),
    "heavy-tailed": lambda r, n: (r.pareto(1.1, n) * 100).tolist(),
    "null-heavy counts": lambda r, n: _nullable(r.poisson(3, n), r, 0.8),
    "null-heavy continuous": lambda r, n: _nullable(r.exponential(1, n), r, 0.6),
}


def profile_in_batches(values: list[Any], batches: int, name: str = "x") -> dict[str, Any]:
    """The profile of one column fed in ``batches`` parts (some of them may be empty)."""
    profiler = Profiler()
    series = pl.Series(name, values, dtype=pl.Float64 if _floats(values) else pl.Int64)
    for part in np.array_split(np.arange(len(values)), batches):
        profiler.feed(
            pl.DataFrame({name: series.gather(part)})
            if len(part)
            else pl.DataFrame({name: pl.Series(name, [], dtype=series.dtype)})
        )
    return profiler.finish()


def _floats(values: list[Any]) -> bool:
    return any(isinstance(v, float) for v in values)


def raw(values: list[Any]) -> np.ndarray:
    return np.array([v for v in values if v is not None], dtype=float)


def scipy_ks(a: np.ndarray, b: np.ndarray) -> Any:
    """scipy's KS; for some unequal sizes it warns that it falls back to asymptotic p."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return stats.ks_2samp(a, b)


def ks(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    return compare_profiles(a, b).columns[0].stats


@settings(max_examples=120, deadline=None)
@given(
    kind=st.sampled_from(sorted(COLUMNS)),
    other=st.sampled_from(sorted(COLUMNS)),
    sizes=st.tuples(st.integers(3, 600), st.integers(3, 600)),
    batches=st.tuples(st.integers(1, 7), st.integers(1, 7)),
    seed=st.integers(0, 2**32 - 1),
)
def test_small_tables_give_scipys_ks_and_numpys_quantiles(
    kind: str, other: str, sizes: tuple[int, int], batches: tuple[int, int], seed: int
) -> None:
    rng = np.random.default_rng(seed)
    a = COLUMNS[kind](rng, sizes[0])
    b = COLUMNS[kind if rng.random() < 0.7 else other](rng, sizes[1])
    xa, xb = raw(a), raw(b)
    pa, pb = profile_in_batches(a, batches[0]), profile_in_batches(b, batches[1])
    col = pa["columns"]["x"]
    if len(xa):
        assert [col["quantiles"][str(q)] for q in QUANTILES] == pytest.approx(
            np.quantile(xa, QUANTILES), rel=1e-12, abs=1e-12
        )
        assert col["sketch"] == pytest.approx(np.quantile(xa, GRID), rel=1e-12, abs=1e-12)
        assert sum(col["histogram"]["counts"]) == len(xa)
    if not len(xa) or not len(xb):
        assert ks(pa, pb).get("ks") is None
        return
    mine, ref = ks(pa, pb), scipy_ks(xa, xb)
    assert mine["ks"] == pytest.approx(ref.statistic, abs=1e-12)
    assert mine["ks_p_value"] == pytest.approx(ref.pvalue, rel=1e-9, abs=1e-12)


def test_the_issues_ratings_do_not_drift() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.integers(1, 6, 300), rng.integers(1, 6, 300)
    report = compare_profiles(
        profile_frame(pl.DataFrame({"rating": a})), profile_frame(pl.DataFrame({"rating": b}))
    )
    rating = report.columns[0].stats
    assert rating["ks"] == pytest.approx(0.0433, abs=1e-4)
    assert rating["ks_p_value"] == pytest.approx(stats.ks_2samp(a, b).pvalue, rel=1e-12)
    assert rating["ks_p_value"] == pytest.approx(0.94, abs=0.01)
    assert report.drifted == []


@pytest.mark.parametrize(
    ("kind", "rows"),
    [("ratings 1-5", 40_000), ("integers 0-40", 25_000), ("null-heavy counts", 90_000)],
)
def test_large_columns_with_few_values_stay_exact_over_many_batches(kind: str, rows: int) -> None:
    rng = np.random.default_rng(rows)
    a, b = COLUMNS[kind](rng, rows), COLUMNS[kind](rng, rows + 7_919)
    pa, pb = profile_in_batches(a, 20), profile_in_batches(b, 3)
    xa, xb = raw(a), raw(b)
    assert "exact" in pa["columns"]["x"]
    quantiles = pa["columns"]["x"]["quantiles"]
    assert [quantiles[str(q)] for q in QUANTILES] == list(np.quantile(xa, QUANTILES))
    mine, ref = ks(pa, pb), stats.ks_2samp(xa, xb)  # scipy's asymptotic p past 10,000
    assert mine["ks"] == pytest.approx(ref.statistic, abs=1e-15)
    assert mine["ks_p_value"] == pytest.approx(ref.pvalue, rel=1e-9)


def test_the_issues_merged_quantiles() -> None:
    profiler = Profiler()
    for seed in range(11):  # 1.1 million rows of 0..4
        values = np.random.default_rng(seed).integers(0, 5, 100_000)
        profiler.feed(pl.DataFrame({"x": values}))
    q = profiler.finish()["columns"]["x"]["quantiles"]
    assert (q["0.5"], q["0.25"]) == (2.0, 1.0)
    twice = Profiler()
    twice.feed(pl.DataFrame({"x": [0, 0, 0, 1, 1]}))
    twice.feed(pl.DataFrame({"x": [0, 0, 0, 1, 1]}))
    assert twice.finish()["columns"]["x"]["quantiles"]["0.75"] == 1.0


def test_twenty_batches_of_one_distribution_do_not_drift() -> None:
    rng = np.random.default_rng(20)
    parts = [rng.integers(0, 5, 50_000) for _ in range(20)]
    whole = rng.integers(0, 5, 1_000_000)
    batched = Profiler()
    for part in parts:
        batched.feed(pl.DataFrame({"x": part}))
    report = compare_profiles(batched.finish(), profile_frame(pl.DataFrame({"x": whole})))
    ref = stats.ks_2samp(np.concatenate(parts), whole)
    assert report.columns[0].stats["ks"] == pytest.approx(ref.statistic, abs=1e-15)
    assert report.drifted == []


def test_merged_sketches_keep_the_steps_of_repeated_values() -> None:
    rng = np.random.default_rng(5)
    batches = [np.sort(rng.integers(0, 5, n)).astype(float) for n in (100_000, 250_000, 7)]
    merged = merge_sketches([(len(b), sketch_of_sorted(b)) for b in batches])
    everything = np.concatenate(batches)
    for q in (0.05, 0.25, 0.5, 0.75, 0.95):
        assert np.interp(q, GRID, merged) == np.quantile(everything, q)
    steps = [(3, sketch_of_sorted(np.array([0.0, 0, 0, 1, 1])))] * 2
    assert np.interp(0.75, GRID, merge_sketches(steps)) == 1.0


@pytest.mark.parametrize(
    "draw",
    [
        lambda r, n: r.normal(0, 1, n),
        lambda r, n: r.pareto(1.1, n),
        # many distinct values with heavy ties: sketched, with steps
        lambda r, n: np.where(r.random(n) < 0.7, r.integers(0, 5, n), r.integers(5, 10**6, n)),
    ],
    ids=["continuous", "heavy-tailed", "ties and a long tail"],
)
def test_sketched_columns_stay_within_the_documented_bound(
    draw: Callable[[np.random.Generator, int], np.ndarray],
) -> None:
    rng = np.random.default_rng(11)
    a, b = draw(rng, 60_000).astype(float), draw(rng, 45_000).astype(float) * 1.02
    pa, pb = profile_in_batches(a.tolist(), 12), profile_in_batches(b.tolist(), 1)
    assert "exact" not in pa["columns"]["x"]
    mine, ref = ks(pa, pb), stats.ks_2samp(a, b)
    assert abs(mine["ks"] - ref.statistic) <= SKETCH_BOUND
    q = pa["columns"]["x"]["quantiles"]
    for p in QUANTILES:  # the reported quantile's rank is within the sketch's resolution
        share = np.mean(a <= q[str(p)])
        assert abs(share - p) <= SKETCH_BOUND or np.quantile(a, p) == q[str(p)]


def test_a_small_table_against_a_large_one_stays_within_the_bound() -> None:
    rng = np.random.default_rng(3)
    small, large = rng.normal(0, 1, 800), rng.normal(0.1, 1, 50_000)
    mine = ks(profile_frame(pl.DataFrame({"x": small})), profile_frame(pl.DataFrame({"x": large})))
    assert abs(mine["ks"] - stats.ks_2samp(small, large).statistic) <= SKETCH_BOUND


def test_exact_counts_are_kept_only_while_small_or_few_valued() -> None:
    rng = np.random.default_rng(1)
    over = rng.normal(0, 1, EXACT_ROWS + 1)
    assert "exact" not in profile_frame(pl.DataFrame({"x": over}))["columns"]["x"]
    assert "exact" in profile_frame(pl.DataFrame({"x": over[:EXACT_ROWS]}))["columns"]["x"]
    few = rng.integers(0, EXACT_VALUES, 50_000)
    exact = profile_frame(pl.DataFrame({"x": few}))["columns"]["x"]["exact"]
    assert sum(exact["counts"]) == 50_000 and exact["values"][:2] == [0, 1]
    dates = pl.date_range(pl.date(2024, 1, 1), pl.date(2024, 3, 1), eager=True)
    days = profile_frame(pl.DataFrame({"d": dates.sample(30_000, with_replacement=True, seed=2)}))
    assert len(days["columns"]["d"]["exact"]["values"]) == len(dates)


def test_version_one_profiles_still_compare_and_bad_counts_are_refused() -> None:
    rng = np.random.default_rng(4)
    old = profile_frame(pl.DataFrame({"x": rng.integers(0, 5, 5_000)}))
    old["version"] = 1
    del old["columns"]["x"]["exact"]  # what version 1 stored: sketches only
    new = profile_frame(pl.DataFrame({"x": rng.integers(0, 5, 5_000)}))
    assert new["version"] == 2
    decoded = decode_profile(encode_profile(old))
    report = compare_profiles(decoded, decode_profile(encode_profile(new)))
    assert report.drifted == [] and report.columns[0].stats["ks"] < 0.05
    broken = json.loads(encode_profile(new))
    broken["columns"]["x"]["exact"]["counts"][0] += 1
    with pytest.raises(InvalidInput, match="'x' has exact counts"):
        decode_profile(json.dumps(broken).encode())
    broken["columns"]["x"]["exact"] = {"values": [2, 1], "counts": [1, 1]}
    with pytest.raises(InvalidInput, match="'x' has exact counts"):
        decode_profile(json.dumps(broken).encode())


@pytest.mark.parametrize("name", ["n", "count", "value"])
def test_columns_named_like_the_counts_profile(name: str) -> None:
    frame = pl.DataFrame({name: ["a", "b", "a", None], "k": [1, 2, 2, 3]})
    column = profile_frame(frame)["columns"][name]
    assert column["counts"] == {"a": 2, "b": 1} and column["nulls"] == 1


def test_cli_drift_check_passes_same_distribution_ratings(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    env = {"COLUMNS": "200", "LABLINK_HOME": str(tmp_path / "home")}
    for name in ("v1", "v2"):
        (tmp_path / name).mkdir()
        pl.DataFrame({"rating": rng.integers(1, 6, 300)}).write_parquet(
            tmp_path / name / "ratings.parquet"
        )
        added = CliRunner().invoke(
            app, ["data", "add", str(tmp_path / name), "-n", "ratings"], env=env
        )
        assert added.exit_code == 0, added.output
    checked = CliRunner().invoke(
        app, ["data", "drift", "ratings@v1", "ratings@v2", "--check", "--json"], env=env
    )
    assert checked.exit_code == 0, checked.output
    rating = json.loads(checked.stdout)["columns"][0]["stats"]
    assert rating["ks"] == pytest.approx(0.0433, abs=1e-4) and rating["ks_p_value"] > 0.9
