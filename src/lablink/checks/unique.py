"""Duplicate detection across batches in bounded memory.

Each batch contributes a 64-bit hash per non-empty key (a column, a primary key, a
whole row) with its global row number. Up to ``memory_entries`` pairs (64 MB by default) stay in memory;
beyond that they are spilled to 256 bucket files by the hash's top byte, and each
bucket is sorted on its own at the end, so memory stays near ``total / 256`` pairs
whatever the input's size. Two different keys with equal 64-bit hashes would count as
a duplicate; for 10⁹ rows the chance is about 3 %, for 10⁷ rows about 3 in a million
(documented in ``docs/schemas.md``).
"""

from __future__ import annotations

import heapq
import tempfile
from pathlib import Path

import numpy as np

_BUCKETS = 256
_SHIFT = np.uint64(56)
_NONE = np.empty(0, np.int64)


class DuplicateTracker:
    """Collects (hash, row) pairs and reports duplicates: count and the earliest rows."""

    def __init__(self, memory_entries: int = 4_000_000, max_examples: int = 5) -> None:
        self.memory_entries = memory_entries
        self.max_examples = max_examples
        self._hashes: list[np.ndarray] = []
        self._rows: list[np.ndarray] = []
        self._held = 0
        self._spill: tempfile.TemporaryDirectory[str] | None = None

    def add(self, hashes: np.ndarray, rows: np.ndarray) -> None:
        """Record one batch: ``hashes`` (uint64) and the global ``rows`` they came from."""
        if not len(hashes):
            return
        self._hashes.append(np.ascontiguousarray(hashes, dtype=np.uint64))
        self._rows.append(np.ascontiguousarray(rows, dtype=np.int64))
        self._held += len(hashes)
        if self._held > self.memory_entries:
            self._flush()

    def finish(self) -> tuple[int, list[tuple[int, int]]]:
        """The number of duplicate rows and up to ``max_examples`` (row, first_row) pairs.

        A row is a duplicate when an earlier row has the same key; the earliest such
        rows come back with the row they repeat.
        """
        count, examples, _rows = self.finish_rows()
        return count, examples

    def finish_rows(self) -> tuple[int, list[tuple[int, int]], np.ndarray]:
        """What ``finish`` gives, and every duplicate row's number (unsorted)."""
        try:
            if self._spill is None:
                h, r = self._take()
                return _duplicates(h, r, self.max_examples)
            self._flush()
            total = 0
            examples: list[tuple[int, int]] = []
            rows: list[np.ndarray] = []
            folder = Path(self._spill.name)
            for b in range(_BUCKETS):
                hpath, rpath = folder / f"{b}.h", folder / f"{b}.r"
                if not hpath.exists():
                    continue
                count, found, dup = _duplicates(
                    np.fromfile(hpath, np.uint64), np.fromfile(rpath, np.int64), self.max_examples
                )
                total += count
                rows.append(dup)
                examples = heapq.nsmallest(self.max_examples, examples + found)
            return total, examples, np.concatenate(rows) if rows else _NONE
        finally:
            self.close()

    def close(self) -> None:
        """Drop held pairs and spill files."""
        self._hashes, self._rows, self._held = [], [], 0
        if self._spill is not None:
            self._spill.cleanup()
            self._spill = None

    def _take(self) -> tuple[np.ndarray, np.ndarray]:
        if not self._hashes:
            return np.empty(0, np.uint64), np.empty(0, np.int64)
        h, r = np.concatenate(self._hashes), np.concatenate(self._rows)
        self._hashes, self._rows, self._held = [], [], 0
        return h, r

    def _flush(self) -> None:
        if self._spill is None:
            self._spill = tempfile.TemporaryDirectory(prefix="lablink-unique-")
        h, r = self._take()
        if not len(h):
            return
        bucket = (h >> _SHIFT).astype(np.int64)
        order = np.argsort(bucket, kind="stable")
        h, r, bucket = h[order], r[order], bucket[order]
        edges = np.searchsorted(bucket, np.arange(_BUCKETS + 1))
        folder = Path(self._spill.name)
        for b in range(_BUCKETS):
            lo, hi = edges[b], edges[b + 1]
            if lo == hi:
                continue
            with open(folder / f"{b}.h", "ab") as fh:
                h[lo:hi].tofile(fh)
            with open(folder / f"{b}.r", "ab") as fr:
                r[lo:hi].tofile(fr)


def _duplicates(
    h: np.ndarray, r: np.ndarray, limit: int
) -> tuple[int, list[tuple[int, int]], np.ndarray]:
    if len(h) < 2:
        return 0, [], _NONE
    order = np.lexsort((r, h))
    hs, rs = h[order], r[order]
    repeat = np.flatnonzero(hs[1:] == hs[:-1]) + 1
    if not len(repeat):
        return 0, [], _NONE
    # The first row of each run of equal hashes is the original the others repeat.
    starts = np.flatnonzero(np.concatenate(([True], hs[1:] != hs[:-1])))
    first = rs[starts[np.searchsorted(starts, repeat, side="right") - 1]]
    rows = rs[repeat]
    pick = np.argsort(rows, kind="stable")[:limit]
    return len(repeat), [(int(rows[i]), int(first[i])) for i in pick], rows
