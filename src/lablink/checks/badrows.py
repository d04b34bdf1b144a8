"""Which rows break at least one rule, counted once however many rules they break.

Row rules are counted batch by batch, where the union of their failing rows is cheap.
Duplicate keys are only known once every batch is in, so when a schema has keys the
failing rows of each batch are kept until then: as row indices while they are few, as
a bitmap (one bit per row of that batch) when they are many, or as a whole batch (a
missing column, a column of the wrong type). Batches without failures cost nothing.
"""

from __future__ import annotations

import numpy as np

_SPARSE = 32  # keep indices while they are fewer than one row in this many


class BadRows:
    """The distinct rows that break a rule, over batches fed in row order."""

    def __init__(self, keep: bool) -> None:
        self.keep = keep  # whether rows from keys will be added at the end
        self.counted = 0
        self._starts: list[int] = []
        self._batches: list[tuple[int, np.ndarray | None, bool]] = []  # (height, rows, packed)

    def add_batch(self, start: int, height: int, rows: list[np.ndarray], whole: bool) -> None:
        """Failing rows of one batch: ``rows`` holds each failing rule's row indices in the
        batch (sorted), ``whole`` says every row of the batch fails."""
        if whole:
            self._keep(start, height, None, False)
            self.counted += height
            return
        rows = [r for r in rows if len(r)]
        if not rows:
            return
        if len(rows) == 1:
            union = np.asarray(rows[0], dtype=np.int64)
        elif sum(len(r) for r in rows) * _SPARSE < height:
            union = np.unique(np.concatenate(rows)).astype(np.int64)
        else:
            mask = np.zeros(height, dtype=bool)
            for r in rows:
                mask[r] = True
            union = np.flatnonzero(mask)
        self.counted += len(union)
        if not self.keep:
            return
        if len(union) * _SPARSE < height:
            self._keep(start, height, union, False)
        else:
            mask = np.zeros(height, dtype=bool)
            mask[union] = True
            self._keep(start, height, np.packbits(mask), True)

    def _keep(self, start: int, height: int, rows: np.ndarray | None, packed: bool) -> None:
        if self.keep:
            self._starts.append(start)
            self._batches.append((height, rows, packed))

    def total(self, extra: np.ndarray | None = None) -> int:
        """Distinct failing rows, with ``extra`` global row numbers (duplicates) added."""
        if extra is None or not len(extra):
            return self.counted
        extra = np.unique(extra)
        batch = np.searchsorted(np.asarray(self._starts, dtype=np.int64), extra, side="right") - 1
        already = 0
        for i in np.unique(batch[batch >= 0]).tolist():
            height, rows, packed = self._batches[i]
            local = extra[batch == i] - self._starts[i]
            local = local[local < height]
            if rows is None:
                already += len(local)
            elif packed:
                already += int(np.unpackbits(rows, count=height).astype(bool)[local].sum())
            else:
                already += int(np.isin(local, rows, assume_unique=True).sum())
        return self.counted + len(extra) - already
