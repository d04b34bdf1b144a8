"""SqlStore: every query written once against the Core tables in ``schema.py``.

The SQL lives by subject (``runs_sql.py``, ``events_sql.py``, ``metrics_sql.py``,
``artifacts_sql.py``) on one shared base (``base_sql.py``); ``SqliteStore`` and
``PostgresStore`` add only dialect specifics.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lablink.store.artifacts_sql import ArtifactsSql
from lablink.store.base import Store
from lablink.store.metrics_sql import MetricsSql
from lablink.store.runs_sql import RunsSql


class SqlStore(RunsSql, MetricsSql, ArtifactsSql, Store):
    """Shared SQL for SQLite and PostgreSQL; subclasses make the engine and upserts.

    Repositories for the other subjects (datasets, incidents, schemas, deliveries, the
    watchdog) take a ``SqlStore`` and use its public plumbing: ``engine``, ``write``,
    ``insert``, ``require_run`` and ``add_event``.
    """

    def update_run(self, run_id: str, values: Mapping[str, Any]) -> None:
        super().update_run(run_id, values)
        if values.get("ended_at") is not None:
            # An ended run takes few more points (a crashed one may): fold its tails now.
            self.fold_tail(run_id)
