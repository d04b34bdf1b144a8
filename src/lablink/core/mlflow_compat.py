"""MLflow use cases over lablink's tracking: experiments are projects, runs are runs.

The MLflow routes (``server/mlflow/``) call these, so an unchanged ``mlflow`` client
pointed at a lablink server reads and writes lablink runs. What lablink already keeps
(runs, owners, commits, metrics, artifacts) goes through ``Tracking``; what only MLflow
has (numeric experiment ids, run lifecycle, exact param strings, key/value tags) is
kept beside it (``store/mlflow_sql.py``). Times arrive in milliseconds and are stored
as lablink's seconds.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import re
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import IO, Any

from lablink.checks.filters import parse_filter
from lablink.checks.keys import check_metric_key
from lablink.checks.names import is_name
from lablink.checks.run_fields import check_artifact_name, check_config
from lablink.core.tracking import OPEN_STATUSES, Tracking
from lablink.errors import AlreadyExists, InvalidInput, NotFound
from lablink.models import Artifact, History, RunRecord
from lablink.store.mlflow_sql import DEFAULT_ID, ExperimentRow, MlflowSql, RunExtras
from lablink.store.sql import SqlStore

DEFAULT_NAME = "Default"
MAX_NAME = 500
MAX_PARAM_VALUE = 6000  # MLflow's own limit
MAX_TAG_VALUE = 8000
# MLflow's per-request limits of log-batch.
MAX_BATCH_METRICS, MAX_BATCH_PARAMS, MAX_BATCH_TAGS = 1000, 100, 100
DATASET_INPUT = "mlflow-dataset"
# MLflow status -> lablink status for ending a run.
FINAL = {"FINISHED": "finished", "FAILED": "failed", "KILLED": "killed"}
_INT = re.compile(r"[+-]?\d{1,18}")
_FLOAT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


# The parts of a run an MLflow run shows (``server/mlflow/wire.py``): a search need read
# only these (a run's config, summary, packages, notes... stay unread).
RUN_FIELDS = (
    *("id", "project", "name", "status", "created_at", "user", "ended_at", "heartbeat_at"),
    *("git", "params", "metrics", "inputs"),
)

# A metric point as MLflow sends it: key, value, timestamp in ms, step.
Metric = tuple[str, float, int, int]


class MlflowCompat:
    """The MLflow tracking operations over one lab's tracking and store."""

    def __init__(self, tracking: Tracking, store: SqlStore) -> None:
        self.tracking = tracking
        self.store = store
        self.sql = MlflowSql(store)
        self._seq_lock = threading.Lock()
        self._last_seq = 0

    # -- experiments --------------------------------------------------------------------
    def _ensure_default(self) -> None:
        try:
            self.sql.experiment(DEFAULT_ID)
        except NotFound:
            pid = self.store.ensure_project(DEFAULT_NAME)
            # AlreadyExists: made by a concurrent request, or adopted as a project
            with contextlib.suppress(AlreadyExists):
                self.sql.add_experiment(pid, DEFAULT_NAME, {}, experiment_id=DEFAULT_ID)

    def experiments(self) -> list[ExperimentRow]:
        """Every experiment, one per project (projects made by lablink's SDK included)."""
        self._ensure_default()
        return self.sql.experiments()

    def experiment(self, experiment_id: str) -> ExperimentRow:
        """One experiment by its id (digits). Raises ``NotFound``."""
        eid = parse_experiment_id(experiment_id)
        if eid == DEFAULT_ID:
            self._ensure_default()
        return self.sql.experiment(eid)

    def experiment_by_name(self, name: str) -> ExperimentRow:
        """One experiment by its MLflow name. Raises ``NotFound``."""
        if name == DEFAULT_NAME:
            self._ensure_default()
        try:
            return self.sql.experiment_by(name=name)
        except NotFound:
            self.sql.experiments()  # a project lablink's SDK made: give it its id
            return self.sql.experiment_by(name=name)

    def experiment_of(self, project: str) -> ExperimentRow:
        """The experiment of a project, giving it an id if it has none."""
        try:
            return self.sql.experiment_by(project=project)
        except NotFound:
            self.sql.experiments()
            return self.sql.experiment_by(project=project)

    def create_experiment(self, name: str, tags: Mapping[str, str]) -> ExperimentRow:
        """A new experiment over a project named after it (a slug when the name has
        characters a project name may not).

        Raises:
            InvalidInput: an empty or overlong name.
            AlreadyExists: an experiment has that name.
        """
        check_experiment_name(name)
        _check_tags(tags)
        taken = {e.project for e in self.experiments()}
        if name in {e.name for e in self.sql.experiments()}:
            raise AlreadyExists(f"experiment {name!r} already exists")
        project = project_slug(name)
        for n in itertools.count(2):
            if project not in taken:
                break
            project = f"{project_slug(name)[:190]}-{n}"
        eid = self.sql.add_experiment(self.store.ensure_project(project), name, tags)
        return self.sql.experiment(eid)

    def rename_experiment(self, experiment_id: str, name: str) -> None:
        """Rename an experiment (its MLflow name; the project keeps its own)."""
        check_experiment_name(name)
        self.sql.update_experiment(self.experiment(experiment_id).experiment_id, name=name)

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        """Set one tag of an experiment."""
        _check_tags({key: value})
        exp = self.experiment(experiment_id)
        self.sql.update_experiment(exp.experiment_id, tags={**exp.tags, key: value})

    def set_experiment_stage(self, experiment_id: str, stage: str) -> None:
        """Delete (``deleted``) or restore (``active``) an experiment and its runs."""
        exp = self.experiment(experiment_id)
        self.sql.update_experiment(exp.experiment_id, lifecycle_stage=stage)
        self.sql.set_lifecycle(self.sql.project_run_ids(exp.project), stage)

    # -- runs ---------------------------------------------------------------------------
    def create_run(
        self,
        owner: str,
        experiment_id: str,
        start_time_ms: int | None,
        run_name: str | None,
        tags: Mapping[str, str],
        *,
        experiment: ExperimentRow | None = None,
    ) -> tuple[RunRecord, RunExtras]:
        """Start a run in an experiment; ``mlflow.runName`` and ``mlflow.source.git.commit``
        tags become the run's name and commit. Returns the run and its MLflow extras.
        ``experiment``: the experiment ``experiment_id`` names, when the caller has read
        it already (the route reads it to check the caller's role), so it is read once.

        Raises:
            NotFound: no such experiment.
            InvalidInput: the experiment is deleted, or bad tags.
        """
        exp = experiment
        if exp is None or str(exp.experiment_id) != experiment_id:
            exp = self.experiment(experiment_id)
        if exp.lifecycle_stage != "active":
            raise InvalidInput(f"experiment {exp.experiment_id} is deleted", "restore it first")
        _check_tags(tags)
        name = run_name or tags.get("mlflow.runName") or None
        capture = {}
        commit = tags.get("mlflow.source.git.commit")
        if commit:
            capture["git_commit"] = commit
        times: dict[str, float] = {}
        if start_time_ms is not None:
            start = start_time_ms / 1000
            # lablink heard from the run now, whatever start it claims: an old start
            # (an import, a replayed run) must not make a new run look silent to the
            # watchdog
            times = {"created_at": start, "heartbeat_at": max(start, time.time())}
        with self.store.one_sync():  # the run and its MLflow rows: durable together
            # the record as inserted (no read back): the route answers with it
            run = self.tracking.create_run(
                owner, exp.project, name, capture=capture, times=times, read_back=False
            )
            tags = {**tags, "mlflow.runName": run.name}
            self.sql.start_run(run.id, tags)
        return run, RunExtras("active", {}, tags)  # what a read would give: no read

    def run(self, run_id: str) -> tuple[RunRecord, RunExtras, ExperimentRow]:
        """A run with its MLflow extras and experiment. Raises ``NotFound``."""
        run = self.tracking.get_run(run_id)
        return run, self.sql.extras([run.id])[run.id], self.experiment_of(run.project)

    def update_run(
        self, actor: str, run_id: str, status: str | None, end_ms: int | None, name: str | None
    ) -> RunRecord:
        """Rename a run and/or set its status (ending it, or running it again)."""
        run = self._active(run_id)
        if name:
            self._rename(run.id, name)
        if status in FINAL:
            run = self.tracking.finish_run(actor, run.id, FINAL[status])
            if end_ms is not None:
                self.store.update_run(run.id, {"ended_at": end_ms / 1000})
        elif status in ("RUNNING", "SCHEDULED") and run.status not in OPEN_STATUSES:
            # MLflow lets a client reopen a run it ended
            self.store.update_run(run.id, {"status": "running", "ended_at": None})
        elif status is not None and status not in ("RUNNING", "SCHEDULED"):
            raise InvalidInput(f"invalid run status {status!r}")
        return self.tracking.get_run(run.id)

    def _rename(self, run_id: str, name: str) -> None:
        if len(name) > MAX_NAME or not name.strip():
            raise InvalidInput(f"invalid run name {name[:40]!r}", f"1 to {MAX_NAME} characters")
        self.store.update_run(run_id, {"name": name})
        self.sql.put_tags(run_id, {"mlflow.runName": name})

    def set_run_stage(self, run_id: str, stage: str) -> None:
        """Delete (``deleted``) or restore (``active``) a run."""
        self.sql.set_lifecycle([self.tracking.get_run(run_id).id], stage)

    def _active(self, run_id: str) -> RunRecord:
        return self.store.get_run(self._active_id(run_id))

    def _active_id(self, run_id: str) -> str:
        """The full id of run ``run_id``, which must not be deleted.

        Two one-row reads: a run's whole record (its metric summaries, a thousand for
        an MLflow log-batch) is loaded only where a call needs it.
        """
        rid = self.store.resolve_run_id(run_id)
        _refuse_deleted(rid, self.sql.lifecycle(rid))
        return rid

    def runs(
        self,
        experiment_ids: Sequence[str],
        filter: str | None = None,
        fields: Sequence[str] | None = None,
    ) -> list[tuple[RunRecord, RunExtras, str]]:
        """The runs of the experiments that match lablink ``filter`` (all for None), with
        their extras and experiment id: the candidates of an MLflow search. ``fields``
        (``RUN_FIELDS`` for what MLflow shows) keeps only those parts of each run."""
        out: list[tuple[RunRecord, RunExtras, str]] = []
        if filter is not None:
            try:
                parse_filter(filter)
            except InvalidInput:  # a translation lablink cannot read: narrow nothing
                filter = None
        for eid in dict.fromkeys(experiment_ids):
            exp = self.experiment(eid)
            offset = 0
            while True:
                found, total = self.tracking.search_runs(
                    exp.project, filter, limit=10_000, offset=offset, fields=fields
                )
                extras = self.sql.extras([r.id for r in found])
                out.extend((r, extras[r.id], str(exp.experiment_id)) for r in found)
                offset += len(found)
                if not found or offset >= total:
                    break
        return out

    # -- logging ------------------------------------------------------------------------
    def log(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        """Log metrics, params and tags together (log-batch; the single calls too).

        Everything is checked before anything is stored.

        Raises:
            InvalidInput: a bad key or value, a param changed, too many items, or a
                deleted run.
            NotFound: no such run.
            RunNotActive: metrics for an ended run (lablink keeps ended runs closed).
        """
        params, tags = dict(params or {}), dict(tags or {})
        for what, n, most in (
            ("metrics", len(metrics), MAX_BATCH_METRICS),
            ("params", len(params), MAX_BATCH_PARAMS),
            ("tags", len(tags), MAX_BATCH_TAGS),
        ):
            if n > most:
                raise InvalidInput(f"a batch may hold at most {most} {what}, not {n}")
        keys = [m[0] for m in metrics]
        steps = [m[3] for m in metrics]
        _check_points(keys, steps)
        for key, text in params.items():
            _check_key(key, "param")
            if len(text) > MAX_PARAM_VALUE:
                raise InvalidInput(f"param {key!r} is over {MAX_PARAM_VALUE} characters")
        _check_tags(tags)
        # the run, its stage and the params already stored: one connection, for a run
        # named by its full id (as MLflow clients name them)
        rid, keys_sent = run_id, list(params)
        state = self.sql.batch_state(rid, keys_sent)
        if state is None:  # a unique prefix of an id, or no such run (NotFound)
            rid = self.store.resolve_run_id(run_id)
            state = self.sql.batch_state(rid, keys_sent)
            if state is None:
                raise NotFound(f"no run with id {run_id!r}", "list runs with `lablink runs ls`")
        stage, stored = state
        _refuse_deleted(rid, stage)
        with self.store.one_sync():  # params, tags and points: durable together
            if params:
                self._log_params(rid, params, stored)
            if tags:
                self._set_tags(rid, tags)
            if metrics:
                import numpy as np  # only with metrics: commands that log none skip it

                self.tracking.log_points(
                    rid,
                    self._next_seq(),
                    keys,
                    np.asarray(steps, dtype=np.int64),
                    # divided one by one, as Python divides ints (exact past 2**53)
                    np.asarray([m[2] / 1000 for m in metrics], dtype=np.float64),
                    np.asarray([m[1] for m in metrics], dtype=np.float64),
                )

    def _log_params(
        self, run_id: str, params: Mapping[str, str], stored: Mapping[str, str]
    ) -> None:
        """Store ``params``, given the values ``stored`` of their keys."""
        for key, value in params.items():
            if key in stored and stored[key] != value:
                raise InvalidInput(
                    f"changing param values is not allowed: param {key!r} was logged with "
                    f"value {stored[key]!r} for run {run_id}; attempted {value!r}",
                    "log the new value under another key, or start a new run",
                )
        parsed = {k: parse_param(v) for k, v in params.items()}

        def merge(config: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
            merged = {**config, **parsed}
            return merged, check_config(merged)

        # MLflow lets a finished run take params, so the config is set directly here
        # rather than through Tracking.merge_config, which refuses ended runs.
        self.sql.log_params(run_id, params, merge)

    def _set_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        if tags.get("mlflow.runName"):
            self._rename(run_id, tags["mlflow.runName"])
        if tags.get("mlflow.source.git.commit"):
            self.store.update_run(run_id, {"git_commit": tags["mlflow.source.git.commit"][:64]})
        self.sql.put_tags(run_id, tags)

    def delete_tag(self, run_id: str, key: str) -> None:
        """Remove a tag. Raises ``NotFound`` when it is not set."""
        self.sql.delete_tag(self._active_id(run_id), key)

    def _next_seq(self) -> int:
        # A batch's seq makes lablink's ingestion idempotent; an MLflow call has none, so
        # each gets a fresh one: nanoseconds, strictly increasing in this process (two
        # server processes would have to log to one run in the same nanosecond to clash).
        with self._seq_lock:
            self._last_seq = max(self._last_seq + 1, time.time_ns())
            return self._last_seq

    def log_inputs(self, run_id: str, datasets: Iterable[tuple[str, str]]) -> None:
        """Record datasets ``(name, digest)`` the run read as its inputs."""
        rid = self._active_id(run_id)
        for name, digest in datasets:
            if not name or len(name) > 400 or len(digest) > 90:
                raise InvalidInput(f"invalid dataset {name[:40]!r}", "a name up to 400 characters")
            self.tracking.add_input(rid, DATASET_INPUT, f"{name}@{digest}" if digest else name)

    def history(self, run_id: str, key: str) -> History | None:
        """Every point of a metric, or None when the run has no such metric."""
        rid = self.store.resolve_run_id(run_id)  # NotFound for no run, not None
        try:
            return self.tracking.history(rid, key)
        except NotFound:
            return None

    # -- artifacts ----------------------------------------------------------------------
    def put_artifact(self, run_id: str, path: str, stream: Iterable[bytes]) -> Artifact:
        """Store a file under the run's artifacts at ``path`` (streamed)."""
        check_artifact_name(path)
        run = self.tracking.get_run(run_id)
        digest = self.tracking.put_blob(stream)
        return self.tracking.add_artifact(run.id, path, "file", digest)

    def list_artifacts(self, run_id: str, folder: str) -> list[tuple[str, bool, int | None]]:
        """``(name, is_dir, size)`` of what ``folder`` of the run's artifacts holds."""
        prefix = folder.strip("/") + "/" if folder.strip("/") else ""
        entries: dict[str, tuple[str, bool, int | None]] = {}
        for a in self.tracking.list_artifacts(run_id):
            if not a.name.startswith(prefix):
                continue
            head, sep, _ = a.name[len(prefix) :].partition("/")
            entries.setdefault(head, (head, True, None) if sep else (head, False, a.size))
        return sorted(entries.values())

    def open_artifact(self, run_id: str, path: str) -> tuple[IO[bytes], int]:
        """The artifact's bytes and size. Raises ``NotFound``."""
        for a in self.tracking.list_artifacts(run_id):
            if a.name == path:
                return self.tracking.blobs.open(a.digest), a.size
        raise NotFound(f"run {run_id} has no artifact {path!r}")


def parse_experiment_id(value: str) -> int:
    """An experiment id as sent (digits). Raises ``InvalidInput``."""
    if not isinstance(value, str) or not value.isascii() or not value.isdigit() or len(value) > 18:
        raise InvalidInput(f"invalid experiment id {str(value)[:40]!r}", "ids are numbers")
    return int(value)


def check_experiment_name(name: Any) -> str:
    """``name`` if it is 1-500 printable characters. Raises ``InvalidInput``."""
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        raise InvalidInput(
            "experiment name must be a non-empty string", f"up to {MAX_NAME} characters"
        )
    if not name.isprintable():
        raise InvalidInput(f"experiment name {name[:40]!r} holds control characters")
    return name


def project_slug(name: str) -> str:
    """The project name an experiment name maps to: itself if valid, else a slug."""
    if is_name(name):
        return name
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-._")[:200]
    return slug if is_name(slug) else "experiment"


def parse_param(value: str) -> Any:
    """The value an MLflow param string stands for in lablink's config."""
    text = value.strip()
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        number = float(text)
        return number if math.isfinite(number) else value
    if text in ("True", "true", "False", "false"):
        return text.lower() == "true"
    return value


def _check_points(keys: Sequence[str], steps: Sequence[int]) -> None:
    """Every metric key valid and no step negative; the first bad point (in the order
    sent) named. Each distinct key is checked once: a batch repeats them."""
    try:
        for key in dict.fromkeys(keys):
            check_metric_key(key)
        fine = not steps or min(steps) >= 0
    except InvalidInput:
        fine = False
    if fine:
        return
    for key, step in zip(keys, steps, strict=True):  # the error of the first bad point
        check_metric_key(key)
        if step < 0:
            raise InvalidInput(
                f"metric {key!r}: step {step} is negative", "lablink steps start at 0"
            )


def _refuse_deleted(run_id: str, stage: str) -> None:
    """Raise ``InvalidInput`` unless a run's lifecycle ``stage`` is ``active``."""
    if stage != "active":
        raise InvalidInput(
            f"the run {run_id} must be in the 'active' state; it is deleted",
            "restore it first",
        )


def _check_key(key: Any, what: str) -> None:
    if not isinstance(key, str) or not key or len(key) > 250 or not key.isprintable():
        raise InvalidInput(f"invalid {what} key {str(key)[:40]!r}", "keys are 1-250 characters")


def _check_tags(tags: Mapping[str, Any]) -> None:
    for key, value in tags.items():
        _check_key(key, "tag")
        if not isinstance(value, str) or len(value) > MAX_TAG_VALUE:
            raise InvalidInput(f"tag {key!r}: the value must be text up to {MAX_TAG_VALUE}")
