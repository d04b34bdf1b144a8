"""SqlStore: every query written once against the Core tables in ``schema.py``.

The SQL lives by subject (``runs_sql.py``, ``events_sql.py``, ``metrics_sql.py``,
``artifacts_sql.py``) on one shared base (``base_sql.py``); ``SqliteStore`` and
``PostgresStore`` add only dialect specifics.
"""

from __future__ import annotations

import json
import math
from typing import Any

from lablink.store.artifacts_sql import ArtifactsSql
from lablink.store.base import Store
from lablink.store.metrics_sql import MetricsSql
from lablink.store.runs_sql import RunsSql


def json_dumps(value: Any) -> str:
    """JSON for JSON columns: non-finite floats become null (PostgreSQL rejects NaN)."""
    return json.dumps(_finite(value), separators=(",", ":"))


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


class SqlStore(RunsSql, MetricsSql, ArtifactsSql, Store):
    """Shared SQL for SQLite and PostgreSQL; subclasses make the engine and upserts.

    Repositories for the other subjects (datasets, incidents, schemas, deliveries, the
    watchdog) take a ``SqlStore`` and use its public plumbing: ``engine``, ``write``,
    ``insert``, ``require_run`` and ``add_event``.
    """
