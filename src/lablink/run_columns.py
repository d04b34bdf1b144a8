"""A page of runs as columns: the compact answer of ``GET /runs?form=columns``.

A row per run repeats every key of every run and of every metric summary: for a page
of thousands of runs, writing and reading those keys was most of the answer's cost
on both sides. Here each field is one list, one value per run, and a metric summary
is a list of its values in ``METRIC_VALUES`` order. The SDK asks for it; a client
that does not still gets rows (``RunRecord.to_dict``). No I/O.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

from lablink.models import (
    RUN_KEYS,
    GitInfo,
    MetricSummary,
    Note,
    RunRecord,
    blank_value,
    built,
    run_field_getter,
)

# A metric summary's values in a column answer, after its key.
METRIC_VALUES = ("count", "last_step", "last_value", "min_value", "max_value", "summary_value")
_FIELDS = frozenset(RUN_KEYS) - {"duration"}
_ORDER = tuple(k for k in RUN_KEYS if k != "duration")


def to_columns(runs: Sequence[RunRecord], fields: Sequence[str]) -> dict[str, list[Any]]:
    """The values of ``fields`` (keys of ``RunRecord.to_dict``) as one list each."""
    columns: dict[str, list[Any]] = {}
    for name in fields:
        if name == "metrics":
            columns[name] = [
                {
                    k: [
                        m.count,
                        m.last_step,
                        m.last_value,
                        m.min_value,
                        m.max_value,
                        m.summary_value,
                    ]
                    for k, m in run.metrics.items()
                }
                for run in runs
            ]
        else:
            get = run_field_getter(name)
            columns[name] = [get(run) for run in runs]
    return columns


_chain = itertools.chain.from_iterable

# Columns that hold no float, or whose floats ``all_finite`` checks.
_NO_FLOATS = frozenset(
    {"id", "project", "name", "user", "status", "status_reason", "outcome", "stop_requested"}
    | {"host", "python_version", "tags", "gpus", "command", "packages", "git"}
)
_TIMES = frozenset({"created_at", "ended_at", "heartbeat_at", "duration"})


def all_finite(columns: Mapping[str, list[Any]]) -> bool:
    """True only when no value in ``columns`` is a NaN or infinite float (which strict
    JSON encoders write as null): numbers are summed per column, as any NaN or infinity
    makes the sum one. False also when unsure: a column this does not check, a param
    that is a list or an object, a sum that overflows."""
    total = 0.0
    for name, column in columns.items():
        if name in _NO_FLOATS:
            continue
        # filter(None, ...) drops None (and zeros, which change no sum): iterating in C
        # rather than a generator was most of this check's cost
        if name in _TIMES:
            total += sum(filter(None, column))
        elif name == "metrics":
            total += sum(filter(None, _chain(_chain(map(dict.values, column)))))
        elif name == "params":
            for params in column:
                for v in params.values():
                    if isinstance(v, float):
                        total += v
                    elif isinstance(v, list | dict):
                        return False
        else:
            return False
    return math.isfinite(total)


def from_columns(columns: Mapping[str, Any]) -> list[RunRecord]:
    """The records a column answer holds; fields it leaves out are blank, as in
    ``RunRecord.from_dict``.

    Raises:
        ValueError: a column that is not a list, lists of unequal length, or no ``id``.
    """
    names = [name for name in _ORDER if name in columns]
    if "id" not in columns:
        raise ValueError("a column answer has no id column")
    lists = [columns[name] for name in names]
    if any(not isinstance(col, list) for col in lists):
        raise ValueError("a column of a column answer is not a list")
    count = len(columns["id"])
    if any(len(col) != count for col in lists):
        raise ValueError("the columns of a column answer differ in length")
    lists = [_decoded(name, col) for name, col in zip(names, lists, strict=True)]
    # the fields left out: values records may share, and fresh empties for each
    template: dict[str, Any] = {}
    fresh: list[tuple[str, type]] = []
    for name in _ORDER:
        if name in columns:
            template[name] = None
            continue
        blank = blank_value(name)
        if isinstance(blank, list | dict):
            fresh.append((name, type(blank)))
        template[name] = _NO_GIT if isinstance(blank, GitInfo) else blank
    records = []
    for row in zip(*lists, strict=True):
        values = template.copy()
        values.update(zip(names, row, strict=True))
        for name, make in fresh:
            values[name] = make()
        records.append(built(RunRecord, values))
    return records


_NO_GIT = GitInfo()  # frozen: one blank serves every record


def page_of(answer: Mapping[str, Any]) -> tuple[list[RunRecord], int]:
    """The records and match count of a ``GET /runs`` answer, in either form (a server
    older than the column form answers rows)."""
    if "columns" in answer:
        return from_columns(answer["columns"]), int(answer["total"])
    return [RunRecord.from_dict(r) for r in answer["runs"]], int(answer["total"])


def _decoded(name: str, column: list[Any]) -> list[Any]:
    """A column's values as a record holds them (summaries, git and notes as objects)."""
    if name == "metrics":
        return [_metrics(by_key) for by_key in column]
    if name == "git":
        return [GitInfo(**g) for g in column]
    if name == "notes":
        return [[Note(**n) for n in notes] for notes in column]
    return column


def _metrics(by_key: Mapping[str, Sequence[Any]]) -> dict[str, MetricSummary]:
    found = {}
    for key, (count, last_step, last_value, min_value, max_value, summary_value) in by_key.items():
        found[key] = built(
            MetricSummary,
            {
                "key": key,
                "count": count,
                "last_step": last_step,
                "last_value": last_value,
                "min_value": min_value,
                "max_value": max_value,
                "summary_value": summary_value,
            },
        )
    return found
