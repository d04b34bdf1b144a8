"""The Store contract: every method abstract, every raised error named.

``SqlStore`` (``store/sql.py``, its SQL split by subject into ``*_sql.py``) writes each
query once; ``SqliteStore`` and ``PostgresStore`` hold only dialect specifics. Both pass
``tests/store/test_contract.py``. Events are appended inside the write that causes them
(``SqlStore.add_event``), so the contract has no separate append method.
"""

from __future__ import annotations

import abc
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from lablink.checks.filters import Expr
from lablink.models import Artifact, Event, MetricSummary, Project, RunRecord

# key -> (steps, wall times, values), parallel sequences of one batch
# (numpy arrays or plain sequences: the store packs them with numpy either way)
PointBatch = Mapping[str, tuple[Any, Any, Any]]
# key -> (steps, times, values) as numpy arrays sorted by step
Series = tuple[Any, Any, Any]


class Store(abc.ABC):
    """Persistence for projects, runs, metrics, artifacts and the event log."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections. The store is unusable afterwards."""

    # -- projects -----------------------------------------------------------------------
    @abc.abstractmethod
    def ensure_project(self, name: str) -> int:
        """Return the id of project ``name``, creating it if needed."""

    @abc.abstractmethod
    def list_projects(self) -> list[Project]:
        """All projects with run counts, active runs and last activity, newest first."""

    # -- runs -------------------------------------------------------------------------
    @abc.abstractmethod
    def create_run(
        self, values: Mapping[str, Any], params: Mapping[str, Any], tags: Sequence[str]
    ) -> None:
        """Insert a run row (``values`` are ``runs`` columns) with its params and tags.

        Raises:
            AlreadyExists: a run with that id exists.
        """

    @abc.abstractmethod
    def create_runs(
        self, rows: Sequence[tuple[Mapping[str, Any], Mapping[str, Any], Sequence[str]]]
    ) -> None:
        """Insert many runs, each ``(values, params, tags)`` as for ``create_run``, in one
        transaction: all of them or none.

        Raises:
            AlreadyExists: a run with one of the ids exists (none is inserted).
        """

    @abc.abstractmethod
    def existing_run_ids(self, run_ids: Sequence[str]) -> set[str]:
        """Those of ``run_ids`` that are the ids of stored runs (one query)."""

    @abc.abstractmethod
    def get_run(self, run_id: str) -> RunRecord:
        """One run with tags, params, metric summaries, notes and inputs.

        Raises:
            NotFound: no run has that id.
        """

    @abc.abstractmethod
    def run_status(self, run_id: str) -> tuple[str, str | None, str | None]:
        """A run's status, status reason and pending stop request: one narrow read for
        the ingestion and heartbeat paths.

        Raises:
            NotFound: no run has exactly that id.
        """

    @abc.abstractmethod
    def resolve_run_id(self, ref: str) -> str:
        """The full id for an id or a unique id prefix (at least 4 characters).

        Raises:
            NotFound: nothing matches.
            InvalidInput: the prefix is ambiguous.
        """

    @abc.abstractmethod
    def search_runs(
        self,
        project: str | None,
        where: Expr | None,
        order_by: str | None,
        descending: bool,
        limit: int,
        offset: int,
        fields: Sequence[str] | None = None,
    ) -> tuple[list[RunRecord], int]:
        """Runs matching a parsed filter, and how many match in all.

        ``order_by`` is a column (``created_at``, ``name``, ``status``, ...), or
        ``params.<key>`` / ``metrics.<key>``. With ``fields`` (checked names) only those
        parts of each run are read; the others are blank. Raises ``NotFound`` for an
        unknown project.
        """

    @abc.abstractmethod
    def search_run_columns(
        self,
        project: str | None,
        where: Expr | None,
        order_by: str | None,
        descending: bool,
        limit: int,
        offset: int,
        fields: Sequence[str],
    ) -> tuple[dict[str, list[Any]], int]:
        """``search_runs`` answered as ``run_columns.to_columns`` makes it from the runs,
        for ``fields`` (checked names) all in ``row_columns.COLUMN_FIELDS``, made from
        the rows without records. Raises ``NotFound`` for an unknown project and
        ``InvalidInput`` for a field not in ``COLUMN_FIELDS``.
        """

    @abc.abstractmethod
    def update_run(self, run_id: str, values: Mapping[str, Any]) -> None:
        """Set ``runs`` columns. Raises ``NotFound``."""

    @abc.abstractmethod
    def set_config(self, run_id: str, config: Mapping[str, Any], params: Mapping[str, Any]) -> None:
        """Replace the run's config and its flattened params. Raises ``NotFound``."""

    @abc.abstractmethod
    def set_summary(self, run_id: str, summary: Mapping[str, Any]) -> None:
        """Merge ``summary`` into the run's summary; numbers also become filterable."""

    @abc.abstractmethod
    def add_tags(self, run_id: str, tags: Sequence[str]) -> None:
        """Add tags (already present ones are kept once). Raises ``NotFound``."""

    @abc.abstractmethod
    def remove_tags(self, run_id: str, tags: Sequence[str]) -> None:
        """Remove tags; absent ones are ignored. Raises ``NotFound``."""

    @abc.abstractmethod
    def add_note(self, run_id: str, author: str, text: str, outcome: str | None) -> None:
        """Append a note; a note with an outcome sets the run's outcome. Raises ``NotFound``."""

    @abc.abstractmethod
    def add_input(self, run_id: str, kind: str, ref: str, digest: str | None) -> None:
        """Record that the run read ``ref`` (a dataset version, say)."""

    # -- metrics ------------------------------------------------------------------------
    @abc.abstractmethod
    def ingest(
        self,
        run_id: str,
        seq: int,
        batch: PointBatch,
        event_payload: Mapping[str, Any] | None,
        accepting: Collection[str] | None = None,
    ) -> bool:
        """Store one batch atomically. False when ``(run_id, seq)`` was already ingested.

        With ``accepting``, the run's status is checked in the same transaction.

        Raises:
            NotFound: unknown run.
            RunNotActive: the run's status is not one of ``accepting``.
        """

    @abc.abstractmethod
    def ingest_points(
        self,
        run_id: str,
        seq: int,
        keys: Sequence[str],
        steps: Any,
        times: Any,
        values: Any,
        event_payload: Mapping[str, Any] | None,
        accepting: Collection[str] | None = None,
    ) -> bool:
        """``ingest`` for a batch of one point per key, given as columns: ``keys``
        (distinct) and the int64 ``steps``, float64 ``times`` and ``values`` arrays,
        one row a key. Stored as ``ingest`` stores it, with a statement per table.

        Raises:
            NotFound: unknown run.
            RunNotActive: the run's status is not one of ``accepting``.
        """

    @abc.abstractmethod
    def read_series(
        self, run_id: str, key: str, step_min: int | None, step_max: int | None
    ) -> Series:
        """Points of one metric in step order as numpy arrays (steps, times, values)."""

    @abc.abstractmethod
    def metric_summaries(self, run_id: str) -> dict[str, MetricSummary]:
        """Per key: count, last point, extremes and summary value."""

    # -- blobs and artifacts ------------------------------------------------------------
    @abc.abstractmethod
    def record_blob(self, digest: str, size: int) -> None:
        """Note that the blob store holds ``digest`` (idempotent)."""

    @abc.abstractmethod
    def add_artifact(self, artifact: Artifact) -> None:
        """Attach a stored blob to a run under a name (replacing that name)."""

    @abc.abstractmethod
    def list_artifacts(self, run_id: str) -> list[Artifact]:
        """A run's artifacts by name."""

    @abc.abstractmethod
    def artifact_page(
        self, run_id: str, prefix: str, after: str | None, limit: int, newest: bool
    ) -> list[Artifact]:
        """Up to ``limit`` of a run's artifacts whose names start with ``prefix`` (and
        sort after ``after``), by name: the last ones first when ``newest``. A long
        job's thousands of output chunks are read a page at a time.

        Raises:
            NotFound: no run has exactly that id.
        """

    @abc.abstractmethod
    def project_artifacts(self, project: str, kind: str | None = None) -> list[Artifact]:
        """The artifacts of every run of ``project`` (of one ``kind``), by run and name."""

    # -- events -------------------------------------------------------------------------
    @abc.abstractmethod
    def events_since(
        self, cursor: int, project: str | None, run_id: str | None, limit: int
    ) -> list[Event]:
        """Events with id > ``cursor``, oldest first, optionally for one project or run."""

    @abc.abstractmethod
    def last_event_id(self) -> int:
        """The newest event id (0 when the log is empty)."""

    @abc.abstractmethod
    def wait_for_events(self, cursor: int, timeout: float) -> None:
        """Block until an event newer than ``cursor`` may exist, or ``timeout`` passes.

        SQLite polls the monotonic id; PostgreSQL waits on LISTEN/NOTIFY, so writes made
        by any server process on the same database wake every watcher.
        """
