"""Rows to records: how ``runs`` and its side tables become ``models.RunRecord``."""

from __future__ import annotations

import json
import math
import operator
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from lablink.models import GitInfo, MetricSummary, Note, RunRecord, blank_value, built
from lablink.store import schema
from lablink.store.jsoncol import json_dumps, json_loads


def _nan_to_none(value: float) -> float | None:
    """SQL NULL stands for NaN in float columns where a comparison must skip it."""
    return None if math.isnan(value) else value


def as_number(value: Any) -> float | None:
    """Booleans, ints and floats as a float; anything else None."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    return None


def param_columns(value: Any) -> dict[str, Any]:
    """Numbers in value_num (for comparisons); every value as JSON text in value_text."""
    number = as_number(value)
    return {
        "value_num": None if number is None else _nan_to_none(number),
        "value_text": json.dumps(value, separators=(",", ":")),
    }


def param_reader() -> Callable[[str | None], Any]:
    """A decoder of ``value_text`` for one list of runs.

    Runs of a sweep share most values, so scalars are decoded once per list; lists and
    objects are decoded each time, as each run must own its copy.
    """
    seen: dict[str, Any] = {}

    def read(text: str | None) -> Any:
        if text is None:
            return None
        if text in seen:
            return seen[text]
        value = json.loads(text)
        if not isinstance(value, list | dict):
            seen[text] = value
        return value

    return read


def metric_summary(row: Any) -> MetricSummary:
    """A summary from a ``run_metrics`` row (the columns by name)."""
    return metric_from_values(
        row.key,
        row.count,
        row.last_step,
        row.last_value,
        row.min_value,
        row.max_value,
        row.summary_value,
    )


def metric_from_values(
    key: str,
    count: Any,
    last_step: Any,
    last_value: Any,
    min_value: Any,
    max_value: Any,
    summary_value: Any,
) -> MetricSummary:
    """A summary from the values of ``METRIC_COLUMNS``, in that order."""
    return built(
        MetricSummary,
        {
            "key": key,
            "count": int(count),
            "last_step": last_step,
            "last_value": None if last_value is None else float(last_value),
            "min_value": None if min_value is None else float(min_value),
            "max_value": None if max_value is None else float(max_value),
            "summary_value": None if summary_value is None else float(summary_value),
        },
    )


def metrics_by_run(rows: Iterable[Sequence[Any]]) -> dict[str, dict[str, MetricSummary]]:
    """Summaries by run and key from rows of ``run_id`` then ``METRIC_COLUMNS``.

    ``metric_from_values`` written out in the loop: a call per metric was a tenth of
    a 5,000-run list.
    """
    found: dict[str, dict[str, MetricSummary]] = {}
    for run_id, key, count, last_step, last_value, min_value, max_value, summary_value in rows:
        by_key = found.get(run_id)
        if by_key is None:
            by_key = found[run_id] = {}
        by_key[key] = built(
            MetricSummary,
            {
                "key": key,
                "count": int(count),
                "last_step": last_step,
                "last_value": None if last_value is None else float(last_value),
                "min_value": None if min_value is None else float(min_value),
                "max_value": None if max_value is None else float(max_value),
                "summary_value": None if summary_value is None else float(summary_value),
            },
        )
    return found


# The run_metrics columns ``metric_from_values`` takes, in its order.
METRIC_COLUMNS = (
    "key",
    "count",
    "last_step",
    "last_value",
    "min_value",
    "max_value",
    "summary_value",
)


# JSON columns of ``runs`` a list skips unless their field is asked for (``fields=``).
LIST_SKIPPABLE = frozenset({"packages", "config", "command", "gpus", "summary"})
# The ``runs`` columns every list reads; the others are read only for their field.
ALWAYS_COLUMNS = frozenset({"id", "name", "status", "created_at"})
# The field a ``runs`` column fills, where it is not the column's own name ("" for none:
# a list that names its fields reads those columns as NULL).
COLUMN_FIELD = {
    **{f"git_{part}": "git" for part in ("commit", "branch", "remote", "dirty", "diff_digest")},
    "project_id": "",
    "updated_at": "",
}


class Blanks:
    """The fields a list leaves empty, split once into values records may share (None,
    text, a blank ``GitInfo``, an empty tuple) and fresh empties (a call per field and
    run was a sixth of a 10,000-run list)."""

    def __init__(self, names: Collection[str]) -> None:
        values = {name: blank_value(name) for name in names}
        self.plain = {
            k: _NO_GIT if isinstance(v, GitInfo) else v
            for k, v in values.items()
            if v is None or isinstance(v, str | tuple | GitInfo)
        }
        self.fresh = tuple((k, type(v)) for k, v in values.items() if k not in self.plain)
        # fields left blank are not worked out at all
        self.summary = "summary" not in values
        self.git = "git" not in values
        # JSON columns read, which are NULL in rows a list named no fields for
        self.json = tuple((k, make) for k, make in _JSON_EMPTY if k not in values)

    def left(self, name: str) -> bool:
        """Whether field ``name`` is left blank."""
        return name in self.plain or any(name == k for k, _ in self.fresh)

    def fill(self, values: dict[str, Any]) -> None:
        """Overwrite the blank fields in ``values``."""
        values.update(self.plain)
        for name, make in self.fresh:
            values[name] = make()


_NO_GIT = GitInfo()  # frozen: one blank serves every record
_JSON_EMPTY: tuple[tuple[str, type], ...] = (
    ("command", list),
    ("packages", dict),
    ("gpus", list),
    ("config", dict),
)
_ALL = Blanks(())


# What ``to_run`` reads of a run row, picked by position in one call: reading a result
# row by name costs more than building the record.
_RUN_ROW = (*(c.name for c in schema.runs.c), "project_name")
_PICKED = (
    *("id", "project_name", "name", "user", "status", "created_at", "ended_at"),
    *("heartbeat_at", "git_commit", "git_branch", "git_remote", "git_dirty"),
    *("git_diff_digest", "command", "host", "python_version", "packages", "gpus"),
    *("config", "summary", "outcome", "status_reason", "stop_requested"),
)
_pick = operator.itemgetter(*(_RUN_ROW.index(name) for name in _PICKED))


def to_run(
    row: Any,
    tags: Sequence[str],
    params: dict[str, Any],
    metrics: dict[str, MetricSummary],
    notes: Sequence[Note],
    inputs: Sequence[dict[str, Any]],
    blank: Blanks | None = None,
) -> RunRecord:
    """A RunRecord from its row and child rows; the fields in ``blank`` left empty.

    ``row`` holds the ``runs`` columns in table order, then ``project_name``.
    """
    picked = _pick(row)
    (run_id, project, name, user, status, created_at, ended_at, heartbeat_at) = picked[:8]
    (git_commit, git_branch, git_remote, git_dirty, git_diff_digest) = picked[8:13]
    (command, host, python_version, packages, gpus, config, stored_summary) = picked[13:20]
    (outcome, status_reason, stop_requested) = picked[20:]
    blank = _ALL if blank is None else blank
    summary = None
    if blank.summary:
        summary = dict(stored_summary or {})
        for key, m in metrics.items():  # numeric summaries keep NaN/inf, which JSON cannot
            if m.summary_value is not None:
                summary[key] = m.summary_value
    git = None
    if blank.git:
        git = built(
            GitInfo,
            {
                "commit": git_commit,
                "branch": git_branch,
                "remote": git_remote,
                "dirty": bool(git_dirty),
                "diff_digest": git_diff_digest,
            },
        )
    # a dict display in field order: cheaper than dict(...) with keywords
    values: dict[str, Any] = {
        "id": run_id,
        "project": project,
        "name": name,
        "user": user,
        "status": status,
        "created_at": created_at,
        "ended_at": ended_at,
        "heartbeat_at": heartbeat_at,
        "git": git,
        # JSON columns decode to fresh objects for each row: no copy needed
        "command": command,
        "host": host,
        "python_version": python_version,
        "packages": packages,
        "gpus": gpus,
        "config": config,
        "params": params,
        "tags": tags,
        "summary": summary,
        "metrics": metrics,
        "notes": notes,
        "outcome": outcome,
        "status_reason": status_reason,
        "inputs": inputs,
        "stop_requested": stop_requested,
    }
    blank.fill(values)
    for key, make in blank.json:
        if not values[key]:
            values[key] = make()
    return built(RunRecord, values)


def inserted_run(
    values: Mapping[str, Any], project: str, params: Mapping[str, Any], tags: Sequence[str]
) -> RunRecord:
    """The record a read gives of a run just inserted (``Store.create_run``) with
    ``values``, ``params`` and ``tags``, without the read: other columns at their
    defaults, JSON columns and params as they read back, tags in read order."""
    row = (*(_as_read(column, values) for column in schema.runs.c), project)
    read = param_reader()
    stored = {k: read(param_columns(v)["value_text"]) for k, v in params.items()}
    return to_run(row, sorted(dict.fromkeys(tags)), stored, {}, [], [])


def _as_read(column: Any, values: Mapping[str, Any]) -> Any:
    if column.name not in values:
        return RUN_DEFAULTS.get(column.name)
    value = values[column.name]
    if value is not None and column.name in _JSON_COLUMNS:
        return json_loads(json_dumps(value))  # a fresh copy, as the column reads
    return value


_JSON_COLUMNS = frozenset(c.name for c in schema.runs.c if isinstance(c.type, sa.JSON))
# The ``runs`` columns' constant defaults: what an insert leaving them out stores. (A
# callable default would be left out here, and an insert given every default would fail.)
RUN_DEFAULTS = {
    c.name: c.default.arg
    for c in schema.runs.c
    if isinstance(c.default, sa.ColumnDefault) and c.default.is_scalar
}
