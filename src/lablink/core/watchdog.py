"""The watchdog: metric rules on every ingested batch, the other rules on a timer.

Policy (``checks/watch_policy.py``): built-in defaults, under the server's
``lablink.toml`` ``[watch]`` table, under the run's own policy (its repository's
``[watch]`` with ``lablink.init(watch=...)`` over it, stored in ``run_watch``).

- On ingestion (``batch_ingested``, called by ``Tracking.log_batch`` after the batch
  is stored): NaN/inf and divergence of watched metrics, so a NaN opens its incident
  on the batch that carries it. The cost is a dict lookup when no rule watches the
  batch's keys and a few numpy passes when one does.
- On a timer (``tick``, once a second in ``lablink server``): lost heartbeat → crashed,
  max_runtime → asked to stop → timed_out, stall, idle GPUs, and stops the run ignored
  past ``stop_grace``. One query reads every running run.

A rule's ``restart`` action is a stop request whose intent is ``restart``: the launcher
of a ``lablink launch`` job takes it from its heartbeat (``pending_restart``), ends the
attempt and starts the next one; the run goes on. A run nobody launched is stopped.

Actions are compare-and-sets in the store, so several server processes on one
PostgreSQL act once; incidents are deduplicated by a unique index.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from lablink.checks.watch_policy import LAUNCHED_TAG, Policy, merge, parse_policy
from lablink.checks.watch_rules import (
    Finding,
    check_divergence,
    check_heartbeat,
    check_nan,
    check_runtime,
    check_stall,
    divergence_threshold,
    streak_start,
)
from lablink.core.gpu_watch import GpuWatch
from lablink.core.incidents import Incidents
from lablink.core.notify import Notifier
from lablink.core.tracking import Batch
from lablink.errors import LablinkError
from lablink.models import RunRecord
from lablink.settings import Settings
from lablink.store.sql import SqlStore
from lablink.store.watch_sql import RESTART, ActiveRun, WatchSql

if TYPE_CHECKING:  # numpy loads with the first watched batch, not with every CLI command
    import numpy as np

logger = logging.getLogger(__name__)

TICK_SECONDS = 1.0
REPEAT_QUIET = 5.0  # a finding repeated within this many seconds is not written again
LAG_GRACE = 5.0  # a tick later than this: this process was frozen, give runs a new grace
# Caches of ended runs are pruned only past these sizes, so a tick rarely rebuilds them.
SPARE_POLICIES = 1000  # parsed policies kept beyond twice the active runs
MAX_RECENT = 10_000  # recent findings remembered to quiet repeats
STOP_WAIT = 10.0  # seconds ``stop`` waits for a tick in progress to end


class Watchdog:
    """Evaluates watch rules for one store and acts on what fires."""

    def __init__(
        self, store: SqlStore, settings: Settings, tick_seconds: float = TICK_SECONDS
    ) -> None:
        config = settings.project_config
        self.base: Mapping[str, Any] = config.get("watch") or {}
        self.default = parse_policy(self.base)  # a bad [watch] table fails at start-up
        self.notifier = Notifier(store, config.get("notify") or {}, settings.public_url)
        self.incidents = Incidents(store, self.notifier)
        self.sql = WatchSql(store)
        self.store = store
        self.gpu = GpuWatch(store, self.sql)
        self.tick_seconds = tick_seconds
        # Written by request threads (batches, new runs) and the timer thread: every
        # read-modify-write of these two goes under _lock.
        self._lock = threading.Lock()
        self._policies: dict[str, Policy] = {}
        self._recent: dict[tuple[str, str, str], float] = {}
        self._grace_from = time.time()
        self._last_tick: float | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # -- policy -------------------------------------------------------------------------
    def resolve(self, own: Mapping[str, Any] | None) -> Policy:
        """The policy of a run whose own table is ``own``."""
        return parse_policy(merge(self.base, own)) if own else self.default

    def policy_for(self, run_id: str) -> Policy:
        """A run's policy, cached (policies never change after the run starts)."""
        with self._lock:
            policy = self._policies.get(run_id)
        if policy is None:
            own = self.sql.policies([run_id]).get(run_id)
            try:
                policy = self.resolve(own)
            except Exception:
                logger.exception(
                    "watchdog: run %s has an unreadable policy; using defaults", run_id
                )
                policy = self.default
            with self._lock:
                policy = self._policies.setdefault(run_id, policy)
        return policy

    # -- the tracking observer ------------------------------------------------------------
    def check_capture(self, capture: Mapping[str, Any]) -> None:
        """Refuse a run whose watch policy does not parse (before it is stored)."""
        if capture.get("watch"):
            self.resolve(capture["watch"])

    def run_created(self, run: RunRecord, capture: Mapping[str, Any]) -> None:
        """Keep the run's policy: its own, stored; else the default, known at once
        (its first batch then reads no policy)."""
        own = capture.get("watch")
        policy = self.default
        if own:
            self.sql.put_policy(run.id, own, time.time())
            policy = self.resolve(own)
        with self._lock:
            self._policies[run.id] = policy

    def before_batch(self, run_id: str, batch: Batch) -> dict[str, float | None]:
        """The minimum so far of each metric a divergence rule watches in ``batch``."""
        policy = self.policy_for(run_id)
        watched = [r.metric for r in policy.metric_rules if r.diverge_factor is not None]
        if not any(metric in batch for metric in watched):
            return {}  # the common case: no read at all
        summaries = self.store.metric_summaries(run_id)
        return {m: (s.min_value if (s := summaries.get(m)) else None) for m in watched}

    def batch_ingested(self, run_id: str, batch: Batch, before: Any) -> None:
        """Check the watched metrics of a stored batch (``before``: ``before_batch``)."""
        import numpy as np

        policy = self.policy_for(run_id)
        minimums: dict[str, float | None] = before or {}
        for rule in policy.metric_rules:
            series = batch.get(rule.metric)
            if series is None or not len(series[0]):
                continue
            steps, _, values = series
            if len(steps) > 1 and not bool(np.all(steps[1:] >= steps[:-1])):
                order = np.argsort(steps, kind="stable")
                steps, values = steps[order], values[order]
            finding = check_nan(rule, steps, values)
            if finding is None and rule.diverge_factor is not None:
                prior = minimums.get(rule.metric)
                threshold = divergence_threshold(rule, prior, values)
                if threshold is not None:
                    finding = self._divergence(run_id, rule, steps, values, threshold)
            if finding is not None:
                self.act(run_id, finding)

    def _divergence(
        self, run_id: str, rule: Any, steps: np.ndarray, values: np.ndarray, threshold: float
    ) -> Finding | None:
        start = streak_start(steps, values, threshold)
        if start is None:
            return None
        since = int(steps[start])
        if start == 0:  # the streak may have begun in earlier batches: look back
            first = int(steps[0])
            e_steps, _, e_values = self.store.read_series(
                run_id, rule.metric, max(0, first - rule.diverge_steps), first - 1
            )
            earlier = streak_start(e_steps, e_values, threshold)
            if earlier is not None:
                since = int(e_steps[earlier])
        minimum = threshold / rule.diverge_factor
        return check_divergence(rule, steps, values, threshold, since, minimum)

    def run_revived(self, run: RunRecord) -> None:
        """A crashed run sent a heartbeat: close its lost-heartbeat incident."""
        self.incidents.resolve_kind(
            run.id, "lost_heartbeat", "heartbeats resumed: the run is running again"
        )

    def final_status(
        self, run: RunRecord, status: str, reason: str | None
    ) -> tuple[str, str | None]:
        """A run the watchdog asked to stop ends as the rule said (killed or timed_out)."""
        if run.status == "crashed":
            self.incidents.resolve_kind(run.id, "lost_heartbeat", f"the run reported {status}")
        if status == "killed" and run.stop_requested:
            intent = self.sql.stop_intent(run.id)
            if intent is not None:
                return ("killed", intent[1]) if intent[0] == RESTART else intent
        return status, reason

    def pending_restart(self, run_id: str, stop_requested: str, take: bool) -> str | None:
        """The reason of a restart this watchdog asked of the run (``stop_requested`` is
        its stop request); taken, so asked only once, when ``take``."""
        return self.sql.pending_restart(run_id, stop_requested, take)

    # -- acting -------------------------------------------------------------------------
    def act(self, run_id: str, finding: Finding, now: float | None = None) -> None:
        """Raise the incident and take the finding's action."""
        now = time.time() if now is None else now
        key = (run_id, finding.rule, finding.kind)
        with self._lock:  # check and claim at once: two threads never both act
            if now - self._recent.get(key, -REPEAT_QUIET) < REPEAT_QUIET:
                return  # folded into the incident seconds ago; spare the store a write
            self._recent[key] = now
        raised = self.incidents.raise_finding(run_id, finding, now=now)
        if raised.outcome != "repeat":
            logger.info("watchdog: incident %d %s on run %s: %s", raised.incident.id,
                        raised.outcome, run_id, finding.message)  # fmt: skip
        if finding.action in ("stop", "restart"):
            status = "timed_out" if finding.kind == "timeout" else "killed"
            reason = f"{finding.message} (watchdog rule {finding.rule})"
            if finding.action == "restart" and self._launched(run_id):
                # the launcher takes it from its next heartbeat and restarts the job;
                # the code's own SDK is not told, so the launcher alone ends the attempt
                status, reason = RESTART, f"watchdog: {finding.rule}: {finding.message}"
            self.sql.request_stop(run_id, status, reason, now)

    def _launched(self, run_id: str) -> bool:
        """Whether a launcher follows the run (one that was not launched is stopped)."""
        try:
            return LAUNCHED_TAG in self.store.get_run(run_id).tags
        except LablinkError:
            return False

    # -- the timer ----------------------------------------------------------------------
    def tick(self, now: float | None = None) -> int:
        """Evaluate the timer rules for every running run; returns how many were checked."""
        now = time.time() if now is None else now
        if self._last_tick is not None and now - self._last_tick > LAG_GRACE:
            self._grace_from = now  # we were frozen: heartbeats could not be recorded
        self._last_tick = now
        runs = self.sql.active_runs()
        self._load_policies(runs)
        stale: list[tuple[ActiveRun, Policy]] = []
        stalling: list[tuple[ActiveRun, Policy]] = []
        with self._lock:
            policies = {r.id: self._policies.get(r.id, self.default) for r in runs}
        for run in runs:
            policy = policies[run.id]
            timeout = policy.heartbeat_timeout
            seen = max(run.heartbeat_at or run.created_at, self._grace_from)
            if timeout is not None and now - seen > timeout:
                stale.append((run, policy))
                continue
            if run.stop_status is not None and run.stop_at is not None:
                if now - run.stop_at > policy.stop_grace:
                    self._end_ignored_stop(run, policy, now)
                continue
            finding = check_runtime(policy, now, run.created_at)
            if finding is not None:
                self.act(run.id, finding, now)
            if policy.stall is not None:
                stalling.append((run, policy))
        if stale:
            self._crash(stale, now)
        if stalling:
            last = self.sql.last_point_at([r.id for r, _ in stalling])
            for run, policy in stalling:
                since = max(last.get(run.id, run.created_at), run.created_at, self._grace_from)
                finding = check_stall(policy, now, since)
                if finding is not None:
                    self.act(run.id, finding, now)
        watched = [(r.id, p) for r in runs if (p := policies[r.id]).gpu_rules]
        for run_id, finding in self.gpu.check(watched, now):
            self.act(run_id, finding, now)
        self._forget([r.id for r in runs])
        return len(runs)

    def _load_policies(self, runs: list[ActiveRun]) -> None:
        with self._lock:
            missing = [r.id for r in runs if r.has_policy and r.id not in self._policies]
        if missing:
            for run_id, own in self.sql.policies(missing).items():
                try:
                    policy = self.resolve(own)
                except Exception:
                    logger.exception("watchdog: run %s has an unreadable policy", run_id)
                    policy = self.default
                with self._lock:
                    self._policies.setdefault(run_id, policy)

    def _crash(self, stale: list[tuple[ActiveRun, Policy]], now: float) -> None:
        # A run that still sends batches is alive, whatever its heartbeats say (they wait
        # behind batches in the SDK's queue on a slow server).
        batches = self.sql.last_batch_at([r.id for r, _ in stale])
        for run, policy in stale:
            assert policy.heartbeat_timeout is not None
            seen = max(
                run.heartbeat_at or run.created_at, batches.get(run.id, 0.0), self._grace_from
            )
            finding = check_heartbeat(policy, now, seen)
            if finding is None:
                continue
            cutoff = now - policy.heartbeat_timeout
            reason = f"lost heartbeat: {finding.message}"

            def incident(conn: Any, run_id: str = run.id, found: Finding = finding) -> Any:
                return self.incidents.raise_in(conn, run_id, found, now)

            raised = self.sql.mark_crashed(run.id, cutoff, reason, now, incident)
            if raised is not None:
                logger.info("watchdog: run %s crashed: %s", run.id, finding.message)
                self.incidents.announce(raised, now)

    def _end_ignored_stop(self, run: ActiveRun, policy: Policy, now: float) -> None:
        intent = self.sql.stop_intent(run.id)
        status, reason = intent or ("killed", "asked to stop")
        if status == RESTART:  # its launcher is gone: nothing will restart it
            status, reason = "killed", f"{reason}; no launcher took the restart"
        reason = f"{reason}; it did not stop within stop_grace {policy.stop_grace:g}s"
        self.sql.end_run(run.id, status, reason, now)

    def _forget(self, active: list[str]) -> None:
        keep = set(active)
        with self._lock:
            if len(self._policies) > 2 * len(keep) + SPARE_POLICIES:
                self._policies = {k: v for k, v in self._policies.items() if k in keep}
            if len(self._recent) > MAX_RECENT:
                self._recent = {k: v for k, v in self._recent.items() if k[0] in keep}

    # -- the loop -------------------------------------------------------------------------
    def start(self) -> None:
        """Run ``tick`` every ``tick_seconds`` in a thread, and the notification worker."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stopping.clear()
        self._grace_from = time.time()
        self._thread = threading.Thread(target=self._loop, name="lablink-watchdog", daemon=True)
        self._thread.start()
        self.notifier.start()

    def stop(self) -> None:
        """Stop the loop and the notification worker."""
        self._stopping.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(STOP_WAIT)
        self.notifier.stop()

    def _loop(self) -> None:
        while not self._stopping.wait(self.tick_seconds):
            try:
                self.tick()
            except Exception:
                logger.exception("watchdog: a tick failed; trying again")
