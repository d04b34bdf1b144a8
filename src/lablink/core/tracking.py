"""Tracking use cases: create runs, ingest points, search, history, notes, artifacts.

``Tracking`` is what both the server routes and the SDK's direct transport call, so
the two transports behave the same by construction. Every write takes the acting user.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any, Protocol

from lablink.checks.filters import parse_filter
from lablink.checks.keys import check_metric_key
from lablink.checks.limits import MAX_BATCH_METRICS, MAX_SUMMARY_BYTES, MAX_TAGS
from lablink.checks.names import check_project, new_run_id
from lablink.checks.nonfinite import json_float
from lablink.checks.run_fields import (
    RUN_FIELDS,
    check_artifact_name,
    check_config,
    check_final_status,
    check_json_object,
    check_new_run,
    check_note,
    check_size,
    check_tag,
)
from lablink.checks.wire_numbers import check_wire_int
from lablink.errors import AlreadyExists, InvalidInput, NotFound, RunNotActive
from lablink.models import RUN_STATUSES, Artifact, History, NewRun, Project, RunRecord
from lablink.run_columns import to_columns
from lablink.store.base import Store
from lablink.store.blobs import BlobStore, check_digest
from lablink.store.jsoncol import FiniteJson
from lablink.store.row_columns import COLUMN_FIELDS
from lablink.store.rows import inserted_run

if TYPE_CHECKING:  # numpy loads with the first batch or history: `lablink runs ls` needs neither
    import numpy as np

logger = logging.getLogger(__name__)

MAX_HISTORY_POINTS = 100_000
LIVE_EVENT_POINTS = 2_000  # batches up to this size ride along in the SSE event itself
RUN_ID_CACHE = 100_000


# A batch as the core checked it: key -> (steps, times, values) numpy arrays.
Batch = Mapping[str, tuple["np.ndarray", "np.ndarray", "np.ndarray"]]
# Statuses that accept points and a final status: "crashed" is the watchdog's verdict on
# a run it stopped hearing from, and the run may prove it wrong (it was only out of
# reach: its spool still delivers).
OPEN_STATUSES = frozenset({"running", "crashed"})


class TrackingObserver(Protocol):
    """Told about runs as they start, ingest and end (the watchdog)."""

    def check_capture(self, capture: Mapping[str, Any]) -> None:
        """Refuse a run's captured fields (its watch policy) before anything is stored."""

    def run_created(self, run: RunRecord, capture: Mapping[str, Any]) -> None:
        """A run was stored."""

    def before_batch(self, run_id: str, batch: Batch) -> Any:
        """Read what ``batch_ingested`` needs from before the batch (None: nothing)."""

    def batch_ingested(self, run_id: str, batch: Batch, before: Any) -> None:
        """A new batch of the run was stored; ``before`` is what ``before_batch`` read."""

    def run_revived(self, run: RunRecord) -> None:
        """A crashed run sent a heartbeat and is running again."""

    def final_status(
        self, run: RunRecord, status: str, reason: str | None
    ) -> tuple[str, str | None]:
        """The status and reason a run ends with (a watchdog stop makes ``timed_out``)."""

    def pending_restart(self, run_id: str, stop_requested: str, take: bool) -> str | None:
        """The reason when the run's stop request is a restart (taken when ``take``)."""


class Tracking:
    """The tracking use cases over one store and blob store."""

    def __init__(self, store: Store, blobs: BlobStore) -> None:
        self.store = store
        self.blobs = blobs
        self._observer: TrackingObserver | None = None
        self._make_observer: Callable[[], TrackingObserver] | None = None
        # Full run ids known to exist: runs are never deleted nor renamed, so the hot
        # ingest path skips resolving them (the status is checked as points are stored).
        self._run_ids: set[str] = set()

    @property
    def observer(self) -> TrackingObserver | None:
        """Who is told about runs as they start, ingest and end (a Lab's watchdog)."""
        if self._observer is None and self._make_observer is not None:
            self._observer = self._make_observer()
        return self._observer

    @observer.setter
    def observer(self, observer: TrackingObserver | None) -> None:
        self._observer, self._make_observer = observer, None

    def observe_with(self, make: Callable[[], TrackingObserver]) -> None:
        """Build the observer with ``make`` when a run is first written: a command that
        only reads runs never builds it."""
        self._observer, self._make_observer = None, make

    # -- runs -------------------------------------------------------------------------
    def create_run(
        self,
        actor: str,
        project: str,
        name: str | None = None,
        config: Mapping[str, Any] | None = None,
        tags: Sequence[str] = (),
        run_id: str | None = None,
        capture: Mapping[str, Any] | None = None,
        *,
        times: Mapping[str, float] | None = None,
        read_back: bool = True,
    ) -> RunRecord:
        """Start a run. ``capture`` holds git/host/env fields gathered by the SDK.

        ``times``: ``created_at``, ``heartbeat_at`` or ``updated_at`` other than now (a
        run that says when it started). ``read_back`` False: the record is built from
        what was inserted (``rows.inserted_run``), without reading the run back.
        """
        new = NewRun(project, name, config or {}, tags, run_id, capture or {})
        values, params, tags = self.checked_run(actor, new, time.time())
        if times:
            values.update(times)
        run_id = values["id"]
        if new.id and self._exists(run_id):  # before ensure_project: refuse without a trace
            raise AlreadyExists(f"run {run_id} already exists", "choose another id, or omit it")
        if self.observer is not None:
            self.observer.check_capture(capture or {})
        values["project_id"] = self.store.ensure_project(project)
        self.store.create_run(values, params, tags)
        self._known(run_id)
        if read_back:
            run = self.store.get_run(run_id)
        else:
            run = inserted_run(values, project, params, tags)
        if self.observer is not None:
            self.observer.run_created(run, capture or {})
        return run

    def checked_run(
        self, actor: str, new: NewRun, now: float
    ) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
        """A new run's ``runs`` row (without ``project_id``), params and tags, checked.

        Raises:
            InvalidInput: the first bad field.
        """
        run_id = new.id or new_run_id()
        params, tags, name = check_new_run(new.project, new.name, new.config, new.tags, run_id)
        extra = {k: v for k, v in new.capture.items() if k in RUN_FIELDS}
        values = {
            "id": run_id,
            "name": name,
            "user": actor,
            "status": "running",
            "created_at": now,
            "heartbeat_at": now,
            "updated_at": now,
            "config": dict(new.config),
            "summary": {},
            "command": [],
            "packages": {},
            "gpus": [],
            "git_dirty": False,
            **extra,
        }
        return values, params, tags

    def _exists(self, run_id: str) -> bool:
        try:
            self.store.run_status(run_id)
        except NotFound:
            return False
        return True

    def _full_run_id(self, ref: str) -> str:
        """The full id of a run given by id or prefix; a known full id costs no query."""
        if ref in self._run_ids:
            return ref
        rid = self.store.resolve_run_id(ref)
        self._known(rid)
        return rid

    def _known(self, run_id: str) -> None:
        """Remember that run ``run_id`` exists (``_full_run_id`` then asks nothing)."""
        if len(self._run_ids) >= RUN_ID_CACHE:
            self._run_ids.clear()  # crude but bounded; refills on use
        self._run_ids.add(run_id)

    def _status(self, ref: str) -> tuple[str, tuple[str, str | None, str | None]]:
        """A run's full id with its status and reason: one query for a full id."""
        try:
            return ref, self.store.run_status(ref)
        except NotFound:
            rid = self.store.resolve_run_id(ref)  # a prefix, or a run that is not there
            return rid, self.store.run_status(rid)

    def get_run(self, ref: str) -> RunRecord:
        """A run by id or unique id prefix."""
        return self.store.get_run(self.store.resolve_run_id(ref))

    def search_runs(
        self,
        project: str | None = None,
        filter: str | None = None,
        sort: str | None = None,
        descending: bool = True,
        limit: int = 100,
        offset: int = 0,
        fields: Sequence[str] | None = None,
    ) -> tuple[list[RunRecord], int]:
        """Runs matching a filter expression (see ``checks/filters.py`` for the grammar).

        ``fields`` (names checked by ``checks/run_view.parse_fields``) keeps only those
        parts of each run; the rest are blank and never read.
        """
        _check_page(limit, offset)
        return self.store.search_runs(
            project, parse_filter(filter), sort, descending, limit, offset, fields
        )

    def search_columns(
        self,
        project: str | None,
        filter: str | None,
        sort: str | None,
        descending: bool,
        limit: int,
        offset: int,
        fields: Sequence[str] | None,
        keys: Sequence[str],
    ) -> tuple[dict[str, list[Any]], int]:
        """``search_runs`` as ``run_columns.to_columns(runs, keys)`` answers it: straight
        from the rows when ``fields`` names only fields made that way (``keys`` then
        being ``fields``), else through records."""
        if fields is not None and tuple(keys) == tuple(fields) and set(fields) <= COLUMN_FIELDS:
            _check_page(limit, offset)
            where = parse_filter(filter)
            return self.store.search_run_columns(
                project, where, sort, descending, limit, offset, fields
            )
        runs, total = self.search_runs(project, filter, sort, descending, limit, offset, fields)
        return to_columns(runs, keys), total

    def list_projects(self) -> list[Project]:
        return self.store.list_projects()

    def finish_run(
        self, actor: str, run_id: str, status: str = "finished", reason: str | None = None
    ) -> RunRecord:
        """End a run with a final status. Ending an ended run again is a no-op.

        A run the watchdog marked crashed still takes its final status: its SDK was
        only out of reach, and "finished" is the truth.
        """
        check_final_status(status)
        run = self.get_run(run_id)
        if run.status not in OPEN_STATUSES:
            return run
        if self.observer is not None:
            status, reason = self.observer.final_status(run, status, reason)
        self.store.update_run(
            run.id, {"status": status, "status_reason": reason, "ended_at": time.time()}
        )
        return self.store.get_run(run.id)

    def heartbeat(
        self,
        run_id: str,
        system: Mapping[str, float] | None = None,
        seq: int | None = None,
        take_restart: bool = False,
    ) -> dict[str, Any]:
        """Record liveness (and sys/* metrics); the answer tells the SDK whether to stop.

        A heartbeat from a run marked crashed revives it: it was frozen or out of
        reach, not dead. A restart the watchdog asked for is not a stop: the answer's
        ``restart`` holds its reason for the launcher, whose heartbeat (``take_restart``)
        takes it, once; the code's own SDK is told nothing.
        """
        for key in system or {}:
            check_metric_key(key)  # before anything is written: all or nothing
        rid, (status, reason, stop) = self._status(run_id)
        if status == "crashed":
            self.store.update_run(
                rid, {"status": "running", "status_reason": None, "ended_at": None}
            )
            status, reason = "running", None
            if self.observer is not None:
                self.observer.run_revived(self.store.get_run(rid))
        if status != "running":
            return {"status": status, "stop": reason or status}
        self.store.update_run(rid, {"heartbeat_at": time.time()})
        restart = None
        if stop and self.observer is not None:
            restart = self.observer.pending_restart(rid, stop, take_restart)
            if restart is not None:
                stop = None
        if system and seq is not None:
            now = time.time()
            step = int(now)
            self.log_batch(
                rid,
                seq,
                {k: {"steps": [step], "times": [now], "values": [v]} for k, v in system.items()},
            )
        answer: dict[str, Any] = {"status": status, "stop": stop}
        if restart is not None and take_restart:
            answer["restart"] = restart
        return answer

    def merge_config(self, run_id: str, config: Mapping[str, Any]) -> RunRecord:
        """Merge ``config`` over the run's config (a launched job's code adds its own).

        Raises:
            InvalidInput: a bad config (nothing is changed).
            RunNotActive: the run has ended.
        """
        run = self.get_run(run_id)
        if run.status not in OPEN_STATUSES:
            raise RunNotActive(f"run {run.id} is {run.status}; its config is final")
        merged = {**dict(run.config), **dict(config)}
        self.store.set_config(run.id, merged, check_config(merged))
        return self.store.get_run(run.id)

    def request_stop(self, actor: str, run_id: str, reason: str) -> None:
        """Ask a running run to stop; its SDK learns it from the next heartbeat."""
        run = self.get_run(run_id)
        self.store.update_run(run.id, {"stop_requested": f"{reason} (by {actor})"})

    def set_summary(self, run_id: str, summary: Mapping[str, Any]) -> None:
        """Merge ``summary`` into the run's; the merged summary is bounded too.

        Raises:
            InvalidInput: a bad key or value, or a summary over ``MAX_SUMMARY_BYTES``.
        """
        check_json_object(summary, "summary", MAX_SUMMARY_BYTES)
        for key in summary:
            check_metric_key(key)
        rid = self.store.resolve_run_id(run_id)
        merged = {**self.store.get_run(rid).summary, **summary}
        check_size(merged, "the run's summary with these values", MAX_SUMMARY_BYTES)
        self.store.set_summary(rid, summary)

    def tag(
        self, actor: str, run_id: str, add: Sequence[str] = (), remove: Sequence[str] = ()
    ) -> RunRecord:
        rid = self.store.resolve_run_id(run_id)
        add = [check_tag(t) for t in add]
        if add:
            total = len((set(self.store.get_run(rid).tags) | set(add)) - set(remove))
            if total > MAX_TAGS:
                raise InvalidInput(
                    f"a run takes at most {MAX_TAGS} tags; these would make {total}",
                    "remove tags first, or record the information in config or notes",
                )
            self.store.add_tags(rid, add)
        if remove:
            self.store.remove_tags(rid, list(remove))
        return self.store.get_run(rid)

    def note(self, actor: str, run_id: str, text: str, outcome: str | None = None) -> RunRecord:
        """Add a note; ``outcome`` (positive/negative/inconclusive) marks the result."""
        check_note(text, outcome)
        rid = self.store.resolve_run_id(run_id)
        self.store.add_note(rid, actor, text, outcome)
        return self.store.get_run(rid)

    def add_input(self, run_id: str, kind: str, ref: str, digest: str | None = None) -> None:
        self.store.add_input(self.store.resolve_run_id(run_id), kind, ref, digest)

    # -- metrics ------------------------------------------------------------------------
    def log_batch(self, run_id: str, seq: int, metrics: Mapping[str, Any]) -> dict[str, Any]:
        """Ingest one batch ``{key: {"steps", "times", "values"}}`` idempotently by ``seq``.

        Raises:
            InvalidInput: bad keys, lengths or values (nothing is stored).
            RunNotActive: the run has ended (a crashed run still takes points: a spool
                replayed after an outage must not lose them).
        """
        from lablink.checks.series import check_series

        check_wire_int(seq, "seq")
        if not isinstance(metrics, Mapping):
            raise InvalidInput("metrics must be an object of key -> {steps, times, values}")
        if len(metrics) > MAX_BATCH_METRICS:
            raise InvalidInput(
                f"a batch holds {len(metrics)} metrics; at most {MAX_BATCH_METRICS}",
                "send the metrics in several batches",
            )
        batch: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        for key, series in metrics.items():
            check_metric_key(key)
            batch[key] = check_series(key, series)
        rid = self._full_run_id(run_id)
        total = sum(len(s[0]) for s in batch.values())
        # int steps, and values finite or as text (``_event_values``): nothing to mark
        payload: dict[str, Any] = FiniteJson(points=total)
        if total <= LIVE_EVENT_POINTS:
            payload["metrics"] = {
                k: {"steps": s.tolist(), "values": _event_values(vals)}
                for k, (s, _, vals) in batch.items()
            }
        else:
            payload["keys"] = sorted(batch)
        return self._observed(
            rid,
            seq,
            batch,
            total,
            lambda: self.store.ingest(rid, seq, batch, payload, OPEN_STATUSES),
        )

    def log_points(
        self,
        run_id: str,
        seq: int,
        keys: Sequence[str],
        steps: np.ndarray,
        times: np.ndarray,
        values: np.ndarray,
    ) -> dict[str, Any]:
        """``log_batch`` for points given as columns, a key, step (int64), time (UNIX
        seconds) and value (float64) a row: the form of an MLflow batch, a thousand keys
        of one point each, checked in one pass and stored set-wise.

        Raises:
            InvalidInput: bad keys or values (the messages of ``log_batch``).
            RunNotActive: the run has ended.
        """
        from lablink.checks.series import PointColumns, check_columns

        check_wire_int(seq, "seq")
        unique = list(dict.fromkeys(keys))
        if len(unique) > MAX_BATCH_METRICS:
            raise InvalidInput(
                f"a batch holds {len(unique)} metrics; at most {MAX_BATCH_METRICS}",
                "send the metrics in several batches",
            )
        for key in unique:
            check_metric_key(key)
        check_columns(keys, steps, times)
        if len(unique) < len(keys):  # a key with several points: key by key
            rows: dict[str, list[int]] = {}
            for i, key in enumerate(keys):
                rows.setdefault(key, []).append(i)
            return self.log_batch(
                run_id,
                seq,
                {
                    k: {"steps": steps[idx], "times": times[idx], "values": values[idx]}
                    for k, idx in rows.items()
                },
            )
        rid = self._full_run_id(run_id)
        total = len(keys)
        payload: dict[str, Any] = FiniteJson(points=total)  # as in log_batch
        if total <= LIVE_EVENT_POINTS:
            payload["metrics"] = {
                k: {"steps": [s], "values": [v]}
                for k, s, v in zip(keys, steps.tolist(), _event_values(values), strict=True)
            }
        else:
            payload["keys"] = sorted(unique)
        batch = PointColumns(unique, steps, times, values)
        return self._observed(
            rid,
            seq,
            batch,
            total,
            lambda: self.store.ingest_points(
                rid, seq, unique, steps, times, values, payload, OPEN_STATUSES
            ),
        )

    def _observed(
        self, rid: str, seq: int, batch: Batch, total: int, ingest: Callable[[], bool]
    ) -> dict[str, Any]:
        """Store a checked batch of ``total`` points with ``ingest``, the observer told
        before and after."""
        before = None
        if self.observer is not None:
            try:
                before = self.observer.before_batch(rid, batch)
            except Exception:  # a watchdog bug must not refuse points
                logger.exception("watchdog: reading before batch %d of run %s failed", seq, rid)
        fresh = ingest()
        if fresh and self.observer is not None:
            try:
                self.observer.batch_ingested(rid, batch, before)
            except Exception:  # the points are stored; a watchdog bug must not refuse them
                logger.exception("watchdog: checking batch %d of run %s failed", seq, rid)
        return {"ingested": fresh, "points": total if fresh else 0}

    def history(
        self,
        run_id: str,
        key: str,
        max_points: int | None = None,
        step_min: int | None = None,
        step_max: int | None = None,
    ) -> History:
        """A metric's points in step order, downsampled (min/max per bucket) if asked."""
        from lablink.checks.downsample import MIN_POINTS, minmax_indices

        rid = self.store.resolve_run_id(run_id)
        if max_points is not None and not MIN_POINTS <= max_points <= MAX_HISTORY_POINTS:
            raise InvalidInput(
                f"max_points must be between {MIN_POINTS} and {MAX_HISTORY_POINTS}, "
                f"not {max_points}",
                f"ask for at least {MIN_POINTS} points (the first and last), or leave it out "
                "for all of them",
            )
        steps, times, values = self.store.read_series(rid, key, step_min, step_max)
        if not len(steps) and key not in self.store.metric_summaries(rid):
            raise NotFound(
                f"run {rid} has no metric {key!r}", "see the run's metrics with `lablink runs show`"
            )
        total = len(steps)
        if max_points is not None and total > max_points:
            idx = minmax_indices(values, max_points)
            steps, times, values = steps[idx], times[idx], values[idx]
        return History(
            rid, key, steps.tolist(), values.tolist(), times.tolist(), total, len(steps) < total
        )

    def compare(self, run_ids: Sequence[str]) -> dict[str, Any]:
        """Params that differ, and final/best metrics of each run side by side."""
        if len(run_ids) < 2:
            raise InvalidInput("compare needs at least two runs")
        runs = [self.get_run(r) for r in run_ids]
        keys = sorted({k for r in runs for k in r.params})
        differing = {
            k: [r.params.get(k) for r in runs]
            for k in keys
            if len({repr(r.params.get(k)) for r in runs}) > 1
        }
        same = {k: runs[0].params.get(k) for k in keys if k not in differing}
        metric_keys = sorted({k for r in runs for k in r.metrics})
        metrics = {k: [_metric_cell(r, k) for r in runs] for k in metric_keys}
        return {
            "runs": [{"id": r.id, "name": r.name, "status": r.status} for r in runs],
            "params_differing": differing,
            "params_same": same,
            "metrics": metrics,
        }

    # -- artifacts ----------------------------------------------------------------------
    def put_blob(self, stream: IO[bytes] | Iterable[bytes], expected: str | None = None) -> str:
        digest, size = self.blobs.put_stream(stream, check_digest(expected) if expected else None)  # type: ignore[arg-type]
        self.store.record_blob(digest, size)
        return digest

    def add_artifact(self, run_id: str, name: str, kind: str, digest: str) -> Artifact:
        """Attach an already stored blob to a run under ``name``."""
        check_artifact_name(name)
        check_digest(digest)
        if not self.blobs.exists(digest):
            raise NotFound(f"blob {digest} was not uploaded", "upload it before attaching it")
        size = self.blobs.fs.size(self.blobs.path(digest))
        artifact = Artifact(
            self.store.resolve_run_id(run_id), name, kind or "file", digest, int(size), time.time()
        )
        self.store.add_artifact(artifact)
        return artifact

    def list_artifacts(self, run_id: str) -> list[Artifact]:
        return self.store.list_artifacts(self.store.resolve_run_id(run_id))

    def artifact_page(
        self,
        run_id: str,
        prefix: str,
        after: str | None = None,
        limit: int = 1000,
        newest: bool = False,
    ) -> list[Artifact]:
        """A page of the run's artifacts named ``prefix...`` (see ``Store.artifact_page``)."""
        return self.store.artifact_page(
            self.store.resolve_run_id(run_id), prefix, after, limit, newest
        )

    def project_artifacts(self, project: str, kind: str | None = None) -> list[Artifact]:
        """Every artifact of ``project``'s runs, of one ``kind`` when given.

        Raises:
            InvalidInput: a malformed project name.
        """
        return self.store.project_artifacts(check_project(project), kind)


def _metric_cell(run: RunRecord, key: str) -> dict[str, Any] | None:
    m = run.metrics.get(key)
    if m is None:
        return None
    return {"final": m.value, "min": m.min_value, "max": m.max_value, "count": m.count}


__all__ = ["RUN_STATUSES", "Tracking"]


def _event_values(values: np.ndarray) -> list[Any]:
    """A batch's values for its live event: non-finite ones as text ("NaN", "inf")."""
    import numpy as np  # only when points arrive: commands that read none skip it

    listed: list[Any] = values.tolist()
    if bool(np.isfinite(values).all()):
        return listed  # the common case, without a Python call per value
    return [json_float(v, "text") for v in listed]


def _check_page(limit: int, offset: int) -> None:
    """Refuse a page a search cannot answer.

    Raises:
        InvalidInput: ``limit`` outside 1..10000 or a negative ``offset``.
    """
    if not 1 <= limit <= 10_000:
        raise InvalidInput(f"limit must be between 1 and 10000, not {limit}")
    if offset < 0:
        raise InvalidInput(f"offset must not be negative, not {offset}")
