"""A page of runs' side tables read in one query each: tags, params, metric summaries.

Both builders of a search answer, records (``rows.to_run``) and columns
(``row_columns.to_columns``), read them alike.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa

from lablink.store import schema as t
from lablink.store.rows import METRIC_COLUMNS, param_reader

# ``BaseSql.among``: ``column IN values``, bound as the dialect binds a long list.
Among = Callable[[sa.ColumnElement[Any], Sequence[str]], Any]

# The summary columns without ``NanFloat``'s float() per value: on SQLite its 'NaN'
# text reaches ``float()`` in the builders, which reads it as NaN.
_METRIC_READ = tuple(
    sa.type_coerce(t.run_metrics.c[name], sa.Float).label(name)
    if isinstance(t.run_metrics.c[name].type, t.NanFloat)
    else t.run_metrics.c[name]
    for name in METRIC_COLUMNS
)


def read_tags(conn: sa.Connection, among: Among, ids: Sequence[str]) -> dict[str, list[str]]:
    """The tags of runs ``ids`` by run, each run's in order."""
    tags: dict[str, list[str]] = {}
    for run_id, tag in conn.execute(
        sa.select(t.run_tags.c.run_id, t.run_tags.c.tag)
        .where(among(t.run_tags.c.run_id, ids))
        .order_by(t.run_tags.c.tag)
    ).all():
        tags.setdefault(run_id, []).append(tag)
    return tags


def read_params(conn: sa.Connection, among: Among, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The params of runs ``ids`` by run, decoded."""
    params: dict[str, dict[str, Any]] = {}
    read = param_reader()
    p = t.run_params
    for run_id, key, text in conn.execute(
        sa.select(p.c.run_id, p.c.key, p.c.value_text).where(among(p.c.run_id, ids))
    ).all():
        params.setdefault(run_id, {})[key] = read(text)
    return params


def metric_rows(conn: sa.Connection, among: Among, ids: Sequence[str]) -> Sequence[Any]:
    """The metric summary rows of runs ``ids``: ``run_id``, then ``METRIC_COLUMNS``
    (values as the driver reads them: both builders make floats of them)."""
    m = t.run_metrics
    return conn.execute(
        sa.select(m.c.run_id, *_METRIC_READ).where(among(m.c.run_id, ids)).order_by(m.c.key)
    ).all()
