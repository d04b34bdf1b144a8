"""Profiles and drift between stored profiles."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from scipy import stats

from lablink.checks.drift import DriftThresholds, compare_profiles, jensen_shannon
from lablink.checks.profile import GRID, profile_files, profile_frame, sketch_of_sorted
from lablink.errors import InvalidInput


def table(seed: int, n: int = 20_000, shift: float = 0.0, p_ios: float = 0.5) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame(
        {
            "x": rng.normal(shift, 1.0, n),
            "k": rng.integers(0, 10, n),
            "device": rng.choice(["ios", "android"], n, p=[p_ios, 1 - p_ios]),
            "t": [
                datetime.datetime(2024, 1, 1) + datetime.timedelta(minutes=int(m))
                for m in rng.integers(0, 10_000, n)
            ],
        }
    )


def test_profile_has_the_documented_statistics() -> None:
    data = table(0).with_columns(
        pl.when(pl.col("k") == 0).then(None).otherwise(pl.col("x")).alias("x")
    )
    p = json.loads(json.dumps(profile_frame(data)))  # plain JSON, storable as is
    x = p["columns"]["x"]
    assert p["rows"] == 20_000 and x["kind"] == "numeric"
    assert x["nulls"] == data["x"].null_count() and x["count"] == 20_000 - x["nulls"]
    assert x["mean"] == pytest.approx(data["x"].mean()) and x["std"] == pytest.approx(
        data["x"].std()
    )
    assert x["min"] == data["x"].min() and x["max"] == data["x"].max()
    assert x["quantiles"]["0.5"] == pytest.approx(data["x"].median(), abs=0.01)
    assert sum(x["histogram"]["counts"]) == pytest.approx(x["count"], abs=20)
    assert len(x["sketch"]) == 1001
    device = p["columns"]["device"]
    assert device["kind"] == "categorical" and device["distinct"] == 2
    assert dict(device["top"]) == dict(
        zip(*np.unique(data["device"].to_numpy(), return_counts=True), strict=True)
    )
    assert p["columns"]["t"]["temporal"] == "datetime"


@pytest.mark.parametrize(
    "values",
    [
        np.random.default_rng(3).normal(size=100_001),
        np.random.default_rng(4).integers(0, 5, size=9_999).astype(float),  # many ties
        np.array([7.5]),
        np.array([-1.0, 2.0]),
    ],
    ids=["normal", "ties", "one value", "two values"],
)
def test_the_sketch_is_numpys_linear_quantiles(values: np.ndarray) -> None:
    assert sketch_of_sorted(np.sort(values)) == pytest.approx(np.quantile(values, GRID), abs=1e-12)


def test_profiles_merged_over_batches_match_one_pass(tmp_path: Path) -> None:
    data = table(1)
    data.write_parquet(tmp_path / "t.parquet", row_group_size=1500)
    streamed = profile_files([tmp_path / "t.parquet"], batch_rows=1500)["columns"]["x"]
    whole = profile_frame(data)["columns"]["x"]
    assert streamed["mean"] == pytest.approx(whole["mean"]) and streamed["std"] == pytest.approx(
        whole["std"]
    )
    assert (
        np.max(np.abs(np.array(streamed["sketch"][10:-10]) - np.array(whole["sketch"][10:-10])))
        < 0.05
    )


def test_drift_detects_a_shifted_column_and_not_unchanged_ones() -> None:
    base, same, moved = (
        profile_frame(table(1)),
        profile_frame(table(2)),
        profile_frame(table(3, shift=0.5)),
    )
    unchanged = compare_profiles(base, same)
    assert unchanged.drifted == []
    report = compare_profiles(base, moved)
    assert report.drifted == ["x"]
    x = next(c for c in report.columns if c.column == "x")
    assert x.stats["psi"] is not None and x.stats["psi"] > 0.1
    assert any("KS" in r for r in x.reasons)


def test_ks_from_profiles_agrees_with_scipy_on_raw_data() -> None:
    a, b = table(4), table(5, shift=0.2)
    mine = compare_profiles(profile_frame(a), profile_frame(b))
    x = next(c for c in mine.columns if c.column == "x")
    reference = stats.ks_2samp(a["x"].to_numpy(), b["x"].to_numpy())
    assert x.stats["ks"] == pytest.approx(reference.statistic, abs=0.005)


def test_categorical_drift_uses_chi_square_and_jensen_shannon() -> None:
    report = compare_profiles(profile_frame(table(6)), profile_frame(table(7, p_ios=0.8)))
    device = next(c for c in report.columns if c.column == "device")
    assert device.drifted and device.stats["chi2_p_value"] < 1e-6
    assert device.stats["js"] == pytest.approx(
        jensen_shannon(np.array([0.5, 0.5]), np.array([0.8, 0.2])), abs=0.01
    )
    assert compare_profiles(profile_frame(table(6)), profile_frame(table(8))).drifted == []


def test_null_share_and_added_or_removed_columns() -> None:
    a = table(1)
    b = (
        table(2)
        .with_columns(pl.when(pl.col("k") < 3).then(None).otherwise(pl.col("x")).alias("x"))
        .drop("k")
    )
    report = compare_profiles(
        profile_frame(a), profile_frame(b.with_columns(pl.lit(1).alias("new")))
    )
    assert report.removed == ["k"] and report.added == ["new"]
    assert "x" in report.drifted and any("empty cells" in r for r in report.columns[0].reasons)


def test_thresholds_come_from_the_drift_table() -> None:
    strict = DriftThresholds.from_config({"ks": 0.01, "psi": 0.001, "p_value": 0.5})
    assert strict.ks == 0.01 and strict.js == DriftThresholds().js
    base, other = profile_frame(table(1)), profile_frame(table(3, shift=0.05))
    assert compare_profiles(base, other).drifted == []
    assert "x" in compare_profiles(base, other, strict).drifted
    with pytest.raises(InvalidInput, match="unknown key 'kss'"):
        DriftThresholds.from_config({"kss": 1})
    with pytest.raises(InvalidInput, match="must be a number"):
        DriftThresholds.from_config({"ks": "high"})


def test_tables_with_columns_but_no_rows_keep_their_columns(tmp_path: Path) -> None:
    (tmp_path / "header.csv").write_text("x,y\n")
    pl.DataFrame({"n": pl.Series([], dtype=pl.Int64)}).write_parquet(tmp_path / "empty.parquet")
    csv = profile_files([tmp_path / "header.csv"])
    assert csv["rows"] == 0 and list(csv["columns"]) == ["x", "y"]


def test_thresholds_must_be_a_table_and_name_their_file() -> None:
    with pytest.raises(InvalidInput, match=r"team\.toml: \[drift\] must be a table, not int"):
        DriftThresholds.from_config(3, "team.toml")
    with pytest.raises(InvalidInput, match=r"lablink\.toml \[drift\]: unknown key 'kss'"):
        DriftThresholds.from_config({"kss": 1})
    assert DriftThresholds.from_config({"ks": 0.3}).ks == 0.3


def test_profile_rows_show_dates_and_survive_impossible_ones() -> None:
    from lablink.checks.profile_summary import number

    day = 19_723 * 86_400 * 1_000_000  # 2024-01-01 in epoch microseconds
    assert number(day, "date") == "2024-01-01"
    assert number(day + 3_600_000_000, "datetime") == "2024-01-01 01:00:00"
    assert number(1e30, "datetime") == "1e+30 µs"
    assert number(0.123456) == "0.1235"


def test_profile_rows_leave_uncounted_kinds_blank() -> None:
    from lablink.checks.profile_summary import profile_rows

    profile = {
        "rows": 2,
        "columns": {
            "nested": {"kind": "other", "dtype": "Struct"},
            "x": {"kind": "numeric", "dtype": "Float64", "count": 1, "nulls": 1, "min": 2.5},
        },
    }
    nested, x = profile_rows(profile)
    assert (nested["count"], nested["empty"], nested["min"]) == ("", "", "")
    assert (x["count"], x["empty"], x["min"], x["mean"]) == ("1", "50.0%", "2.5", "")
