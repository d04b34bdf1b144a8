"""The gate's Mann-Whitney test is exact with ties: ``checks/ranksum.py`` against brute
force over every split, ``scipy.stats.permutation_test`` and scipy's exact method, and
the "too small to ever reach alpha" verdict end to end."""

from __future__ import annotations

import functools
import itertools
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps
from typer.testing import CliRunner

from conftest import Home
from lablink.checks import ranksum, stats
from lablink.checks.ranksum import rank_sum_test
from lablink.checks.stats import Verdict
from lablink.cli.main import app
from lablink.core import gate
from lablink.core.gate.report import render_markdown
from lablink.models import RunRecord
from lablink.sdk.direct import DirectTransport

MAX_SIDE = 6


def compositions(total: int) -> itertools.chain[tuple[int, ...]]:
    """Every tie pattern of ``total`` sorted values: group sizes summing to ``total``."""
    cuts = itertools.chain.from_iterable(
        itertools.combinations(range(1, total), k) for k in range(total)
    )
    return (tuple(b - a for a, b in itertools.pairwise((0, *c, total))) for c in cuts)


@functools.cache
def splits(total: int, n_x: int) -> np.ndarray:
    return np.array(list(itertools.combinations(range(total), n_x)), dtype=np.intp)


def brute_force_counts(n_x: int, groups: tuple[int, ...]) -> np.ndarray:
    """Histogram of 2U over every one of the comb(N, n_x) ways to pick sample x."""
    total = sum(groups)
    starts = np.cumsum((0, *groups[:-1]))
    doubled_ranks = np.repeat([2 * s + t + 1 for s, t in zip(starts, groups, strict=True)], groups)
    u2 = doubled_ranks[splits(total, n_x)].sum(axis=1) - n_x * (n_x + 1)
    return np.bincount(u2, minlength=2 * n_x * (total - n_x) + 1).astype(float)


def test_null_distribution_is_exact_for_every_tie_pattern_up_to_6_vs_6() -> None:
    checked = 0
    for total in range(2, 2 * MAX_SIDE + 1):
        for groups in compositions(total):
            for n_x in range(max(1, total - MAX_SIDE), min(MAX_SIDE, total - 1) + 1):
                expected = brute_force_counts(n_x, groups)
                got = ranksum.null_counts(n_x, groups)
                np.testing.assert_array_equal(got, expected, err_msg=f"{n_x} of {groups}")
                checked += 1
    # 2**(N-1) tie patterns of N values, for every split of N into two sides of 1 to 6
    assert checked == 7938


def test_the_issue_examples() -> None:
    # scipy's default gives 0.0316 here (normal approximation); 4 of 70 splits are as low
    tied = rank_sum_test([-1, -1, -1, -2], [2, 1, -1, 1], "less")
    assert (tied.pvalue, tied.p_min, tied.method) == (pytest.approx(4 / 70), 4 / 70, "exact")
    # scipy's default: 0.023; no 3-vs-3 split goes below 1/20 one-sided, 1/10 two-sided
    assert rank_sum_test([0, 0, 0], [1, 1, 1], "less").pvalue == pytest.approx(0.05)
    assert rank_sum_test([1, 1, 1], [0, 0, 0]).pvalue == pytest.approx(0.1)
    assert rank_sum_test([1, 1, 1], [0, 0, 0]).p_min == pytest.approx(0.1)
    assert rank_sum_test([3, 3, 3], [3, 3, 3], "less").pvalue == 1.0  # nothing to rank


def _u(x: np.ndarray, y: np.ndarray, axis: int) -> np.ndarray:
    return np.asarray(sps.mannwhitneyu(x, y, axis=axis).statistic)


# permutation_test needs two values a side; single values are in the exhaustive test
side = st.lists(st.integers(-3, 3), min_size=2, max_size=MAX_SIDE)


@settings(max_examples=150, deadline=None)
@given(x=side, y=side, alternative=st.sampled_from(ranksum.ALTERNATIVES))
def test_matches_scipy_permutation_test_on_tied_integers(
    x: list[int], y: list[int], alternative: str
) -> None:
    xs, ys = np.array(x, dtype=float), np.array(y, dtype=float)
    got = rank_sum_test(xs, ys, alternative)
    ref = sps.permutation_test(
        (xs, ys), _u, n_resamples=np.inf, alternative=alternative, axis=-1
    ).pvalue
    assert got.pvalue == pytest.approx(ref, rel=1e-9, abs=1e-12)
    assert got.p_min <= got.pvalue + 1e-12
    assert got.statistic == _u(xs, ys, axis=-1)


distinct = st.lists(
    st.floats(-1e6, 1e6, allow_nan=False), min_size=2, max_size=20, unique=True
).flatmap(lambda v: st.tuples(st.just(v), st.integers(1, len(v) - 1)))


@settings(max_examples=150, deadline=None)
@given(data=distinct, alternative=st.sampled_from(ranksum.ALTERNATIVES))
def test_matches_scipy_exact_method_without_ties(
    data: tuple[list[float], int], alternative: str
) -> None:
    values, n_x = data
    x, y = values[:n_x], values[n_x:]
    got = rank_sum_test(x, y, alternative)
    ref = sps.mannwhitneyu(x, y, alternative=alternative, method="exact").pvalue
    assert got.pvalue == pytest.approx(ref, rel=1e-9, abs=1e-15)
    assert got.p_min == pytest.approx(ranksum.smallest_p(len(x), len(y), alternative))


@pytest.mark.parametrize("alternative", ranksum.ALTERNATIVES)
def test_above_the_limit_it_is_scipys_asymptotic_test_with_the_tie_correction(
    alternative: str,
) -> None:
    rng = np.random.default_rng(3)
    x, y = np.round(rng.normal(0, 2, 60)), np.round(rng.normal(0.5, 2, 61))
    assert len(x) + len(y) > ranksum.EXACT_MAX_SEEDS
    got = rank_sum_test(x, y, alternative)
    ref = sps.mannwhitneyu(x, y, alternative=alternative, method="asymptotic")
    assert got.method == "asymptotic"
    assert got.pvalue == pytest.approx(ref.pvalue, rel=1e-9)
    assert 0 < got.p_min < 1e-10
    at_limit = rank_sum_test(x[:50], y[:50], alternative)
    assert at_limit.method == "exact"


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown alternative"):
        rank_sum_test([1], [2], "lower")
    with pytest.raises(ValueError, match="at least one value"):
        rank_sum_test([], [2])
    with pytest.raises(ValueError, match="finite"):
        rank_sum_test([math.nan], [2])


def test_fewest_seeds() -> None:
    assert ranksum.smallest_p(3, 3) == pytest.approx(0.05)  # 1 / comb(6, 3)
    assert ranksum.fewest_seeds(0.05) == 4  # 1/70
    assert ranksum.fewest_seeds(0.1) == 3
    assert ranksum.fewest_seeds(0.01) == 5  # 1/252
    assert ranksum.fewest_seeds(0.05, n_base=3) == 4  # 1/35
    assert ranksum.fewest_seeds(0.05, n_base=2) == 5  # 1/21
    assert ranksum.fewest_seeds(1e-9, limit=10) is None
    for alpha in (0.2, 0.05, 0.01, 0.001):
        n = ranksum.fewest_seeds(alpha)
        assert n is not None
        assert ranksum.smallest_p(n, n) < alpha <= ranksum.smallest_p(n - 1, n - 1)


def test_false_alarms_on_tied_data_stay_within_alpha() -> None:
    """Unchanged models scored in whole examples: the exact test keeps its level."""
    rng = np.random.default_rng(14)
    reps, alpha = 1500, 0.05
    fails = 0
    for _ in range(reps):
        n_base, n_cand = rng.integers(4, 7, size=2)
        base, cand = rng.binomial(20, 0.7, n_base), rng.binomial(20, 0.7, n_cand)
        fails += stats.mwu_p(base.astype(float), cand.astype(float), 0.0, "less") < alpha
    assert fails / reps <= alpha + 3 * math.sqrt(alpha * (1 - alpha) / reps)


# -- the gate's verdict -------------------------------------------------------------------
def _runs(home: Home, transport: DirectTransport, tag: str, values: list[float]) -> list[RunRecord]:
    home.runs(tag, values)
    return transport.search_runs(None, f"tags.{tag}", None, False, 100, 0)[0]


def test_a_tied_sample_no_longer_fails_the_gate() -> None:
    c = stats.compare_samples([2, 1, -1, 1], [-1, -1, -1, -2], test="mwu")
    assert c.p_drop == pytest.approx(4 / 70)
    assert stats.decide(c.p_drop, c.p_noninferior, 0.05) is not Verdict.FAIL


def test_three_vs_three_says_it_can_never_reach_alpha(
    home: Home, transport: DirectTransport
) -> None:
    base, cand = _runs(home, transport, "b", [1.0] * 3), _runs(home, transport, "c", [0.0] * 3)
    result = gate.compare(base, cand, {"val/acc": "max"}, 0.5, test="mwu")
    m = result.metrics[0]
    assert m.verdict is Verdict.INCONCLUSIVE and result.exit_code == 2
    assert not m.can_fail
    assert "too small to ever reach" in m.explanation
    assert "at least 4 seeds per side" in m.explanation
    data = result.to_dict()["metrics"][0]
    assert data["can_fail"] is False
    assert data["comparison"]["p_min"] == pytest.approx(0.05)
    assert data["comparison"]["p_method"] == "exact"
    assert m.seeds is not None and (m.seeds.candidate or 0) >= 4  # never fewer than can reach alpha
    report = render_markdown(result)
    assert "smallest p this test can give here | 0.05" in report
    assert "Mann-Whitney U test, exact" in report
    # distinct values: the floor is the same 1/20
    distinct = gate.compare(
        _runs(home, transport, "d", [3.0, 2.0, 1.0]),
        _runs(home, transport, "e", [0.3, 0.2, 0.1]),
        {"val/acc": "max"},
        test="mwu",
    )
    assert distinct.metrics[0].verdict is Verdict.INCONCLUSIVE
    assert not distinct.metrics[0].can_fail
    assert "too small to ever reach" in distinct.metrics[0].explanation


def test_enough_seeds_can_fail_and_welch_has_no_floor(
    home: Home, transport: DirectTransport
) -> None:
    base = _runs(home, transport, "b", [3.0, 2.0, 1.0, 2.5])
    cand = _runs(home, transport, "c", [0.3, 0.2, 0.1, 0.4])
    mwu = gate.compare(base, cand, {"val/acc": "max"}, test="mwu").metrics[0]
    assert (mwu.verdict, mwu.can_fail) == (Verdict.FAIL, True)
    assert "too small" not in mwu.explanation
    welch = gate.compare(base[:3], cand[:3], {"val/acc": "max"}).metrics[0]
    assert welch.can_fail and welch.comparison is not None
    assert (welch.comparison.p_min, welch.comparison.p_method) == (0.0, "t")


def test_the_cli_says_the_sample_is_too_small(home: Home) -> None:
    home.runs("main", [90.1, 89.6, 90.4])
    home.runs("pr", [88.0, 88.2, 87.9])
    args = ["gate", "-b", "tags.main", "-c", "tags.pr", "-m", "val/acc:max", "--test", "mwu"]
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 2
    text = " ".join(result.stdout.split())
    assert "too small to ever reach" in text and "INCONCLUSIVE" in text
    data = json.loads(CliRunner().invoke(app, [*args, "--json"], catch_exceptions=False).stdout)
    assert data["metrics"][0]["can_fail"] is False
