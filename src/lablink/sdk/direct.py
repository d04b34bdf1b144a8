"""``DirectTransport``: the SDK on the embedded store, calling ``core/`` in-process."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lablink.models import Artifact, History, Incident, NewRun, Project, RunRecord
from lablink.sdk.transport import Transport
from lablink.settings import Settings


class DirectTransport(Transport):
    """Calls the tracking use cases in-process on the embedded store."""

    def __init__(self, settings: Settings) -> None:
        from lablink.core.lab import Lab

        self.settings = settings
        self.user = settings.user
        self.lab = Lab(settings)
        self.tracking = self.lab.tracking

    def close(self) -> None:
        self.lab.close()

    def create_run(
        self,
        project: str,
        name: str | None,
        config: Mapping[str, Any],
        tags: Sequence[str],
        run_id: str | None,
        capture: Mapping[str, Any],
    ) -> RunRecord:
        return self.tracking.create_run(self.user, project, name, config, tags, run_id, capture)

    def create_runs(self, runs: Sequence[NewRun]) -> list[str]:
        from lablink.core.run_batch import create_runs

        return create_runs(self.tracking, self.user, runs)

    def get_run(self, ref: str) -> RunRecord:
        return self.tracking.get_run(ref)

    def search_runs(
        self,
        project: str | None,
        filter: str | None,
        sort: str | None,
        descending: bool,
        limit: int,
        offset: int,
        fields: Sequence[str] | None = None,
    ) -> tuple[list[RunRecord], int]:
        return self.tracking.search_runs(project, filter, sort, descending, limit, offset, fields)

    def list_projects(self) -> list[Project]:
        return self.tracking.list_projects()

    def finish_run(self, run_id: str, status: str, reason: str | None) -> RunRecord:
        return self.tracking.finish_run(self.user, run_id, status, reason)

    def merge_config(self, run_id: str, config: Mapping[str, Any]) -> RunRecord:
        return self.tracking.merge_config(run_id, config)

    def request_stop(self, run_id: str, reason: str) -> RunRecord:
        self.tracking.request_stop(self.user, run_id, reason)
        return self.tracking.get_run(run_id)

    def heartbeat(
        self,
        run_id: str,
        system: Mapping[str, float] | None,
        seq: int | None,
        take_restart: bool = False,
    ) -> dict[str, Any]:
        return self.tracking.heartbeat(run_id, system, seq, take_restart)

    def log_batch(self, run_id: str, seq: int, metrics: Mapping[str, Any]) -> dict[str, Any]:
        return self.tracking.log_batch(run_id, seq, metrics)

    def set_summary(self, run_id: str, summary: Mapping[str, Any]) -> None:
        self.tracking.set_summary(run_id, summary)

    def tag(self, run_id: str, add: Sequence[str], remove: Sequence[str]) -> RunRecord:
        return self.tracking.tag(self.user, run_id, add, remove)

    def note(self, run_id: str, text: str, outcome: str | None) -> RunRecord:
        return self.tracking.note(self.user, run_id, text, outcome)

    def add_input(self, run_id: str, kind: str, ref: str, digest: str | None) -> None:
        self.tracking.add_input(run_id, kind, ref, digest)

    def history(
        self,
        run_id: str,
        key: str,
        max_points: int | None,
        step_min: int | None,
        step_max: int | None,
    ) -> History:
        return self.tracking.history(run_id, key, max_points, step_min, step_max)

    def compare(self, run_ids: Sequence[str]) -> dict[str, Any]:
        return self.tracking.compare(run_ids)

    def put_blob(self, data: bytes) -> str:
        return self.tracking.put_blob(iter([data]))

    def upload_artifact(self, run_id: str, path: Path, name: str, kind: str) -> Artifact:
        with open(path, "rb") as fh:
            digest = self.tracking.put_blob(fh)
        return self.tracking.add_artifact(run_id, name, kind, digest)

    def list_artifacts(self, run_id: str) -> list[Artifact]:
        return self.tracking.list_artifacts(run_id)

    def artifact_page(
        self, run_id: str, prefix: str, after: str | None, limit: int
    ) -> list[Artifact]:
        return self.tracking.artifact_page(run_id, prefix, after, limit)

    def project_artifacts(self, project: str, kind: str | None = None) -> list[Artifact]:
        return self.tracking.project_artifacts(project, kind)

    def download_blob(self, digest: str, dest: Path) -> Path:
        import hashlib

        from lablink.errors import CorruptBlob

        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".part")
        h = hashlib.sha256()
        try:
            with self.lab.blobs.open(digest) as src, open(tmp, "wb") as out:
                while chunk := src.read(1024 * 1024):
                    h.update(chunk)
                    out.write(chunk)
            if "sha256:" + h.hexdigest() != digest:
                raise CorruptBlob(
                    f"the stored bytes of {digest} do not match their digest",
                    "the blob store is damaged; upload the file again",
                )
        except BaseException:
            tmp.unlink(missing_ok=True)  # never leave a half or wrong file behind
            raise
        os.replace(tmp, dest)
        return dest

    def list_incidents(self, open_only: bool, run: str | None, limit: int) -> list[Incident]:
        return self.lab.watchdog.incidents.list(open_only, run, None, limit)

    def get_incident(self, incident_id: int) -> dict[str, Any]:
        return self.lab.watchdog.incidents.detail(incident_id)

    def ack_incident(self, incident_id: int) -> Incident:
        return self.lab.watchdog.incidents.acknowledge(self.user, incident_id)

    def resolve_incident(self, incident_id: int, note: str | None) -> Incident:
        return self.lab.watchdog.incidents.resolve(self.user, incident_id, note)
