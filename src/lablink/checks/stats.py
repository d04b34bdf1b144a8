"""Statistics for the regression gate: pure functions over numbers, no I/O.

Everything is oriented so that *larger is better*: callers pass ``higher_is_better``
and min-metrics are negated inside, so a drop is always a negative difference. Two
one-sided questions decide a verdict, equivalence-test style (Schuirmann's TOST):

* ``p_drop``: is the candidate significantly worse? (H0: difference >= 0)
* ``p_noninferior``: is it shown to be no worse than the margin? (H0: difference <= -margin)

Each p-value below ``alpha`` is the same as the matching bound of the two-sided
``1 - 2*alpha`` interval of the difference lying beyond 0 or beyond ``-margin``:

==========================  ============================  ==========================
\\                          shown within margin           not shown within margin
==========================  ============================  ==========================
significant drop            WARN                          FAIL
no significant drop         PASS                          INCONCLUSIVE
==========================  ============================  ==========================

scipy does most tests (Welch's t, the exact binomial behind McNemar, the bootstrap,
the noncentral t behind the power calculation); Mann-Whitney U is ``ranksum.py``,
exact with ties where scipy would approximate. This module only orients the data,
handles zero variance and gathers the figures the report shows.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import math
import warnings
from collections.abc import Callable, Iterator, Sequence

import numpy as np
from scipy import stats as sps

from lablink.checks.ranksum import SEED_LIMIT, rank_sum_test

TESTS = ("welch", "mwu")
BOOTSTRAP_SEED = 20210301  # fixed, so the same data always gives the same report


class Verdict(enum.StrEnum):
    """A metric's verdict; FAIL is the only one that means a significant regression."""

    PASS = "PASS"
    WARN = "WARN"
    FAIL = "FAIL"
    INCONCLUSIVE = "INCONCLUSIVE"


@dataclasses.dataclass(frozen=True)
class Comparison:
    """Baseline vs candidate for one metric. Differences are candidate - baseline, in
    the metric's own units; ``effect_size`` and ``p_better`` are oriented (> 0 and > 0.5
    mean the candidate is better). ``p_min`` is the smallest ``p_drop`` the test could
    give with these sample sizes (and, for rank tests, these ties): at or above alpha,
    no data of this shape can show a drop. ``p_method`` says how ``p_drop`` was
    computed: ``exact``, ``asymptotic``, ``t`` or ``bootstrap``."""

    test: str
    n_base: int
    n_cand: int
    mean_base: float
    mean_cand: float
    ci_base: tuple[float, float]
    ci_cand: tuple[float, float]
    diff: float
    diff_ci: tuple[float, float]
    p_drop: float
    p_noninferior: float
    effect_size: float
    p_better: float
    p_better_ci: tuple[float, float] | None
    sd_base: float
    confidence: float
    p_min: float = 0.0
    p_method: str = "t"


def decide(p_drop: float, p_noninferior: float, alpha: float) -> Verdict:
    """The verdict from the two one-sided p-values (see the table in the module doc)."""
    dropped, within = p_drop < alpha, p_noninferior < alpha
    if dropped:
        return Verdict.WARN if within else Verdict.FAIL
    return Verdict.PASS if within else Verdict.INCONCLUSIVE


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (step-down, monotone, capped at 1).

    Rejecting every hypothesis whose adjusted p-value is below alpha is Holm's
    procedure, which keeps the family-wise error rate at alpha. scipy has only the
    false-discovery-rate adjustments (``false_discovery_control``), hence this.
    """
    p = np.asarray(pvalues, dtype=float)
    adjusted = np.empty_like(p)
    running = 0.0
    for rank, index in enumerate(np.argsort(p, kind="stable")):
        running = max(running, min(1.0, (len(p) - rank) * float(p[index])))
        adjusted[index] = running
    return [float(x) for x in adjusted]


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    # scipy warns on near-constant samples ("catastrophic cancellation") and NumPy on
    # 0/0; both cases are handled explicitly, and tests run with warnings as errors.
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def _constant(x: np.ndarray) -> bool:
    return bool(np.ptp(x) == 0)


def welch_p(base: np.ndarray, cand: np.ndarray, shift: float, alternative: str) -> float:
    """One-sided Welch p-value that ``cand + shift`` is ``less``/``greater`` than ``base``."""
    if _constant(base) and _constant(cand):
        d = float(cand[0] + shift - base[0])
        return 0.0 if (d < 0 if alternative == "less" else d > 0) else 1.0
    with _quiet():
        res = sps.ttest_ind(cand + shift, base, equal_var=False, alternative=alternative)
    return float(res.pvalue)


def welch_pvalues(
    base: np.ndarray, cand: np.ndarray, margin: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised ``(p_drop, p_noninferior)`` over the last axis (for simulations)."""
    with _quiet():
        drop = sps.ttest_ind(cand, base, axis=-1, equal_var=False, alternative="less").pvalue
        ni = sps.ttest_ind(cand + margin, base, axis=-1, equal_var=False, alternative="greater")
    return np.asarray(drop), np.asarray(ni.pvalue)


def mwu_p(base: np.ndarray, cand: np.ndarray, shift: float, alternative: str) -> float:
    """One-sided Mann-Whitney U p-value that ``cand + shift`` is ``less``/``greater``
    (exact with ties for small samples, see ``ranksum.py``)."""
    return rank_sum_test(cand + shift, base, alternative).pvalue


def _invert(p_of: Callable[[float], float], diffs: np.ndarray, alpha: float, lower: bool) -> float:
    # Bound of {d: the shifted test is not rejected}. p changes only where d crosses a
    # pairwise difference, so search the midpoints between them (no ties there).
    points = np.unique(diffs)
    mids = np.concatenate([[points[0] - 1], (points[:-1] + points[1:]) / 2, [points[-1] + 1]])
    lo, hi = 0, len(mids)  # first index whose midpoint is accepted (lower) / rejected (upper)
    while lo < hi:
        mid = (lo + hi) // 2
        accepted = p_of(float(mids[mid])) >= alpha
        if accepted == lower:
            hi = mid
        else:
            lo = mid + 1
    if lower:
        return -math.inf if lo == 0 else float(points[lo - 1]) if lo <= len(points) else math.inf
    return math.inf if lo == len(mids) else -math.inf if lo == 0 else float(points[lo - 1])


def hodges_lehmann_ci(
    base: np.ndarray, cand: np.ndarray, alpha: float
) -> tuple[float, tuple[float, float]]:
    """Median pairwise shift ``cand - base`` and its ``1 - 2*alpha`` interval, found by
    inverting the one-sided Mann-Whitney tests (so it agrees with ``mwu_p``)."""
    diffs = (cand[:, None] - base[None, :]).ravel()
    low = _invert(lambda d: mwu_p(base, cand, -d, "greater"), diffs, alpha, lower=True)
    high = _invert(lambda d: mwu_p(base, cand, -d, "less"), diffs, alpha, lower=False)
    return float(np.median(diffs)), (low, high)


def mean_ci(x: np.ndarray, confidence: float) -> tuple[float, float]:
    """Student-t interval of the mean (a point when n < 2 or the values are all equal)."""
    mean = float(np.mean(x))
    if len(x) < 2 or _constant(x):
        return (mean, mean)
    with _quiet():
        low, high = sps.t.interval(confidence, len(x) - 1, loc=mean, scale=sps.sem(x))
    if not (math.isfinite(low) and math.isfinite(high)):  # a spread below float resolution
        return (mean, mean)
    return (float(low), float(high))


def welch_diff_ci(base: np.ndarray, cand: np.ndarray, confidence: float) -> tuple[float, float]:
    """Welch interval of ``mean(cand) - mean(base)``."""
    if _constant(base) and _constant(cand):
        d = float(cand[0] - base[0])
        return (d, d)
    with _quiet():
        ci = sps.ttest_ind(cand, base, equal_var=False).confidence_interval(confidence)
    return (float(ci.low), float(ci.high))


def hedges_g(base: np.ndarray, cand: np.ndarray) -> float:
    """Standardised mean difference with Hedges' small-sample correction."""
    nb, nc = len(base), len(cand)
    diff = float(np.mean(cand) - np.mean(base))
    if nb + nc < 3:
        return math.nan
    pooled = math.sqrt(
        (
            (nb - 1) * np.var(base, ddof=1 if nb > 1 else 0)
            + (nc - 1) * np.var(cand, ddof=1 if nc > 1 else 0)
        )
        / (nb + nc - 2)
    )
    if pooled == 0:
        return 0.0 if diff == 0 else math.copysign(math.inf, diff)
    return diff / pooled * (1 - 3 / (4 * (nb + nc) - 9))


def _p_better(cand: np.ndarray, base: np.ndarray, axis: int = -1) -> np.ndarray:
    # scipy's bootstrap always passes axis=-1 for vectorised statistics
    diff = cand[..., :, None] - base[..., None, :]
    share: np.ndarray = np.mean((diff > 0) + 0.5 * (diff == 0), axis=(-2, -1))
    return share


def prob_outperform(
    base: np.ndarray, cand: np.ndarray, confidence: float, resamples: int = 2000
) -> tuple[float, tuple[float, float]]:
    """P(candidate seed beats a baseline seed) with a percentile bootstrap interval.

    This is the "probability of outperforming" of Bouthillier et al. (2021),
    *Accounting for variance in machine learning benchmarks*: the Mann-Whitney U of
    the candidate divided by ``n_cand * n_base`` (ties count half). They call a
    result meaningful when the estimate exceeds 0.75 and the lower bound 0.5.
    """
    with _quiet():
        estimate = float(sps.mannwhitneyu(cand, base).statistic) / (len(cand) * len(base))
        res = sps.bootstrap(
            (cand, base),
            _p_better,
            vectorized=True,
            n_resamples=resamples,
            confidence_level=confidence,
            method="percentile",
            rng=np.random.default_rng(BOOTSTRAP_SEED),
        )
    return estimate, (float(res.confidence_interval.low), float(res.confidence_interval.high))


def compare_samples(
    baseline: Sequence[float] | np.ndarray,
    candidate: Sequence[float] | np.ndarray,
    *,
    higher_is_better: bool = True,
    margin: float = 0.0,
    alpha: float = 0.05,
    test: str = "welch",
) -> Comparison:
    """Compare per-seed values of a metric; each side needs at least two values.

    Raises:
        ValueError: fewer than two values on a side, non-finite values, a bad test name.
    """
    if test not in TESTS:
        raise ValueError(f"unknown test {test!r}; use one of {', '.join(TESTS)}")
    sign = 1.0 if higher_is_better else -1.0
    base = sign * np.asarray(baseline, dtype=float)
    cand = sign * np.asarray(candidate, dtype=float)
    if len(base) < 2 or len(cand) < 2:
        raise ValueError("each side needs at least two values")
    if not (np.all(np.isfinite(base)) and np.all(np.isfinite(cand))):
        raise ValueError("values must be finite")
    confidence = 1 - 2 * alpha
    p_min, p_method = 0.0, "t"
    if test == "welch":
        p_drop = welch_p(base, cand, 0.0, "less")
        p_ni = welch_p(base, cand, margin, "greater")
        diff = float(np.mean(cand) - np.mean(base))
        low, high = welch_diff_ci(base, cand, confidence)
    else:
        drop = rank_sum_test(cand, base, "less")
        p_drop, p_min, p_method = drop.pvalue, drop.p_min, drop.method
        p_ni = mwu_p(base, cand, margin, "greater")
        diff, (low, high) = hodges_lehmann_ci(base, cand, alpha)
    p_better, p_better_ci = prob_outperform(base, cand, confidence)
    return Comparison(
        test=test,
        n_base=len(base),
        n_cand=len(cand),
        mean_base=float(np.mean(baseline)),
        mean_cand=float(np.mean(candidate)),
        ci_base=mean_ci(np.asarray(baseline, dtype=float), confidence),
        ci_cand=mean_ci(np.asarray(candidate, dtype=float), confidence),
        diff=sign * diff,
        diff_ci=(low, high) if sign > 0 else (-high, -low),
        p_drop=p_drop,
        p_noninferior=p_ni,
        effect_size=hedges_g(base, cand),
        p_better=p_better,
        p_better_ci=p_better_ci,
        sd_base=float(np.std(base, ddof=1)),
        confidence=confidence,
        p_min=p_min,
        p_method=p_method,
    )


# -- how many seeds ----------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class SeedPlan:
    """Seeds that would decide a comparison with the wanted power.

    ``candidate``: candidate seeds needed with the current baseline (None if no number
    up to the limit is enough); ``per_side``: seeds per side if the baseline must grow.
    """

    candidate: int | None
    per_side: int | None
    sigma: float
    power: float


def welch_power(
    sigma: float,
    n_base: np.ndarray | int,
    n_cand: np.ndarray | int,
    margin: float,
    alpha: float,
) -> np.ndarray:
    """Power of the one-sided Welch test at ``alpha`` to tell a true difference of 0
    from one of ``-margin`` (either direction; equal spread ``sigma`` on both sides).

    Exact under normality: the statistic follows a noncentral t with the
    Welch-Satterthwaite degrees of freedom.
    """
    nb, nc = np.asarray(n_base, dtype=float), np.asarray(n_cand, dtype=float)
    var = 1 / nb + 1 / nc
    df = var**2 / (1 / (nb**2 * (nb - 1)) + 1 / (nc**2 * (nc - 1)))
    noncentrality = margin / (sigma * np.sqrt(var))
    return np.asarray(sps.nct.sf(sps.t.ppf(1 - alpha, df), df, noncentrality))


def seeds_needed(
    sigma: float,
    n_base: int,
    margin: float,
    alpha: float,
    power: float = 0.8,
    limit: int = SEED_LIMIT,
) -> SeedPlan | None:
    """Seeds for ``power`` to show non-inferiority if nothing changed, which is also the
    power to detect a drop of one full margin. None when the margin is zero.

    Searches up to ``limit`` seeds; a plan with neither count means more would be needed.
    """
    if margin <= 0 or not math.isfinite(sigma):
        return None
    if sigma == 0:
        return SeedPlan(2, None, sigma, power)
    ns = np.arange(2, limit + 1)
    candidate: int | None = None
    if n_base >= 2:
        ok = np.nonzero(welch_power(sigma, n_base, ns, margin, alpha) >= power)[0]
        candidate = int(ns[ok[0]]) if len(ok) else None
    per_side: int | None = None
    if candidate is None:
        ok = np.nonzero(welch_power(sigma, ns, ns, margin, alpha) >= power)[0]
        per_side = int(ns[ok[0]]) if len(ok) else None
    return SeedPlan(candidate, per_side, sigma, power)


# -- per-example (paired) comparisons ---------------------------------------------------
def mcnemar_exact(base_correct: np.ndarray, cand_correct: np.ndarray) -> tuple[int, int, float]:
    """Exact McNemar test of "the candidate is wrong more often than the baseline".

    Returns ``(candidate_only_right, baseline_only_right, one_sided_p)``; the exact test
    is a binomial test on the discordant examples (scipy's ``binomtest``).
    """
    b, c = base_correct.astype(bool), cand_correct.astype(bool)
    cand_only, base_only = int(np.sum(c & ~b)), int(np.sum(b & ~c))
    n = cand_only + base_only
    p = 1.0 if n == 0 else float(sps.binomtest(cand_only, n, 0.5, alternative="less").pvalue)
    return cand_only, base_only, p


def paired_bootstrap(
    diffs: np.ndarray, confidence: float, resamples: int = 9999
) -> tuple[tuple[float, float], np.ndarray]:
    """Percentile interval of the mean paired difference, and the bootstrap means."""
    if _constant(diffs):
        d = float(diffs[0])
        return (d, d), np.full(resamples, d)
    with _quiet():
        res = sps.bootstrap(
            (diffs,),
            np.mean,
            vectorized=True,
            n_resamples=resamples,
            batch=max(1, 5_000_000 // len(diffs)),
            confidence_level=confidence,
            method="percentile",
            rng=np.random.default_rng(BOOTSTRAP_SEED),
        )
    ci = res.confidence_interval
    return (float(ci.low), float(ci.high)), np.asarray(res.bootstrap_distribution)


def compare_paired(
    baseline: Sequence[float] | np.ndarray,
    candidate: Sequence[float] | np.ndarray,
    *,
    higher_is_better: bool = True,
    margin: float = 0.0,
    alpha: float = 0.05,
    resamples: int = 9999,
) -> tuple[Comparison, tuple[int, int] | None]:
    """Compare two checkpoints example by example (same examples, same order).

    0/1 values use McNemar's exact test for the drop; other scores the paired
    bootstrap. Non-inferiority and the interval always come from the paired bootstrap.
    Returns the comparison and, for 0/1 values, the discordant counts.
    """
    sign = 1.0 if higher_is_better else -1.0
    base = np.asarray(baseline, dtype=float)
    cand = np.asarray(candidate, dtype=float)
    if len(base) != len(cand) or len(base) < 2:
        raise ValueError("paired comparisons need the same two or more examples on each side")
    diffs = sign * (cand - base)
    confidence = 1 - 2 * alpha
    (low, high), boot = paired_bootstrap(diffs, confidence, resamples)
    p_ni = float((np.sum(boot <= -margin) + 1) / (len(boot) + 1))
    binary = bool(np.all(np.isin(base, (0.0, 1.0))) and np.all(np.isin(cand, (0.0, 1.0))))
    counts: tuple[int, int] | None = None
    if binary:
        cand_only, base_only, p_drop = mcnemar_exact(
            base if sign > 0 else 1 - base, cand if sign > 0 else 1 - cand
        )
        counts = (cand_only, base_only)
        # the exact binomial bottoms out when every discordant example favours the baseline
        p_min, p_method = 0.5 ** (cand_only + base_only), "exact"
    else:
        p_drop = float((np.sum(boot >= 0) + 1) / (len(boot) + 1))
        p_min, p_method = 1 / (len(boot) + 1), "bootstrap"
    sd = float(np.std(diffs, ddof=1))
    mean_d = float(np.mean(diffs))
    comparison = Comparison(
        test="mcnemar" if binary else "bootstrap",
        n_base=len(base),
        n_cand=len(cand),
        mean_base=float(np.mean(base)),
        mean_cand=float(np.mean(cand)),
        ci_base=mean_ci(base, confidence),
        ci_cand=mean_ci(cand, confidence),
        diff=sign * mean_d,
        diff_ci=(low, high) if sign > 0 else (-high, -low),
        p_drop=p_drop,
        p_noninferior=p_ni,
        effect_size=mean_d / sd
        if sd > 0
        else (0.0 if mean_d == 0 else math.copysign(math.inf, mean_d)),
        p_better=float(np.mean((diffs > 0) + 0.5 * (diffs == 0))),
        p_better_ci=None,
        sd_base=float(np.std(base, ddof=1)),
        confidence=confidence,
        p_min=p_min,
        p_method=p_method,
    )
    return comparison, counts
