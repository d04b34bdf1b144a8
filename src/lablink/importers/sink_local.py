"""``LocalSink``: imported runs written to the embedded store, through ``core/`` in-process."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from lablink.errors import NotFound
from lablink.importers.model import COMPLETE_TAG, Series
from lablink.importers.sink import Landed, Sink, chunks
from lablink.settings import Settings


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
        return self.lab.mlflow.create_run(owner, experiment_id, start_ms, name, tags)[0].id

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
