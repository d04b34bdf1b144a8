"""Where imported runs go: ``Sink``, and ``LocalSink`` on the embedded store.

A sink speaks MLflow's vocabulary (experiments, string params, key/value tags,
millisecond times) because lablink's MLflow use cases (``core/mlflow_compat.py``)
already map those onto lablink's own fields: the name, owner, commit, typed config.
``sink_http.py`` is the same over a lablink server.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO

from lablink.errors import NotFound
from lablink.importers.model import COMPLETE_TAG, Series
from lablink.settings import Settings

# MLflow's per-call limit of params and of tags (log-batch), which both sinks keep to.
PER_CALL = 100
_CHUNK = 1 << 20


@dataclasses.dataclass(frozen=True)
class Landed:
    """A run an earlier import made: its lablink id, whether it still takes points,
    and whether that import finished it."""

    run_id: str
    open: bool
    complete: bool


class Sink(abc.ABC):
    """A lablink store that imported runs are written to."""

    label: str  # where it is, for messages

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections."""

    def __enter__(self) -> Sink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @abc.abstractmethod
    def ensure_experiment(self, name: str, tags: Mapping[str, str]) -> str:
        """The id of the experiment (project) ``name``, made if missing; ``tags`` it
        lacks are set."""

    @abc.abstractmethod
    def landed(self, experiment_id: str, origin_tag: str) -> dict[str, Landed]:
        """Runs of the experiment that carry ``origin_tag``, by the tag's value."""

    @abc.abstractmethod
    def create_run(
        self,
        experiment_id: str,
        name: str | None,
        start_ms: int | None,
        user: str | None,
        tags: Mapping[str, str],
    ) -> str:
        """Start a run (``mlflow.*`` tags set its commit and name); answers its id."""

    @abc.abstractmethod
    def log(self, run_id: str, params: Mapping[str, str], tags: Mapping[str, str]) -> None:
        """Log params (strings) and set tags, at most ``PER_CALL`` of each."""

    @abc.abstractmethod
    def log_points(self, run_id: str, seq: int, series: Series) -> int:
        """Store batch ``seq`` of points; answers how many were new (0: stored before)."""

    @abc.abstractmethod
    def artifact_names(self, run_id: str) -> set[str]:
        """Names of the run's artifacts."""

    @abc.abstractmethod
    def put_artifact(self, run_id: str, name: str, path: Path) -> int:
        """Store the file at ``path`` as artifact ``name`` (streamed); answers its size."""

    @abc.abstractmethod
    def finish(self, run_id: str, status: str, end_ms: int | None) -> None:
        """End the run with an MLflow status (FINISHED, FAILED, KILLED)."""


class LocalSink(Sink):
    """The embedded store, through ``Lab.mlflow`` in-process."""

    def __init__(self, settings: Settings) -> None:
        from lablink.core.lab import Lab

        self.lab = Lab(settings)
        self.user = settings.user
        self.label = f"the embedded store at {settings.home}"

    def close(self) -> None:
        self.lab.close()

    def ensure_experiment(self, name: str, tags: Mapping[str, str]) -> str:
        try:
            found = self.lab.mlflow.experiment_by_name(name)
        except NotFound:
            return str(self.lab.mlflow.create_experiment(name, tags).experiment_id)
        for key, value in tags.items():
            if key not in found.tags:
                self.lab.mlflow.set_experiment_tag(str(found.experiment_id), key, value)
        return str(found.experiment_id)

    def landed(self, experiment_id: str, origin_tag: str) -> dict[str, Landed]:
        from lablink.core.tracking import OPEN_STATUSES

        out = {}
        for run, extras, _ in self.lab.mlflow.runs([experiment_id]):
            origin = extras.tags.get(origin_tag)
            if origin is not None:
                complete = extras.tags.get(COMPLETE_TAG) == "true"
                out[origin] = Landed(run.id, run.status in OPEN_STATUSES, complete)
        return out

    def create_run(
        self,
        experiment_id: str,
        name: str | None,
        start_ms: int | None,
        user: str | None,
        tags: Mapping[str, str],
    ) -> str:
        # embedded, the importer may keep the source's owner: whoever can open the
        # store can write any row of it anyway (a server decides the owner itself)
        owner = (user or self.user)[:200]
        return self.lab.mlflow.create_run(owner, experiment_id, start_ms, name, tags).id

    def log(self, run_id: str, params: Mapping[str, str], tags: Mapping[str, str]) -> None:
        self.lab.mlflow.log(run_id, params=params, tags=tags)

    def log_points(self, run_id: str, seq: int, series: Series) -> int:
        return int(self.lab.tracking.log_batch(run_id, seq, series)["points"])

    def artifact_names(self, run_id: str) -> set[str]:
        return {a.name for a in self.lab.tracking.list_artifacts(run_id)}

    def put_artifact(self, run_id: str, name: str, path: Path) -> int:
        with path.open("rb") as fh:
            return self.lab.mlflow.put_artifact(run_id, name, chunks(fh)).size

    def finish(self, run_id: str, status: str, end_ms: int | None) -> None:
        self.lab.mlflow.update_run(self.user, run_id, status, end_ms, None)


def chunks(fh: IO[bytes]) -> Iterator[bytes]:
    """The bytes of an open file, a MiB at a time."""
    while block := fh.read(_CHUNK):
        yield block


def open_sink(settings: Settings) -> Sink:
    """A lablink server when one is configured, else the embedded store."""
    if settings.server:
        from lablink.importers.sink_http import HttpSink

        return HttpSink(settings)
    return LocalSink(settings)
