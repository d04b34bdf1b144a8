"""Validation, profiling and drift speed, each beside a reference measured in the same run.

    .venv/bin/python benchmarks/validation.py [--rows 1000000] [--big-rows 30000000]

Table: ROWS x 10 columns (4 float, 3 int, 2 categorical, 1 timestamp) with dtype,
not-null, range, allowed-values and unique-id checks; 0.1 % of the cells of three
columns break a rule, so the reports carry failures and examples. Printed:

- lablink on a polars frame and on an Arrow table, full failure report;
- lablink on the pandas frame (conversion to polars included);
- pandera on pandas (same checks) and a hand-written polars expression set (the floor);
- lablink on the table as a CSV file (every cell parsed from text), beside polars reading
  that file (the floor for text);
- memory: a Parquet file of ``--big-rows`` rows validated streamed, peak RSS in a subprocess;
- drift between two stored dataset versions (``lablink data drift``: store, profile
  blobs, tests), beside scipy's KS on the raw 1M-value columns.

Targets (issue 5): ≥ 100 M cells/s, ≥ 2.5x pandera, within 2x of the polars floor;
RSS ≤ 1 GB whatever the file's size; drift from profiles ≤ 1 s. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import datetime
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

SCHEMA = """
name: events
fields:
  - {name: id, type: integer, constraints: {required: true, unique: true, minimum: 0}}
  - {name: f1, type: number, constraints: {required: true, minimum: -10, maximum: 10}}
  - {name: f2, type: number, constraints: {required: true, minimum: -10, maximum: 10}}
  - {name: f3, type: number, constraints: {required: true, minimum: 0, maximum: 1}}
  - {name: f4, type: number, constraints: {required: true, minimum: 0}}
  - {name: i1, type: integer, constraints: {required: true, minimum: 0, maximum: 100}}
  - {name: i2, type: integer, constraints: {required: true, minimum: 0, maximum: 1000000}}
  - {name: country, type: string, constraints: {required: true, enum: [DE, FR, US, JP, IN, BR]}}
  - {name: device, type: string, constraints: {required: true, enum: [ios, android, web]}}
  - {name: ts, type: datetime, constraints: {required: true, minimum: 2020-01-01T00:00:00}}
"""
CELLS_PER_ROW = 10


def make_table(rows: int, seed: int = 0, shift: float = 0.0) -> pl.DataFrame:
    """The benchmark table; ``shift`` moves f1's mean (for the drift benchmark)."""
    rng = np.random.default_rng(seed)
    bad = rng.random(rows) < 0.001
    f1 = rng.normal(shift, 2.0, rows)
    f1[bad] = 50.0  # out of range
    i1 = rng.integers(0, 101, rows)
    i1[rng.random(rows) < 0.001] = -5
    country = rng.choice(np.array(["DE", "FR", "US", "JP", "IN", "BR"]), rows)
    country[rng.random(rows) < 0.001] = "XX"  # not allowed
    start = np.datetime64("2021-01-01T00:00:00", "us")
    return pl.DataFrame(
        {
            "id": np.arange(rows, dtype=np.int64),
            "f1": f1,
            "f2": rng.normal(0, 2, rows),
            "f3": rng.random(rows),
            "f4": rng.exponential(1.0, rows),
            "i1": i1,
            "i2": rng.integers(0, 1_000_001, rows),
            "country": pl.Series(country).cast(pl.Categorical),
            "device": pl.Series(rng.choice(np.array(["ios", "android", "web"]), rows)).cast(
                pl.Categorical
            ),
            "ts": start + rng.integers(0, 86400 * 365 * 10**6, rows).astype("timedelta64[us]"),
        }
    )


def best_of(fn: Callable[[], Any], repeat: int = 5) -> float:
    """The fastest of ``repeat`` runs, in seconds (after one warm-up)."""
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def polars_floor(df: pl.DataFrame) -> dict[str, Any]:
    """Hand-written polars: the same checks as counts, nothing else."""
    c = pl.col
    enum1, enum2 = ["DE", "FR", "US", "JP", "IN", "BR"], ["ios", "android", "web"]
    exprs = [c(n).is_null().sum().alias(f"null_{n}") for n in df.columns]
    exprs += [
        (c("id") < 0).sum(),
        (c("f1") < -10).sum().alias("f1lo"),
        (c("f1") > 10).sum().alias("f1hi"),
        (c("f2") < -10).sum().alias("f2lo"),
        (c("f2") > 10).sum().alias("f2hi"),
        (c("f3") < 0).sum().alias("f3lo"),
        (c("f3") > 1).sum().alias("f3hi"),
        (c("f4") < 0).sum().alias("f4lo"),
        (c("i1") < 0).sum().alias("i1lo"),
        (c("i1") > 100).sum().alias("i1hi"),
        (c("i2") < 0).sum().alias("i2lo"),
        (c("i2") > 1_000_000).sum().alias("i2hi"),
        (~c("country").is_in(enum1)).sum().alias("c"),
        (~c("device").is_in(enum2)).sum().alias("d"),
        (c("ts") < datetime.datetime(2020, 1, 1)).sum().alias("ts"),
        c("id").n_unique().alias("u"),
    ]
    assert df.schema["f1"] == pl.Float64 and df.schema["id"] == pl.Int64  # dtype checks
    return df.select(exprs).row(0, named=True)


def pandera_check(pdf: Any) -> Any:
    import pandera.pandas as pa

    schema = pa.DataFrameSchema(
        {
            "id": pa.Column(int, pa.Check.ge(0), unique=True),
            "f1": pa.Column(float, pa.Check.in_range(-10, 10)),
            "f2": pa.Column(float, pa.Check.in_range(-10, 10)),
            "f3": pa.Column(float, pa.Check.in_range(0, 1)),
            "f4": pa.Column(float, pa.Check.ge(0)),
            "i1": pa.Column(int, pa.Check.in_range(0, 100)),
            "i2": pa.Column(int, pa.Check.in_range(0, 1_000_000)),
            "country": pa.Column("category", pa.Check.isin(["DE", "FR", "US", "JP", "IN", "BR"])),
            "device": pa.Column("category", pa.Check.isin(["ios", "android", "web"])),
            "ts": pa.Column("datetime64[us]", pa.Check.ge(datetime.datetime(2020, 1, 1))),
        }
    )

    def run() -> Any:
        try:
            return schema.validate(pdf, lazy=True)
        except pa.errors.SchemaErrors as exc:  # failures found, as intended
            return exc.failure_cases

    return run


def rate(rows: int, seconds: float) -> str:
    return f"{rows * CELLS_PER_ROW / seconds / 1e6:8.1f} M cells/s  ({seconds * 1000:7.1f} ms)"


def bench_validation(rows: int) -> None:
    from lablink.checks.schema_format import parse_schema
    from lablink.checks.validate import validate_frame

    schema = parse_schema(SCHEMA, "bench")
    df = make_table(rows)
    arrow = df.to_arrow()
    pdf = df.to_pandas()
    report = validate_frame(df, schema)
    print(f"validation: {rows:,} rows x {CELLS_PER_ROW} columns; lablink finds:")
    for f in report.failures:
        print(
            f"  {f.rule:>8} {f.column or '':<8} {f.count:>7,}  e.g. row {f.examples[0]['row'] if f.examples else '-'}"
        )
    t_lab = best_of(lambda: validate_frame(df, schema))
    t_arrow = best_of(lambda: validate_frame(arrow, schema))
    t_pandas = best_of(lambda: validate_frame(pdf, schema), 3)
    t_floor = best_of(lambda: polars_floor(df))
    t_pandera = best_of(pandera_check(pdf), 3)
    print(f"  lablink on polars          {rate(rows, t_lab)}")
    print(f"  lablink on arrow           {rate(rows, t_arrow)}")
    print(f"  lablink on pandas (+conv.) {rate(rows, t_pandas)}")
    print(f"  polars floor (hand-written){rate(rows, t_floor)}")
    print(f"  pandera on pandas          {rate(rows, t_pandera)}")
    print(
        f"  ratios: lablink/pandera = {t_pandera / t_lab:.1f}x (target ≥ 2.5x), "
        f"lablink on pandas/pandera = {t_pandera / t_pandas:.1f}x, "
        f"lablink/floor = {t_lab / t_floor:.2f}x slower (target ≤ 2x)"
    )


def bench_csv(rows: int) -> None:
    """Validate the table written as CSV: every typed column is parsed from text."""
    from lablink.checks.schema_format import parse_schema
    from lablink.checks.validate import validate_files

    schema = parse_schema(SCHEMA, "bench")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.csv"
        make_table(rows).write_csv(path)
        report = validate_files([path], schema)
        t_lab = best_of(lambda: validate_files([path], schema), 2)
        t_read = best_of(lambda: pl.read_csv(path, try_parse_dates=True), 2)
    print(f"csv: {report.summary()}")
    print(f"  lablink on CSV             {rate(rows, t_lab)}")
    print(f"  polars read_csv (floor)    {rate(rows, t_read)}  ratio {t_lab / t_read:.2f}x")


def bench_memory(rows: int) -> None:
    """Write a big Parquet file in row groups, then validate it streamed in a subprocess."""
    import pyarrow.parquet as pq

    folder = Path(tempfile.mkdtemp(prefix="lablink-bench-"))
    path = folder / "big.parquet"
    step = 1_000_000
    writer = None
    for start in range(0, rows, step):
        part = make_table(min(step, rows - start), seed=start).with_columns(pl.col("id") + start)
        table = part.to_arrow()
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    assert writer is not None
    writer.close()
    size = path.stat().st_size
    code = textwrap.dedent(
        f"""
        import resource, time
        from lablink.checks.schema_format import parse_schema
        from lablink.checks.validate import validate_files
        from benchmarks.validation import SCHEMA
        t0 = time.perf_counter()
        r = validate_files([{str(path)!r}], parse_schema(SCHEMA), batch_rows=1_000_000)
        dt = time.perf_counter() - t0
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{{r.rows:,}} rows, {{len(r.failures)}} failing rules, {{dt:.1f}} s, peak RSS {{rss:.0f}} MiB")
        """
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    print(
        f"memory: {size / 1e9:.2f} GB Parquet ({rows:,} rows) streamed: {out.stdout.strip() or out.stderr[-500:]}"
    )
    path.unlink()
    folder.rmdir()


def bench_drift(rows: int) -> None:
    """Drift between two dataset versions from their stored profiles, end to end."""
    from scipy import stats

    from lablink.checks.drift import DriftThresholds, compare_profiles
    from lablink.sdk.data import add, drift, profile
    from lablink.settings import Settings

    a, b = make_table(rows, seed=1), make_table(rows, seed=2, shift=1.0)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        settings = Settings.load({"home": str(root / "home"), "user": "bench"})
        adds = []
        for name, frame in (("v1", a), ("v2", b)):
            (root / name).mkdir()
            frame.write_parquet(root / name / "part-0.parquet")
            t0 = time.perf_counter()
            add(root / name, "bench-events", settings=settings)
            adds.append(time.perf_counter() - t0)
        t_drift = best_of(lambda: drift("bench-events@v1", "bench-events@v2", settings=settings))
        _, pa_ = profile("bench-events@v1", settings=settings)
        _, pb = profile("bench-events@v2", settings=settings)
        _, _, report = drift("bench-events@v1", "bench-events@v2", settings=settings)
    t_compare = best_of(lambda: compare_profiles(pa_, pb, DriftThresholds()))
    t_ks = best_of(lambda: stats.ks_2samp(a["f1"].to_numpy(), b["f1"].to_numpy()), 2)
    print(
        f"drift: `lablink data drift` between two stored {rows:,}-row versions "
        f"{t_drift * 1000:.1f} ms end to end (store, profile blobs, tests; target ≤ 1 s), "
        f"of which the tests on 10 columns {t_compare * 1000:.1f} ms"
    )
    print(
        f"  reference: scipy ks_2samp on one pair of raw {rows:,}-value columns "
        f"{t_ks * 1000:.0f} ms; `data add` with its profile {adds[0]:.2f} s / {adds[1]:.2f} s"
    )
    print(f"  drifted: {report.drifted} (f1 was shifted by 0.5 sd)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--big-rows", type=int, default=30_000_000)
    parser.add_argument(
        "--skip", nargs="*", default=[], choices=["validation", "csv", "memory", "drift"]
    )
    args = parser.parse_args()
    print(f"polars {pl.__version__}, {os.cpu_count()} CPUs")
    if "validation" not in args.skip:
        bench_validation(args.rows)
    if "csv" not in args.skip:
        bench_csv(args.rows)
    if "drift" not in args.skip:
        bench_drift(args.rows)
    if "memory" not in args.skip:
        bench_memory(args.big_rows)


if __name__ == "__main__":
    main()
