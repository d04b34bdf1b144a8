"""Many runs created at once (importers, sweeps): checked one by one, stored together.

Each run gets the checks a single create gets (``Tracking.checked_run``, the watch
policy in its capture), then all of them are inserted in one transaction: all or
none, so a caller that retries after an error never finds half a batch.
An error names the run by its index in the request (``runs[3]: ...``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from lablink.checks.limits import MAX_BATCH_RUNS
from lablink.errors import AlreadyExists, InvalidInput, LablinkError
from lablink.models import NewRun

if TYPE_CHECKING:
    from lablink.core.tracking import Tracking


def create_runs(tracking: Tracking, actor: str, runs: Sequence[NewRun]) -> list[str]:
    """Start ``runs`` owned by ``actor`` through ``tracking``; returns their ids, in order.

    Raises:
        InvalidInput: no runs, more than ``MAX_BATCH_RUNS``, a bad run, a repeated id.
        AlreadyExists: a run with one of the ids exists (nothing is stored).
    """
    if not runs:
        raise InvalidInput("no runs to create", f"send 1 to {MAX_BATCH_RUNS} runs")
    if len(runs) > MAX_BATCH_RUNS:
        raise InvalidInput(
            f"{len(runs)} runs in one request; at most {MAX_BATCH_RUNS}",
            f"send them in requests of up to {MAX_BATCH_RUNS}",
        )
    now = time.time()
    rows: list[tuple[dict[str, Any], dict[str, Any], list[str]]] = []
    seen: dict[str, int] = {}
    for i, new in enumerate(runs):
        try:
            row = tracking.checked_run(actor, new, now)
            if tracking.observer is not None:
                tracking.observer.check_capture(new.capture)
        except LablinkError as exc:
            raise type(exc)(f"runs[{i}]: {exc.message}", exc.hint) from None
        run_id = row[0]["id"]
        if run_id in seen:
            raise InvalidInput(
                f"runs[{seen[run_id]}] and runs[{i}] have the same id {run_id!r}",
                "give each run its own id, or omit the ids",
            )
        seen[run_id] = i
        rows.append(row)
    projects = {new.project: 0 for new in runs}
    # before ensure_project: refuse without a trace
    taken = tracking.store.existing_run_ids([new.id for new in runs if new.id])
    if taken:
        run_id = min(taken, key=seen.__getitem__)
        raise AlreadyExists(
            f"runs[{seen[run_id]}]: run {run_id} already exists", "choose another id, or omit it"
        )
    for project in projects:
        projects[project] = tracking.store.ensure_project(project)
    for (values, _, _), new in zip(rows, runs, strict=True):
        values["project_id"] = projects[new.project]
    tracking.store.create_runs(rows)
    if tracking.observer is not None:
        for (values, _, _), new in zip(rows, runs, strict=True):
            if new.capture:  # the watchdog keeps a run's own policy
                tracking.observer.run_created(tracking.store.get_run(values["id"]), new.capture)
    return [values["id"] for values, _, _ in rows]
