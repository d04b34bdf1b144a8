"""Downsampling that keeps what a researcher looks for: the ends and the extremes."""

from __future__ import annotations

import numpy as np


def minmax_indices(values: np.ndarray, max_points: int) -> np.ndarray:
    """Indices of at most ``max_points`` points: first, last, and per bucket min and max.

    The series is cut into equal-count buckets; each keeps its smallest and largest
    value (NaN counts as neither, but an all-NaN bucket keeps a NaN point so that a
    divergence stays visible). Indices come back sorted and unique.
    """
    n = len(values)
    if max_points < 4:
        raise ValueError("max_points must be at least 4 (the ends and one min/max pair)")
    if n <= max_points:
        return np.arange(n)
    buckets = max(1, (max_points - 2) // 2)
    size = -(-n // buckets)  # ceil
    padded = np.full(buckets * size, np.nan)
    padded[:n] = values
    grid = padded.reshape(buckets, size)
    nan = np.isnan(grid)
    low = np.argmin(np.where(nan, np.inf, grid), axis=1)
    high = np.argmax(np.where(nan, -np.inf, grid), axis=1)
    offsets = np.arange(buckets) * size
    picked = np.concatenate(([0, n - 1], offsets + low, offsets + high))
    return np.unique(picked[picked < n])
