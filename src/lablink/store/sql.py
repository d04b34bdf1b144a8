"""SqlStore: every query written once against the Core tables in ``schema.py``.

The SQL lives by subject (``runs_sql.py``, ``events_sql.py``, ``metrics_sql.py``,
``artifacts_sql.py``) on one shared base (``base_sql.py``); ``SqliteStore`` and
``PostgresStore`` add only dialect specifics.
"""

from __future__ import annotations

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
