"""A sweep read back from its trials' runs: no table of its own, no I/O here.

Each trial is a launched run tagged ``sweep``, ``sweep:<id>`` and ``trial:<n>``, with
the trial's params as its config and the sweep file as its ``sweep/spec.json``
artifact. A trial interrupted when its sweep was stopped is tagged ``interrupted`` and
runs again (same number, same params) when the sweep resumes; one the watchdog flagged
(NaN, divergence) is tagged ``pruned``. The sweep's status is derived: ``running``
while a trial runs, ``finished`` once the budget of trials is spent, else ``stopped``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from typing import Any

from lablink.models import RunRecord

SWEEP_TAG = "sweep"
PRUNED_TAG = "pruned"
INTERRUPTED_TAG = "interrupted"
SPEC_ARTIFACT = "sweep/spec.json"
SPEC_KIND = "sweep"
# counted against the budget; interrupted trials run again and running ones are unknown
DONE_STATES = ("complete", "pruned", "failed")


def sweep_tag(sweep_id: str) -> str:
    """The tag every trial of ``sweep_id`` carries."""
    return f"{SWEEP_TAG}:{sweep_id}"


def sweep_ids(tags: Iterable[str]) -> list[str]:
    """The sweep ids named by ``sweep:<id>`` tags."""
    prefix = SWEEP_TAG + ":"
    return [t[len(prefix) :] for t in tags if t.startswith(prefix)]


def trial_number(run: RunRecord) -> int | None:
    """The trial number a run's ``trial:<n>`` tag gives."""
    for tag in run.tags:
        if tag.startswith("trial:") and tag[6:].isdigit():
            return int(tag[6:])
    return None


@dataclasses.dataclass(frozen=True)
class Trial:
    """One trial: the latest run with its number."""

    number: int
    run_id: str
    run_name: str
    state: str  # running, complete, pruned, failed, interrupted
    params: Mapping[str, Any]
    value: float | None
    reason: str | None
    started_at: float
    ended_at: float | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        out = dataclasses.asdict(self)
        out["params"] = dict(self.params)
        return out


def trial_of(run: RunRecord, metric: str, space: Iterable[str]) -> Trial | None:
    """The trial a run is (None for a run without a trial number)."""
    number = trial_number(run)
    if number is None:
        return None
    summary = run.metrics.get(metric)
    value = summary.value if summary is not None else None
    if value is None and isinstance(run.summary.get(metric), int | float):
        value = float(run.summary[metric])
    finite = value if value is not None and math.isfinite(value) else None
    if run.status == "running":
        state = "running"
    elif INTERRUPTED_TAG in run.tags:
        state = "interrupted"
    elif PRUNED_TAG in run.tags:
        state = "pruned"
    elif run.status == "finished" and finite is not None:
        state = "complete"
    else:
        state = "failed"
    reason = run.status_reason
    if state == "failed" and run.status == "finished":
        reason = f"{metric} was not logged" if value is None else f"{metric} is {value}"
    return Trial(
        number=number,
        run_id=run.id,
        run_name=run.name,
        state=state,
        params={k: run.config.get(k) for k in space},
        value=finite if state in ("complete", "running") else value,
        reason=reason,
        started_at=run.created_at,
        ended_at=run.ended_at,
    )


def trials_of(runs: Iterable[RunRecord], metric: str, space: Iterable[str]) -> list[Trial]:
    """One trial per number (its newest run), in number order."""
    keys = list(space)
    latest: dict[int, RunRecord] = {}
    for run in runs:
        number = trial_number(run)
        if number is not None and (
            number not in latest or run.created_at >= latest[number].created_at
        ):
            latest[number] = run
    found = [trial_of(latest[n], metric, keys) for n in sorted(latest)]
    return [t for t in found if t is not None]


@dataclasses.dataclass(frozen=True)
class SweepView:
    """A sweep's spec, trials, status and best trial."""

    id: str
    spec: Mapping[str, Any]
    trials: list[Trial]

    @property
    def metric(self) -> str:
        return str(self.spec["metric"]["name"])

    @property
    def goal(self) -> str:
        return str(self.spec["metric"]["goal"])

    @property
    def budget(self) -> int:
        """The number of trials the sweep runs in all."""
        trials = (self.spec.get("budget") or {}).get("trials")
        if trials is not None:
            return int(trials)
        return math.prod(len(p.get("values") or []) for p in self.spec["space"].values())

    def counts(self) -> dict[str, int]:
        """How many trials are in each state."""
        out: dict[str, int] = {}
        for t in self.trials:
            out[t.state] = out.get(t.state, 0) + 1
        return out

    def done(self) -> int:
        """Trials counted against the budget."""
        return sum(1 for t in self.trials if t.state in DONE_STATES)

    @property
    def status(self) -> str:
        if any(t.state == "running" for t in self.trials):
            return "running"
        return "finished" if self.done() >= self.budget else "stopped"

    def best(self) -> Trial | None:
        """The complete trial with the best value (ties: the earlier)."""
        done = [t for t in self.trials if t.state == "complete" and t.value is not None]
        if not done:
            return None
        sign = 1.0 if self.goal == "minimize" else -1.0
        return min(done, key=lambda t: (sign * (t.value or 0.0), t.number))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: what ``sweeps show --json`` prints."""
        best = self.best()
        return {
            "id": self.id,
            "name": self.spec.get("name"),
            "project": self.spec.get("project"),
            "method": self.spec.get("method"),
            "metric": self.metric,
            "goal": self.goal,
            "status": self.status,
            "budget": self.budget,
            "done": self.done(),
            "counts": self.counts(),
            "best": best.to_dict() if best else None,
            "trials": [t.to_dict() for t in self.trials],
            "spec": dict(self.spec),
        }


def group_by_sweep(runs: Iterable[RunRecord]) -> dict[str, list[RunRecord]]:
    """Runs grouped by the sweep they belong to."""
    out: dict[str, list[RunRecord]] = {}
    for run in runs:
        for sid in sweep_ids(run.tags):
            out.setdefault(sid, []).append(run)
    return out
