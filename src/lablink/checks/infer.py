"""Infer a schema from data: types, nullability, ranges and categories, for a person to edit.

Inference reads a profile (``profile.py``), so it streams like everything else:
``lablink schema infer big.parquet`` never holds the file. Ranges are the observed
minimum and maximum, text columns with few distinct values get an ``enum``, and a
text column whose values never repeat is marked ``unique``. Nothing is inferred that
the data could not show: units, descriptions and keys are left to the author.
"""

from __future__ import annotations

import datetime
from typing import Any

from lablink.checks.schema_model import Field, Schema

MAX_ENUM = 20  # a text column with at most this many values (each repeated) gets an enum
_TYPES = {
    "Boolean": "boolean",
    "Date": "date",
    "Time": "time",
}


def infer_schema(profile: dict[str, Any], name: str | None = None) -> Schema:
    """A schema that the profiled data passes."""
    fields = [_field(col, body) for col, body in profile["columns"].items()]
    return Schema(fields=tuple(fields), name=name)


def _field(name: str, body: dict[str, Any]) -> Field:
    ftype = _type(body)
    count = body.get("count", 0)
    extra: dict[str, Any] = {"required": count > 0 and body.get("nulls", 0) == 0}
    if body.get("kind") == "numeric" and "min" in body and ftype != "time":
        extra["minimum"] = _value(ftype, body["min"])
        extra["maximum"] = _value(ftype, body["max"])
    if body.get("kind") == "categorical" and ftype == "string":
        distinct = body.get("distinct")
        if distinct is not None and 0 < distinct <= MAX_ENUM and distinct < count:
            extra["enum"] = tuple(sorted(body["counts"], key=str))
        if distinct is not None and distinct == count and count > 1:
            extra["unique"] = True
    return Field(name=name, type=ftype, **extra)


def _type(body: dict[str, Any]) -> str:
    dtype = str(body.get("dtype", ""))
    temporal = body.get("temporal")
    if temporal:
        return str(temporal)
    for prefix, ftype in _TYPES.items():
        if dtype.startswith(prefix):
            return ftype
    if body.get("kind") == "categorical":
        return "string"
    if body.get("kind") == "numeric":
        return "integer" if dtype.startswith(("Int", "UInt")) else "number"
    if dtype.startswith("Struct"):
        return "object"
    if dtype.startswith(("List", "Array")):
        return "array"
    return "any"


def _value(ftype: str, value: float) -> Any:
    """A profile's number back in the field's type (temporal values are microseconds)."""
    epoch = datetime.datetime(1970, 1, 1)
    if ftype == "datetime":
        return epoch + datetime.timedelta(microseconds=value)
    if ftype == "date":
        return (epoch + datetime.timedelta(microseconds=value)).date()
    if ftype == "duration":
        return datetime.timedelta(microseconds=value)
    if ftype == "integer":
        return int(value)
    return float(value)
