"""Running a sweep: Optuna asks for params, each trial is a launched job, Optuna is told.

The study lives in memory and is rebuilt from the trials' runs when a sweep resumes,
so lablink's store is the one record of a sweep (it works the same over a server) and
there is no second database to keep in step. Finished, pruned and failed trials go back
in with their values; an interrupted one goes back as WAITING, so Optuna hands it out
again first, with the same number and params. A grid trial keeps the grid point it had,
so a resumed grid runs only the points still missing.

Ctrl-C or SIGTERM ends the running trials' jobs (their runs end ``killed`` and are
tagged ``interrupted``) and starts no new one.
"""

from __future__ import annotations

import dataclasses
import json
import math
import signal
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import TrialState

from lablink.launch.backend import make_job
from lablink.launch.job import Job
from lablink.launch.options import LaunchOptions
from lablink.launch.placement import Placement
from lablink.launch.sweep_spec import Choice, IntRange, LogUniform, SweepSpec, Uniform
from lablink.launch.sweep_trials import (
    INTERRUPTED_TAG,
    PRUNED_TAG,
    SPEC_ARTIFACT,
    SPEC_KIND,
    SWEEP_TAG,
    Trial,
    sweep_tag,
    trial_of,
)
from lablink.sdk.launched import PARAMS_ENV
from lablink.sdk.transport import Transport
from lablink.settings import Settings

PRUNING_KINDS = ("nan", "diverged")  # watchdog incidents that prune a trial


class TrialFailed(Exception):
    """The trial's job failed or did not report the metric: counted, not retried."""


class Interrupted(Exception):
    """The sweep was stopped while the trial ran: it runs again on resume."""


def distributions(spec: SweepSpec) -> dict[str, BaseDistribution]:
    """Optuna distributions for the spec's space."""
    out: dict[str, BaseDistribution] = {}
    for key, p in spec.space.items():
        if isinstance(p, Uniform):
            out[key] = FloatDistribution(p.low, p.high)
        elif isinstance(p, LogUniform):
            out[key] = FloatDistribution(p.low, p.high, log=True)
        elif isinstance(p, IntRange):
            out[key] = IntDistribution(p.low, p.high, step=p.step, log=p.log)
        else:
            out[key] = CategoricalDistribution(list(p.values))
    return out


def make_sampler(spec: SweepSpec) -> optuna.samplers.BaseSampler:
    """Grid, random or TPE, seeded from the spec so a resumed sweep draws the same way."""
    if spec.method == "grid":
        return optuna.samplers.GridSampler(spec.grid(), seed=spec.seed)
    if spec.method == "random":
        return optuna.samplers.RandomSampler(seed=spec.seed)
    # constant_liar: trials running in parallel are not all proposed at one point
    return optuna.samplers.TPESampler(seed=spec.seed, constant_liar=spec.parallel > 1)


def _grid_attrs(sampler: optuna.samplers.BaseSampler, params: dict[str, Any]) -> dict[str, Any]:
    """The system attrs GridSampler gives a trial at ``params``, so that a rebuilt trial
    counts as that grid point. GridSampler keeps its (seed-shuffled) grid private."""
    if not isinstance(sampler, optuna.samplers.GridSampler):
        return {}
    names = sampler._param_names
    point = tuple(params.get(n) for n in names)
    grids = [tuple(g) for g in sampler._all_grids]
    if point not in grids:
        return {}
    return {"grid_id": grids.index(point), "search_space": sampler._search_space}


def build_study(spec: SweepSpec, trials: list[Trial]) -> optuna.Study:
    """A study with ``trials`` (from the store) already in it, numbered as they were."""
    sampler = make_sampler(spec)
    study = optuna.create_study(direction=spec.metric.goal, sampler=sampler)
    dists = distributions(spec)
    states = {
        "complete": TrialState.COMPLETE,
        "pruned": TrialState.PRUNED,
        "failed": TrialState.FAIL,
        "interrupted": TrialState.WAITING,
    }
    expected = 0
    for t in sorted(trials, key=lambda t: t.number):
        while expected < t.number:  # a number asked but never run: keep the numbering
            study.add_trial(optuna.trial.create_trial(state=TrialState.FAIL))
            expected += 1
        params = dict(t.params)
        ok = all(
            k in params and dists[k]._contains(dists[k].to_internal_repr(params[k])) for k in dists
        )
        state = states.get(t.state, TrialState.FAIL) if ok else TrialState.FAIL
        study.add_trial(
            optuna.trial.create_trial(
                state=state,
                value=t.value if state == TrialState.COMPLETE else None,
                params=params if ok else None,
                distributions=dists if ok else None,
                system_attrs=_grid_attrs(sampler, params) if ok else None,
            )
        )
        expected += 1
    return study


def suggest(trial: optuna.Trial, spec: SweepSpec) -> dict[str, Any]:
    """The trial's params, drawn by the study's sampler."""
    params: dict[str, Any] = {}
    for key, p in spec.space.items():
        if isinstance(p, Uniform):
            params[key] = trial.suggest_float(key, p.low, p.high)
        elif isinstance(p, LogUniform):
            params[key] = trial.suggest_float(key, p.low, p.high, log=True)
        elif isinstance(p, IntRange):
            params[key] = trial.suggest_int(key, p.low, p.high, step=p.step, log=p.log)
        elif isinstance(p, Choice):
            params[key] = trial.suggest_categorical(key, list(p.values))
    return params


@dataclasses.dataclass
class Outcome:
    """How a sweep invocation ended."""

    stopped_by: str | None = None  # the signal that stopped it
    ran: int = 0


class SweepRunner:
    """Runs the trials of sweep ``sweep_id`` still owed, ``spec.parallel`` at a time."""

    def __init__(
        self,
        settings: Settings,
        transport: Transport,
        spec: SweepSpec,
        sweep_id: str,
        project: str,
        options: LaunchOptions,
        done: list[Trial],
        on_trial: Callable[[Trial], None] | None = None,
        placement: Placement | None = None,
    ) -> None:
        self.settings = settings
        self.transport = transport
        self.spec = spec
        self.sweep_id = sweep_id
        self.project = project
        self.options = options
        self.done = done
        self.on_trial = on_trial
        self.outcome = Outcome()
        self.placement = placement or Placement()
        self._jobs: set[Job] = set()
        self._lock = threading.Lock()
        self._spec_json = {**spec.to_json(), "project": project}

    def remaining(self) -> int:
        """Trials still owed: the budget less those finished, pruned or failed."""
        counted = sum(1 for t in self.done if t.state in ("complete", "pruned", "failed"))
        return max(0, self.spec.trials() - counted)

    def run(self) -> Outcome:
        """Run the owed trials; Ctrl-C/SIGTERM (main thread) stops cleanly."""
        study = build_study(self.spec, self.done)
        owed = self.remaining()
        if owed == 0:
            return self.outcome
        main = threading.current_thread() is threading.main_thread()
        old = (
            {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
            if main
            else {}
        )
        try:
            with tempfile.TemporaryDirectory(prefix="lablink-sweep-") as tmp:
                self._spec_path = Path(tmp) / "spec.json"
                self._spec_path.write_text(json.dumps(self._spec_json, indent=1))
                study.optimize(
                    self._objective,
                    n_trials=owed,
                    timeout=self.spec.time_limit(),
                    n_jobs=self.spec.parallel,
                    catch=(TrialFailed, Interrupted),
                )
        finally:
            for s, handler in old.items():
                signal.signal(s, handler)
        return self.outcome

    def stop(self, why: str) -> None:
        """End the running trials and start no new one (from any thread)."""
        with self._lock:
            self.outcome.stopped_by = self.outcome.stopped_by or why
            jobs = list(self._jobs)
        for job in jobs:
            job.interrupt(why)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stop(signal.Signals(signum).name)

    # -- one trial ----------------------------------------------------------------------
    def _objective(self, trial: optuna.Trial) -> float:
        if self.outcome.stopped_by is not None:
            trial.study.stop()
            raise Interrupted("the sweep was stopped before the trial started")
        params = suggest(trial, self.spec)
        job = make_job(
            self.placement,
            self.settings,
            self.transport,
            self.project,
            self.spec.command_for(params),
            self.options,
            name=f"{self.spec.name}-{trial.number}",
            tags=[SWEEP_TAG, sweep_tag(self.sweep_id), f"trial:{trial.number}"],
            echo=False,
            config=params,
            watch=self.spec.watch_policy(),
            env={PARAMS_ENV: json.dumps(params)},
            handle_signals=False,
        )
        job.create()
        self.transport.upload_artifact(job.run_id, self._spec_path, SPEC_ARTIFACT, SPEC_KIND)
        with self._lock:
            self._jobs.add(job)
            stopped = self.outcome.stopped_by
        if stopped is not None:  # stopped while the run was made: end it at once
            job.interrupt(stopped)
        try:
            job.run()
        finally:
            with self._lock:
                self._jobs.discard(job)
        self.outcome.ran += 1
        return self._verdict(trial, job.run_id)

    def _verdict(self, trial: optuna.Trial, run_id: str) -> float:
        """The metric's value, or the trial pruned, failed or interrupted."""
        incidents = [
            i for i in self.transport.list_incidents(False, run_id, 50) if i.kind in PRUNING_KINDS
        ]
        run = self.transport.get_run(run_id)
        metric = self.spec.metric.name
        summary = run.metrics.get(metric)
        value = summary.value if summary is not None else None
        nonfinite = value is not None and not math.isfinite(value)
        if self.outcome.stopped_by is not None and run.status != "finished" and not incidents:
            run = self.transport.tag(run_id, [INTERRUPTED_TAG], [])
            self._report(run)
            raise Interrupted(f"the sweep was stopped ({self.outcome.stopped_by})")
        if incidents or nonfinite:
            why = incidents[0].title if incidents else f"{metric} is {value}"
            self.transport.note(run_id, f"pruned by the sweep: {why}", None)
            run = self.transport.tag(run_id, [PRUNED_TAG], [])
            self._report(run)
            raise optuna.TrialPruned(why)
        self._report(run)
        if run.status != "finished":
            raise TrialFailed(f"trial {trial.number}: {run.status} ({run.status_reason})")
        if value is None:
            raise TrialFailed(f"trial {trial.number}: {metric} was not logged")
        return value

    def _report(self, run: Any) -> None:
        if self.on_trial is None:
            return
        shown = trial_of(run, self.spec.metric.name, list(self.spec.space))
        if shown is not None:
            self.on_trial(shown)
