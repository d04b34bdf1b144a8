"""Properties of the gate: identical samples never FAIL, a large shift always FAILs, and
the false-alarm rate at zero effect stays within alpha (seeded simulations)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lablink.checks import stats
from lablink.checks.stats import Verdict, decide

values = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False, allow_infinity=False)
alphas = st.sampled_from([0.01, 0.05, 0.1])
margins = st.floats(min_value=0, max_value=10)


def verdict(base: list[float], cand: list[float], **kwargs: object) -> Verdict:
    alpha = float(kwargs.pop("alpha", 0.05))  # type: ignore[arg-type]
    c = stats.compare_samples(base, cand, alpha=alpha, **kwargs)  # type: ignore[arg-type]
    return decide(c.p_drop, c.p_noninferior, alpha)


@settings(max_examples=150, deadline=None)
@given(
    sample=st.lists(values, min_size=2, max_size=12),
    margin=margins,
    alpha=alphas,
    test=st.sampled_from(stats.TESTS),
    higher=st.booleans(),
    data=st.data(),
)
def test_identical_samples_never_fail(
    sample: list[float],
    margin: float,
    alpha: float,
    test: str,
    higher: bool,
    data: st.DataObject,
) -> None:
    shuffled = data.draw(st.permutations(sample))
    got = verdict(sample, shuffled, margin=margin, alpha=alpha, test=test, higher_is_better=higher)
    assert got is not Verdict.FAIL


@settings(max_examples=150, deadline=None)
@given(
    sample=st.lists(values, min_size=5, max_size=12),
    margin=margins,
    alpha=alphas,
    test=st.sampled_from(stats.TESTS),
    higher=st.booleans(),
)
def test_a_large_shift_always_fails(
    sample: list[float], margin: float, alpha: float, test: str, higher: bool
) -> None:
    shift = 100 * (max(sample) - min(sample) + 1) + 10 * margin
    worse = [v - shift if higher else v + shift for v in sample]
    got = verdict(sample, worse, margin=margin, alpha=alpha, test=test, higher_is_better=higher)
    assert got is Verdict.FAIL


@settings(max_examples=60, deadline=None)
@given(sample=st.lists(values, min_size=2, max_size=4), alpha=alphas)
def test_a_large_shift_fails_welch_even_with_two_seeds(sample: list[float], alpha: float) -> None:
    shift = 100 * (max(sample) - min(sample) + 1)
    assert verdict(sample, [v - shift for v in sample], alpha=alpha) is Verdict.FAIL


def _mc_bound(alpha: float, reps: int) -> float:
    return alpha + 3 * math.sqrt(alpha * (1 - alpha) / reps)


@pytest.mark.parametrize("n_cand", [3, 5, 10])
def test_false_alarm_rate_at_zero_effect_stays_within_alpha(n_cand: int) -> None:
    """Vectorised: 20 000 unchanged models per seed count, sigma 0.5, 5 baseline seeds."""
    reps, alpha = 20_000, 0.05
    rng = np.random.default_rng(2021 + n_cand)
    base = rng.normal(90, 0.5, size=(reps, 5))
    cand = rng.normal(90, 0.5, size=(reps, n_cand))
    p_drop, p_ni = stats.welch_pvalues(base, cand, margin=0.25)
    fails = np.mean((p_drop < alpha) & ~(p_ni < alpha))
    assert fails <= _mc_bound(alpha, reps)
    # the "drop > 0.3" rule on the same data raises far more alarms (issue 6)
    threshold = np.mean(base.mean(axis=1) - cand.mean(axis=1) > 0.3)
    assert threshold > 2 * alpha


@pytest.mark.parametrize("test", stats.TESTS)
def test_false_alarm_rate_through_compare_samples(test: str) -> None:
    """The full per-comparison path (not vectorised), fewer repetitions."""
    reps, alpha = 300, 0.05
    rng = np.random.default_rng(6)
    fails = 0
    for _ in range(reps):
        base, cand = rng.normal(0, 1, 5), rng.normal(0, 1, 5)
        fails += verdict(base.tolist(), cand.tolist(), alpha=alpha, test=test) is Verdict.FAIL
    assert fails / reps <= _mc_bound(alpha, reps)


def test_power_grows_with_the_drop() -> None:
    rng = np.random.default_rng(11)
    rates = []
    for drop in (0.0, 0.25, 0.5, 1.0):
        base = rng.normal(0, 0.5, size=(5000, 5))
        cand = rng.normal(-drop, 0.5, size=(5000, 10))
        p_drop, _ = stats.welch_pvalues(base, cand)
        rates.append(float(np.mean(p_drop < 0.05)))
    assert rates == sorted(rates) and rates[-1] > 0.9
