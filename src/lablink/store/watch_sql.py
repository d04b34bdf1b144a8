"""What the watchdog reads and writes about runs: policies, liveness, stops, crashes.

Every status change here is a compare-and-set (``UPDATE ... WHERE status = 'running'``)
in one short write transaction, so a run that finishes while the watchdog decides it
crashed keeps the status its SDK sent, and two server processes never both act.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from lablink.store import schema as t
from lablink.store.sql import SqlStore

RESTART = "restart"  # the stop status of a watchdog restart (the run goes on)
CHUNK = 900  # ids per IN (...) list: under SQLite's parameter limit on any build
Then = Callable[[sa.Connection], Any]


@dataclasses.dataclass(frozen=True)
class ActiveRun:
    """The few columns of a running run the watchdog's tick needs."""

    id: str
    project_id: int
    created_at: float
    heartbeat_at: float | None
    has_policy: bool
    stop_status: str | None
    stop_at: float | None


def _chunks(ids: Sequence[str]) -> Iterator[list[str]]:
    for i in range(0, len(ids), CHUNK):
        yield list(ids[i : i + CHUNK])


class WatchSql:
    """Queries for ``run_watch`` and the watchdog's view of ``runs``."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store

    def put_policy(self, run_id: str, policy: Mapping[str, Any], now: float) -> None:
        """Keep a run's own watch policy (replacing an earlier one)."""
        w = t.run_watch
        with self.store.write() as conn:
            conn.execute(
                self.store.insert(w)
                .values(run_id=run_id, policy=dict(policy), updated_at=now)
                .on_conflict_do_update(
                    index_elements=["run_id"], set_={"policy": dict(policy), "updated_at": now}
                )
            )

    def policies(self, run_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The stored policies of these runs (runs without one are left out)."""
        w = t.run_watch
        out: dict[str, dict[str, Any]] = {}
        with self.store.engine.connect() as conn:
            for ids in _chunks(run_ids):
                for run_id, policy in conn.execute(
                    sa.select(w.c.run_id, w.c.policy).where(w.c.run_id.in_(ids))
                ):
                    out[run_id] = dict(policy or {})
        return out

    def active_runs(self) -> list[ActiveRun]:
        """Every running run, with whether it has a policy and a pending stop."""
        r, w = t.runs, t.run_watch
        query = (
            sa.select(
                r.c.id,
                r.c.project_id,
                r.c.created_at,
                r.c.heartbeat_at,
                w.c.run_id.is_not(None).label("has_policy"),
                w.c.stop_status,
                w.c.stop_at,
            )
            .select_from(r.outerjoin(w, w.c.run_id == r.c.id))
            .where(r.c.status == "running")
        )
        with self.store.engine.connect() as conn:
            return [ActiveRun(*row) for row in conn.execute(query)]

    def last_batch_at(self, run_ids: Sequence[str]) -> dict[str, float]:
        """When the newest batch (highest seq) of each run arrived, server time."""
        b = t.ingested_batches
        out: dict[str, float] = {}
        with self.store.engine.connect() as conn:
            for run_id in run_ids:
                at = conn.execute(
                    sa.select(b.c.received_at)
                    .where(b.c.run_id == run_id)
                    .order_by(b.c.seq.desc())
                    .limit(1)
                ).scalar()
                if at is not None:
                    out[run_id] = float(at)
        return out

    def last_point_at(self, run_ids: Sequence[str]) -> dict[str, float]:
        """Wall time of each run's newest point of a non-``sys/`` metric."""
        m = t.run_metrics
        out: dict[str, float] = {}
        with self.store.engine.connect() as conn:
            for ids in _chunks(run_ids):
                query = (
                    sa.select(m.c.run_id, sa.func.max(m.c.last_time))
                    .where(m.c.run_id.in_(ids), sa.not_(m.c.key.startswith("sys/")))
                    .group_by(m.c.run_id)
                )
                for run_id, at in conn.execute(query):
                    if at is not None:
                        out[run_id] = float(at)
        return out

    def gpu_keys(self, run_ids: Sequence[str]) -> dict[str, dict[str, tuple[float, float]]]:
        """Per run, its ``sys/gpu*`` keys with their last value and time."""
        m = t.run_metrics
        out: dict[str, dict[str, tuple[float, float]]] = {}
        with self.store.engine.connect() as conn:
            for ids in _chunks(run_ids):
                query = sa.select(m.c.run_id, m.c.key, m.c.last_value, m.c.last_time).where(
                    m.c.run_id.in_(ids), m.c.key.startswith("sys/gpu")
                )
                for run_id, key, value, at in conn.execute(query):
                    if value is not None and at is not None:
                        out.setdefault(run_id, {})[key] = (float(value), float(at))
        return out

    def mark_crashed(
        self, run_id: str, seen_before: float, reason: str, now: float, then: Then
    ) -> Any:
        """Crash a run still running with no heartbeat since ``seen_before``.

        ``then`` runs in the same transaction when the run was crashed (the incident
        is written with the status, or neither); returns what it returned, else None.
        """
        r = t.runs
        silent = sa.func.coalesce(r.c.heartbeat_at, r.c.created_at) < seen_before
        return self._end(run_id, "crashed", reason, now, silent, then)

    def end_run(self, run_id: str, status: str, reason: str, now: float) -> bool:
        """End a run that is still running (a stop it ignored); True if done."""
        return bool(self._end(run_id, status, reason, now, sa.true(), lambda conn: True))

    def _end(self, run_id: str, status: str, reason: str, now: float, cond: Any, then: Then) -> Any:
        r = t.runs
        with self.store.write() as conn:
            done = conn.execute(
                r.update()
                .where(r.c.id == run_id, r.c.status == "running", cond)
                .values(status=status, status_reason=reason, ended_at=now, updated_at=now)
            )
            if done.rowcount != 1:
                return None
            project_id = conn.execute(sa.select(r.c.project_id).where(r.c.id == run_id)).scalar()
            self.store.add_event(
                conn, int(project_id), run_id, "status", {"status": status, "reason": reason}
            )
            return then(conn)

    def request_stop(self, run_id: str, status: str, reason: str, now: float) -> bool:
        """Ask a running run to stop, to end as ``status``; False if already asked."""
        r, w = t.runs, t.run_watch
        with self.store.write() as conn:
            done = conn.execute(
                r.update()
                .where(r.c.id == run_id, r.c.status == "running", r.c.stop_requested.is_(None))
                .values(stop_requested=reason, updated_at=now)
            )
            if done.rowcount != 1:
                return False
            stop = {"stop_status": status, "stop_reason": reason, "stop_at": now}
            conn.execute(
                self.store.insert(w)
                .values(run_id=run_id, policy={}, updated_at=now, **stop)
                .on_conflict_do_update(index_elements=["run_id"], set_=stop)
            )
        return True

    def stop_intent(self, run_id: str) -> tuple[str, str] | None:
        """The status and reason a watchdog stop of this run ends in, if one was asked."""
        w = t.run_watch
        with self.store.engine.connect() as conn:
            row = conn.execute(
                sa.select(w.c.stop_status, w.c.stop_reason).where(w.c.run_id == run_id)
            ).first()
        if row is None or row.stop_status is None:
            return None
        return str(row.stop_status), str(row.stop_reason or "")

    def pending_restart(self, run_id: str, stop_requested: str, take: bool) -> str | None:
        """The reason of a restart the watchdog asked of this run, if its stop request is
        one; with ``take`` it is also cleared (once: the launcher that takes it restarts).

        A stop request that replaced the restart (``jobs stop`` after it) is a stop.
        """
        r, w = t.runs, t.run_watch
        query = sa.select(w.c.stop_status, w.c.stop_reason).where(w.c.run_id == run_id)
        if not take:
            with self.store.engine.connect() as conn:
                row = conn.execute(query).first()
            return _restart_reason(row, stop_requested)
        with self.store.write() as conn:
            reason = _restart_reason(conn.execute(query).first(), stop_requested)
            if reason is None:
                return None
            done = conn.execute(
                r.update()
                .where(r.c.id == run_id, r.c.stop_requested == reason)
                .values(stop_requested=None)
            )
            if done.rowcount != 1:
                return None
            conn.execute(
                w.update()
                .where(w.c.run_id == run_id)
                .values(stop_status=None, stop_reason=None, stop_at=None)
            )
        return reason


def _restart_reason(row: Any, stop_requested: str) -> str | None:
    if row is None or row.stop_status != RESTART or row.stop_reason != stop_requested:
        return None
    return str(row.stop_reason)
