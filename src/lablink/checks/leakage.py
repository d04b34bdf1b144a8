"""Leakage across splits, vectorised: equal hashes, and hashes a few bits apart.

``cross_split`` finds items (rows, files) whose hash occurs in more than one split by
one sort, so a million rows cost a fraction of a second. ``hamming_pairs`` finds pairs
of 64-bit perceptual hashes in different splits within a Hamming distance, without
comparing every pair: multi-index hashing (Norouzi et al., 2012) cuts each hash into
``m`` bands; two hashes within distance ``k`` agree on some band to within ``k // m``
bits (pigeonhole), so each hash looks up the few band values that close to its own in
a sorted index, and only those candidates are compared in full. Recall is exact.

``row_hashes`` and ``normalised`` hash table rows exactly and after normalising them
(strings stripped and lowercased, numbers as floats rounded to significant digits).
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import polars as pl

HASH_BITS = 64
_SEED = 0x1AB11
_CHUNK = 1 << 21
_DIRECT_BITS = 22  # bands up to this wide are looked up in a table of 2**bits offsets  # band look-ups per step: bounds the memory of the query arrays


def cross_split(splits: np.ndarray, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Items whose hash occurs in more than one split.

    Returns the items' indices and a group number per item (equal hashes, one group),
    ordered by group, then index.
    """
    if len(hashes) == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    order = np.argsort(hashes, kind="stable")
    h, s = hashes[order], splits[order]
    new = np.empty(len(h), dtype=bool)
    new[0] = True
    np.not_equal(h[1:], h[:-1], out=new[1:])
    starts = np.flatnonzero(new)
    mixed = np.minimum.reduceat(s, starts) != np.maximum.reduceat(s, starts)
    group = np.cumsum(new) - 1
    keep = mixed[group]
    renumbered = np.cumsum(mixed) - 1  # groups kept, numbered 0, 1, ...
    return order[keep].astype(np.int64), renumbered[group[keep]].astype(np.int64)


def popcount(values: np.ndarray) -> np.ndarray:
    """Set bits of each uint64."""
    if hasattr(np, "bitwise_count"):
        counted: np.ndarray = np.bitwise_count(values).astype(np.int64)
        return counted
    as_bytes = values.astype(np.uint64).view(np.uint8).reshape(-1, 8)
    summed: np.ndarray = _BYTE_BITS[as_bytes].sum(axis=1).astype(np.int64)
    return summed


_BYTE_BITS = np.array([bin(i).count("1") for i in range(256)], dtype=np.int64)


def hamming_pairs(
    hashes: np.ndarray, splits: np.ndarray, max_distance: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs ``(i, j)``, ``i < j``, in different splits whose hashes differ in at most
    ``max_distance`` of their 64 bits, with the distance of each pair."""
    n = len(hashes)
    empty = np.empty(0, dtype=np.int64)
    if n < 2 or len(np.unique(splits)) < 2:
        return empty, empty, empty
    hashes = hashes.astype(np.uint64)
    bands = _bands(max_distance, n)
    radius = max_distance // len(bands)
    found: list[np.ndarray] = []  # pairs as i * n + j
    # Every pair has a member outside the largest split: only those need to look up.
    labels, sizes = np.unique(splits, return_counts=True)
    queries = np.flatnonzero(splits != labels[np.argmax(sizes)])
    for shift, width in bands:
        values = (hashes >> np.uint64(shift)) & np.uint64((1 << width) - 1)
        order = np.argsort(values, kind="stable")
        bucket = _bucket_bounds(values[order], width)
        flips = _flips(width, radius)
        step = max(1, _CHUNK // len(flips))
        for start in range(0, len(queries), step):
            query = queries[start : start + step]
            wanted = (values[query][:, None] ^ flips[None, :]).ravel()
            low, high = bucket(wanted)
            counts = high - low
            hit = counts > 0
            if not hit.any():
                continue
            counts, low = counts[hit], low[hit]
            source = np.repeat(np.repeat(query, len(flips))[hit], counts)
            offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
            target = order[np.repeat(low, counts) + offsets]
            keep = splits[source] != splits[target]
            source, target = source[keep], target[keep]
            found.append(np.minimum(source, target) * n + np.maximum(source, target))
    if not found:
        return empty, empty, empty
    codes = np.unique(np.concatenate(found))
    i, j = codes // n, codes % n
    distance = popcount(hashes[i] ^ hashes[j])
    close = distance <= max_distance
    return i[close], j[close], distance[close]


def _bucket_bounds(
    ordered: np.ndarray, width: int
) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Where each band value's run starts and ends in ``ordered``: a table indexed by
    value for narrow bands (one gather per look-up), binary search for wide ones."""
    if width <= _DIRECT_BITS:
        starts = np.searchsorted(ordered, np.arange((1 << width) + 1, dtype=np.uint64))

        def direct(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            index = values.astype(np.int64)
            return starts[index], starts[index + 1]

        return direct

    def search(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.searchsorted(ordered, values, "left"), np.searchsorted(ordered, values, "right")

    return search


def _bands(max_distance: int, n: int) -> list[tuple[int, int]]:
    """(shift, width) of each band, for the band count with the least expected work:
    look-ups (hashes x flip patterns x bands) plus candidates (look-ups x the expected
    bucket size of uniformly spread hashes)."""

    def cost(m: int) -> float:
        width = HASH_BITS // m
        patterns = sum(math.comb(width, r) for r in range(max_distance // m + 1))
        lookups = m * patterns * n
        return float(lookups * (1 + 3 * n / 2**width))

    best = min(range(1, min(max_distance + 1, 8) + 1), key=cost)
    widths = [HASH_BITS // best + (1 if b < HASH_BITS % best else 0) for b in range(best)]
    shifts = [sum(widths[:b]) for b in range(best)]
    return list(zip(shifts, widths, strict=True))


@functools.cache
def _flips(width: int, radius: int) -> np.ndarray:
    """Every ``width``-bit mask with at most ``radius`` bits set."""
    masks = [0]
    for r in range(1, min(radius, width) + 1):
        masks += [sum(1 << b for b in bits) for bits in itertools.combinations(range(width), r)]
    return np.array(masks, dtype=np.uint64)


def row_hashes(frame: pl.DataFrame) -> np.ndarray:
    """A 64-bit hash of each row over its columns in name order (order-independent)."""
    if frame.width == 0:
        return np.zeros(frame.height, dtype=np.uint64)
    ordered = frame.select(sorted(frame.columns))
    return ordered.hash_rows(seed=_SEED).to_numpy().astype(np.uint64, copy=False)


def normalised(frame: pl.DataFrame, digits: int) -> pl.DataFrame:
    """Rows as a near-duplicate check compares them: text stripped, lowercased, with runs
    of white space made one; numbers (and booleans) as floats rounded to ``digits``
    significant digits, so ``1``, ``1.0`` and ``1.0000001`` are equal."""
    import polars as pl

    exprs = []
    for name, dtype in frame.schema.items():
        column = pl.col(name)
        if dtype == pl.String or isinstance(dtype, pl.Categorical | pl.Enum):
            text = column.cast(pl.String)
            exprs.append(text.str.strip_chars().str.to_lowercase().str.replace_all(r"\s+", " "))
        elif dtype.is_numeric() or dtype == pl.Boolean:
            value = column.cast(pl.Float64)
            exprs.append(
                pl.when(value == 0)
                .then(0.0)  # -0.0 too
                .when(value.is_finite())
                .then(value.round_sig_figs(max(1, digits)))
                .otherwise(value)
                .alias(name)
            )
        else:
            exprs.append(column)
    return frame.select(exprs)
