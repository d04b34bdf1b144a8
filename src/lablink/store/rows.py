"""Rows to records: how ``runs`` and its side tables become ``models.RunRecord``."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Collection
from typing import Any

from lablink.models import GitInfo, MetricSummary, Note, RunRecord, blank_value


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
    return MetricSummary(
        row.key,
        int(row.count),
        row.last_step,
        _float(row.last_value),
        _float(row.min_value),
        _float(row.max_value),
        _float(row.summary_value),
    )


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


# JSON columns of ``runs`` a list skips unless their field is asked for (``fields=``).
LIST_SKIPPABLE = frozenset({"packages", "config", "command", "gpus", "summary"})


def to_run(
    row: Any,
    tags: list[str],
    params: dict[str, Any],
    metrics: dict[str, MetricSummary],
    notes: list[Note],
    inputs: list[dict[str, Any]],
    blank: Collection[str] = (),
) -> RunRecord:
    """A RunRecord from its row and child rows; the fields in ``blank`` left empty."""
    summary = dict(row.summary or {})
    for key, m in metrics.items():  # numeric summaries keep NaN/inf, which JSON columns cannot
        if m.summary_value is not None:
            summary[key] = m.summary_value
    values: dict[str, Any] = dict(
        id=row.id,
        project=row.project_name,
        name=row.name,
        user=row.user,
        status=row.status,
        created_at=row.created_at,
        ended_at=row.ended_at,
        heartbeat_at=row.heartbeat_at,
        git=GitInfo(
            row.git_commit, row.git_branch, row.git_remote, bool(row.git_dirty), row.git_diff_digest
        ),
        command=list(row.command or []),
        host=row.host,
        python_version=row.python_version,
        packages=dict(row.packages or {}),
        gpus=list(row.gpus or []),
        config=dict(row.config or {}),
        params=params,
        tags=tags,
        summary=summary,
        metrics=metrics,
        notes=notes,
        outcome=row.outcome,
        status_reason=row.status_reason,
        inputs=inputs,
        stop_requested=row.stop_requested,
    )
    for name in blank:
        values[name] = blank_value(name)
    return RunRecord(**values)
