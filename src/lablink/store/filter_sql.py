"""The run filter AST (``checks/filters.py``) compiled to SQLAlchemy clauses.

Every value becomes a bound parameter; no SQL is built from strings.

A test on a side table (metrics, params, tags) compiles in one of two equivalent forms:
*correlated*, ``EXISTS (... WHERE run_id = runs.id ...)``, which suits a page
of newest runs when matches are common (the scan stops after a page), and *set*,
``runs.id IN (SELECT run_id ... )``, which reads only the matching rows of a covering
index and suits a count, or a page when matches are few. Side-table run ids are never
NULL, so ``NOT IN`` is the exact negation of ``IN``, as ``NOT EXISTS`` is of ``EXISTS``.
"""

from __future__ import annotations

import json
import math
from typing import Any

import sqlalchemy as sa

from lablink.checks.filters import And, Compare, Expr, Field, Has, Not, Or
from lablink.errors import InvalidInput
from lablink.store import schema as t

_COLUMN_FIELDS = {
    "status": t.runs.c.status,
    "name": t.runs.c.name,
    "user": t.runs.c.user,
    "outcome": t.runs.c.outcome,
    "id": t.runs.c.id,
    "host": t.runs.c.host,
    "created_at": t.runs.c.created_at,
    "ended_at": t.runs.c.ended_at,
    "git.branch": t.runs.c.git_branch,
    "git.commit": t.runs.c.git_commit,
}
_SQL_OPS = {
    "=": "__eq__",
    "!=": "__ne__",
    "<": "__lt__",
    "<=": "__le__",
    ">": "__gt__",
    ">=": "__ge__",
}


def order_by_clause(order_by: str | None) -> Any:
    if not order_by or order_by == "created_at":
        return t.runs.c.created_at
    if order_by == "duration":
        return sa.func.coalesce(t.runs.c.ended_at, t.runs.c.heartbeat_at) - t.runs.c.created_at
    if order_by in _COLUMN_FIELDS:
        return _COLUMN_FIELDS[order_by]
    head, _, key = order_by.partition(".")
    if head in ("metrics", "summary") and key:
        m = t.run_metrics
        return (
            sa.select(sa.func.coalesce(m.c.summary_value, m.c.last_value))
            .where(m.c.run_id == t.runs.c.id, m.c.key == key)
            .scalar_subquery()
        )
    if head in ("params", "config") and key:
        p = t.run_params
        where = (p.c.run_id == t.runs.c.id, p.c.key == key)
        # numbers sort numerically, then text values by their JSON text
        return [
            sa.select(p.c.value_num).where(*where).scalar_subquery(),
            sa.select(p.c.value_text).where(*where).scalar_subquery(),
        ]
    raise InvalidInput(
        f"cannot sort by {order_by!r}",
        "sort by a column (name, status, user, created_at, duration), "
        "metrics.<key> or params.<key>",
    )


def compile_filter(expr: Expr, *, as_set: bool = False) -> Any:
    """Turn a filter AST into a SQL clause with bound parameters only.

    ``as_set`` picks the set form of side-table tests over the correlated one (see the
    module docstring); both select the same runs.
    """
    if isinstance(expr, And):
        return sa.and_(*(compile_filter(e, as_set=as_set) for e in expr.items))
    if isinstance(expr, Or):
        return sa.or_(*(compile_filter(e, as_set=as_set) for e in expr.items))
    if isinstance(expr, Not):
        return sa.not_(compile_filter(expr.item, as_set=as_set))
    if isinstance(expr, Has):
        return _has(expr.field, as_set)
    return _compare(expr, as_set)


def _side(table: sa.Table, as_set: bool, *conds: Any) -> Any:
    """Runs with a row in ``table`` meeting ``conds``, in the chosen form."""
    if as_set:
        return t.runs.c.id.in_(sa.select(table.c.run_id).where(*conds))
    return sa.exists().where(table.c.run_id == t.runs.c.id, *conds)


def _has(field: Field, as_set: bool) -> Any:
    if field.kind == "tag":
        return _side(t.run_tags, as_set, t.run_tags.c.tag == field.key)
    if field.kind == "param":
        return _side(t.run_params, as_set, t.run_params.c.key == field.key)
    return _side(t.run_metrics, as_set, t.run_metrics.c.key == field.key)


def _compare(cmp: Compare, as_set: bool) -> Any:
    field, op, value = cmp.field, cmp.op, cmp.value
    if field.kind == "column":
        column = _COLUMN_FIELDS[field.key]
        return _apply(column, op, value)
    if field.kind == "metric":
        m = t.run_metrics
        if any(isinstance(v, str) for v in _as_tuple(value)):
            raise InvalidInput(f"metrics.{field.key} is numeric: compare it with a number")
        col = sa.func.coalesce(m.c.summary_value, m.c.last_value)
        return _side(m, as_set, m.c.key == field.key, _apply(col, op, value))
    p = t.run_params
    numeric = all(isinstance(v, float | bool) for v in _as_tuple(value))
    if numeric:
        values = tuple(float(v) for v in _as_tuple(value))
        cond = _apply(p.c.value_num, op, values if op == "in" else values[0])
    else:
        if op == "~":
            cond = _apply(p.c.value_text, op, value)
        elif op == "in":
            texts = tuple(json.dumps(str(v)) for v in _as_tuple(value))
            cond = _apply(p.c.value_text, op, texts)
        else:
            cond = _apply(p.c.value_text, op, json.dumps(str(value)))
    return _side(p, as_set, p.c.key == field.key, cond)


def _as_tuple(value: Any) -> tuple[Any, ...]:
    return value if isinstance(value, tuple) else (value,)


def _apply(column: Any, op: str, value: Any) -> Any:
    if op == "in":
        return column.in_(list(value))
    if op == "~":
        like = "%" + str(value).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        return column.like(like, escape="\\")
    if isinstance(value, float) and math.isnan(value):
        return column.is_(None) if op == "=" else column.is_not(None)
    return getattr(column, _SQL_OPS[op])(value)
