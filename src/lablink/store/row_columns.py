"""Rows to columns: the column answer of a search (``run_columns.py``) made straight
from the ``runs`` rows and their side tables, with no ``RunRecord`` between.

For a selection of plain fields, building a record per run only to take each apart
again into lists was a third of the server's work for a page of thousands of runs.
The values are those ``run_columns.to_columns`` makes from the records.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from lablink.store import schema

# The fields made here: a ``runs`` column as it is read, the derived duration, and
# tags, params and metrics from their side tables. Others go through records.
PLAIN = frozenset(
    {"id", "name", "user", "status", "created_at", "ended_at", "heartbeat_at"}
    | {"host", "python_version", "outcome", "status_reason", "stop_requested"}
)
SIDE = frozenset({"tags", "params", "metrics"})
COLUMN_FIELDS = PLAIN | SIDE | {"project", "duration"}

# A run row holds the ``runs`` columns in table order, then ``project_name``.
_ROW = (*(c.name for c in schema.runs.c), "project_name")


def metric_lists(rows: Iterable[Sequence[Any]]) -> dict[str, dict[str, list[Any]]]:
    """Metric summaries by run and key, each a list in ``run_columns.METRIC_VALUES``
    order, from rows of ``run_id`` then ``rows.METRIC_COLUMNS`` (as
    ``rows.metrics_by_run`` reads them)."""
    found: dict[str, dict[str, list[Any]]] = {}
    for run_id, key, count, last_step, last_value, min_value, max_value, summary_value in rows:
        by_key = found.get(run_id)
        if by_key is None:
            by_key = found[run_id] = {}
        by_key[key] = [
            int(count),
            last_step,
            None if last_value is None else float(last_value),
            None if min_value is None else float(min_value),
            None if max_value is None else float(max_value),
            None if summary_value is None else float(summary_value),
        ]
    return found


def to_columns(
    rows: Sequence[Sequence[Any]],
    fields: Sequence[str],
    tags: dict[str, list[str]],
    params: dict[str, dict[str, Any]],
    metrics: dict[str, dict[str, list[Any]]],
) -> dict[str, list[Any]]:
    """The values of ``fields`` (names in ``COLUMN_FIELDS``) for run ``rows``, one list
    each; the side tables by run id, a run missing from one has none (fresh empties,
    as each run owns its values)."""
    ids = [row[0] for row in rows]  # id is the first column
    columns: dict[str, list[Any]] = {}
    for name in fields:
        if name == "id":
            columns[name] = ids
        elif name in PLAIN:
            at = _ROW.index(name)
            columns[name] = [row[at] for row in rows]
        elif name == "project":
            at = _ROW.index("project_name")
            columns[name] = [row[at] for row in rows]
        elif name == "duration":
            columns[name] = _durations(rows)
        elif name == "tags":
            columns[name] = [tags.get(i) or [] for i in ids]
        elif name == "params":
            columns[name] = [params.get(i) or {} for i in ids]
        elif name == "metrics":
            columns[name] = [metrics.get(i) or {} for i in ids]
        else:
            raise ValueError(f"field {name!r} is not made from rows")
    return columns


_CREATED, _ENDED, _HEARTBEAT = (_ROW.index(n) for n in ("created_at", "ended_at", "heartbeat_at"))


def _durations(rows: Sequence[Sequence[Any]]) -> list[float | None]:
    """``RunRecord.duration`` of each row: to the end, or the last heartbeat."""
    found: list[float | None] = []
    for row in rows:
        end = row[_ENDED] or row[_HEARTBEAT]
        found.append(None if end is None else max(0.0, end - row[_CREATED]))
    return found
