"""Infer a schema from data: types, nullability, ranges and categories, for a person to edit.

Inference streams the files like validation, and decides every type by parsing with the
validator's own parser (``rules.parse_text``), so validating a file against the schema
inferred from it never fails. Text cells (all of a CSV, text columns of Parquet and JSON
Lines) get the narrowest type every value parses as: ``integer``, ``number``,
``boolean`` (``yes``/``no``, ``true``/``false``...), ``date`` (ISO, or day-first
``31/01/2024`` when some day is above 12, with its ``format``), ``datetime`` (ISO,
with or without an offset) or ``time``; else ``string``. Digits with a leading zero
(zip codes like ``01067``) stay ``string``. In CSV files, common null spellings (``NA``,
``null``, ``-``...) standing in a column of another type are empty cells: they are
written to ``missingValues``, and the validator reads them as empty too.

Ranges are the observed minimum and maximum, text columns with few distinct values get
an ``enum``, and a text column of at least ``MIN_UNIQUE`` values that never repeat is
marked ``unique``. Nothing is inferred that the data could not show: units,
descriptions and keys are left to the author.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from lablink.checks.rules import family, parse_text
from lablink.checks.schema_model import Field, Schema
from lablink.checks.tablefiles import DEFAULT_BATCH_ROWS, iter_chunks

MAX_ENUM = 20  # a text column with at most this many values (each repeated) gets an enum
MIN_UNIQUE = 100  # fewer values than this never make a column ``unique``
NULL_TOKENS = (
    "NA", "N/A", "n/a", "#N/A", "null", "NULL", "Null", "None", "none", "nil",
    "-", "NaN", "nan", "NaT",
)  # fmt: skip
_MAX_HASHES = 5_000_000  # past this many text values, uniqueness is not guessed
_SAMPLE = 1000  # candidates are first tried on this many cells of a batch
# Text types in order of preference: the first that every value parses as wins.
_CANDIDATES: tuple[tuple[str, str | None], ...] = (
    ("integer", None),
    ("number", None),
    ("boolean", None),
    ("date", None),
    ("date", "%d/%m/%Y"),
    ("date", "%m/%d/%Y"),
    ("date", "%d.%m.%Y"),
    ("datetime", None),
    ("time", None),
)
_AMBIGUOUS = {("date", "%d/%m/%Y"), ("date", "%m/%d/%Y")}  # both alive: nobody can tell
_BOUNDED = frozenset({"integer", "number", "date", "datetime", "duration", "year"})


class _Range:
    """Minimum, maximum and NaN count of the values seen."""

    def __init__(self) -> None:
        self.low: Any = None
        self.high: Any = None
        self.nan = 0

    def feed(self, values: pl.Series) -> None:
        if values.dtype.is_float():
            self.nan += int(values.is_nan().sum())
            values = values.drop_nans()
        values = values.drop_nulls()
        if isinstance(values.dtype, pl.Datetime) and values.dtype.time_zone is not None:
            values = values.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
        if not len(values):
            return
        low, high = values.min(), values.max()
        self.low = low if self.low is None else min(self.low, low)
        self.high = high if self.high is None else max(self.high, high)

    def bounds(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in (("minimum", self.low), ("maximum", self.high)):
            if value is None or (isinstance(value, float) and not math.isfinite(value)):
                continue  # an infinite bound is no bound
            out[key] = value
        return out


class _Text:
    """A text column: which types all its values parse as, and what it holds as text."""

    def __init__(self, parse: bool) -> None:
        self.alive: dict[tuple[str, str | None], _Range] = (
            {c: _Range() for c in _CANDIDATES} if parse else {}
        )
        self.count = self.nulls = 0
        self.tokens: Counter[str] = Counter()  # null spellings, counted apart
        self.leading_zero = False
        self.counts: Counter[str] | None = Counter()  # None past MAX_ENUM distinct values
        self.hashes: list[np.ndarray] | None = []  # None past _MAX_HASHES values
        self.held = 0

    def feed(self, series: pl.Series, tokens_are_null: bool) -> None:
        series = series.cast(pl.String)
        self.nulls += series.null_count()
        values = series.drop_nulls()
        if tokens_are_null:
            is_token = values.is_in(NULL_TOKENS)
            if is_token.any():
                self.tokens.update(values.filter(is_token).to_list())
                values = values.filter(~is_token)
        self.count += len(values)
        if not len(values):
            return
        self._parse(values)
        if not self.leading_zero:
            self.leading_zero = bool(values.str.contains(r"^\s*[+-]?0\d").any())
        if self.counts is not None:
            self.counts.update(dict(values.value_counts().iter_rows()))
            if len(self.counts) > MAX_ENUM:
                self.counts = None
        if self.hashes is not None:
            self.held += len(values)
            self.hashes.append(values.hash(7).to_numpy())
            if self.held > _MAX_HASHES:
                self.hashes = None

    def _parse(self, values: pl.Series) -> None:
        frame = pl.DataFrame({"v": values.str.strip_chars()})
        for sample in (frame.head(_SAMPLE), frame):
            for candidate in list(self.alive):
                parsed = sample.select(parse_text(*candidate, pl.col("v")))
                column = parsed.to_series()
                if column.null_count():
                    del self.alive[candidate]
                elif sample is frame:
                    self.alive[candidate].feed(column)

    def field(self, name: str, missing: set[str]) -> Field:
        """The field, once the table's null spellings (``missing``) are known."""
        nulls = self.nulls + sum(n for t, n in self.tokens.items() if t in missing)
        values = {t: n for t, n in self.tokens.items() if t not in missing}  # text after all
        count = self.count + sum(values.values())
        ftype, fmt, found = self.kind()
        if not count:
            return Field(name=name, type="any")
        extra: dict[str, Any] = {}
        if ftype != "string":
            extra = found.bounds() if ftype in _BOUNDED else {}
            required = nulls == 0 and found.nan == 0
            return Field(name=name, type=ftype, format=fmt, required=required, **extra)
        if self.counts is not None:
            counts = self.counts + Counter(values)
            if len(counts) <= MAX_ENUM and len(counts) < count:
                extra["enum"] = tuple(sorted(counts))
        if count >= MIN_UNIQUE and self.hashes is not None and max(values.values(), default=1) == 1:
            hashes = np.concatenate(self.hashes) if self.hashes else np.empty(0, np.uint64)
            extra["unique"] = len(np.unique(hashes)) == len(hashes)
        return Field(name=name, type="string", required=nulls == 0, **extra)

    def kind(self) -> tuple[str, str | None, _Range]:
        """The type (and date format) every value parses as, with its range."""
        if not self.count:  # null spellings only, which are text where not empty
            return "string", None, _Range()
        alive = [c for c in _CANDIDATES if c in self.alive]
        if set(alive) >= _AMBIGUOUS:
            alive = [c for c in alive if c not in _AMBIGUOUS]
        for ftype, fmt in alive:
            if ftype in ("integer", "number") and self.leading_zero:
                continue  # zip codes, phone numbers: the zeros are part of the value
            return ftype, fmt, self.alive[(ftype, fmt)]
        return "string", None, _Range()

    def null_tokens(self) -> set[str]:
        """The null spellings that stood in for a value of another type than text."""
        return set(self.tokens) if self.count and self.kind()[0] != "string" else set()


class _Typed:
    """A column of a non-text type (Parquet, JSON numbers): its family, nulls and range."""

    def __init__(self, ftype: str) -> None:
        self.type = ftype
        self.count = self.nulls = 0
        self.range = _Range()

    def feed(self, series: pl.Series) -> None:
        kind = family(series.dtype)
        if kind != self.type and {kind, self.type} != {"integer", "number"}:
            self.type = "any"  # files disagree: leave it to the author
        elif kind == "number":
            self.type = "number"
        self.nulls += series.null_count()
        self.count += len(series) - series.null_count()
        if self.type in _BOUNDED:
            self.range.feed(series)

    def field(self, name: str) -> Field:
        if not self.count or self.type == "any":
            return Field(name=name, type=self.type)
        bounds = self.range.bounds() if self.type in _BOUNDED else {}
        if self.type == "integer":
            bounds = {k: int(v) for k, v in bounds.items()}
        required = self.nulls == 0 and self.range.nan == 0
        return Field(name=name, type=self.type, required=required, **bounds)


class Inferrer:
    """Accumulates what a schema needs over batches of one table."""

    def __init__(self) -> None:
        self.columns: dict[str, _Text | _Typed] = {}

    def feed(self, frame: pl.DataFrame, csv: bool = False) -> None:
        """Add one batch; ``csv``: its text came from a CSV file, where null spellings count."""
        for series in frame.get_columns():
            column = self.columns.get(series.name)
            if column is None:
                column = self.columns[series.name] = _new(series.dtype)
            if isinstance(column, _Text):
                column.feed(series, csv)
            elif isinstance(series.dtype, pl.String):
                column.type = "any"  # text in one file, numbers in another
            else:
                column.feed(series)

    def finish(self, name: str | None = None) -> Schema:
        """A schema that every batch fed passes."""
        missing: set[str] = set()
        for column in self.columns.values():
            if isinstance(column, _Text):
                missing |= column.null_tokens()
        fields = [
            c.field(n, missing) if isinstance(c, _Text) else c.field(n)
            for n, c in self.columns.items()
        ]
        tokens = tuple(t for t in NULL_TOKENS if t in missing)
        return Schema(fields=tuple(fields), name=name, missing_values=("", *tokens))


def _new(dtype: pl.DataType) -> _Text | _Typed:
    if isinstance(dtype, pl.String):
        return _Text(parse=True)
    if isinstance(dtype, pl.Categorical | pl.Enum):
        return _Text(parse=False)
    return _Typed("any" if isinstance(dtype, pl.Null) else family(dtype))


def infer_frame(data: Any, name: str | None = None) -> Schema:
    """A schema that an in-memory table (pandas, polars or pyarrow) passes."""
    from lablink.checks.validate import to_polars

    inferrer = Inferrer()
    inferrer.feed(to_polars(data))
    return inferrer.finish(name)


def infer_files(
    paths: Sequence[str | Path],
    name: str | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    fmt: str | None = None,
) -> Schema:
    """A schema that the files (Parquet, CSV, JSON Lines, or folders of them) pass.

    Raises:
        InvalidInput: no table files, or a file that does not parse.
    """
    inferrer = Inferrer()
    for chunk in iter_chunks(paths, None, batch_rows, fmt, text=True):
        inferrer.feed(chunk.frame, csv=chunk.format == "csv")
    return inferrer.finish(name)
