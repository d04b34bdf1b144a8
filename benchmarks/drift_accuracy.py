"""How far drift's KS D, from stored profiles, is from scipy's ``ks_2samp`` on the raw data.

    .venv/bin/python benchmarks/drift_accuracy.py [--seeds 20] [--max-rows 1000000]

For each column shape and table size, two tables are drawn (the second slightly
shifted, so D is neither 0 nor 1), profiled in one batch and in batches of a tenth of
the table, and compared. Printed: the largest |D - scipy D| over the seeds, and the
number of verdicts (D >= 0.1 and p < 0.01) that differ from scipy's. This is the
table in docs/schemas.md. Nothing is asserted; the exactness of small and few-valued
columns is asserted in tests/schemas/test_drift_exact.py.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np
import polars as pl
from scipy import stats

from lablink.checks.drift import compare_profiles
from lablink.checks.profile import Profiler

Draw = Callable[[np.random.Generator, int, float], np.ndarray]

SHAPES: dict[str, Draw] = {
    "integers 0-5": lambda r, n, s: r.binomial(5, 0.5 + s / 4, n),
    "integers 0-4999": lambda r, n, s: r.integers(0, 5000, n) + np.rint(s * 500).astype(int),
    "continuous (normal)": lambda r, n, s: r.normal(s, 1.0, n),
    "heavy-tailed (Pareto)": lambda r, n, s: r.pareto(1.5, n) * (1 + s),
    "integers, Zipf tail": lambda r, n, s: r.zipf(1.3 + s, n).astype(float),
}
SIZES = (30, 100, 1_000, 10_000, 30_000, 100_000, 1_000_000)


def profile(values: np.ndarray, batches: int) -> dict[str, object]:
    profiler = Profiler()
    for part in np.array_split(values, batches):
        profiler.feed(pl.DataFrame({"x": part}))
    return profiler.finish()


def measure(draw: Draw, rows: int, seeds: int, batches: int) -> tuple[float, int]:
    worst, flips = 0.0, 0
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        a, b = draw(rng, rows, 0.0), draw(rng, rows, 0.02 + 0.1 * rng.random())
        ours = compare_profiles(profile(a, batches), profile(b, batches)).columns[0].stats
        ref = stats.ks_2samp(a, b)
        d, p = float(ours["ks"] or 0.0), ours["ks_p_value"]
        p = 1.0 if p is None else float(p)  # p can be 0.0: no `or` here
        worst = max(worst, abs(d - ref.statistic))
        flips += (d >= 0.1 and p < 0.01) != (ref.statistic >= 0.1 and ref.pvalue < 0.01)
    return worst, flips


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--max-rows", type=int, default=1_000_000)
    args = parser.parse_args()
    sizes = [n for n in SIZES if n <= args.max_rows]
    print(f"max |D - scipy D| over {args.seeds} seeds (verdicts differing); one batch / 10 batches")
    print("| column | " + " | ".join(f"{n:,} rows" for n in sizes) + " |")
    print("|---|" + "---|" * len(sizes))
    for name, draw in SHAPES.items():
        cells = []
        for n in sizes:
            seeds = args.seeds if n <= 100_000 else max(3, args.seeds // 5)
            one, f1 = measure(draw, n, seeds, 1)
            ten, f10 = measure(draw, n, seeds, 10 if n >= 1000 else 1)
            cells.append(f"{one:.4f} / {ten:.4f}" + (f" ({f1 + f10})" if f1 + f10 else ""))
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
