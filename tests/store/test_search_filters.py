"""Run filters select what a plain Python reading of the filter selects, on both backends
and in both SQL forms (correlated ``EXISTS`` and set ``IN``, store/filter_sql.py): the
indexed search path of issue #18 changes no answer.

The model follows SQL's three-valued logic: a comparison with a missing column value is
unknown, ``not unknown`` is unknown, and only true selects a run. A metric, param or tag
test asks whether a matching row exists, so it is never unknown.
"""

from __future__ import annotations

import json
import math
import operator
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lablink.checks.filters import And, Compare, Expr, Field, Has, Not, Or
from lablink.core.lab import Lab
from lablink.models import RunRecord
from lablink.store import schema as t
from lablink.store.filter_sql import compile_filter

USER = "tester@example.org"
PROJECT = "props"
METRIC_VALUES = (0.0, 0.25, 0.5, 1.0, -2.0)
LRS: tuple[Any, ...] = (1e-4, 1e-3, 0.01, 3, True)
OPTS = ("adam", "sgd", "ad")
STATUSES = ("running", "finished", "failed")
CMP: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def series(values: list[float]) -> dict[str, list[Any]]:
    steps = list(range(len(values)))
    return {"steps": steps, "times": [1000.0 + s for s in steps], "values": values}


@pytest.fixture
def runs(lab: Lab) -> list[RunRecord]:
    """36 runs covering each combination that matters: a summary, a logged value, both or
    neither; numeric, boolean, text and missing params; tags; three statuses."""
    tr = lab.tracking
    made = []
    for i in range(36):
        config: dict[str, Any] = {}
        if i % 6:
            config["lr"] = LRS[i % len(LRS)]
        if i % 4:
            config["opt"] = OPTS[i % len(OPTS)]
        tags = [tag for tag, on in (("a", i % 2), ("b", i % 3 == 0)) if on]
        run = tr.create_run(USER, PROJECT, f"r{i}", config, tags)
        summary, logged = METRIC_VALUES[i % 5], METRIC_VALUES[(i // 5) % 5]
        if i % 3 != 1:
            tr.set_summary(run.id, {"acc": summary})
        if i % 4 != 2:
            tr.log_batch(run.id, 0, {"acc": series([9.0, logged])})
        if i % 5 == 0:
            tr.log_batch(run.id, 0, {"loss": series([0.5])})
        status = STATUSES[i % 3]
        if status != "running":
            tr.finish_run(USER, run.id, status)
        made.append(run.id)
    return [tr.get_run(run_id) for run_id in made]


# -- the model --------------------------------------------------------------------------


def _and(values: Iterator[bool | None]) -> bool | None:
    seen = list(values)
    return False if False in seen else None if None in seen else True


def _or(values: Iterator[bool | None]) -> bool | None:
    seen = list(values)
    return True if True in seen else None if None in seen else False


def _compare(value: Any, op: str, literal: Any) -> bool | None:
    if value is None:
        return None
    if op == "in":
        return any(value == v for v in literal)
    if op == "~":
        return str(literal).lower() in str(value).lower()  # LIKE ignores ASCII case on SQLite
    return CMP[op](value, literal)


def _number(value: Any) -> float | None:
    if isinstance(value, bool | int | float):
        number = float(value)
        return None if math.isnan(number) else number
    return None


def model(expr: Expr, run: RunRecord) -> bool | None:
    """True, False or unknown (None) for ``run``, as SQL evaluates the filter."""
    if isinstance(expr, And):
        return _and(model(e, run) for e in expr.items)
    if isinstance(expr, Or):
        return _or(model(e, run) for e in expr.items)
    if isinstance(expr, Not):
        inner = model(expr.item, run)
        return None if inner is None else not inner
    field = expr.field
    if isinstance(expr, Has):
        if field.kind == "tag":
            return field.key in run.tags
        return field.key in (run.params if field.kind == "param" else run.metrics)
    if field.kind == "column":
        return _compare(getattr(run, field.key), expr.op, expr.value)
    literals = expr.value if isinstance(expr.value, tuple) else (expr.value,)
    if field.kind == "metric":
        m = run.metrics.get(field.key)
        value = (
            None if m is None else m.summary_value if m.summary_value is not None else m.last_value
        )
        return _compare(value, expr.op, expr.value) is True
    if field.key not in run.params:
        return False
    stored = run.params[field.key]
    if all(isinstance(v, float | bool) for v in literals):  # compared as numbers
        numbers = tuple(float(v) for v in literals)
        return (
            _compare(_number(stored), expr.op, numbers if expr.op == "in" else numbers[0]) is True
        )
    text = json.dumps(stored, separators=(",", ":"))
    if expr.op == "~":
        return _compare(text, "~", expr.value) is True
    quoted = tuple(json.dumps(str(v)) for v in literals)
    return _compare(text, expr.op, quoted if expr.op == "in" else quoted[0]) is True


# -- generated filters ------------------------------------------------------------------

OPS = st.sampled_from(tuple(CMP))
METRIC_LITERALS = st.sampled_from((*METRIC_VALUES, 9.0, 0.3, math.inf, -math.inf))
LEAVES = st.one_of(
    st.builds(
        Compare, st.builds(Field, st.just("metric"), st.sampled_from(("acc", "loss", "none"))),
        OPS, METRIC_LITERALS,
    ),
    st.builds(
        Compare, st.just(Field("metric", "acc")), st.just("in"),
        st.lists(METRIC_LITERALS, min_size=1, max_size=3).map(tuple),
    ),
    st.builds(
        Compare, st.just(Field("param", "lr")), OPS,
        st.sampled_from((1e-4, 1e-3, 0.01, 3.0, 1.0, True, False)),
    ),
    st.builds(
        Compare, st.sampled_from((Field("param", "opt"), Field("param", "lr"))),
        st.sampled_from(("=", "!=")), st.sampled_from((*OPTS, "x", "3")),
    ),
    st.builds(
        Compare, st.just(Field("param", "opt")), st.just("in"),
        st.lists(st.sampled_from(OPTS), min_size=1, max_size=2).map(tuple),
    ),
    st.builds(Compare, st.just(Field("param", "opt")), st.just("~"), st.sampled_from(("ad", "g"))),
    st.builds(
        Compare, st.just(Field("column", "status")), st.sampled_from(("=", "!=")),
        st.sampled_from(STATUSES),
    ),
    st.builds(Compare, st.just(Field("column", "name")), st.just("~"), st.sampled_from(("1", "2"))),
    st.builds(Compare, st.just(Field("column", "ended_at")), st.sampled_from((">", "<")), st.just(0.0)),
    st.builds(
        Has, st.sampled_from(
            (Field("tag", "a"), Field("tag", "b"), Field("param", "opt"), Field("metric", "loss"))
        ),
    ),
)  # fmt: skip
FILTERS = st.recursive(
    LEAVES,
    lambda inner: st.one_of(
        st.builds(And, st.lists(inner, min_size=2, max_size=3).map(tuple)),
        st.builds(Or, st.lists(inner, min_size=2, max_size=3).map(tuple)),
        st.builds(Not, inner),
    ),
    max_leaves=6,
)


def selected(lab: Lab, expr: Expr, as_set: bool) -> set[str]:
    query = sa.select(t.runs.c.id).where(compile_filter(expr, as_set=as_set))
    with lab.store.engine.connect() as conn:  # type: ignore[attr-defined]
        return set(conn.execute(query).scalars())


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(expr=FILTERS)
def test_both_sql_forms_select_what_the_model_selects(
    lab: Lab, runs: list[RunRecord], expr: Expr
) -> None:
    expected = {run.id for run in runs if model(expr, run) is True}
    assert selected(lab, expr, as_set=True) == expected
    assert selected(lab, expr, as_set=False) == expected
    newest = [r.id for r in runs if r.id in expected][::-1][:10]
    for project in (PROJECT, None):  # one project: run by run; all: the set form
        found, total = lab.store.search_runs(project, expr, None, True, 10, 0)
        assert total == len(expected)
        assert [r.id for r in found] == newest


def test_the_fixture_covers_each_case(runs: list[RunRecord]) -> None:
    metrics = [r.metrics.get("acc") for r in runs]
    assert any(m is None for m in metrics)
    assert any(m and m.summary_value is None and m.last_value is not None for m in metrics)
    assert any(m and m.summary_value is not None and m.last_value is not None for m in metrics)
    assert {type(r.params.get("lr")) for r in runs} >= {float, int, bool, type(None)}
    assert {r.status for r in runs} == set(STATUSES)


def test_a_page_past_many_matches_walks_the_runs_in_order(
    lab: Lab, runs: list[RunRecord], monkeypatch: pytest.MonkeyPatch
) -> None:
    from lablink.store import runs_sql

    expr = Or((Has(Field("tag", "a")), Compare(Field("metric", "acc"), ">", 0.2)))
    expected = [r.id for r in runs if model(expr, r) is True][::-1]
    # a small project (tested run by run), then a large one: set count with a correlated
    # page, then set count and set page
    for correlated_max, set_max in ((5_000, 10_000), (0, 0), (0, 10_000)):
        monkeypatch.setattr(runs_sql, "_CORRELATED_MAX", correlated_max)
        monkeypatch.setattr(runs_sql, "_SET_PAGE_MAX", set_max)
        pages = [lab.store.search_runs(PROJECT, expr, None, True, 7, off) for off in (0, 7, 14)]
        assert all(total == len(expected) for _, total in pages)
        assert [r.id for page, _ in pages for r in page] == expected[:21]


def test_a_page_that_reaches_past_the_project_counts_its_matches(
    lab: Lab, runs: list[RunRecord], monkeypatch: pytest.MonkeyPatch
) -> None:
    from lablink.store import runs_sql

    expr = Or((Has(Field("tag", "a")), Compare(Field("metric", "acc"), ">", 0.2)))
    expected = [r.id for r in runs if model(expr, r) is True][::-1]
    # the project tested run by run, then as a set: the page's length gives the count,
    # which must be the same as counting, from any offset (past the end: counted)
    for correlated_max in (5_000, 0):
        monkeypatch.setattr(runs_sql, "_CORRELATED_MAX", correlated_max)
        for offset in (0, 3, len(expected) - 1, len(expected), len(expected) + 5):
            for fields in (None, ("id", "project", "name", "status", "created_at", "tags")):
                page, total = lab.store.search_runs(
                    PROJECT, expr, None, True, len(runs), offset, fields
                )
                assert total == len(expected)
                assert [r.id for r in page] == expected[offset:]
