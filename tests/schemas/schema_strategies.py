"""Hypothesis strategies: random schemas, mutations of them, and tables a schema accepts."""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any

import polars as pl
from hypothesis import strategies as st

from lablink.checks.schema_model import Field, Schema

NAMES = ("a", "b", "c", "d", "e")
TYPES = ("integer", "number", "string", "boolean", "date")
PATTERNS = (None, "[a-z]+", "[xyz]")
WORDS = ("x", "y", "z", "w")
DAY0 = datetime.date(2024, 1, 1)
EVENTS = """\
name: events
description: one row per user event
fields:
  - name: id
    type: integer
    constraints: {required: true, unique: true, minimum: 0}
  - name: amount
    type: number
    unit: EUR
    constraints: {minimum: 0, maximum: 100}
  - name: country
    type: string
    constraints: {enum: [DE, FR, US]}
  - name: code
    type: string
    constraints: {pattern: "[A-Z]{3}", minLength: 3, maxLength: 3}
  - name: day
    type: date
    constraints: {minimum: 2024-01-01}
"""
DTYPES = {
    "integer": pl.Int64,
    "number": pl.Float64,
    "string": pl.String,
    "boolean": pl.Boolean,
    "date": pl.Date,
}


def _pair(values: st.SearchStrategy[Any]) -> st.SearchStrategy[tuple[Any, Any]]:
    """An optional (low, high) with low <= high when both are set."""
    return st.tuples(st.none() | values, st.none() | values).map(
        lambda p: tuple(sorted(p)) if None not in p else p  # type: ignore[arg-type]
    )


@st.composite
def fields(draw: st.DrawFn, name: str) -> Field:
    """One field with a random type and constraints that fit it."""
    ftype = draw(st.sampled_from(TYPES))
    kw: dict[str, Any] = {
        "required": draw(st.booleans()),
        "unique": draw(st.sampled_from([False, False, True])),
        "unit": draw(st.sampled_from([None, None, "m", "km"])),
    }
    if ftype == "integer":
        low, high = draw(_pair(st.integers(-20, 20)))
        kw.update(minimum=low, maximum=high)
        if draw(st.booleans()):
            kw["enum"] = tuple(
                draw(st.lists(st.integers(-5, 5), min_size=1, max_size=5, unique=True))
            )
    elif ftype == "number":
        low, high = draw(_pair(st.integers(-20, 20).map(float)))
        kw.update(minimum=low, maximum=high)
        if draw(st.booleans()):
            kw["exclusive_minimum"] = draw(st.floats(-25, -21))
    elif ftype == "string":
        if draw(st.booleans()):
            kw["enum"] = tuple(
                draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=4, unique=True))
            )
        kw["pattern"] = draw(st.sampled_from(PATTERNS))
        low, high = draw(_pair(st.integers(0, 4)))
        kw.update(min_length=low, max_length=high)
    elif ftype == "date":
        low, high = draw(_pair(st.integers(0, 30).map(lambda d: DAY0 + datetime.timedelta(days=d))))
        kw.update(minimum=low, maximum=high)
    return Field(name=name, type=ftype, **kw)


@st.composite
def schemas(draw: st.DrawFn) -> Schema:
    """A valid schema over some of NAMES."""
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=4, unique=True))
    fs = tuple(draw(fields(n)) for n in names)
    pk = tuple(draw(st.sampled_from([(), (), tuple(names[:1]), tuple(names[:2])])))
    low, high = draw(_pair(st.integers(0, 4)))
    return Schema(
        fields=fs,
        name=draw(st.none() | st.just("t")),
        primary_key=pk,
        min_rows=low,
        max_rows=None if high is None else high + 4,
        unique_rows=draw(st.booleans()),
    )


@st.composite
def mutations(draw: st.DrawFn, base: Schema) -> Schema:
    """``base`` with some fields kept, some regenerated, some dropped and some added."""
    out: list[Field] = []
    for field in base.fields:
        action = draw(st.sampled_from(["keep", "tighten", "tighten", "loosen", "new", "drop"]))
        if action == "keep":
            out.append(field)
        elif action == "tighten":
            out.append(draw(tightened(field)))
        elif action == "loosen":
            out.append(
                dataclasses.replace(field, required=False, unique=False, enum=None, maximum=None)
            )
        elif action == "new":
            out.append(draw(fields(field.name)))
    for name in NAMES:
        if base.field(name) is None and draw(st.integers(0, 3)) == 0:
            out.append(draw(fields(name)))
    if not out:
        out.append(draw(fields(base.fields[0].name)))
    names = {f.name for f in out}
    pk = base.primary_key if set(base.primary_key) <= names and draw(st.booleans()) else ()
    return Schema(
        fields=tuple(out),
        primary_key=pk,
        min_rows=draw(st.sampled_from([None, base.min_rows])),
        max_rows=draw(st.sampled_from([None, base.max_rows])),
        unique_rows=draw(st.booleans()),
    )


@st.composite
def tightened(draw: st.DrawFn, field: Field) -> Field:
    """``field`` with one constraint made stricter (or its unit changed)."""
    kind = draw(
        st.sampled_from(["required", "unique", "enum", "maximum", "minimum", "pattern", "unit"])
    )
    if kind in ("required", "unique"):
        return dataclasses.replace(field, **{kind: True})
    if kind == "unit":
        return dataclasses.replace(field, unit="cm")
    if kind == "enum" and field.type == "integer":
        return dataclasses.replace(
            field,
            enum=tuple(draw(st.lists(st.integers(-5, 5), min_size=1, max_size=3, unique=True))),
        )
    if kind == "enum" and field.type == "string":
        return dataclasses.replace(
            field,
            enum=tuple(draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=2, unique=True))),
        )
    if kind == "pattern" and field.type == "string":
        return dataclasses.replace(field, pattern="[xyz]")
    if kind in ("maximum", "minimum") and field.type in ("integer", "number"):
        step = draw(st.integers(1, 10))
        if kind == "maximum":
            bound = (field.maximum if field.maximum is not None else 20) - step
            if field.minimum is None or field.minimum <= bound:
                return dataclasses.replace(
                    field, maximum=bound if field.type == "integer" else float(bound)
                )
        else:
            bound = (field.minimum if field.minimum is not None else -20) + step
            if field.maximum is None or bound <= field.maximum:
                return dataclasses.replace(
                    field, minimum=bound if field.type == "integer" else float(bound)
                )
    return field


def _values(field: Field, required: bool) -> st.SearchStrategy[Any]:
    if field.enum is not None:
        values: st.SearchStrategy[Any] = st.sampled_from(field.enum)
    elif field.type == "integer":
        lo = -30 if field.minimum is None else field.minimum
        hi = 30 if field.maximum is None else field.maximum
        values = st.integers(lo, hi)
    elif field.type == "number":
        lo = -30.0 if field.minimum is None else field.minimum
        hi = 30.0 if field.maximum is None else field.maximum
        values = st.floats(lo, hi, allow_nan=False)
    elif field.type == "string":
        alphabet = "xyz" if field.pattern == "[xyz]" else "abcxyz"
        size = 1 if field.pattern == "[xyz]" else None
        low = max(field.min_length or 0, 1 if field.pattern else 0)
        high = field.max_length if field.max_length is not None else 5
        values = st.text(alphabet, min_size=size or low, max_size=size or max(low, high))
    elif field.type == "boolean":
        values = st.booleans()
    else:
        lo = field.minimum or DAY0 - datetime.timedelta(days=40)
        hi = field.maximum or DAY0 + datetime.timedelta(days=40)
        values = st.dates(lo, hi)
    return values if required else st.none() | values


@st.composite
def tables(draw: st.DrawFn, schema: Schema) -> pl.DataFrame:
    """A table with exactly the schema's columns, most of whose rows the schema accepts."""
    rows = draw(st.integers(schema.min_rows or 0, min(schema.max_rows or 6, 6)))
    columns: dict[str, pl.Series] = {}
    for field in schema.fields:
        required = field.required or field.name in schema.primary_key
        values = draw(st.lists(_values(field, required), min_size=rows, max_size=rows))
        columns[field.name] = pl.Series(field.name, values, dtype=DTYPES[field.type])
    return pl.DataFrame(columns)
