"""The run page's summary table: per metric the last, best and summary values.

Three values, three meanings, labelled the same on the run page and in the runs table:

- **last**: the value at the highest step logged;
- **best**: the best value logged, the minimum or the maximum by the metric's
  direction (``checks/metric_goal.py``);
- **summary**: what the script set with ``run.summary[key] = ...``, which is also what
  ``metrics.<key>`` means in filters and sorting when it is set.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from lablink.checks.metric_goal import best_of, goal
from lablink.models import RunRecord
from lablink.ui.charts import group_keys


@dataclasses.dataclass(frozen=True)
class MetricRow:
    """One metric of a run, as the summary table shows it."""

    key: str
    count: int
    last: float | None
    last_step: int | None
    best: float | None
    goal: str
    summary: float | None


def metric_rows(run: RunRecord) -> list[MetricRow]:
    """The run's metrics in chart order (train/, val/, ..., sys/ last)."""
    rows = []
    for _, keys in group_keys(list(run.metrics)):
        for key in keys:
            m = run.metrics[key]
            if not _numeric(run, key):
                continue
            rows.append(
                MetricRow(
                    key=key,
                    count=m.count,
                    last=m.last_value if m.count else None,
                    last_step=m.last_step if m.count else None,
                    best=best_of(key, m.min_value, m.max_value) if m.count else None,
                    goal=goal(key),
                    summary=m.summary_value,
                )
            )
    return rows


def other_summary(run: RunRecord) -> dict[str, Any]:
    """Summary values the metric rows do not show: strings, lists, dicts."""
    return {k: v for k, v in run.summary.items() if not _numeric(run, k)}


def _numeric(run: RunRecord, key: str) -> bool:
    # The store keeps a metrics row for every summary key, a string one included, with
    # no points and no number: such a key belongs with the other summary values.
    m = run.metrics.get(key)
    return m is not None and (m.count > 0 or m.summary_value is not None)


def chart_keys(run: RunRecord) -> Sequence[str]:
    """Metric keys with logged points; a summary-only key has nothing to plot."""
    return [k for k, m in run.metrics.items() if m.count]
