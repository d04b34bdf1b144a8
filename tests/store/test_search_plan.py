"""The search path uses indexes on both backends: EXPLAIN of the filter query shows no table scan
of the per-run tables (metrics, params, tags), only keyed look-ups.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from lablink.checks.filters import parse_filter
from lablink.core.lab import Lab
from lablink.store import schema as t
from lablink.store.filter_sql import compile_filter

USER = "tester@example.org"
FILTER = 'metrics.val/acc > 0.5 and params.lr <= 0.01 and tags.baseline and status = "finished"'


def search_query(lab: Lab, as_set: bool = False) -> Any:
    """The query ``search_runs`` runs for one project and FILTER (ids, newest first)."""
    with lab.store.engine.connect() as conn:
        project_id = conn.execute(
            sa.select(t.projects.c.id).where(t.projects.c.name == "vision")
        ).scalar_one()
    return (
        sa.select(t.runs.c.id)
        .where(
            t.runs.c.project_id == project_id,
            compile_filter(parse_filter(FILTER), as_set=as_set),
        )
        .order_by(sa.desc(t.runs.c.created_at))
        .limit(50)
    )


def plan(lab: Lab, query: Any) -> str:
    engine = lab.store.engine
    compiled = query.compile(engine, compile_kwargs={"literal_binds": True})
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}").all()
            return "\n".join(str(r[-1]) for r in rows)
        # A few rows make a sequential scan cheapest; ask whether an index path exists.
        conn.exec_driver_sql("SET enable_seqscan = off")
        rows = conn.exec_driver_sql(f"EXPLAIN {compiled}").all()
        return "\n".join(str(r[0]) for r in rows)


@pytest.mark.parametrize("as_set", [False, True], ids=["correlated", "set"])
def test_metric_param_and_tag_filters_use_keyed_lookups(lab: Lab, as_set: bool) -> None:
    for i in range(20):
        run = lab.tracking.create_run(USER, "vision", f"r{i}", {"lr": 0.001 * i}, ["baseline"])
        lab.tracking.set_summary(run.id, {"val/acc": i / 20})
    text = plan(lab, search_query(lab, as_set))
    for table in ("run_metrics", "run_params", "run_tags"):
        if lab.store.engine.dialect.name == "sqlite":
            assert f"SCAN {table}" not in text, text
            assert table in text, text
        else:
            assert f"Seq Scan on {table}" not in text, text
    if lab.store.engine.dialect.name == "sqlite":
        assert "SCAN runs" not in text or "USING INDEX" in text, text
    else:
        assert "Seq Scan on runs" not in text, text


def test_a_metric_filtered_count_reads_indexes_only(lab: Lab) -> None:
    """The count of a metric filter (issue #18) never reads the wide run rows or the
    metric rows: the project's run ids and the metric values are both in indexes."""
    for i in range(20):
        run = lab.tracking.create_run(USER, "vision", f"r{i}")
        lab.tracking.set_summary(run.id, {"val/acc": i / 20})
    with lab.store.engine.connect() as conn:
        project_id = conn.execute(
            sa.select(t.projects.c.id).where(t.projects.c.name == "vision")
        ).scalar_one()
    query = (
        sa.select(sa.func.count())
        .select_from(t.runs)
        .where(
            t.runs.c.project_id == project_id,
            compile_filter(parse_filter("metrics.val/acc > 0.5"), as_set=True),
        )
    )
    text = plan(lab, query)
    if lab.store.engine.dialect.name == "sqlite":
        assert "COVERING INDEX ix_run_metrics_key" in text, text
        assert "COVERING INDEX ix_runs_" in text, text
    else:
        assert "Seq Scan" not in text, text
