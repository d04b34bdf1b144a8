"""Gate benchmark: false-alarm rate and power of ``lablink gate`` vs a threshold rule.

Reproduces the figures of issue 6 by simulation: seed noise sigma = 0.5 accuracy
points, 5 baseline seeds, 3/5/10 candidate seeds, true drops of 0, 0.5, 1 and 2 sigma.
"Fails" is the share of simulated pull requests the rule would block; at a drop of 0
that is the false-alarm rate, otherwise the power. The gate's figures come from the
same functions ``lablink gate`` uses (``lablink.checks.stats``), vectorised.

Run with ``python benchmarks/gate.py [--reps 20000]``. Prints tables, never asserts;
the tables in ``docs/gate.md`` come from this script.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from scipy import stats as sps

from lablink.checks import stats

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
    print(f"\n({time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
