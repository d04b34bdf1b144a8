"""Column profiles of a table, built batch by batch in bounded memory.

A profile is plain JSON, stored with a dataset version so that drift between two
versions never reads the old data again. Per column it has ``count`` (non-empty
cells), ``nulls``, and:

- numbers, dates and times (``kind: numeric``; temporal values as epoch microseconds):
  ``min``, ``max``, ``mean``, ``std``, ``quantiles`` (1, 5, 25, 50, 75, 95, 99 %), a
  20-bin ``histogram``, ``sketch``: the values at 1001 evenly spaced quantiles, and
  ``exact`` (``values`` and their ``counts``) while the column has at most 2000
  distinct values or the table at most 10,000 (``value_summary.py``); drift compares
  exact counts exactly and sketches to within the bound ``docs/schemas.md`` gives;
- text, categories and booleans (``kind: categorical``): ``distinct``, ``top`` (the 20
  most frequent values) and ``counts`` for up to 1000 values, the rest in ``other``.

Batches are merged exactly for counts, extremes, mean, variance (Chan's parallel
update) and exact value counts, and through the quantile sketches otherwise. Version 2
added ``exact``; version 1 profiles (sketches only) still compare.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from lablink.checks.rules import family
from lablink.checks.tablefiles import DEFAULT_BATCH_ROWS, iter_chunks
from lablink.checks.value_summary import (
    EXACT_ROWS,
    EXACT_VALUES,
    GRID,
    KNOTS,
    Counts,
    counts_json,
    counts_of_sorted,
    distinct_at_least,
    histogram_of_counts,
    keeps_exact,
    merge_counts,
    merge_sketches,
    quantiles_of_counts,
    sketch_cdf,
    sketch_of_sorted,
)

__all__ = [
    "GRID",
    "KNOTS",
    "PROFILE_VERSION",
    "Profiler",
    "merge_sketches",
    "profile_files",
    "profile_frame",
    "sketch_cdf",
    "sketch_of_sorted",
]

PROFILE_VERSION = 2  # 2 added exact value counts; version 1 profiles still compare
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
HISTOGRAM_BINS = 20
MAX_CATEGORIES = 1000
_TRACKED_CATEGORIES = 20_000  # pruned back to MAX_CATEGORIES * 5 when exceeded
_MAX_SKETCHES = 16
_NUMERIC = frozenset({"integer", "number", "date", "datetime", "time", "duration"})


class _Numeric:
    def __init__(self, temporal: str | None) -> None:
        self.temporal = temporal
        self.count = self.nulls = self.non_finite = 0
        self.mean = self.m2 = 0.0
        self.low, self.high = math.inf, -math.inf
        self.exact: Counts | None = (np.empty(0), np.empty(0, dtype=np.int64))
        self.sketches: list[tuple[int, np.ndarray]] = []

    def feed(self, series: pl.Series) -> None:
        self.nulls += series.null_count()
        values = _as_float(series.drop_nulls(), self.temporal).to_numpy()
        finite = values[np.isfinite(values)]
        self.non_finite += len(values) - len(finite)
        n = len(finite)
        if not n:
            return
        ordered = np.sort(finite)
        self.low = min(self.low, float(ordered[0]))
        self.high = max(self.high, float(ordered[-1]))
        mean = float(finite.mean())
        m2 = float(((finite - mean) ** 2).sum())
        total = self.count + n
        delta = mean - self.mean
        self.m2 += m2 + delta * delta * self.count * n / total
        self.mean += delta * n / total
        self.count = total
        self._summarise(ordered)

    def _summarise(self, ordered: np.ndarray) -> None:
        """Exact counts while the column is small or has few values, sketches after."""
        if self.exact is not None:
            if self.count <= EXACT_ROWS or not distinct_at_least(ordered, EXACT_VALUES):
                merged = merge_counts(self.exact, counts_of_sorted(ordered))
                if keeps_exact(len(merged[0]), self.count):
                    self.exact = merged
                    return
            # Past both limits: what was counted so far becomes one sketch
            before = self.count - len(ordered)
            if before:
                self.sketches.append((before, quantiles_of_counts(self.exact, GRID)))
            self.exact = None
        self.sketches.append((len(ordered), sketch_of_sorted(ordered)))
        if len(self.sketches) > _MAX_SKETCHES:
            self.sketches = [(sum(k for k, _ in self.sketches), merge_sketches(self.sketches))]

    def result(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": "numeric",
            "count": self.count + self.non_finite,
            "nulls": self.nulls,
        }
        if self.temporal:
            out["temporal"] = self.temporal
        if self.non_finite:
            out["non_finite"] = self.non_finite
        if not self.count:
            return out
        std = math.sqrt(self.m2 / (self.count - 1)) if self.count > 1 else 0.0
        edges = np.linspace(self.low, self.high, HISTOGRAM_BINS + 1)
        if self.exact is not None:
            sketch = quantiles_of_counts(self.exact, GRID)
            quantiles = quantiles_of_counts(self.exact, QUANTILES)
            counts = histogram_of_counts(self.exact, edges)
        else:
            sketch = merge_sketches(self.sketches)
            quantiles = np.interp(QUANTILES, GRID, sketch)
            cdf = sketch_cdf(sketch, edges)
            counts = np.rint(np.diff(np.concatenate(([0.0], cdf[1:-1], [1.0]))) * self.count)
        out.update(
            min=self.low,
            max=self.high,
            mean=self.mean,
            std=std,
            quantiles={str(q): float(v) for q, v in zip(QUANTILES, quantiles, strict=True)},
            histogram={"edges": edges.tolist(), "counts": counts.astype(int).tolist()},
            sketch=sketch.tolist(),
            finite=self.count,
        )
        if self.exact is not None:
            out["exact"] = counts_json(self.exact)
        return out


class _Categorical:
    def __init__(self) -> None:
        self.count = self.nulls = self.pruned = 0
        self.counts: dict[Any, int] = {}

    def feed(self, series: pl.Series) -> None:
        self.nulls += series.null_count()
        self.count += len(series) - series.null_count()
        # Renamed first: value_counts names its columns after the series and "n", so a
        # column called "n" would clash with its own counts
        vc = series.drop_nulls().cast(pl.String).alias("value").value_counts(name="n")
        for value, n in vc.iter_rows():
            self.counts[value] = self.counts.get(value, 0) + int(n)
        if len(self.counts) > _TRACKED_CATEGORIES:
            keep = sorted(self.counts.items(), key=lambda kv: -kv[1])[: MAX_CATEGORIES * 5]
            self.pruned += sum(self.counts.values()) - sum(n for _, n in keep)
            self.counts = dict(keep)

    def result(self) -> dict[str, Any]:
        ranked = sorted(self.counts.items(), key=lambda kv: (-kv[1], str(kv[0])))
        kept = ranked[:MAX_CATEGORIES]
        other = self.pruned + sum(n for _, n in ranked[MAX_CATEGORIES:])
        out: dict[str, Any] = {"kind": "categorical", "count": self.count, "nulls": self.nulls}
        out["distinct"] = len(self.counts) if not self.pruned else None
        out["top"] = [[v, n] for v, n in ranked[:20]]
        out["counts"] = dict(kept)
        out["other"] = other
        return out


class Profiler:
    """Accumulates a profile over batches of one table."""

    def __init__(self) -> None:
        self.rows = 0
        self.columns: dict[str, _Numeric | _Categorical | None] = {}
        self.dtypes: dict[str, str] = {}

    def feed(self, frame: pl.DataFrame) -> None:
        """Add one batch."""
        self.rows += frame.height
        for name, series in frame.to_dict().items():
            if name not in self.columns:
                self.columns[name] = _column_profiler(series.dtype)
                self.dtypes[name] = str(series.dtype)
            column = self.columns[name]
            if column is not None:
                column.feed(series)

    def finish(self) -> dict[str, Any]:
        """The profile as plain JSON."""
        columns: dict[str, Any] = {}
        for name, column in self.columns.items():
            body = column.result() if column is not None else {"kind": "other"}
            columns[name] = {"dtype": self.dtypes[name], **body}
        return {"version": PROFILE_VERSION, "rows": self.rows, "columns": columns}


def _as_float(series: pl.Series, temporal: str | None) -> pl.Series:
    """Numbers as float64; dates, datetimes and durations as microseconds, times too."""
    if temporal in ("date", "datetime"):
        series = series.cast(pl.Datetime("us"))
    elif temporal == "duration":
        series = series.cast(pl.Duration("us"))
    elif temporal == "time":
        return (series.to_physical() // 1000).cast(pl.Float64)  # nanoseconds since midnight
    return series.to_physical().cast(pl.Float64)


def _column_profiler(dtype: pl.DataType) -> _Numeric | _Categorical | None:
    kind = family(dtype)
    if kind in _NUMERIC:
        return _Numeric(kind if kind not in ("integer", "number") else None)
    if kind in ("string", "boolean"):
        return _Categorical()
    return None


def profile_frame(data: Any) -> dict[str, Any]:
    """Profile an in-memory table (pandas, polars or pyarrow)."""
    from lablink.checks.validate import to_polars

    profiler = Profiler()
    profiler.feed(to_polars(data))
    return profiler.finish()


def profile_files(
    paths: Sequence[str | Path], batch_rows: int = DEFAULT_BATCH_ROWS, fmt: str | None = None
) -> dict[str, Any]:
    """Profile Parquet, CSV and JSON Lines files, streaming in batches.

    This is what a dataset version stores, so its page and drift checks need no rescan. ``fmt`` reads every file in that
    format whatever its suffix (cached blobs have none).

    Raises:
        InvalidInput: no table files, or a file that does not parse.
    """
    profiler = Profiler()
    for chunk in iter_chunks(paths, None, batch_rows, fmt):
        profiler.feed(chunk.frame)
    return profiler.finish()
