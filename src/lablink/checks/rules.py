"""Compile a schema's fields into polars expressions: one boolean mask per rule.

A mask is true on the rows that break the rule, so a whole batch is checked by one
``select`` of ``mask.sum()`` per rule, which polars runs in parallel without copying
the columns. Columns of text that a field declares as another type (CSV cells, JSON
strings) are parsed first; a cell that does not parse breaks the ``type`` rule. Float
NaN counts as an empty cell, as it does in pandas.
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any

import polars as pl

from lablink.checks.schema_model import Field

TRUE_VALUES = ("true", "True", "TRUE", "1", "yes", "Yes", "YES")
FALSE_VALUES = ("false", "False", "FALSE", "0", "no", "No", "NO")


@dataclasses.dataclass(frozen=True)
class Rule:
    """One check on one column: ``mask`` is true where a row breaks it."""

    rule: str
    column: str
    mask: pl.Expr
    message: str
    value: pl.Expr  # what an example shows: the cell as it was read
    count: pl.Expr | None = None  # a cheaper way to count the mask's true rows, if any


@dataclasses.dataclass(frozen=True)
class Prepared:
    """How to read a column as its field's type: an expression, or why it cannot be."""

    value: pl.Expr | None  # None: the column's type cannot hold the field's values
    parse_failed: pl.Expr | None  # rows whose text did not parse
    problem: str | None = None


def family(dtype: pl.DataType) -> str:
    """A polars dtype's Table Schema type family."""
    if dtype.is_integer():
        return "integer"
    if dtype.is_float() or isinstance(dtype, pl.Decimal):
        return "number"
    if isinstance(dtype, pl.String | pl.Categorical | pl.Enum):
        return "string"
    simple = {pl.Boolean: "boolean", pl.Date: "date", pl.Time: "time"}
    for cls, name in simple.items():
        if isinstance(dtype, cls):
            return name
    if isinstance(dtype, pl.Datetime):
        return "datetime"
    if isinstance(dtype, pl.Duration):
        return "duration"
    if isinstance(dtype, pl.Struct):
        return "object"
    if isinstance(dtype, pl.List | pl.Array):
        return "array"
    return "any"


# Which column families a field type accepts as they are.
_ACCEPTS: dict[str, frozenset[str]] = {
    "integer": frozenset({"integer"}),
    "year": frozenset({"integer"}),
    "number": frozenset({"number", "integer"}),
    "string": frozenset({"string"}),
    "boolean": frozenset({"boolean"}),
    "date": frozenset({"date"}),
    "datetime": frozenset({"datetime", "date"}),
    "time": frozenset({"time"}),
    "duration": frozenset({"duration"}),
    "object": frozenset({"object", "string"}),
    "array": frozenset({"array", "string"}),
}


def prepare(field: Field, dtype: pl.DataType) -> Prepared:
    """An expression giving ``field``'s values from a column of ``dtype``."""
    col = pl.col(field.name)
    have = family(dtype)
    if field.type == "any" or have in _ACCEPTS[field.type]:
        if field.type == "datetime" and have == "date":
            return Prepared(col.cast(pl.Datetime("us")), None)
        return Prepared(col, None)
    if have == "string":
        parsed = _parse_text(field, col.str.strip_chars())
        if parsed is not None:
            return Prepared(parsed, col.is_not_null() & parsed.is_null())
    if field.type in ("integer", "year") and have == "number":
        # pandas turns an int column with gaps into floats: accept whole numbers.
        whole = col.is_null() | col.is_nan() | (col == col.round(0))
        return Prepared(col.cast(pl.Int64, strict=False), ~whole)
    if field.type == "date" and have == "datetime":
        # pandas has no date dtype: dates arrive as datetimes at midnight.
        midnight = col.is_null() | (col.dt.truncate("1d") == col)
        return Prepared(col.dt.date(), ~midnight)
    return Prepared(None, None, f"column has type {dtype}, the schema says {field.type}")


def _parse_text(field: Field, text: pl.Expr) -> pl.Expr | None:
    return parse_text(field.type, field.format, text)


def parse_text(ftype: str, fmt: str | None, text: pl.Expr) -> pl.Expr | None:
    """Text cells (already stripped) read as ``ftype``: null where a cell does not parse.

    The one parser of text cells: validation checks with it and inference decides types
    with it, so a schema inferred from a file always accepts that file. None when the
    type is not read from text (``string``, ``object``...).
    """
    fmt = fmt if fmt and "%" in fmt else None
    if ftype in ("integer", "year"):
        return text.cast(pl.Int64, strict=False)
    if ftype == "number":
        return text.cast(pl.Float64, strict=False)
    if ftype == "boolean":
        mapping = {**dict.fromkeys(TRUE_VALUES, True), **dict.fromkeys(FALSE_VALUES, False)}
        return text.replace_strict(mapping, default=None, return_dtype=pl.Boolean)
    if ftype == "date":
        return text.str.to_date(fmt or "%Y-%m-%d", strict=False)
    if ftype == "datetime":
        formats = (fmt,) if fmt else DATETIME_FORMATS
        return text.map_batches(
            lambda s: _datetimes(s, formats), return_dtype=pl.Datetime("us"), is_elementwise=True
        )
    if ftype == "time":
        return text.str.to_time(fmt or "%H:%M:%S", strict=False)
    return None


# ISO 8601 forms a text datetime may take; each cell matches at most one. An offset
# (``Z``, ``+02:00``, ``+0200``) is converted to UTC; a datetime without one is read as UTC.
DATETIME_FORMATS = (
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f%#z",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f%#z",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
)


def _datetimes(text: pl.Series, formats: tuple[str, ...]) -> pl.Series:
    """Parse with the format of the first cell, then only the cells left with the others:
    a column in one form (the usual case) is parsed once."""
    first = text.drop_nulls().head(1)
    order = sorted(formats, key=lambda f: _one(first, f).null_count() if len(first) else 0)
    out = _one(text, order[0])
    left = out.is_null() & text.is_not_null()
    if len(order) > 1 and left.any():
        where = left.arg_true()
        rest = text.gather(where)
        parsed = pl.select(pl.coalesce(_one(rest, f) for f in order[1:])).to_series()
        out = out.scatter(where, parsed)
    return out


def _one(text: pl.Series, fmt: str) -> pl.Series:
    parsed = text.str.to_datetime(fmt, strict=False, time_unit="us")
    if isinstance(parsed.dtype, pl.Datetime) and parsed.dtype.time_zone is not None:
        parsed = parsed.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
    return parsed


def compile_rules(
    field: Field,
    value_column: str,
    dtype: pl.DataType,
    required: bool,
    source: str | None = None,
) -> list[Rule]:
    """The row rules of one field, whose prepared values are in ``value_column`` of ``dtype``.

    ``source`` names the column the values were parsed from, if any: its empty cells
    are the field's empty cells (one that did not parse is a ``type`` violation).
    """
    name = field.name
    shown = pl.col(name)
    value = pl.col(value_column)
    is_float = dtype.is_float()
    present = value if source is None else pl.col(source)
    empty = present.is_null() | value.is_nan() if is_float else present.is_null()
    # Comparisons give null on an empty cell, and null never counts; only NaN, which
    # polars orders above every number, needs excluding by hand.
    not_nan = value.is_not_nan()
    rules: list[Rule] = []

    def lit(bound: Any) -> pl.Expr:
        return _literal(bound, dtype)

    def add(rule: str, mask: pl.Expr, message: str, count: pl.Expr | None = None) -> None:
        rules.append(Rule(rule, name, mask, message, shown, count))

    if required:
        # null_count() reads the column's metadata; only NaN needs a pass over the values.
        nulls = present.null_count()
        add(
            "required",
            empty,
            "empty cells in a required column",
            nulls + value.is_nan().sum() if is_float else nulls,
        )
    if field.minimum is not None:
        add("minimum", value < lit(field.minimum), f"values below the minimum {field.minimum}")
    if field.exclusive_minimum is not None:
        bound = field.exclusive_minimum
        add("exclusiveMinimum", value <= lit(bound), f"values at or below {bound}")
    if field.maximum is not None:
        over = value > lit(field.maximum)
        add(
            "maximum",
            over & not_nan if is_float else over,
            f"values above the maximum {field.maximum}",
        )
    if field.exclusive_maximum is not None:
        over = value >= lit(field.exclusive_maximum)
        add(
            "exclusiveMaximum",
            over & not_nan if is_float else over,
            f"values at or above {field.exclusive_maximum}",
        )
    if field.enum is not None:
        allowed = list(field.enum)
        shown_enum = ", ".join(map(str, allowed[:8])) + (", ..." if len(allowed) > 8 else "")
        add(
            "enum",
            ~value.is_in(allowed) & not_nan if is_float else ~value.is_in(allowed),
            f"values outside the allowed set ({shown_enum})",
        )
    text = value if isinstance(dtype, pl.String) else value.cast(pl.String)
    if field.pattern is not None:
        anchored = f"^(?:{field.pattern})$"
        add(
            "pattern",
            ~text.str.contains(anchored),
            f"values not matching {field.pattern!r}",
        )
    if field.min_length is not None:
        add(
            "minLength",
            text.str.len_chars() < field.min_length,
            f"values shorter than {field.min_length}",
        )
    if field.max_length is not None:
        add(
            "maxLength",
            text.str.len_chars() > field.max_length,
            f"values longer than {field.max_length}",
        )
    return rules


def hash_key(columns: list[str], dtypes: dict[str, pl.DataType], seed: int = 7) -> pl.Expr:
    """A 64-bit hash of one or more columns, equal for equal values across batches and files."""
    parts = [_stable(pl.col(c), dtypes[c]) for c in columns]
    if len(parts) == 1:
        return parts[0].hash(seed)
    return pl.struct(parts).hash(seed)


def _stable(col: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """One dtype per family, so that int32 in one file and int64 in the next hash alike."""
    have = family(dtype)
    if have == "integer":
        return col.cast(pl.Int64)
    if have == "number":
        return col.cast(pl.Float64)
    if have == "string":
        return col.cast(pl.String)
    return col


def _literal(value: Any, dtype: pl.DataType) -> pl.Expr:
    """A bound as a literal comparable with the column (naive datetimes read as UTC)."""
    if isinstance(value, datetime.datetime) and isinstance(dtype, pl.Datetime):
        if dtype.time_zone and value.tzinfo is None:
            value = value.replace(tzinfo=datetime.UTC)
        elif not dtype.time_zone and value.tzinfo is not None:
            value = value.astimezone(datetime.UTC).replace(tzinfo=None)
    return pl.lit(value)
