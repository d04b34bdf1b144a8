"""Summaries of a numeric column's values: exact value counts and quantile sketches.

Two representations, both mergeable batch by batch:

- **exact counts**: the distinct values and how often each occurs. Kept while a
  column has at most ``EXACT_VALUES`` distinct values (ratings, counts, labels, dates)
  or at most ``EXACT_ROWS`` values (small tables), so quantiles, histograms and drift
  are computed on the data itself;
- **quantile sketch**: the values at ``KNOTS`` evenly spaced quantiles, for everything
  else. Its distribution function is piecewise linear between knots and jumps at
  repeated knots, where a value holds probability mass of its own.

Quantiles use numpy's default (linear) method, so exact counts give exactly what
``np.quantile`` gives on the raw values.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

EXACT_VALUES = 2000  # distinct values kept exactly whatever the table's size
EXACT_ROWS = 10_000  # values kept exactly whatever their distinct count (small tables)
KNOTS = 1001
GRID = np.linspace(0.0, 1.0, KNOTS)

Counts = tuple[np.ndarray, np.ndarray]  # sorted distinct values (float), counts (int64)


def keeps_exact(distinct: int, total: int) -> bool:
    """Whether a column with these many distinct and total values keeps exact counts."""
    return distinct <= EXACT_VALUES or total <= EXACT_ROWS


def counts_of_sorted(ordered: np.ndarray) -> Counts:
    """Distinct values and their counts, from sorted values (no second sort)."""
    if not len(ordered):
        return np.empty(0), np.empty(0, dtype=np.int64)
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    counts = np.diff(np.append(starts, len(ordered)))
    return np.asarray(ordered[starts], dtype=float), counts.astype(np.int64)


def distinct_at_least(ordered: np.ndarray, limit: int) -> bool:
    """Cheaply, whether sorted values surely have more than ``limit`` distinct values.

    A strided subsample of sorted values has at most as many distinct values as the
    whole, so a subsample above the limit proves it without scanning every value.
    """
    step = max(1, len(ordered) // (8 * limit))
    sample = ordered[::step]
    return int(np.count_nonzero(sample[1:] != sample[:-1])) + 1 > limit


def merge_counts(a: Counts, b: Counts) -> Counts:
    """The counts of two batches together."""
    values, inverse = np.unique(np.concatenate((a[0], b[0])), return_inverse=True)
    counts = np.bincount(inverse, weights=np.concatenate((a[1], b[1])), minlength=len(values))
    return values, np.rint(counts).astype(np.int64)


def linear_quantiles(
    value_at: Callable[[np.ndarray], np.ndarray], n: int, probs: np.ndarray
) -> np.ndarray:
    """numpy's linear quantiles of ``n`` sorted values, reading them through ``value_at``.

    The same arithmetic as ``np.quantile`` (index ``(n - 1) * q``, and its two-sided
    interpolation), so the results agree to the last bit.
    """
    virtual = (n - 1) * np.asarray(probs, dtype=float)
    low = np.floor(virtual)
    gamma = virtual - low
    low_i = low.astype(np.int64)
    high_i = np.minimum(low_i + 1, n - 1)
    top = virtual >= n - 1
    low_i[top] = high_i[top] = n - 1
    a, b = value_at(low_i), value_at(high_i)
    diff = b - a
    return np.asarray(np.where(gamma >= 0.5, b - diff * (1 - gamma), a + diff * gamma))


def quantiles_of_counts(counts: Counts, probs: Sequence[float] | np.ndarray) -> np.ndarray:
    """``np.quantile(np.repeat(values, counts), probs)`` without repeating the values."""
    values, n_each = counts
    ends = np.cumsum(n_each)

    def value_at(rank: np.ndarray) -> np.ndarray:
        return np.asarray(values[np.searchsorted(ends, rank, side="right")], dtype=float)

    return linear_quantiles(value_at, int(ends[-1]), np.asarray(probs, dtype=float))


def sketch_of_sorted(ordered: np.ndarray) -> np.ndarray:
    """The values at the ``KNOTS`` evenly spaced quantiles of sorted, non-empty values.

    What ``np.quantile(values, GRID)`` gives (its linear method), from one sort: numpy
    sorts floats with SIMD instructions, and on a million values sort and interpolation
    took 5 ms where ``np.quantile`` with 1001 cut points took 49 ms.
    """
    return linear_quantiles(lambda rank: np.asarray(ordered[rank], dtype=float), len(ordered), GRID)


Steps = tuple[np.ndarray, np.ndarray, np.ndarray, float]  # knots, first, last, grid step


def sketch_steps(sketch: Sequence[float] | np.ndarray) -> Steps:
    """A sketch's distinct knots with the first and last grid index each holds."""
    knots = np.asarray(sketch, dtype=float)
    unique = np.unique(knots)  # knots are sorted: both ends of a run by binary search
    first = np.searchsorted(knots, unique, side="left")
    last = np.searchsorted(knots, unique, side="right") - 1
    return unique, first, last, 1.0 / (len(knots) - 1)


def sketch_cdf(
    sketch: Sequence[float] | np.ndarray | Steps, x: np.ndarray, left: bool = False
) -> np.ndarray:
    """The distribution function a quantile sketch describes, at points ``x``.

    Linear between neighbouring knots; a value repeated over several knots holds their
    share of probability as a step, as a discrete value does. Right-continuous; with
    ``left`` the limit from the left (the share strictly below ``x``). ``sketch`` may
    be its ``sketch_steps``, computed once for many calls.
    """
    unique, first, last, step = sketch if isinstance(sketch, tuple) else sketch_steps(sketch)
    x = np.asarray(x, dtype=float)
    j = np.searchsorted(unique, x, side="left" if left else "right") - 1
    inner = np.clip(j, 0, max(len(unique) - 2, 0))
    if len(unique) > 1:
        span = unique[inner + 1] - unique[inner]
        ramp = np.clip((x - unique[inner]) / span, 0.0, 1.0)
        # From the last knot of one value to the first of the next: one grid step
        value = (last[inner] + ramp * (first[inner + 1] - last[inner])) * step
    else:
        value = np.ones_like(x)
    return np.asarray(np.where(j < 0, 0.0, np.where(j >= len(unique) - 1, 1.0, value)))


def merge_sketches(sketches: Sequence[tuple[int, np.ndarray]]) -> np.ndarray:
    """One quantile sketch from several, weighting each by its number of values.

    The mixture of the sketches' distribution functions is evaluated on both sides of
    every knot, so the steps of repeated values survive, and inverted: the merged
    sketch holds its quantiles, the smallest value reaching each grid share.
    """
    if len(sketches) == 1:
        return np.asarray(sketches[0][1], dtype=float)
    xs = np.unique(np.concatenate([np.asarray(s, dtype=float) for _, s in sketches]))
    total = float(sum(n for n, _ in sketches))
    upto, below = np.zeros_like(xs), np.zeros_like(xs)
    for n, s in sketches:
        st = sketch_steps(s)
        right = sketch_cdf(st, xs)
        upto += n * right
        # Without repeated knots the function is continuous: left limits are the values
        below += n * (sketch_cdf(st, xs, left=True) if len(st[0]) < len(s) else right)
    upto, below = upto / total, below / total
    shares = np.maximum.accumulate(np.stack((below, upto), axis=1).ravel())
    points = np.repeat(xs, 2)
    # The generalised inverse, inf{x: share(x) >= g}: the first point reaching g, and
    # linear from the point before it (shares repeat where no sketch holds mass).
    k = np.searchsorted(shares, GRID, side="left")
    hi = np.clip(k, 0, len(shares) - 1)
    lo = np.clip(k - 1, 0, len(shares) - 1)
    span = shares[hi] - shares[lo]
    t = np.divide(GRID - shares[lo], span, out=np.ones_like(GRID), where=span > 0)
    return np.asarray(points[lo] + np.clip(t, 0.0, 1.0) * (points[hi] - points[lo]))


def histogram_of_counts(counts: Counts, edges: np.ndarray) -> np.ndarray:
    """Values per bin, as ``np.histogram`` bins them (the last bin holds its right edge)."""
    hist, _ = np.histogram(counts[0], bins=edges, weights=counts[1])
    return np.asarray(np.rint(hist), dtype=np.int64)


def counts_json(counts: Counts) -> dict[str, list[float] | list[int]]:
    """Exact counts as JSON: whole numbers written without a decimal point."""
    values = [int(v) if v.is_integer() and abs(v) < 2**53 else v for v in counts[0].tolist()]
    return {"values": values, "counts": counts[1].tolist()}
