"""The review report's pass over a version's tables, batch by batch in bounded memory.

Per row it keeps its split, file, row number and two 64-bit hashes (exact and
normalised): about 30 bytes, so a million rows take 30 MB whatever their width. Key,
label and subgroup columns are counted per split; float columns' NaN and inf are
counted, every column's extremes tracked (a constant column has one value); each split
can be profiled for drift, the rows validated against a schema, and long text cells
indexed for near-duplicate search.
"""

from __future__ import annotations

import collections
import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from lablink.checks.leakage import cross_split, normalised, row_hashes
from lablink.checks.profile import Profiler
from lablink.checks.tablefiles import Chunk, iter_chunks
from lablink.core.review_splits import NO_SPLIT, SplitPlan
from lablink.errors import InvalidInput

if TYPE_CHECKING:
    from lablink.checks.near_text import TextIndex
    from lablink.checks.validate import Validator
    from lablink.settings import ReviewThresholds

BATCH_ROWS = 262_144
_COMPACT = 32  # per-batch key counts merged once this many are pending


@dataclasses.dataclass
class Columns:
    """What the review needs from the tables: the key, label and subgroup columns."""

    key: str | None = None
    label: str | None = None
    groups: tuple[str, ...] = ()
    keep_labels: bool = False  # keep every row's label in order (for cleanlab)


class TableScan:
    """Accumulates everything the table checks need, one batch at a time."""

    def __init__(
        self,
        plan: SplitPlan,
        columns: Columns,
        thresholds: ReviewThresholds,
        *,
        profile: bool = False,
        validator: Validator | None = None,
        texts: TextIndex | None = None,
    ) -> None:
        self.plan, self.columns, self.thresholds = plan, columns, thresholds
        self.files: list[str] = []
        self.dtypes: dict[str, str] = {}
        self.rows = 0
        self.errors: list[tuple[str, str]] = []
        self.empty: list[str] = []
        self.split_rows: collections.Counter[int] = collections.Counter()
        self.labels: dict[int, collections.Counter[Any]] = collections.defaultdict(
            collections.Counter
        )
        self.groups: dict[str, dict[int, collections.Counter[Any]]] = {
            g: collections.defaultdict(collections.Counter) for g in columns.groups
        }
        self.nonfinite: dict[str, list[int]] = {}  # column -> [nan, inf, cells]
        self.extremes: dict[str, list[Any]] = {}  # column -> [min, max, non-null cells]
        self.profilers: dict[int, Profiler] | None = {} if profile else None
        self.validator = validator
        self.texts = texts
        self.label_values: list[pl.Series] = []
        self._keys: list[pl.DataFrame] = []
        self._parts: dict[str, list[np.ndarray]] = {k: [] for k in ("split", "file", "row")}
        self._hashes: dict[str, list[np.ndarray]] = {"exact": [], "near": []}
        self._located: dict[str, np.ndarray] | None = None
        self._shared: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def scan_file(self, path: str, local: Path, fmt: str) -> None:
        """Read one table file of the version (``path``) from ``local``; a file that does
        not parse is recorded, with the rows read before the fault kept."""
        file_id = len(self.files)
        self.files.append(path)
        split = self.plan.of_path(path)
        rows = 0
        try:
            for chunk in iter_chunks([local], None, BATCH_ROWS, fmt):
                self._feed(chunk.frame, file_id, chunk.file_row, split)
                if self.validator is not None:
                    self.validator.feed(Chunk(chunk.frame, path, chunk.file_row, fmt))
                rows += chunk.frame.height
        except InvalidInput as exc:
            self.errors.append((path, exc.message.removeprefix(f"{local}: ")))
            return
        if rows == 0:
            self.empty.append(path)

    def _feed(self, frame: pl.DataFrame, file_id: int, start: int, split: int) -> None:
        for name, dtype in frame.schema.items():
            self.dtypes.setdefault(name, str(dtype))
        column = self.plan.column if split == NO_SPLIT else None
        if column is not None and column in frame.columns:
            names = frame.get_column(column).cast(pl.String).fill_null("")
            codes = {v: self.plan.split_id(v) if v else NO_SPLIT for v in names.unique()}
            splits = names.replace_strict(codes, return_dtype=pl.Int32).to_numpy()
            data = frame.drop(column)
        else:
            splits = np.full(frame.height, split, dtype=np.int32)
            data = frame
        if frame.height == 0:
            return
        self.rows += frame.height
        split_series = pl.Series("__split", splits, dtype=pl.Int32)
        self._parts["split"].append(splits.astype(np.int32))
        self._parts["file"].append(np.full(frame.height, file_id, dtype=np.int32))
        self._parts["row"].append(np.arange(start, start + frame.height, dtype=np.int64))
        self._hashes["exact"].append(row_hashes(data))
        self._hashes["near"].append(row_hashes(normalised(data, self.thresholds.table_digits)))
        for sid, n in zip(*np.unique(splits, return_counts=True), strict=True):
            self.split_rows[int(sid)] += int(n)
        tagged = data.with_columns(split_series)
        self._count_columns(tagged)
        self._health(data)
        if self.profilers is not None:
            for (sid,), part in tagged.partition_by("__split", as_dict=True).items():
                profiler = self.profilers.setdefault(int(sid), Profiler())
                profiler.feed(part.drop("__split"))
        if self.texts is not None:
            self._index_texts(data, splits, file_id, start)

    def _count_columns(self, tagged: pl.DataFrame) -> None:
        cols = self.columns
        if cols.key and cols.key in tagged.columns:
            key = tagged.select(pl.col(cols.key).cast(pl.String).alias("key"), "__split")
            self._keys.append(key.group_by("key", "__split").len())
            if len(self._keys) >= _COMPACT:
                self._keys = [self.key_counts()]
        if cols.label and cols.label in tagged.columns:
            _add_counts(self.labels, tagged, cols.label)
            if cols.keep_labels:
                self.label_values.append(tagged.get_column(cols.label))
        for group in cols.groups:
            if group in tagged.columns:
                _add_counts(self.groups[group], tagged, group)

    def _health(self, data: pl.DataFrame) -> None:
        floats = [n for n, t in data.schema.items() if t.is_float()]
        if floats:
            row = data.select(
                *[pl.col(n).is_nan().sum().alias(f"nan{i}") for i, n in enumerate(floats)],
                *[pl.col(n).is_infinite().sum().alias(f"inf{i}") for i, n in enumerate(floats)],
            ).row(0)
            for i, name in enumerate(floats):
                counts = self.nonfinite.setdefault(name, [0, 0, 0])
                counts[0] += int(row[i])
                counts[1] += int(row[len(floats) + i])
                counts[2] += data.height
        ordered = [
            n
            for n, t in data.schema.items()
            if t.is_numeric() or t.is_temporal() or t in (pl.String, pl.Boolean)
        ]
        if not ordered:
            return
        stats = data.select(
            *[pl.col(n).min().alias(f"lo{i}") for i, n in enumerate(ordered)],
            *[pl.col(n).max().alias(f"hi{i}") for i, n in enumerate(ordered)],
        ).row(0)
        for i, name in enumerate(ordered):
            low, high = stats[i], stats[len(ordered) + i]
            seen = self.extremes.setdefault(name, [None, None, 0])
            seen[2] += data.height - data.get_column(name).null_count()
            try:
                if low is not None:
                    seen[0] = low if seen[0] is None else min(seen[0], low)
                    seen[1] = high if seen[1] is None else max(seen[1], high)
            except TypeError:  # one column name, different types in two files
                seen[0], seen[1] = low, None

    def _index_texts(
        self, data: pl.DataFrame, splits: np.ndarray, file_id: int, start: int
    ) -> None:
        assert self.texts is not None
        limit = self.thresholds.max_texts
        for name, dtype in data.schema.items():
            if dtype != pl.String or len(self.texts) >= limit:
                continue
            mean = data.get_column(name).str.len_chars().mean()
            if not isinstance(mean, int | float) or mean < self.thresholds.text_min_chars:
                continue
            for row, (text, split) in enumerate(zip(data.get_column(name), splits, strict=True)):
                if len(self.texts) >= limit:
                    break
                if text and split != NO_SPLIT:
                    self.texts.add(text, int(split), (self.files[file_id], start + row, name))

    def key_counts(self) -> pl.DataFrame:
        """Rows per (key value, split id)."""
        if not self._keys:
            return pl.DataFrame(schema={"key": pl.String, "__split": pl.Int32, "len": pl.UInt32})
        return pl.concat(self._keys).group_by("key", "__split").agg(pl.col("len").sum())

    def located(self) -> dict[str, np.ndarray]:
        """Every row's split, file and row number, and its exact and near hashes (made
        once the scan is over; the batches' arrays are then let go)."""
        if self._located is None:
            out = {}
            for name, parts in {**self._parts, **self._hashes}.items():
                dtype = np.uint64 if name in self._hashes else np.int64
                out[name] = np.concatenate(parts) if parts else np.empty(0, dtype=dtype)
                parts.clear()
            self._located = out
        return self._located

    def shared(self, kind: str) -> tuple[np.ndarray, np.ndarray]:
        """Rows (indices into ``located()``) whose ``exact`` or ``near`` hash occurs in
        more than one split, and their group numbers (``checks.leakage.cross_split``)."""
        if kind not in self._shared:
            located = self.located()
            inside = np.flatnonzero(located["split"] != NO_SPLIT)
            index, group = cross_split(located["split"][inside], located[kind][inside])
            self._shared[kind] = (inside[index], group)
        return self._shared[kind]


def _add_counts(
    into: dict[int, collections.Counter[Any]], tagged: pl.DataFrame, column: str
) -> None:
    counts = tagged.group_by("__split", column).len()
    for sid, value, n in counts.iter_rows():
        into[int(sid)][value] += int(n)
