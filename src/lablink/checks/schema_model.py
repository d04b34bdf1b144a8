"""The in-memory table schema: fields with a type and constraints, plus table rules.

The vocabulary is Frictionless Table Schema's (https://specs.frictionlessdata.io/table-schema/):
field ``type``, ``format``, ``title``, ``description`` and ``constraints`` (``required``,
``unique``, ``minimum``, ``maximum``, ``exclusiveMinimum``, ``exclusiveMaximum``,
``minLength``, ``maxLength``, ``pattern``, ``enum``), and the table's ``primaryKey`` and
``missingValues``. lablink adds three keys of its own, each marked as such in
``docs/schemas.md``: a field's ``unit`` and ``default``, and the table rules ``rows``
(``{min, max}``) and ``uniqueRows`` (no duplicate rows). Parsing and emitting live in
``schema_format.py``; this module only holds the records.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
from typing import Any

# Frictionless field types lablink can check; geo types and ``yearmonth`` are left out.
TYPES: tuple[str, ...] = (
    "string",
    "number",
    "integer",
    "boolean",
    "date",
    "datetime",
    "time",
    "duration",
    "year",
    "object",
    "array",
    "any",
)
# Constraint keys as spelled in the file, mapped to Field attributes.
CONSTRAINTS: dict[str, str] = {
    "required": "required",
    "unique": "unique",
    "minimum": "minimum",
    "maximum": "maximum",
    "exclusiveMinimum": "exclusive_minimum",
    "exclusiveMaximum": "exclusive_maximum",
    "minLength": "min_length",
    "maxLength": "max_length",
    "pattern": "pattern",
    "enum": "enum",
}
FIELD_KEYS: tuple[str, ...] = (
    "name",
    "type",
    "format",
    "title",
    "description",
    "unit",
    "default",
    "constraints",
)
TABLE_KEYS: tuple[str, ...] = (
    "name",
    "title",
    "description",
    "fields",
    "primaryKey",
    "missingValues",
    "rows",
    "uniqueRows",
    "$schema",
)
ORDERED_TYPES = frozenset({"number", "integer", "date", "datetime", "time", "duration", "year"})


@dataclasses.dataclass(frozen=True)
class Field:
    """One column: its type, constraints and documentation."""

    name: str
    type: str = "any"
    format: str | None = None
    title: str | None = None
    description: str | None = None
    unit: str | None = None
    default: Any = None
    has_default: bool = False
    required: bool = False
    unique: bool = False
    minimum: Any = None
    maximum: Any = None
    exclusive_minimum: Any = None
    exclusive_maximum: Any = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    enum: tuple[Any, ...] | None = None

    @property
    def nullable(self) -> bool:
        """Whether an empty cell is allowed."""
        return not self.required

    def constraints(self) -> dict[str, Any]:
        """The constraints that are set, keyed as in the file."""
        out: dict[str, Any] = {}
        for key, attr in CONSTRAINTS.items():
            value = getattr(self, attr)
            if value is None or value is False:
                continue
            out[key] = list(value) if isinstance(value, tuple) else value
        return out

    def to_dict(self) -> dict[str, Any]:
        """The field as Frictionless JSON (defaults left out)."""
        out: dict[str, Any] = {"name": self.name, "type": self.type}
        for key in ("format", "title", "description", "unit"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.has_default:
            out["default"] = self.default
        constraints = self.constraints()
        if constraints:
            out["constraints"] = constraints
        return out


@dataclasses.dataclass(frozen=True)
class Schema:
    """A table schema: ordered fields and table-level rules."""

    fields: tuple[Field, ...]
    name: str | None = None
    title: str | None = None
    description: str | None = None
    primary_key: tuple[str, ...] = ()
    missing_values: tuple[str, ...] = ("",)
    min_rows: int | None = None
    max_rows: int | None = None
    unique_rows: bool = False

    def field(self, name: str) -> Field | None:
        """The field called ``name``, or None."""
        for field in self.fields:
            if field.name == name:
                return field
        return None

    @property
    def names(self) -> tuple[str, ...]:
        """Field names in order."""
        return tuple(f.name for f in self.fields)

    def to_dict(self) -> dict[str, Any]:
        """The schema as Frictionless JSON plus lablink's keys (defaults left out)."""
        out: dict[str, Any] = {}
        for key in ("name", "title", "description"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        out["fields"] = [f.to_dict() for f in self.fields]
        if self.primary_key:
            out["primaryKey"] = list(self.primary_key)
        if self.missing_values != ("",):
            out["missingValues"] = list(self.missing_values)
        rows = {k: v for k, v in (("min", self.min_rows), ("max", self.max_rows)) if v is not None}
        if rows:
            out["rows"] = rows
        if self.unique_rows:
            out["uniqueRows"] = True
        return out

    def fingerprint(self) -> str:
        """A digest of the canonical JSON: equal schemas have equal fingerprints."""
        canonical = json.dumps(
            self.to_dict(), sort_keys=True, default=json_default, separators=(",", ":")
        )
        return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def json_default(value: Any) -> Any:
    """JSON for dates, times and durations in constraints: ISO 8601 text."""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    return str(value)


def lower_bound(field: Field) -> tuple[Any, bool] | None:
    """The tightest lower bound as ``(value, exclusive)``, or None when unbounded."""
    return _tighter(field.minimum, field.exclusive_minimum, lambda a, b: a > b)


def upper_bound(field: Field) -> tuple[Any, bool] | None:
    """The tightest upper bound as ``(value, exclusive)``, or None when unbounded."""
    return _tighter(field.maximum, field.exclusive_maximum, lambda a, b: a < b)


def _tighter(inclusive: Any, exclusive: Any, stricter: Any) -> tuple[Any, bool] | None:
    if inclusive is None and exclusive is None:
        return None
    if exclusive is None:
        return inclusive, False
    if inclusive is None:
        return exclusive, True
    # An exclusive bound at the same value is the tighter one.
    return (exclusive, True) if not stricter(inclusive, exclusive) else (inclusive, False)
