"""What a validation found: per rule and column, how many rows, what share, which rows.

Each violation is one finding: a cell breaks one rule once (a text cell that does not
parse is a ``type`` violation only, not also an empty one). An example names its row
once, in the numbering a person looks up: the file and its 1-based text line for CSV
and JSON Lines (the header is line 1), the file and the 0-based row for Parquet, the
0-based row for an in-memory table.
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any

from lablink.checks.nonfinite import json_float

MAX_EXAMPLES = 5


@dataclasses.dataclass
class Failure:
    """One rule broken on one column (``column`` is None for table rules)."""

    rule: str
    column: str | None
    count: int
    message: str
    share: float | None = None
    examples: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON (example values as JSON-safe scalars)."""
        return {
            "rule": self.rule,
            "column": self.column,
            "count": self.count,
            "share": self.share,
            "message": self.message,
            "examples": [{k: jsonable(v) for k, v in ex.items()} for ex in self.examples],
        }


@dataclasses.dataclass
class ValidationReport:
    """The result of validating a table or a set of files against a schema."""

    rows: int
    failures: list[Failure]
    schema: str | None = None
    files: list[str] = dataclasses.field(default_factory=list)
    extra_columns: list[str] = dataclasses.field(default_factory=list)
    seconds: float = 0.0
    failed_rows: int = 0  # distinct rows that break at least one rule

    @property
    def ok(self) -> bool:
        """True when no rule is broken."""
        return not self.failures

    @property
    def violations(self) -> int:
        """Rows-times-rules broken, summed over failures."""
        return sum(f.count for f in self.failures)

    def tally(self) -> str:
        """``N violation(s) of K rule(s) in R rows``."""
        return (
            f"{self.violations:,} violation(s) of {len(self.failures)} rule(s) "
            f"in {self.failed_rows:,} rows"
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON, as the CLI's ``--json`` and the HTTP API return it."""
        return {
            "ok": self.ok,
            "schema": self.schema,
            "rows": self.rows,
            "failed_rows": self.failed_rows,
            "violations": self.violations,
            "files": self.files,
            "extra_columns": self.extra_columns,
            "seconds": round(self.seconds, 4),
            "failures": [f.to_dict() for f in self.failures],
        }

    def summary(self) -> str:
        """One line: ok, or how many violations of how many rules in how many rows."""
        target = f" against {self.schema}" if self.schema else ""
        if self.ok:
            return f"ok: {self.rows:,} rows valid{target}"
        return f"{self.tally()}; {self.rows:,} rows checked{target}"

    def to_markdown(self) -> str:
        """A Markdown report for a pull request or a dataset page."""
        lines = [f"# Validation report{f': {self.schema}' if self.schema else ''}", ""]
        status = "passed" if self.ok else "**failed**"
        found = "" if self.ok else f"{self.tally()}; "
        lines.append(f"{status}: {found}{self.rows:,} rows in {len(self.files) or 1} input(s).")
        if self.extra_columns:
            lines.append(f"Columns not in the schema (ignored): {', '.join(self.extra_columns)}.")
        if self.ok:
            return "\n".join(lines) + "\n"
        lines += ["", "| rule | column | rows | share | message |", "|---|---|---:|---:|---|"]
        for f in self.failures:
            share = "" if f.share is None else f"{f.share:.2%}"
            lines.append(
                f"| {f.rule} | {f.column or ''} | {f.count:,} | {share} | {_md(f.message)} |"
            )
        for f in self.failures:
            if not f.examples:
                continue
            lines += ["", f"## {f.rule} · {f.column or 'table'}", "", "| where | value |"]
            lines.append("|---|---|")
            for ex in f.examples:
                where = location(ex)
                if "repeats" in ex:
                    where += f" (repeats {location(ex['repeats'])})"
                lines.append(f"| {_md(where)} | {_md(repr(jsonable(ex.get('value'))))} |")
        return "\n".join(lines) + "\n"


def location(where: dict[str, Any]) -> str:
    """An example's place as a person reads it: ``a.csv:7``, ``b.parquet row 3``, ``row 3``."""
    file = where.get("file")
    if where.get("line") is not None:
        return f"{file}:{where['line']}" if file else f"line {where['line']}"
    row = f"row {where.get('row')}"
    return f"{file} {row}" if file else row


def jsonable(value: Any) -> Any:
    """A JSON-safe form of a cell value (dates as ISO text, NaN as None)."""
    if isinstance(value, float):
        return json_float(value, "nan_null")
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _md(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")
