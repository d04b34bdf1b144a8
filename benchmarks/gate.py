"""Gate benchmark: false-alarm rate and power of ``lablink gate`` vs a threshold rule.

Reproduces the figures of issue 6 by simulation: seed noise sigma = 0.5 accuracy
points, 5 baseline seeds, 3/5/10 candidate seeds, true drops of 0, 0.5, 1 and 2 sigma.
"Fails" is the share of simulated pull requests the rule would block; at a drop of 0
that is the false-alarm rate, otherwise the power. The gate's figures come from the
same functions ``lablink gate`` uses (``lablink.checks.stats``), vectorised.

A second table (issue 14) measures the Mann-Whitney test on *tied* seed values, as
accuracy on a fixed validation set gives: false alarms of scipy's default (the normal
approximation as soon as values tie: the gate before) and of the exact test with
midranks (``lablink.checks.ranksum``: the gate now), how many decisions differ, and
the time per test of each.

Run with ``python benchmarks/gate.py [--reps 20000]``. Prints tables, never asserts;
the tables in ``docs/gate.md`` come from this script.
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable

import numpy as np
from scipy import stats as sps

from lablink.checks import ranksum, stats

SIGMA = 0.5
N_BASE = 5
THRESHOLD = 0.3
ALPHA = 0.05
MARGIN = 1.0  # in sigmas: 0.5 accuracy points, the example --margin 0.5
S = "\N{GREEK SMALL LETTER SIGMA}"


def simulate(
    n_cand: int, drop_sigmas: float, reps: int, rng: np.random.Generator
) -> dict[str, float]:
    """Shares of simulated PRs each rule fails, and the gate's verdict mix with a margin."""
    base = rng.normal(90.0, SIGMA, size=(reps, N_BASE))
    cand = rng.normal(90.0 - drop_sigmas * SIGMA, SIGMA, size=(reps, n_cand))
    threshold = np.mean(base.mean(axis=1) - cand.mean(axis=1) > THRESHOLD)
    p_drop, _ = stats.welch_pvalues(base, cand)
    welch = np.mean(p_drop < ALPHA)  # margin 0: FAIL is exactly "significant drop"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mwu = np.mean(sps.mannwhitneyu(cand, base, axis=-1, alternative="less").pvalue < ALPHA)
    big_base = rng.normal(90.0, SIGMA, size=(reps, 20))
    welch20 = np.mean(stats.welch_pvalues(big_base, cand)[0] < ALPHA)
    p_drop, p_ni = stats.welch_pvalues(base, cand, margin=MARGIN * SIGMA)
    dropped, within = p_drop < ALPHA, p_ni < ALPHA
    return {
        "threshold": float(threshold),
        "welch": float(welch),
        "mwu": float(mwu),
        "welch20": float(welch20),
        "FAIL": float(np.mean(dropped & ~within)),
        "WARN": float(np.mean(dropped & within)),
        "PASS": float(np.mean(~dropped & within)),
        "INCONCLUSIVE": float(np.mean(~dropped & ~within)),
    }


def bootstrap_false_alarms(n_cand: int, reps: int, rng: np.random.Generator) -> float:
    """False alarms of a percentile-bootstrap bound on the mean difference (no change)."""
    base = rng.normal(90.0, SIGMA, size=(reps, N_BASE))
    cand = rng.normal(90.0, SIGMA, size=(reps, n_cand))
    res = sps.bootstrap(
        (cand, base),
        lambda c, b, axis: c.mean(axis=axis) - b.mean(axis=axis),
        axis=-1,
        vectorized=True,
        n_resamples=999,
        batch=100,
        confidence_level=1 - 2 * ALPHA,
        method="percentile",
        rng=rng,
    )
    return float(np.mean(res.confidence_interval.high < 0))


# How seed values tie in practice: the same model, scored on a small fixed set
TIED: dict[str, Callable[[np.random.Generator, tuple[int, ...]], np.ndarray]] = {
    "acc, 50 examples": lambda rng, size: rng.binomial(50, 0.9, size) / 50,
    "acc, 200 examples": lambda rng, size: rng.binomial(200, 0.9, size) / 200,
    "loss to 1 decimal": lambda rng, size: np.round(rng.normal(1.0, 0.1, size), 1),
}


def tied_false_alarms(kind: str, n: int, reps: int, rng: np.random.Generator) -> dict[str, float]:
    """Unchanged models with tied values: how often each Mann-Whitney p says "drop"."""
    base, cand = TIED[kind](rng, (reps, n)), TIED[kind](rng, (reps, n))
    before, after, seconds = np.empty(reps), np.empty(reps), [0.0, 0.0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-equal rows: scipy's 0/0
        started = time.perf_counter()
        for i in range(reps):  # one call per comparison, as the gate made them
            before[i] = sps.mannwhitneyu(cand[i], base[i], alternative="less").pvalue
        seconds[0] = time.perf_counter() - started
    ranksum.null_counts.cache_clear()  # time the exact test without a warm cache
    started = time.perf_counter()
    for i in range(reps):
        after[i] = ranksum.rank_sum_test(cand[i], base[i], "less").pvalue
    seconds[1] = time.perf_counter() - started
    before = np.nan_to_num(before, nan=1.0)
    tied = np.mean([len(np.unique(np.r_[b, c])) < 2 * n for b, c in zip(base, cand, strict=True)])
    return {
        "tied": float(tied),
        "before": float(np.mean(before < ALPHA)),
        "after": float(np.mean(after < ALPHA)),
        "flips": float(np.mean((before < ALPHA) != (after < ALPHA))),
        "max_diff": float(np.max(np.abs(before - after))),
        "us_before": 1e6 * seconds[0] / reps,
        "us_after": 1e6 * seconds[1] / reps,
    }


def print_tied(reps: int, rng: np.random.Generator) -> None:
    """The issue-14 table: false alarms on tied values, before (scipy) and after (exact)."""
    print(f"\nMann-Whitney on tied values, no true change, {reps} simulated PRs per row, in %")
    print("before: scipy's default (normal approximation once values tie); after: exact")
    print(
        f"{'values':>18} {'seeds':>6} {'rows w/ ties':>12} | {'false alarms before':>19} "
        f"{'after':>6} | {'decisions differ':>16} {'max |dp|':>8} | "
        f"{'µs/test before':>14} {'after':>6} {'ratio':>6}"
    )
    for kind in TIED:
        for n in (3, 4, 5, 6, 8):
            r = tied_false_alarms(kind, n, reps, rng)
            print(
                f"{kind:>18} {f'{n} v {n}':>6} {100 * r['tied']:>12.0f} | "
                f"{100 * r['before']:>19.1f} {100 * r['after']:>6.1f} | "
                f"{100 * r['flips']:>16.1f} {r['max_diff']:>8.3f} | "
                f"{r['us_before']:>14.0f} {r['us_after']:>6.0f} "
                f"{r['us_after'] / r['us_before']:>6.2f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=20_000, help="simulated PRs per cell")
    parser.add_argument("--seed", type=int, default=2021)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    mc = 100 * 2 * np.sqrt(ALPHA * (1 - ALPHA) / args.reps)
    print(
        f"sigma = {SIGMA}, {N_BASE} baseline seeds, alpha = {ALPHA}, {args.reps} simulated PRs "
        f"per row (Monte Carlo error at 5%: ±{mc:.2f} points, 2 s.e.)\n"
    )
    print("Share of PRs failed (drop 0: false alarms; otherwise: power), in %")
    print(
        f"{'cand seeds':>10} {'drop':>11} | {'drop>0.3 rule':>13} {'gate welch':>10} "
        f"{'gate mwu':>9} {'welch, 20 base':>14} | margin {MARGIN:g}{S} ({MARGIN * SIGMA:g}): "
        f"{'FAIL':>5} {'WARN':>5} {'PASS':>5} {'INCONC':>6}"
    )
    for n_cand in (3, 5, 10):
        for drop in (0.0, 0.5, 1.0, 2.0):
            r = simulate(n_cand, drop, args.reps, rng)
            label = f"{drop:g}{S} ({drop * SIGMA:.2f})"
            print(
                f"{n_cand:>10} {label:>11} | {100 * r['threshold']:>13.1f} "
                f"{100 * r['welch']:>10.1f} {100 * r['mwu']:>9.1f} {100 * r['welch20']:>14.1f} | "
                f"{'':>18}{100 * r['FAIL']:>5.1f} {100 * r['WARN']:>5.1f} {100 * r['PASS']:>5.1f} "
                f"{100 * r['INCONCLUSIVE']:>6.1f}"
            )
    print("\nFalse alarms of a percentile-bootstrap bound (no change), in %")
    reps = min(args.reps, 4000)
    for n_cand in (3, 5, 10):
        print(
            f"{n_cand:>10} candidate seeds: {100 * bootstrap_false_alarms(n_cand, reps, rng):5.1f}"
        )
    print("\nSeeds needed (80% power, one-sided alpha 0.05) to tell 'no change' from a drop")
    print("of one margin, with sigma estimated from the baseline:")
    print(f"{'margin':>12} {'5 base seeds':>14} {'10 base seeds':>14} {'20 base seeds':>14}")
    for margin_sigmas in (0.5, 1.0, 1.5, 2.0):
        cells = []
        for n_base in (5, 10, 20):
            plan = stats.seeds_needed(SIGMA, n_base, margin_sigmas * SIGMA, ALPHA)
            if plan is None:
                cells.append("n/a")
            elif plan.candidate is not None:
                cells.append(f"{plan.candidate} cand")
            else:
                cells.append(f"{plan.per_side} each side")
        label = f"{margin_sigmas:g}{S} ({margin_sigmas * SIGMA:.2f})"
        print(f"{label:>12} {cells[0]:>14} {cells[1]:>14} {cells[2]:>14}")
    print_tied(min(args.reps, 4000), rng)
    print(f"\n({time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
