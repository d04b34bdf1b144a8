"""Downsampling that keeps what a researcher looks for: the ends and the extremes."""

from __future__ import annotations

import numpy as np

MIN_POINTS = 2  # the first and the last point


def minmax_indices(values: np.ndarray, max_points: int) -> np.ndarray:
    """Indices of ``min(max_points, len(values))`` points: the ends, extremes, then fill.

    The series is cut into ``(max_points - 2) // 2`` equal-count buckets; each keeps
    its smallest and largest value (NaN counts as neither, but an all-NaN bucket keeps
    a NaN point so that a divergence stays visible). When that picks fewer points than
    asked for (an odd bound, or a bucket whose minimum and maximum coincide), evenly
    spaced points fill up to the bound: asking for N never returns fewer than N points
    when the series has them. Indices come back sorted and unique.

    Raises:
        ValueError: ``max_points`` is below 2.
    """
    if max_points < MIN_POINTS:
        raise ValueError(
            f"max_points must be at least {MIN_POINTS} (the first and last points), "
            f"not {max_points}"
        )
    n = len(values)
    if n <= max_points:
        return np.arange(n)
    picked = np.array([0, n - 1])
    buckets = (max_points - 2) // 2
    if buckets:
        size = -(-n // buckets)  # ceil
        padded = np.full(buckets * size, np.nan)
        padded[:n] = values
        grid = padded.reshape(buckets, size)
        nan = np.isnan(grid)
        low = np.argmin(np.where(nan, np.inf, grid), axis=1)
        high = np.argmax(np.where(nan, -np.inf, grid), axis=1)
        offsets = np.arange(buckets) * size
        found = np.concatenate((offsets + low, offsets + high))
        picked = np.unique(np.concatenate((picked, found[found < n])))
    missing = max_points - len(picked)
    if missing > 0:
        free = np.ones(n, dtype=bool)
        free[picked] = False
        rest = np.flatnonzero(free)
        # floor(x + 0.5), not np.round: half-to-even could pick one position twice
        spots = np.floor(np.linspace(0, len(rest) - 1, missing) + 0.5).astype(np.int64)
        picked = np.union1d(picked, rest[spots])
    return picked
