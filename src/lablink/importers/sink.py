"""Where imported runs go: the ``Sink`` interface.

A sink speaks MLflow's vocabulary (experiments, string params, key/value tags,
millisecond times) because lablink's MLflow use cases (``core/mlflow_compat.py``)
already map those onto lablink's own fields: the name, owner, commit, typed config.
``sink_local.py`` writes to the embedded store, ``sink_http.py`` to a lablink server;
``connect.py`` picks one.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO

from lablink.importers.model import Series

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


def chunks(fh: IO[bytes]) -> Iterator[bytes]:
    """The bytes of an open file, a MiB at a time."""
    while block := fh.read(_CHUNK):
        yield block
