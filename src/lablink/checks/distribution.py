"""A numeric column's distribution, rebuilt from its profile, and the KS test between two.

A profile column holds exact value counts (``exact``) or only a quantile sketch
(``value_summary.py``). ``Exact`` and ``Sketched`` give the same three things: the
distribution function on either side of a point, quantiles, and the points where the
function bends or jumps. Kolmogorov-Smirnov between two exact columns is computed on
the data itself, with what ``scipy.stats.ks_2samp`` (``method="auto"``) gives on the
raw values: its exact p-value up to ``KS_EXACT_ROWS`` values a side, Smirnov's
asymptotic one beyond (the limiting distribution where p < 0.001 or p > 0.999). With a sketch on either side D is read off the two
distribution functions, within the bound ``docs/schemas.md`` tabulates.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from lablink.checks.value_summary import (
    GRID,
    Counts,
    quantiles_of_counts,
    sketch_cdf,
    sketch_steps,
)

KS_EXACT_ROWS = 10_000  # scipy's own limit for its exact two-sample p-value ("auto")


class Distribution(Protocol):
    """What drift needs of a column's distribution."""

    n: int
    jumps: bool  # whether the distribution function has steps

    def cdf(self, x: np.ndarray, left: bool = False) -> np.ndarray:
        """Share of values ``<= x`` (with ``left``: ``< x``)."""
        ...

    def quantiles(self, probs: Sequence[float] | np.ndarray) -> np.ndarray:
        """numpy's linear quantiles."""
        ...

    def points(self) -> np.ndarray:
        """Where the distribution function jumps or bends, sorted."""
        ...


class Exact:
    """Distinct values with their counts: the column itself, in order."""

    def __init__(self, values: np.ndarray, counts: np.ndarray) -> None:
        self.values, self.counts = values, counts
        self.ends = np.cumsum(counts)
        self.n = int(self.ends[-1])
        self.jumps = True

    def cdf(self, x: np.ndarray, left: bool = False) -> np.ndarray:
        """Share of values ``<= x`` (with ``left``: ``< x``)."""
        i = np.searchsorted(self.values, x, side="left" if left else "right")
        return np.where(i > 0, self.ends[np.maximum(i - 1, 0)], 0) / self.n

    def quantiles(self, probs: Sequence[float] | np.ndarray) -> np.ndarray:
        """numpy's linear quantiles, exactly."""
        return quantiles_of_counts((self.values, self.counts), probs)

    def points(self) -> np.ndarray:
        """The distinct values."""
        return self.values

    def raw(self) -> np.ndarray:
        """Every value, sorted (only for small columns)."""
        return np.repeat(self.values, self.counts)


class Sketched:
    """A quantile sketch of ``n`` values."""

    def __init__(self, sketch: np.ndarray, n: int) -> None:
        self.sketch, self.n = sketch, n
        self.steps = sketch_steps(sketch)
        self.jumps = len(self.steps[0]) < len(sketch)  # repeated knots: steps

    def cdf(self, x: np.ndarray, left: bool = False) -> np.ndarray:
        """Share of values ``<= x`` (with ``left``: ``< x``), as the sketch describes it."""
        return sketch_cdf(self.steps, x, left)

    def quantiles(self, probs: Sequence[float] | np.ndarray) -> np.ndarray:
        """Quantiles read off the sketch."""
        return np.asarray(np.interp(probs, GRID, self.sketch), dtype=float)

    def points(self) -> np.ndarray:
        """The distinct knots."""
        return self.steps[0]


def of_column(col: Mapping[str, Any]) -> Distribution | None:
    """The distribution a numeric profile column describes; None without one."""
    n = int(col.get("finite", col.get("count", 0)))
    exact = col.get("exact")
    if exact and exact.get("values"):
        counts: Counts = (
            np.asarray(exact["values"], dtype=float),
            np.asarray(exact["counts"], dtype=np.int64),
        )
        return Exact(*counts)
    if col.get("sketch") and n > 0:
        return Sketched(np.asarray(col["sketch"], dtype=float), n)
    return None


def ks_two_sample(a: Distribution, b: Distribution) -> tuple[float, float]:
    """Kolmogorov-Smirnov D and its two-sided p-value, as ``scipy.stats.ks_2samp`` gives.

    Two exact columns of at most ``KS_EXACT_ROWS`` values each go to scipy itself. Past
    that, D is the largest gap between the two distribution functions on either side
    of every point where one changes, and p is scipy's asymptotic one for those sizes.
    """
    if isinstance(a, Exact) and isinstance(b, Exact) and max(a.n, b.n) <= KS_EXACT_ROWS:
        from scipy.stats import ks_2samp

        with warnings.catch_warnings():
            # scipy falls back to the asymptotic p-value, with a warning, when its exact
            # recursion overflows; that fallback is what it would report on raw data too
            warnings.simplefilter("ignore", RuntimeWarning)
            result = ks_2samp(a.raw(), b.raw())
        return float(result.statistic), float(result.pvalue)
    xs = np.unique(np.concatenate((a.points(), b.points())))
    d = float(np.max(np.abs(a.cdf(xs) - b.cdf(xs))))
    if a.jumps or b.jumps:  # the largest gap may sit just below a step
        d = max(d, float(np.max(np.abs(a.cdf(xs, left=True) - b.cdf(xs, left=True)))))
    return d, asymptotic_p(d, a.n, b.n)


def asymptotic_p(d: float, n: int, m: int) -> float:
    """scipy's asymptotic two-sample p-value (``kstwo.sf(d, round(n*m/(n+m)))``).

    ``kstwo.sf`` takes up to a second for p-values near 0 or 1 on large tables, where
    the limiting Kolmogorov distribution agrees with it to a few per cent of p (and
    decides the same verdict), so it answers there.
    """
    from scipy import special, stats

    en = max(n, m) * min(n, m) / (n + m)
    quick = float(special.kolmogorov(np.sqrt(en) * d))
    if quick < 1e-3 or quick > 0.999:
        return quick
    return float(np.clip(stats.kstwo.sf(d, np.round(en)), 0.0, 1.0))
