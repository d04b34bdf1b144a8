"""Every table lablink stores, with its indexes beside it (SQLAlchemy Core).

Timestamps are UTC seconds since the epoch as floats. A ``DateTime`` column would be
shifted by a PostgreSQL server set to a non-UTC time zone and loses sub-second
precision on some drivers; a float means the same thing on SQLite and PostgreSQL.

Metric points are stored in chunks: one row per (run, key, ingested batch) holding the
steps, wall times and values as packed little-endian arrays. Ingesting a batch is then
a handful of inserts whatever its size, a history read is a range scan over
``(run_id, key, step_min)`` plus one ``numpy.frombuffer`` per chunk, and NaN and
±inf survive bit for bit. ``run_metrics`` keeps the last value and extremes per key so
filters and tables never touch the chunks.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

metadata = sa.MetaData()

# An auto-increment 64-bit key that SQLite also treats as its rowid alias.
BigId = sa.BigInteger().with_variant(sqlite.INTEGER(), "sqlite")

projects = sa.Table(
    "projects",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("created_at", sa.Float, nullable=False),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("project_id", BigId, sa.ForeignKey("projects.id"), nullable=False),
    sa.Column("name", sa.String(500), nullable=False),
    sa.Column("user", sa.String(200), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("status_reason", sa.Text),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("ended_at", sa.Float),
    sa.Column("heartbeat_at", sa.Float),
    sa.Column("git_commit", sa.String(64)),
    sa.Column("git_branch", sa.String(500)),
    sa.Column("git_remote", sa.String(2000)),
    sa.Column("git_dirty", sa.Boolean, nullable=False, default=False),
    sa.Column("git_diff_digest", sa.String(80)),
    sa.Column("command", sa.JSON, nullable=False),
    sa.Column("host", sa.String(500)),
    sa.Column("python_version", sa.String(100)),
    sa.Column("packages", sa.JSON, nullable=False),
    sa.Column("gpus", sa.JSON, nullable=False),
    sa.Column("config", sa.JSON, nullable=False),
    sa.Column("summary", sa.JSON, nullable=False),
    sa.Column("outcome", sa.String(20)),
    # Stop request from a watchdog rule or a user: the SDK reads it from heartbeats.
    sa.Column("stop_requested", sa.Text),
    sa.Column("updated_at", sa.Float, nullable=False),
)
sa.Index("ix_runs_project_created", runs.c.project_id, runs.c.created_at)
sa.Index("ix_runs_status", runs.c.status)

run_tags = sa.Table(
    "run_tags",
    metadata,
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("tag", sa.String(200), primary_key=True),
)
sa.Index("ix_run_tags_tag", run_tags.c.tag, run_tags.c.run_id)

# Flattened config ("model.depth" → 50): numbers in value_num so filters compare numerically.
run_params = sa.Table(
    "run_params",
    metadata,
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("key", sa.String(500), primary_key=True),
    sa.Column("value_num", sa.Float),
    sa.Column("value_text", sa.Text),
)
sa.Index("ix_run_params_key", run_params.c.key, run_params.c.value_num)

run_metrics = sa.Table(
    "run_metrics",
    metadata,
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("key", sa.String(250), primary_key=True),
    sa.Column("count", sa.BigInteger, nullable=False, default=0),
    sa.Column("last_step", sa.BigInteger),
    sa.Column("last_value", sa.Float),
    sa.Column("last_time", sa.Float),
    sa.Column("min_value", sa.Float),
    sa.Column("max_value", sa.Float),
    sa.Column("summary_value", sa.Float),
)
sa.Index("ix_run_metrics_key", run_metrics.c.key, run_metrics.c.run_id)

metric_chunks = sa.Table(
    "metric_chunks",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), nullable=False),
    sa.Column("key", sa.String(250), nullable=False),
    sa.Column("n", sa.Integer, nullable=False),
    sa.Column("step_min", sa.BigInteger, nullable=False),
    sa.Column("step_max", sa.BigInteger, nullable=False),
    sa.Column("steps", sa.LargeBinary, nullable=False),  # int64 little-endian
    sa.Column("times", sa.LargeBinary, nullable=False),  # float64 little-endian
    sa.Column("values", sa.LargeBinary, nullable=False),  # float64 little-endian
)
sa.Index(
    "ix_metric_chunks_run_key_step",
    metric_chunks.c.run_id,
    metric_chunks.c.key,
    metric_chunks.c.step_min,
)

# Idempotent ingestion: a batch's (run, seq) is recorded in the same transaction as its points.
ingested_batches = sa.Table(
    "ingested_batches",
    metadata,
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("seq", sa.BigInteger, primary_key=True),
    sa.Column("points", sa.Integer, nullable=False),
    sa.Column("received_at", sa.Float, nullable=False),
)

notes = sa.Table(
    "notes",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), nullable=False),
    sa.Column("author", sa.String(200), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("outcome", sa.String(20)),
    sa.Column("created_at", sa.Float, nullable=False),
)
sa.Index("ix_notes_run", notes.c.run_id)

blobs = sa.Table(
    "blobs",
    metadata,
    sa.Column("digest", sa.String(80), primary_key=True),  # "sha256:<hex>"
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)

artifacts = sa.Table(
    "artifacts",
    metadata,
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("name", sa.String(1000), primary_key=True),
    sa.Column("kind", sa.String(100), nullable=False),
    sa.Column("digest", sa.String(80), sa.ForeignKey("blobs.digest"), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)

# Dataset versions (and anything else) a run read: the lineage edge run ← input.
run_inputs = sa.Table(
    "run_inputs",
    metadata,
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("kind", sa.String(50), primary_key=True),
    sa.Column("ref", sa.String(500), primary_key=True),
    sa.Column("digest", sa.String(80)),
    sa.Column("created_at", sa.Float, nullable=False),
)

# The log live views follow; ``id`` is the monotonic cursor SSE clients resume from.
events = sa.Table(
    "events",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("project_id", BigId, nullable=False),
    sa.Column("run_id", sa.String(32)),
    sa.Column("kind", sa.String(50), nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)
sa.Index("ix_events_run", events.c.run_id, events.c.id)
sa.Index("ix_events_project", events.c.project_id, events.c.id)
