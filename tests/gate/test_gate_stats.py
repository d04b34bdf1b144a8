"""checks/stats.py against scipy and textbook formulas on known data."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from lablink.checks import stats
from lablink.checks.stats import Verdict, decide

BASE = np.array([90.1, 89.6, 90.4, 89.9, 90.0, 90.3, 89.7, 90.2, 89.8, 90.0])
CAND = np.array([89.5, 89.9, 89.2, 90.1, 89.4])


def test_welch_matches_scipy_and_the_textbook_formula() -> None:
    c = stats.compare_samples(BASE, CAND, margin=0.5, alpha=0.05)
    ref = sps.ttest_ind(CAND, BASE, equal_var=False, alternative="less")
    assert c.p_drop == pytest.approx(ref.pvalue, rel=1e-12)
    # Welch by hand: t, Welch-Satterthwaite df, one-sided p
    vb, vc = BASE.var(ddof=1) / len(BASE), CAND.var(ddof=1) / len(CAND)
    t = (CAND.mean() - BASE.mean()) / math.sqrt(vb + vc)
    df = (vb + vc) ** 2 / (vb**2 / (len(BASE) - 1) + vc**2 / (len(CAND) - 1))
    assert c.p_drop == pytest.approx(sps.t.cdf(t, df), rel=1e-10)
    half = sps.t.ppf(0.95, df) * math.sqrt(vb + vc)
    assert c.diff == pytest.approx(CAND.mean() - BASE.mean())
    assert c.diff_ci == pytest.approx((c.diff - half, c.diff + half), rel=1e-9)
    ni = sps.ttest_ind(CAND + 0.5, BASE, equal_var=False, alternative="greater")
    assert c.p_noninferior == pytest.approx(ni.pvalue, rel=1e-12)
    assert c.confidence == pytest.approx(0.9)
    assert c.ci_base == pytest.approx(
        sps.t.interval(0.9, len(BASE) - 1, loc=BASE.mean(), scale=sps.sem(BASE))
    )


def test_min_metrics_are_oriented() -> None:
    loss_base, loss_cand = 2.0 - BASE / 100, 2.0 - CAND / 100  # higher loss = worse
    up = stats.compare_samples(BASE, CAND, margin=0.5)
    down = stats.compare_samples(loss_base, loss_cand, higher_is_better=False, margin=0.005)
    assert down.p_drop == pytest.approx(up.p_drop, rel=1e-9)
    assert down.p_noninferior == pytest.approx(up.p_noninferior, rel=1e-6)
    assert down.diff == pytest.approx(-up.diff / 100)
    assert down.diff_ci == pytest.approx((-up.diff_ci[1] / 100, -up.diff_ci[0] / 100))
    assert down.effect_size == pytest.approx(up.effect_size)
    assert down.p_better == pytest.approx(up.p_better)


def _permutation_p(x: np.ndarray, y: np.ndarray, alternative: str) -> float:
    def u(a: np.ndarray, b: np.ndarray, axis: int) -> np.ndarray:
        return np.asarray(sps.mannwhitneyu(a, b, axis=axis).statistic)

    res = sps.permutation_test((x, y), u, n_resamples=np.inf, alternative=alternative, axis=-1)
    return float(res.pvalue)


def test_mann_whitney_is_the_exact_permutation_test_and_its_interval_inverts_it() -> None:
    # BASE has a tie (90.0 twice), where scipy's default would approximate
    c = stats.compare_samples(BASE, CAND, margin=0.5, test="mwu")
    assert c.p_method == "exact"
    assert c.p_drop == pytest.approx(_permutation_p(CAND, BASE, "less"), rel=1e-9)
    assert c.p_noninferior == pytest.approx(_permutation_p(CAND + 0.5, BASE, "greater"), rel=1e-9)
    diffs = (CAND[:, None] - BASE[None, :]).ravel()
    assert c.diff == pytest.approx(np.median(diffs))
    low, high = c.diff_ci
    assert low <= c.diff <= high
    eps = 1e-6
    # just outside the interval the shifted one-sided test rejects, just inside it does not
    assert stats.mwu_p(BASE, CAND, -(low - eps), "greater") < 0.05
    assert stats.mwu_p(BASE, CAND, -(low + eps), "greater") >= 0.05
    assert stats.mwu_p(BASE, CAND, -(high + eps), "less") < 0.05
    assert stats.mwu_p(BASE, CAND, -(high - eps), "less") >= 0.05


def test_mann_whitney_interval_is_unbounded_when_samples_are_too_small() -> None:
    c = stats.compare_samples([1.0, 2.0], [1.5, 2.5], test="mwu")
    assert c.diff_ci == (-math.inf, math.inf)  # the smallest exact p is 1/6 > alpha


def test_probability_of_outperforming() -> None:
    c = stats.compare_samples(BASE, CAND)
    u = sps.mannwhitneyu(CAND, BASE).statistic
    assert c.p_better == pytest.approx(u / (len(CAND) * len(BASE)))
    low, high = c.p_better_ci  # type: ignore[misc]
    assert 0 <= low <= c.p_better <= high <= 1
    assert stats.compare_samples(BASE, CAND).p_better_ci == c.p_better_ci  # seeded, repeatable
    assert stats.compare_samples([1.0, 2.0], [3.0, 4.0]).p_better == 1.0
    assert stats.compare_samples([1.0, 2.0], [1.0, 2.0]).p_better == 0.5


def test_hedges_g() -> None:
    pooled = math.sqrt(
        ((len(BASE) - 1) * BASE.var(ddof=1) + (len(CAND) - 1) * CAND.var(ddof=1))
        / (len(BASE) + len(CAND) - 2)
    )
    j = 1 - 3 / (4 * (len(BASE) + len(CAND)) - 9)
    expected = (CAND.mean() - BASE.mean()) / pooled * j
    assert stats.hedges_g(BASE, CAND) == pytest.approx(expected)


def test_holm_bonferroni() -> None:
    assert stats.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert stats.holm([0.03, 0.03]) == pytest.approx([0.06, 0.06])
    assert stats.holm([0.9, 0.8]) == pytest.approx([1.0, 1.0])
    assert stats.holm([]) == []


def test_holm_rejects_exactly_what_the_step_down_procedure_rejects() -> None:
    rng = np.random.default_rng(1)
    for _ in range(200):
        p = rng.uniform(0, 0.1, size=int(rng.integers(1, 6)))
        order = np.argsort(p)
        rejected = set()
        for rank, i in enumerate(order):
            if p[i] >= 0.05 / (len(p) - rank):
                break
            rejected.add(int(i))
        adjusted = stats.holm(p.tolist())
        assert {i for i, q in enumerate(adjusted) if q < 0.05} == rejected


@pytest.mark.parametrize(
    ("p_drop", "p_ni", "verdict"),
    [
        (0.01, 0.5, Verdict.FAIL),
        (0.01, 0.01, Verdict.WARN),
        (0.5, 0.01, Verdict.PASS),
        (0.5, 0.5, Verdict.INCONCLUSIVE),
    ],
)
def test_verdict_table(p_drop: float, p_ni: float, verdict: Verdict) -> None:
    assert decide(p_drop, p_ni, 0.05) is verdict


def test_constant_samples_need_no_warnings() -> None:
    same = stats.compare_samples([1.0, 1.0, 1.0], [1.0, 1.0, 1.0], margin=0.1)
    assert decide(same.p_drop, same.p_noninferior, 0.05) is Verdict.PASS
    worse = stats.compare_samples([1.0, 1.0, 1.0], [0.0, 0.0, 0.0], margin=0.1)
    assert decide(worse.p_drop, worse.p_noninferior, 0.05) is Verdict.FAIL
    assert worse.diff_ci == (-1.0, -1.0)
    mwu = stats.compare_samples([1.0] * 4, [1.0] * 4, test="mwu", margin=0.0)
    assert decide(mwu.p_drop, mwu.p_noninferior, 0.05) is Verdict.INCONCLUSIVE


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="at least two"):
        stats.compare_samples([1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="finite"):
        stats.compare_samples([1.0, math.nan], [1.0, 2.0])
    with pytest.raises(ValueError, match="unknown test"):
        stats.compare_samples([1.0, 2.0], [1.0, 2.0], test="z")


def test_power_matches_a_simulation() -> None:
    sigma, nb, nc, margin, alpha = 1.0, 8, 6, 1.2, 0.05
    analytic = float(stats.welch_power(sigma, nb, nc, margin, alpha))
    rng = np.random.default_rng(7)
    base = rng.normal(0, sigma, size=(20_000, nb))
    cand = rng.normal(-margin, sigma, size=(20_000, nc))  # a drop of one margin
    p_drop, _ = stats.welch_pvalues(base, cand)
    simulated = float(np.mean(p_drop < alpha))
    assert simulated == pytest.approx(analytic, abs=0.015)


def test_seeds_needed_is_the_smallest_count_with_the_power() -> None:
    plan = stats.seeds_needed(0.3, 10, 0.5, 0.05, power=0.8)
    assert plan is not None and plan.candidate is not None
    assert stats.welch_power(0.3, 10, plan.candidate, 0.5, 0.05) >= 0.8
    assert stats.welch_power(0.3, 10, plan.candidate - 1, 0.5, 0.05) < 0.8
    # with 5 baseline seeds at sigma 0.5, no number of candidates reaches a 0.5 margin
    small = stats.seeds_needed(0.5, 5, 0.5, 0.05)
    assert small is not None and small.candidate is None and small.per_side is not None
    assert stats.welch_power(0.5, small.per_side, small.per_side, 0.5, 0.05) >= 0.8
    assert stats.seeds_needed(0.5, 5, 0.0, 0.05) is None


def test_mcnemar_exact_is_a_binomial_test_on_discordant_pairs() -> None:
    base = np.array([1] * 80 + [0] * 20 + [1] * 12 + [0] * 3)
    cand = np.array([1] * 80 + [0] * 20 + [0] * 12 + [1] * 3)
    cand_only, base_only, p = stats.mcnemar_exact(base, cand)
    assert (cand_only, base_only) == (3, 12)
    assert p == pytest.approx(sps.binomtest(3, 15, 0.5, alternative="less").pvalue)
    assert p == pytest.approx(sum(math.comb(15, k) for k in range(4)) / 2**15)


def test_paired_comparison_of_accuracy_uses_mcnemar() -> None:
    rng = np.random.default_rng(3)
    base = (rng.uniform(size=2000) < 0.9).astype(float)
    cand = base.copy()
    flip = rng.choice(2000, size=60, replace=False)
    cand[flip] = 0.0  # 60 examples lost (some were already wrong)
    comparison, counts = stats.compare_paired(base, cand, margin=0.005)
    assert comparison.test == "mcnemar" and counts is not None
    assert counts[0] == 0 and counts[1] == int(base[flip].sum())
    assert comparison.p_drop < 1e-6
    assert comparison.diff == pytest.approx(cand.mean() - base.mean())
    low, high = comparison.diff_ci
    assert low <= comparison.diff <= high
    assert decide(comparison.p_drop, comparison.p_noninferior, 0.05) is Verdict.FAIL


def test_paired_comparison_of_scores_uses_the_bootstrap() -> None:
    rng = np.random.default_rng(4)
    base = rng.normal(size=500)
    same, _ = stats.compare_paired(base, base + rng.normal(0, 0.01, 500), margin=0.05)
    assert same.test == "bootstrap"
    assert decide(same.p_drop, same.p_noninferior, 0.05) is Verdict.PASS
    loss, _ = stats.compare_paired(base, base + 0.5, higher_is_better=False, margin=0.1)
    assert decide(loss.p_drop, loss.p_noninferior, 0.05) is Verdict.FAIL
    assert loss.diff == pytest.approx(0.5)
