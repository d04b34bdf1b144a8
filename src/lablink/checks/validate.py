"""Vectorised validation of tables against a schema, batch by batch.

``Validator.feed`` takes one batch (a polars frame, or a ``Chunk`` of a file) and checks
every row rule with a single parallel ``select``; only rules that fail are looked at
again, for their rows: the first few are the examples, and their union counts each
failing row once however many rules it breaks (``badrows.py``). Uniqueness (``unique``, ``primaryKey``,
``uniqueRows``) spans batches through ``DuplicateTracker``; a single in-memory frame
never needs its hashes. ``validate_frame`` and ``validate_files`` are the entry points.
"""

from __future__ import annotations

import bisect
import contextlib
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from lablink.checks.badrows import BadRows
from lablink.checks.rules import Rule, compile_rules, hash_key, prepare
from lablink.checks.schema_model import Schema
from lablink.checks.tablefiles import DEFAULT_BATCH_ROWS, Chunk, iter_chunks, line_of
from lablink.checks.unique import DuplicateTracker
from lablink.checks.validation_report import MAX_EXAMPLES, Failure, ValidationReport
from lablink.errors import InvalidInput


class _Key:
    """A uniqueness rule: its columns, the first batch (kept until a second one comes)."""

    def __init__(self, rule: str, column: str | None, columns: list[str], skip_nulls: bool) -> None:
        self.rule, self.column, self.columns, self.skip_nulls = rule, column, columns, skip_nulls
        self.tracker = DuplicateTracker()
        self.pending: tuple[pl.DataFrame, int] | None = None
        self.batches = 0
        self.fast_duplicates = 0

    def complete(self) -> pl.Expr:
        return pl.all_horizontal([pl.col(c).is_not_null() for c in self.columns])

    def distinct_exprs(self, i: int, value_of: dict[str, str]) -> list[pl.Expr]:
        cols = [pl.col(value_of[c]) for c in self.columns]
        key = pl.struct(cols) if len(cols) > 1 else cols[0]
        if self.skip_nulls:
            key = key.filter(pl.all_horizontal([c.is_not_null() for c in cols]))
        return [key.len().alias(f"k{i}n"), key.n_unique().alias(f"k{i}u")]

    def add_hashes(self, frame: pl.DataFrame, offset: int) -> None:
        dtypes = dict(frame.schema)
        sub = frame.select(hash_key(self.columns, dtypes).alias("h"), self.complete().alias("c"))
        rows = pl.int_range(offset, offset + frame.height, eager=True, dtype=pl.Int64)
        if self.skip_nulls:
            keep = sub["c"]
            self.tracker.add(sub["h"].filter(keep).to_numpy(), rows.filter(keep).to_numpy())
        else:
            self.tracker.add(sub["h"].to_numpy(), rows.to_numpy())


class _Plan:
    """How to check batches of one column layout: compiled once, reused for every batch."""

    def __init__(self, schema: Schema, dtypes: pl.Schema) -> None:
        self.whole: list[tuple[str, str, str]] = []  # rules every row of a batch breaks
        self.parsed: dict[str, pl.Expr] = {}
        self.value_of: dict[str, str] = {}
        self.type_rules: list[Rule] = []
        self.rules: list[Rule] | None = None  # compiled on the first batch, once parsed
        for i, field in enumerate(schema.fields):
            required = field.required or field.name in schema.primary_key
            if field.name not in dtypes:
                if required and not field.has_default:
                    self.whole.append(("required", field.name, "column is missing"))
                continue
            prepared = prepare(field, dtypes[field.name])
            if prepared.value is None:
                self.whole.append(("type", field.name, prepared.problem or "wrong type"))
                continue
            self.value_of[field.name] = field.name
            if prepared.parse_failed is not None:
                self.value_of[field.name] = f"\x00{i}"
                self.parsed[f"\x00{i}"] = prepared.value
                self.type_rules.append(
                    Rule(
                        "type",
                        field.name,
                        prepared.parse_failed,
                        f"cells that are not {field.type}",
                        pl.col(field.name),
                    )
                )


_PLANS: dict[tuple[Schema, tuple[tuple[str, pl.DataType], ...]], _Plan] = {}
_MAX_PLANS = 64


def _plan_for(schema: Schema, dtypes: pl.Schema) -> _Plan:
    """The plan for a schema and a batch layout; remembered, since a stream of batches (or a
    training loop validating each batch) repeats the same pair."""
    try:
        key = (schema, tuple(dtypes.items()))
        plan = _PLANS.get(key)
    except TypeError:  # an unhashable default value: compile every time
        return _Plan(schema, dtypes)
    if plan is None:
        if len(_PLANS) >= _MAX_PLANS:
            # Threads of a server may evict at once: the oldest may already be gone.
            with contextlib.suppress(StopIteration, RuntimeError):
                _PLANS.pop(next(iter(_PLANS)), None)
        plan = _PLANS[key] = _Plan(schema, dtypes)
    return plan


class Validator:
    """Accumulates a validation report over batches fed in row order."""

    def __init__(self, schema: Schema, ref: str | None = None) -> None:
        self.schema, self.ref = schema, ref
        self.rows = 0
        self._failures: dict[tuple[str, str | None], Failure] = {}
        self._files: list[str] = []
        self._starts: list[tuple[int, str, str]] = []  # (first row, file, format) per batch
        self._file_start: dict[str, int] = {}
        self._extra: dict[str, None] = {}
        self._keys = self._make_keys()
        self._bad = BadRows(keep=bool(self._keys))
        self._whole = False  # this batch fails as a whole (a missing or mistyped column)
        self._duplicate_rows: list[np.ndarray] = []
        self._t0 = time.perf_counter()

    def _make_keys(self) -> list[_Key]:
        keys = [_Key("unique", f.name, [f.name], True) for f in self.schema.fields if f.unique]
        if self.schema.primary_key:
            keys.append(_Key("primaryKey", None, list(self.schema.primary_key), True))
        if self.schema.unique_rows:
            keys.append(_Key("uniqueRows", None, list(self.schema.names), False))
        return keys

    def feed(self, batch: pl.DataFrame | Chunk) -> None:
        """Check one batch; its rows follow the rows fed before."""
        chunk = batch if isinstance(batch, Chunk) else Chunk(batch, None, 0, None)
        frame, offset = chunk.frame, self.rows
        if chunk.file is not None and chunk.file not in self._file_start:
            self._files.append(chunk.file)
            self._file_start[chunk.file] = offset - chunk.file_row
        self._starts.append((offset, chunk.file or "", chunk.format or ""))
        self.rows += frame.height
        self._extra.update(dict.fromkeys(c for c in frame.columns if c not in self.schema.names))
        self._whole = False
        rules, frame, value_of = self._rules(frame, chunk)
        keys = [k for k in self._keys if all(c in value_of for c in k.columns)]
        exprs = [
            (r.mask.sum() if r.count is None else r.count).alias(f"r{i}")
            for i, r in enumerate(rules)
        ]
        exprs += [e for i, key in enumerate(keys) for e in key.distinct_exprs(i, value_of)]
        try:
            counts = frame.select(exprs).row(0, named=True) if exprs else {}
        except pl.exceptions.PolarsError as exc:
            raise InvalidInput(f"cannot check {chunk.file or 'the table'}: {exc}") from exc
        failing = [(rule, int(counts[f"r{i}"])) for i, rule in enumerate(rules) if counts[f"r{i}"]]
        rows = self._record(failing, frame, chunk, offset) if failing else []
        self._bad.add_batch(offset, frame.height, rows, self._whole)
        for i, key in enumerate(keys):
            # Keys are tracked on parsed values, so "7" in a CSV and 7 in Parquet are equal.
            sub = frame.select(pl.col(value_of[c]).alias(c) for c in key.columns)
            self._track(key, sub, offset, int(counts[f"k{i}n"]) - int(counts[f"k{i}u"]))

    def _rules(
        self, frame: pl.DataFrame, chunk: Chunk
    ) -> tuple[list[Rule], pl.DataFrame, dict[str, str]]:
        """The row rules for this batch, the batch with parsed columns, and where each is."""
        plan = _plan_for(self.schema, frame.schema)
        for rule, column, message in plan.whole:
            if rule == "required" and chunk.file:
                message += f" in {chunk.file}"
            self._failure(rule, column, message).count += frame.height
            self._whole = True
        if plan.parsed:
            frame = frame.with_columns(**plan.parsed)
        if plan.rules is None:
            plan.rules = list(plan.type_rules)
            for field in self.schema.fields:
                if field.name in plan.value_of:
                    column = plan.value_of[field.name]
                    required = field.required or field.name in self.schema.primary_key
                    # A parsed column's empty cells are the source's: a cell that did not
                    # parse is a type violation, not also an empty one.
                    source = field.name if column != field.name else None
                    plan.rules += compile_rules(
                        field, column, frame.schema[column], required, source
                    )
        return plan.rules, frame, plan.value_of

    def _failure(self, rule: str, column: str | None, message: str) -> Failure:
        key = (rule, column)
        if key not in self._failures:
            self._failures[key] = Failure(rule, column, 0, message)
        return self._failures[key]

    def _record(
        self, failing: list[tuple[Rule, int]], frame: pl.DataFrame, chunk: Chunk, offset: int
    ) -> list[np.ndarray]:
        """Add counts and example rows; the failing rows of each rule, for the union."""
        found = frame.select(
            rule.mask.arg_true().implode().alias(str(i)) for i, (rule, _) in enumerate(failing)
        )
        rows = [found[:, i][0].to_numpy() for i in range(len(failing))]
        picks: dict[int, list[int]] = {}
        for i, ((rule, count), where) in enumerate(zip(failing, rows, strict=True)):
            failure = self._failure(rule.rule, rule.column, rule.message)
            failure.count += count
            need = min(MAX_EXAMPLES - len(failure.examples), count)
            if need > 0:
                picks[i] = where[:need].tolist()
        if picks:
            values = frame.select(
                failing[i][0].value.gather(picked).implode().alias(str(i))
                for i, picked in picks.items()
            ).row(0, named=True)
            for i, picked in picks.items():
                rule = failing[i][0]
                failure = self._failure(rule.rule, rule.column, rule.message)
                for row, value in zip(picked, values[str(i)], strict=True):
                    failure.examples.append({**_place(offset + row, chunk, row), "value": value})
        return rows

    def _track(self, key: _Key, frame: pl.DataFrame, offset: int, duplicates: int) -> None:
        key.batches += 1
        sub = frame
        if key.batches == 1:
            key.pending, key.fast_duplicates = (sub, offset), duplicates
            return
        if key.pending is not None:
            key.add_hashes(*key.pending)
            key.pending = None
        key.add_hashes(sub, offset)

    def finish(self) -> ValidationReport:
        """The report over everything fed so far."""
        self._duplicate_rows = []
        for key in self._keys:
            self._finish_key(key)
        s = self.schema
        if s.min_rows is not None and self.rows < s.min_rows:
            self._failure(
                "rows", None, f"{self.rows} rows, the schema needs at least {s.min_rows}"
            ).count = 1
        if s.max_rows is not None and self.rows > s.max_rows:
            self._failure(
                "rows", None, f"{self.rows} rows, the schema allows at most {s.max_rows}"
            ).count = 1
        failures = [f for f in self._failures.values() if f.count]
        failed_rows = self._bad.total(
            np.concatenate(self._duplicate_rows) if self._duplicate_rows else None
        )
        for f in failures:
            f.share = f.count / self.rows if self.rows and f.rule != "rows" else None
        return ValidationReport(
            rows=self.rows,
            failures=failures,
            schema=self.ref,
            files=self._files,
            extra_columns=list(self._extra),
            seconds=time.perf_counter() - self._t0,
            failed_rows=failed_rows,
        )

    def _finish_key(self, key: _Key) -> None:
        if key.batches == 0 or (key.batches == 1 and key.fast_duplicates == 0):
            key.tracker.close()
            return
        values, base = None, 0
        if key.pending is not None:
            key.add_hashes(*key.pending)
            values, base = key.pending
        count, examples, rows = key.tracker.finish_rows()
        if not count:
            return
        self._duplicate_rows.append(rows)
        what = {"unique": "repeated values", "primaryKey": "repeated primary keys"}
        failure = self._failure(key.rule, key.column, what.get(key.rule, "duplicate rows"))
        failure.count += count
        for row, first in examples:
            value = values.row(row - base, named=True) if values is not None else None
            if value is not None and key.column is not None:
                value = value[key.column]
            failure.examples.append(
                {**self._where(row), "value": value, "repeats": self._where(first)}
            )

    def _where(self, row: int) -> dict[str, Any]:
        """Where a global row number is: its file and line or row, or its row in the frame."""
        i = bisect.bisect_right(self._starts, (row, "\uffff", "")) - 1
        _start, file, fmt = self._starts[i]
        if not file:
            return {"row": row}
        return _where_in_file(file, fmt, row - self._file_start[file])


def _place(row: int, chunk: Chunk, row_in_chunk: int) -> dict[str, Any]:
    """Where a row of a batch is, as ``Validator._where`` says it."""
    if chunk.file is None:
        return {"row": row}
    return _where_in_file(chunk.file, chunk.format or "", chunk.file_row + row_in_chunk)


def _where_in_file(file: str, fmt: str, file_row: int) -> dict[str, Any]:
    line = line_of(fmt, file_row)
    return {"file": file, "line": line} if line is not None else {"file": file, "row": file_row}


def to_polars(data: Any) -> pl.DataFrame:
    """A polars frame from polars, pyarrow or pandas data (pandas NaN becomes null).

    Raises:
        InvalidInput: the object is not a table lablink can read.
    """
    if isinstance(data, pl.DataFrame):
        return data
    if isinstance(data, pl.LazyFrame):
        return data.collect()
    module = type(data).__module__.split(".")[0]
    if module == "pyarrow":
        frame = pl.from_arrow(data)
        if isinstance(frame, pl.DataFrame):
            return frame
    if module == "pandas":
        try:
            return pl.from_pandas(data)
        except (pl.exceptions.PolarsError, TypeError, ValueError) as exc:
            raise InvalidInput(f"cannot read the pandas frame: {exc}") from exc
    raise InvalidInput(
        f"cannot validate a {type(data).__name__}",
        "pass a pandas, polars or pyarrow table, or file paths",
    )


def validate_frame(data: Any, schema: Schema, ref: str | None = None) -> ValidationReport:
    """Validate an in-memory table (pandas, polars or pyarrow) as one batch."""
    validator = Validator(schema, ref)
    validator.feed(to_polars(data))
    return validator.finish()


def validate_files(
    paths: Sequence[str | Path],
    schema: Schema,
    ref: str | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    fmt: str | None = None,
) -> ValidationReport:
    """Validate files or folders of Parquet, CSV and JSON Lines, streaming in batches.

    ``fmt`` reads every file in that format whatever its suffix.

    Raises:
        InvalidInput: no table files, or a file that does not parse.
    """
    validator = Validator(schema, ref)
    for chunk in iter_chunks(paths, schema, batch_rows, fmt):
        validator.feed(chunk)
    return validator.finish()
