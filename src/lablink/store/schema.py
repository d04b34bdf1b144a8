"""Every table lablink stores, with its indexes beside it (SQLAlchemy Core).

Timestamps are UTC seconds since the epoch as floats. A ``DateTime`` column would be
shifted by a PostgreSQL server set to a non-UTC time zone and loses sub-second
precision on some drivers; a float means the same thing on SQLite and PostgreSQL.

Metric points are stored in chunks: one row per (run, key, ingested batch) holding the
steps, wall times and values as packed little-endian arrays. Ingesting a batch is then
a handful of inserts whatever its size, a history read is a range scan over
``(run_id, key, step_min)`` plus one ``numpy.frombuffer`` per chunk, and NaN and
±inf survive bit for bit. Those chunks are a tail: once a key's tail grows past a few
thousand points, and when its run ends, it is folded into compressed ``metric_blocks``
(about 2-8 bytes a point instead of 24 plus the row). ``run_metrics`` keeps the last
value and extremes per key so filters and tables never touch the points.
"""

from __future__ import annotations

import math
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

from lablink.checks import widths as width
from lablink.store.partial_index import PartialUniqueIndex

metadata = sa.MetaData()

# An auto-increment 64-bit key that SQLite also treats as its rowid alias.
BigId = sa.BigInteger().with_variant(sqlite.INTEGER(), "sqlite")


class NanFloat(sa.TypeDecorator[float]):
    """A float column that keeps NaN on SQLite, which stores a bound NaN as NULL.

    SQLite keeps the text ``'NaN'`` in a REAL column as text; it sorts and compares
    above every number there, as NaN does in PostgreSQL, so filters and sorting
    agree on both. PostgreSQL stores NaN natively.
    """

    impl = sa.Float
    cache_ok = True

    def bind_processor(self, dialect: sa.Dialect) -> Any:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        # Replaces, rather than precedes, Float's own processor, which would turn the
        # text back into a float (and SQLite then into NULL).
        def keep_nan(value: Any) -> Any:
            return "NaN" if isinstance(value, float) and math.isnan(value) else value

        return keep_nan

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> float | None:
        return float(value) if value is not None else None


projects = sa.Table(
    "projects",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(width.PROJECT_NAME), nullable=False, unique=True),
    sa.Column("created_at", sa.Float, nullable=False),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.String(width.RUN_ID), primary_key=True),
    sa.Column("project_id", BigId, sa.ForeignKey("projects.id"), nullable=False),
    sa.Column("name", sa.String(width.RUN_NAME), nullable=False),
    sa.Column("user", sa.String(width.USER), nullable=False),
    sa.Column("status", sa.String(width.STATUS), nullable=False),
    sa.Column("status_reason", sa.Text),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("ended_at", sa.Float),
    sa.Column("heartbeat_at", sa.Float),
    sa.Column("git_commit", sa.String(width.GIT_COMMIT)),
    sa.Column("git_branch", sa.String(width.GIT_BRANCH)),
    sa.Column("git_remote", sa.String(width.GIT_REMOTE)),
    sa.Column("git_dirty", sa.Boolean, nullable=False, default=False),
    sa.Column("git_diff_digest", sa.String(width.GIT_DIFF_DIGEST)),
    sa.Column("command", sa.JSON, nullable=False),
    sa.Column("host", sa.String(width.HOST)),
    sa.Column("python_version", sa.String(width.PYTHON_VERSION)),
    sa.Column("packages", sa.JSON, nullable=False),
    sa.Column("gpus", sa.JSON, nullable=False),
    sa.Column("config", sa.JSON, nullable=False),
    sa.Column("summary", sa.JSON, nullable=False),
    sa.Column("outcome", sa.String(width.OUTCOME)),
    # Stop request from a watchdog rule or a user: the SDK reads it from heartbeats.
    sa.Column("stop_requested", sa.Text),
    sa.Column("updated_at", sa.Float, nullable=False),
)
# Searches: id rides along so a filtered page or count of a project reads the
# index, never the wide run rows; the second serves a set of matching ids (filter_sql.py).
sa.Index("ix_runs_project_created", runs.c.project_id, runs.c.created_at, runs.c.id)
sa.Index("ix_runs_id_project", runs.c.id, runs.c.project_id, runs.c.created_at)
sa.Index("ix_runs_status", runs.c.status)
# Who may read a blob: the runs holding it as their captured diff (core/blob_readers.py).
sa.Index("ix_runs_git_diff_digest", runs.c.git_diff_digest)

run_tags = sa.Table(
    "run_tags",
    metadata,
    sa.Column("run_id", sa.String(width.RUN_ID), sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("tag", sa.String(width.TAG), primary_key=True),
)
sa.Index("ix_run_tags_tag", run_tags.c.tag, run_tags.c.run_id)

# Flattened config ("model.depth" → 50): numbers in value_num so filters compare numerically.
run_params = sa.Table(
    "run_params",
    metadata,
    sa.Column("run_id", sa.String(width.RUN_ID), sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("key", sa.String(width.PARAM_KEY), primary_key=True),
    sa.Column("value_num", sa.Float),
    sa.Column("value_text", sa.Text),
)
# run_id rides along: a numeric param filter is answered from the index alone.
sa.Index("ix_run_params_key", run_params.c.key, run_params.c.value_num, run_params.c.run_id)

run_metrics = sa.Table(
    "run_metrics",
    metadata,
    sa.Column("run_id", sa.String(width.RUN_ID), sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("key", sa.String(width.METRIC_KEY), primary_key=True),
    sa.Column("count", sa.BigInteger, nullable=False, default=0),
    sa.Column("last_step", sa.BigInteger),
    sa.Column("last_value", NanFloat),
    sa.Column("last_time", sa.Float),
    sa.Column("min_value", sa.Float),
    sa.Column("max_value", sa.Float),
    sa.Column("summary_value", NanFloat),
)
# The values ride along: a metric filter (summary, else last) is answered from the index.
sa.Index(
    "ix_run_metrics_key",
    run_metrics.c.key,
    run_metrics.c.run_id,
    run_metrics.c.summary_value,
    run_metrics.c.last_value,
)

metric_chunks = sa.Table(
    "metric_chunks",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(width.RUN_ID), sa.ForeignKey("runs.id"), nullable=False),
    sa.Column("key", sa.String(width.METRIC_KEY), nullable=False),
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

# Compacted points: a run's key folds its chunk rows, the raw "tail" that
# ingestion appends, into blocks of up to 65,536 points compressed by
# ``store/metric_codec.py``. A block replaces the chunks it was made from in one
# transaction, so a reader sees each point once. Blocks of a key read in ``id`` order.
metric_blocks = sa.Table(
    "metric_blocks",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(width.RUN_ID), sa.ForeignKey("runs.id"), nullable=False),
    sa.Column("key", sa.String(width.METRIC_KEY), nullable=False),
    sa.Column("n", sa.Integer, nullable=False),
    sa.Column("step_min", sa.BigInteger, nullable=False),
    sa.Column("step_max", sa.BigInteger, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),  # metric_codec.encode
)
sa.Index(
    "ix_metric_blocks_run_key_step",
    metric_blocks.c.run_id,
    metric_blocks.c.key,
    metric_blocks.c.step_min,
)

# Idempotent ingestion: a batch's (run, seq) is recorded in the same transaction as its points.
ingested_batches = sa.Table(
    "ingested_batches",
    metadata,
    sa.Column("run_id", sa.String(width.RUN_ID), sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("seq", sa.BigInteger, primary_key=True),
    sa.Column("points", sa.Integer, nullable=False),
    sa.Column("received_at", sa.Float, nullable=False),
)

notes = sa.Table(
    "notes",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(width.RUN_ID), sa.ForeignKey("runs.id"), nullable=False),
    sa.Column("author", sa.String(width.USER), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("outcome", sa.String(width.OUTCOME)),
    sa.Column("created_at", sa.Float, nullable=False),
)
sa.Index("ix_notes_run", notes.c.run_id)

blobs = sa.Table(
    "blobs",
    metadata,
    sa.Column("digest", sa.String(width.DIGEST), primary_key=True),  # "sha256:<hex>"
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)

artifacts = sa.Table(
    "artifacts",
    metadata,
    sa.Column("run_id", sa.String(width.RUN_ID), sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("name", sa.String(width.ARTIFACT_NAME), primary_key=True),
    sa.Column("kind", sa.String(width.ARTIFACT_KIND), nullable=False),
    sa.Column("digest", sa.String(width.DIGEST), sa.ForeignKey("blobs.digest"), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)
# Who may read a blob: the runs holding it as an artifact (core/blob_readers.py).
sa.Index("ix_artifacts_digest", artifacts.c.digest)

# Dataset versions (and anything else) a run read: the lineage edge run ← input.
run_inputs = sa.Table(
    "run_inputs",
    metadata,
    sa.Column("run_id", sa.String(width.RUN_ID), sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("kind", sa.String(width.INPUT_KIND), primary_key=True),
    sa.Column("ref", sa.String(width.INPUT_REF), primary_key=True),
    sa.Column("digest", sa.String(width.DIGEST)),
    sa.Column("created_at", sa.Float, nullable=False),
)

# The log live views follow; ``id`` is the monotonic cursor SSE clients resume from.
events = sa.Table(
    "events",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("project_id", BigId, nullable=False),
    sa.Column("run_id", sa.String(width.RUN_ID)),
    sa.Column("kind", sa.String(50), nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)
sa.Index("ix_events_run", events.c.run_id, events.c.id)
sa.Index("ix_events_project", events.c.project_id, events.c.id)

# -- schema registry -----------------------------------------------------------------
# A subject ("events") has immutable, numbered versions. ``compat`` on the subject is the
# mode new versions are checked with; each version row keeps the mode it was checked
# under, so loosening a subject's mode later is visible in its history.
schema_subjects = sa.Table(
    "schema_subjects",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(width.NAME), nullable=False, unique=True),
    sa.Column("compat", sa.String(30), nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

schema_versions = sa.Table(
    "schema_versions",
    metadata,
    sa.Column("subject_id", BigId, sa.ForeignKey("schema_subjects.id"), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("fingerprint", sa.String(80), nullable=False),  # "sha256:<hex>" of canonical JSON
    sa.Column("body", sa.JSON, nullable=False),  # Frictionless Table Schema JSON
    sa.Column("compat", sa.String(30), nullable=False),
    sa.Column("description", sa.Text),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)
sa.Index("ix_schema_versions_fingerprint", schema_versions.c.fingerprint)

# -- versioned datasets --------------------------------------------------------------
# A version's content is its manifest: a content-addressed blob (canonical JSON of
# path, size, digest per file, and the hash algorithm) whose digest is ``digest``.
# A version row is inserted only after every blob of its manifest is stored, in the
# same transaction that numbers it, so a version is never visible half uploaded.
datasets = sa.Table(
    "datasets",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(width.NAME), nullable=False, unique=True),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

dataset_versions = sa.Table(
    "dataset_versions",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("dataset_id", BigId, sa.ForeignKey("datasets.id"), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("digest", sa.String(80), nullable=False),  # the manifest blob, "blake3:<hex>"
    sa.Column("algorithm", sa.String(20), nullable=False),  # of the files' digests
    sa.Column("files", sa.BigInteger, nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("message", sa.Text),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    # What made it: a run id (no foreign key: the run may still sit in an SDK spool)
    # and/or the command line.
    sa.Column("source_run", sa.String(width.RUN_ID)),
    sa.Column("source_command", sa.Text),
    # Tabular versions: the profile blob (per-column statistics, so drift between
    # versions never re-reads their data) and the schema the files passed, "events@v2".
    sa.Column("profile_digest", sa.String(80)),
    sa.Column("schema_ref", sa.String(220)),
    sa.UniqueConstraint("dataset_id", "version", name="uq_dataset_versions_number"),
)
sa.Index("ix_dataset_versions_digest", dataset_versions.c.digest)

# Lineage between versions: ``--from cifar-raw@v2`` makes cifar-raw@v2 a parent.
dataset_parents = sa.Table(
    "dataset_parents",
    metadata,
    sa.Column("version_id", BigId, sa.ForeignKey("dataset_versions.id"), primary_key=True),
    sa.Column("parent_id", BigId, sa.ForeignKey("dataset_versions.id"), primary_key=True),
)
sa.Index("ix_dataset_parents_parent", dataset_parents.c.parent_id)

# -- watchdog and incidents ----------------------------------------------------------
# ``run_watch`` holds a run's own watch policy (what its SDK sent: the repository's
# [watch] table with ``lablink.init(watch=...)`` over it) and, once a rule asked the
# run to stop, the final status that stop ends in (``killed`` or ``timed_out``).
run_watch = sa.Table(
    "run_watch",
    metadata,
    sa.Column("run_id", sa.String(width.RUN_ID), sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("policy", sa.JSON, nullable=False),
    sa.Column("stop_status", sa.String(20)),
    sa.Column("stop_reason", sa.Text),
    sa.Column("stop_at", sa.Float),
    sa.Column("updated_at", sa.Float, nullable=False),
)

# An incident is one rule firing on one run: open → acknowledged → resolved. Repeats
# bump ``count`` on the unresolved incident; the partial unique index makes "at most one
# unresolved incident per (run, rule, kind)" hold across server processes.
incidents = sa.Table(
    "incidents",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(width.RUN_ID), sa.ForeignKey("runs.id"), nullable=False),
    sa.Column("project_id", BigId, nullable=False),
    sa.Column("kind", sa.String(30), nullable=False),
    sa.Column("rule", sa.String(200), nullable=False),
    sa.Column("severity", sa.String(20), nullable=False),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("evidence", sa.JSON, nullable=False),
    sa.Column("action", sa.String(20), nullable=False),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("reopened", sa.Integer, nullable=False),
    sa.Column("opened_by", sa.String(200), nullable=False),
    sa.Column("opened_at", sa.Float, nullable=False),
    sa.Column("last_seen_at", sa.Float, nullable=False),
    sa.Column("acknowledged_at", sa.Float),
    sa.Column("acknowledged_by", sa.String(200)),
    sa.Column("resolved_at", sa.Float),
    sa.Column("resolved_by", sa.String(200)),
    sa.Column("resolution_note", sa.Text),
)
sa.Index("ix_incidents_state", incidents.c.state, incidents.c.id)
sa.Index("ix_incidents_run", incidents.c.run_id, incidents.c.id)
# Partial on both dialects, without loading the PostgreSQL dialect on SQLite.
PartialUniqueIndex(
    "ux_incidents_unresolved",
    incidents.c.run_id,
    incidents.c.rule,
    incidents.c.kind,
    where=incidents.c.state != "resolved",
)

# One row per (incident event, channel); ``channel`` is the apprise URL with secrets
# masked, ``channel_key`` a hash of the full URL that the sender maps back to its config.
incident_deliveries = sa.Table(
    "incident_deliveries",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    # A row is either an incident's (``incident_id``) or a review event's
    # (``review_event_id``; its ``event`` is the action: request, approve, comment...).
    sa.Column("incident_id", BigId, sa.ForeignKey("incidents.id")),
    sa.Column("event", sa.String(20), nullable=False),  # opened, reopened
    sa.Column("channel", sa.String(2000), nullable=False),
    sa.Column("channel_key", sa.String(80), nullable=False),
    sa.Column("state", sa.String(20), nullable=False),  # pending, sending, sent, failed
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_at", sa.Float, nullable=False),
    sa.Column("lease_until", sa.Float),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("sent_at", sa.Float),
    # Routing: the person it went to, why them, the escalation step (0: first
    # page) and, for a notification held for a focus block or the night, until when.
    # NULL recipient: a fixed ``[notify] channels`` entry. State ``cancelled``: an
    # escalation made moot by an acknowledgement, or a held alert of a resolved incident.
    sa.Column("recipient", sa.String(100)),
    sa.Column("reason", sa.Text),
    sa.Column("step", sa.Integer),
    sa.Column("held_until", sa.Float),
    sa.Column(
        "review_event_id",
        BigId,
        sa.ForeignKey("review_events.id", name="fk_incident_deliveries_review_event"),
    ),
)
sa.Index("ix_incident_deliveries_due", incident_deliveries.c.state, incident_deliveries.c.next_at)
sa.Index("ix_incident_deliveries_incident", incident_deliveries.c.incident_id)
sa.Index("ix_incident_deliveries_review_event", incident_deliveries.c.review_event_id)

delivery_attempts = sa.Table(
    "delivery_attempts",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("delivery_id", BigId, sa.ForeignKey("incident_deliveries.id"), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("ok", sa.Boolean, nullable=False),
    sa.Column("seconds", sa.Float, nullable=False),
    sa.Column("error", sa.Text),
)
sa.Index("ix_delivery_attempts_delivery", delivery_attempts.c.delivery_id)

# -- people, tokens, project grants and the audit log ---------------------------------
# ``kind`` tells people from service accounts (CI). ``password_hash`` is an argon2 hash
# (pwdlib) or NULL for accounts that only use tokens; it never leaves the store layer.
users = sa.Table(
    "users",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(100), nullable=False, unique=True),
    sa.Column("kind", sa.String(20), nullable=False),  # user, service
    sa.Column("email", sa.String(320)),
    sa.Column("display_name", sa.String(200)),
    sa.Column("password_hash", sa.String(200)),
    sa.Column("is_admin", sa.Boolean, nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)

# Only a hash of a token's secret is stored: the secret is 256 random bits, so a plain
# sha256 cannot be brute-forced and keeps verification cheap on every request. ``prefix``
# is the public part of ``ll_<prefix>_<secret>`` that finds the row.
tokens = sa.Table(
    "tokens",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("user_id", BigId, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("prefix", sa.String(16), nullable=False, unique=True),
    sa.Column("secret_hash", sa.String(80), nullable=False),  # "sha256:<hex>"
    sa.Column("project_id", BigId, sa.ForeignKey("projects.id")),  # NULL: every project
    sa.Column("role", sa.String(20), nullable=False),  # the most this token may do
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float),
    sa.Column("revoked_at", sa.Float),
    sa.Column("last_used_at", sa.Float),
)
sa.Index("ix_tokens_user", tokens.c.user_id)

project_grants = sa.Table(
    "project_grants",
    metadata,
    sa.Column("project_id", BigId, sa.ForeignKey("projects.id"), primary_key=True),
    sa.Column("user_id", BigId, sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("role", sa.String(20), nullable=False),  # viewer, member, admin
    sa.Column("granted_by", sa.String(200), nullable=False),
    sa.Column("granted_at", sa.Float, nullable=False),
)
sa.Index("ix_project_grants_user", project_grants.c.user_id)

# Append-only: migration 0006 adds triggers that refuse UPDATE and DELETE on both
# dialects, so not even a bug in lablink can rewrite history. ``actor`` and ``target``
# are names, not foreign keys, so entries outlive what they name.
audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("action", sa.String(50), nullable=False),
    sa.Column("target", sa.String(500)),
    sa.Column("detail", sa.JSON, nullable=False),
    sa.Column("ip", sa.String(64)),
)
sa.Index("ix_audit_log_at", audit_log.c.at)
sa.Index("ix_audit_log_actor", audit_log.c.actor, audit_log.c.id)
sa.Index("ix_audit_log_action", audit_log.c.action, audit_log.c.id)

# Browser sessions: the cookie holds a random secret, the row only its sha256 (as for
# tokens, the secret's 256 bits make a fast hash safe). A session ends when revoked (sign
# out), idle too long (``last_seen_at``) or past ``expires_at``, whichever comes first.
sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("user_id", BigId, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("secret_hash", sa.String(80), nullable=False, unique=True),  # "sha256:<hex>"
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("last_seen_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),  # absolute end, whatever the use
    sa.Column("revoked_at", sa.Float),
    sa.Column("ip", sa.String(64)),
    sa.Column("user_agent", sa.String(200)),
)
sa.Index("ix_sessions_user", sessions.c.user_id)

# Device logins (``lablink login`` without a token): the CLI holds a random
# device code, the row only its sha256; a signed-in person approves the short user code
# in a browser. The token is made when the CLI next polls, so no secret is ever stored.
# ``state``: pending, approved, denied or used.
device_logins = sa.Table(
    "device_logins",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("device_hash", sa.String(80), nullable=False, unique=True),  # "sha256:<hex>"
    sa.Column("user_code", sa.String(16), nullable=False),
    sa.Column("label", sa.String(100), nullable=False),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
    sa.Column("polled_at", sa.Float),
    sa.Column("user_id", BigId, sa.ForeignKey("users.id")),  # who approved or denied
    sa.Column("token_id", BigId),  # the token the CLI took
    sa.Column("ip", sa.String(64)),  # where the CLI started from
)
sa.Index("ix_device_logins_user_code", device_logins.c.user_code)

# -- team operations ------------------------------------------------------
# One person, one record: a teammate is a ``users`` row plus this row. Hours and focus
# blocks are minutes of the local day per weekday (``team/hours.py``), interpreted in
# ``tz`` (an IANA name), so DST never shifts what people wrote. ``contacts`` are apprise
# URLs, secrets included: they leave the store only masked. ``source`` is ``cli`` or
# ``toml`` (written by ``lablink team sync``).
team_members = sa.Table(
    "team_members",
    metadata,
    sa.Column("user_id", BigId, sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("tz", sa.String(64), nullable=False),
    sa.Column("hours", sa.JSON, nullable=False),
    sa.Column("focus", sa.JSON, nullable=False),
    sa.Column("away", sa.JSON, nullable=False),
    sa.Column("contacts", sa.JSON, nullable=False),
    sa.Column("source", sa.String(20), nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

# ``members`` is the turn order (user names). ``handoff_day`` NULL: a daily hand-off.
rotations = sa.Table(
    "rotations",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(100), nullable=False, unique=True),
    sa.Column("members", sa.JSON, nullable=False),
    sa.Column("handoff_day", sa.Integer),
    sa.Column("handoff_minute", sa.Integer, nullable=False),
    sa.Column("tz", sa.String(64), nullable=False),
    sa.Column("follow_sun", sa.Boolean, nullable=False),
    sa.Column("escalate_after", sa.Float, nullable=False),
    sa.Column("fallback", sa.String(100)),
    sa.Column("projects", sa.JSON, nullable=False),
    sa.Column("source", sa.String(20), nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

oncall_overrides = sa.Table(
    "oncall_overrides",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("rotation_id", BigId, sa.ForeignKey("rotations.id"), nullable=False),
    sa.Column("person", sa.String(100), nullable=False),
    sa.Column("start_at", sa.Float, nullable=False),
    sa.Column("end_at", sa.Float, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)
sa.Index("ix_oncall_overrides_rotation", oncall_overrides.c.rotation_id, oncall_overrides.c.end_at)

# -- the MLflow-compatible API ---------------------------------------------------------
# An MLflow experiment is a lablink project. MLflow clients keep experiment ids as
# numbers, so each project gets a stable one here (0 is MLflow's "Default"), with the
# exact MLflow name (which may hold spaces or slashes a project name may not), its
# lifecycle (MLflow deletes and restores experiments) and its tags.
mlflow_experiments = sa.Table(
    "mlflow_experiments",
    metadata,
    sa.Column("experiment_id", BigId, primary_key=True, autoincrement=True),
    sa.Column("project_id", BigId, sa.ForeignKey("projects.id"), nullable=False, unique=True),
    sa.Column("name", sa.String(500), nullable=False, unique=True),
    sa.Column("lifecycle_stage", sa.String(20), nullable=False),  # active, deleted
    sa.Column("tags", sa.JSON, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

# What MLflow keeps about a run that lablink's own columns do not: its lifecycle (a
# deleted run stays stored, hidden from searches) and, below, params exactly as the
# client sent them (MLflow params are strings; the run's config holds the parsed value)
# and key/value tags (lablink tags are plain labels). Runs made by lablink's SDK have
# no row here: they read as active, with their config as params.
mlflow_runs = sa.Table(
    "mlflow_runs",
    metadata,
    sa.Column("run_id", sa.String(width.RUN_ID), sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("lifecycle_stage", sa.String(20), nullable=False),
    sa.Column("deleted_at", sa.Float),
)

mlflow_params = sa.Table(
    "mlflow_params",
    metadata,
    sa.Column("run_id", sa.String(width.RUN_ID), sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("key", sa.String(width.PARAM_KEY), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

mlflow_tags = sa.Table(
    "mlflow_tags",
    metadata,
    sa.Column("run_id", sa.String(width.RUN_ID), sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("key", sa.String(width.PARAM_KEY), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

# -- data review -------------------------------------------------------------
# One review per dataset version: who asked, whom, with which options, the automated
# report computed at request time (stored, so a reviewer reads what the requester saw),
# and the state the event log leads to. A new version needs a new review.
reviews = sa.Table(
    "reviews",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("version_id", BigId, sa.ForeignKey("dataset_versions.id"), nullable=False),
    sa.Column("requested_by", sa.String(200), nullable=False),
    sa.Column("requested_at", sa.Float, nullable=False),
    sa.Column("reviewers", sa.JSON, nullable=False),  # user names
    sa.Column("options", sa.JSON, nullable=False),
    sa.Column("report", sa.JSON, nullable=False),
    sa.Column("report_status", sa.String(10), nullable=False),  # pass, warn, fail
    sa.Column("approvals_needed", sa.Integer, nullable=False),
    sa.Column("state", sa.String(20), nullable=False),  # pending approved rejected revoked
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.UniqueConstraint("version_id", name="uq_reviews_version"),
)
sa.Index("ix_reviews_state", reviews.c.state, reviews.c.id)

# Append-only like the audit log: migration 0011 adds triggers that refuse UPDATE and
# DELETE. ``verified`` says the actor was proven by the server's authentication (False
# for an embedded single-user store, where the name is whatever the settings say).
review_events = sa.Table(
    "review_events",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("review_id", BigId, sa.ForeignKey("reviews.id"), nullable=False),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("action", sa.String(20), nullable=False),  # request comment approve reject revoke
    sa.Column("note", sa.Text),
    sa.Column("verified", sa.Boolean, nullable=False),
)
sa.Index("ix_review_events_review", review_events.c.review_id, review_events.c.id)
# -- the model registry (MLflow's registered models, versions, aliases) -----------------
# A logged model is a model the MLflow client logged inside a run; its files are that
# run's artifacts under ``path``, so the run page lists them and the artifact proxy
# serves them. ``model_id`` is the id the client got ("m-<hex>").
mlflow_logged_models = sa.Table(
    "mlflow_logged_models",
    metadata,
    sa.Column("model_id", sa.String(64), primary_key=True),
    sa.Column("run_id", sa.String(width.RUN_ID), sa.ForeignKey("runs.id"), nullable=False),
    sa.Column("name", sa.String(500), nullable=False),
    sa.Column("path", sa.String(width.ARTIFACT_NAME), nullable=False),
    sa.Column("model_type", sa.String(500)),
    sa.Column("status", sa.String(40), nullable=False),  # LOGGED_MODEL_READY and the like
    sa.Column("params", sa.JSON, nullable=False),
    sa.Column("tags", sa.JSON, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)
sa.Index("ix_mlflow_logged_models_run", mlflow_logged_models.c.run_id)

# A registered model belongs to the project of the run its first version came from
# (None until then): roles in that project decide who reads and changes it.
registered_models = sa.Table(
    "registered_models",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(500), nullable=False, unique=True),
    sa.Column("project_id", BigId, sa.ForeignKey("projects.id")),
    sa.Column("description", sa.Text),
    sa.Column("tags", sa.JSON, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

# A version points at model files: ``source`` as the client sent it, ``location`` the
# artifact URI it resolved to when registered (so a later move of an alias or a deleted
# logged model never changes what a version loads).
model_versions = sa.Table(
    "model_versions",
    metadata,
    sa.Column("model_id", BigId, sa.ForeignKey("registered_models.id"), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("location", sa.Text, nullable=False),
    sa.Column("run_id", sa.String(width.RUN_ID)),  # no foreign key: as dataset versions
    sa.Column("logged_model_id", sa.String(64)),
    sa.Column("stage", sa.String(20), nullable=False),  # None, Staging, Production, Archived
    sa.Column("description", sa.Text),
    sa.Column("tags", sa.JSON, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)
sa.Index("ix_model_versions_run", model_versions.c.run_id)

model_aliases = sa.Table(
    "model_aliases",
    metadata,
    sa.Column("model_id", BigId, sa.ForeignKey("registered_models.id"), primary_key=True),
    sa.Column("alias", sa.String(255), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("set_by", sa.String(200), nullable=False),
    sa.Column("set_at", sa.Float, nullable=False),
)

# -- dataset version aliases (``images@prod``) ----------------------------------------
# ``dataset_aliases`` is where each alias points now; ``dataset_alias_moves`` keeps
# every move (``version`` None: the alias was deleted), so the dataset page can say who
# moved ``prod`` and when.
dataset_aliases = sa.Table(
    "dataset_aliases",
    metadata,
    sa.Column("dataset_id", BigId, sa.ForeignKey("datasets.id"), primary_key=True),
    sa.Column("alias", sa.String(width.NAME), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("set_by", sa.String(200), nullable=False),
    sa.Column("set_at", sa.Float, nullable=False),
)

dataset_alias_moves = sa.Table(
    "dataset_alias_moves",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("dataset_id", BigId, sa.ForeignKey("datasets.id"), nullable=False),
    sa.Column("alias", sa.String(width.NAME), nullable=False),
    sa.Column("version", sa.Integer),
    sa.Column("previous", sa.Integer),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("at", sa.Float, nullable=False),
)
sa.Index("ix_dataset_alias_moves_dataset", dataset_alias_moves.c.dataset_id)
