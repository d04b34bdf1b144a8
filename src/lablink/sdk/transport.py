"""The narrow interface the SDK and CLI talk through.

``DirectTransport`` (``sdk/direct.py``) calls ``core/`` in-process on the embedded
store; ``HttpTransport`` (``sdk/http.py``) speaks the REST API. Both return the same
records and raise the same ``LablinkError`` subclasses, and one SDK test suite runs
over both. ``sdk/connect.py`` picks one.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lablink.models import Artifact, History, Incident, NewRun, Project, RunRecord


class Transport(abc.ABC):
    """Everything the SDK, the Client and the CLI need from a lablink store or server."""

    user: str

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections."""

    @abc.abstractmethod
    def create_run(
        self,
        project: str,
        name: str | None,
        config: Mapping[str, Any],
        tags: Sequence[str],
        run_id: str | None,
        capture: Mapping[str, Any],
    ) -> RunRecord:
        """Start a run owned by ``self.user``."""

    @abc.abstractmethod
    def create_runs(self, runs: Sequence[NewRun]) -> list[str]:
        """Start up to 1000 runs owned by ``self.user`` at once, all or none; their ids."""

    @abc.abstractmethod
    def get_run(self, ref: str) -> RunRecord:
        """A run by id or unique id prefix. Raises NotFound."""

    @abc.abstractmethod
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
        """Runs matching a filter, and the total number that match.

        With ``fields`` (checked names, ``checks/run_view.py``) the other parts of each
        run are blank.
        """

    @abc.abstractmethod
    def list_projects(self) -> list[Project]:
        """Projects with counts."""

    @abc.abstractmethod
    def finish_run(self, run_id: str, status: str, reason: str | None) -> RunRecord:
        """End a run with a final status."""

    @abc.abstractmethod
    def merge_config(self, run_id: str, config: Mapping[str, Any]) -> RunRecord:
        """Merge ``config`` over a running run's config."""

    @abc.abstractmethod
    def request_stop(self, run_id: str, reason: str) -> RunRecord:
        """Ask a running run to stop; it learns so from its next heartbeat."""

    @abc.abstractmethod
    def heartbeat(
        self,
        run_id: str,
        system: Mapping[str, float] | None,
        seq: int | None,
        take_restart: bool = False,
    ) -> dict[str, Any]:
        """Report liveness; the answer's ``stop`` is set when the run must stop, and
        ``restart`` (for a launcher, which passes ``take_restart``) when the watchdog
        asks for a restart."""

    @abc.abstractmethod
    def log_batch(self, run_id: str, seq: int, metrics: Mapping[str, Any]) -> dict[str, Any]:
        """Send one batch ``{key: {steps, times, values}}``; idempotent by ``seq``."""

    @abc.abstractmethod
    def set_summary(self, run_id: str, summary: Mapping[str, Any]) -> None:
        """Merge values into the run's summary."""

    @abc.abstractmethod
    def tag(self, run_id: str, add: Sequence[str], remove: Sequence[str]) -> RunRecord:
        """Add and remove tags."""

    @abc.abstractmethod
    def note(self, run_id: str, text: str, outcome: str | None) -> RunRecord:
        """Add a note (optionally with an outcome such as ``negative``)."""

    @abc.abstractmethod
    def add_input(self, run_id: str, kind: str, ref: str, digest: str | None) -> None:
        """Record something the run read (a dataset version)."""

    @abc.abstractmethod
    def history(
        self,
        run_id: str,
        key: str,
        max_points: int | None,
        step_min: int | None,
        step_max: int | None,
    ) -> History:
        """A metric's points, downsampled on the server when ``max_points`` is given."""

    @abc.abstractmethod
    def compare(self, run_ids: Sequence[str]) -> dict[str, Any]:
        """Params that differ and metrics side by side."""

    @abc.abstractmethod
    def put_blob(self, data: bytes) -> str:
        """Store bytes as a content-addressed blob (the git diff, say); returns its digest."""

    @abc.abstractmethod
    def upload_artifact(self, run_id: str, path: Path, name: str, kind: str) -> Artifact:
        """Store a file as a content-addressed blob and attach it to the run."""

    @abc.abstractmethod
    def list_artifacts(self, run_id: str) -> list[Artifact]:
        """A run's artifacts."""

    def artifact_page(
        self, run_id: str, prefix: str, after: str | None, limit: int
    ) -> list[Artifact]:
        """Up to ``limit`` of a run's artifacts named ``prefix...`` after the name
        ``after``, in name order (the transports ask the store for only those)."""
        found = sorted(
            (
                a
                for a in self.list_artifacts(run_id)
                if a.name.startswith(prefix) and (after is None or a.name > after)
            ),
            key=lambda a: a.name,
        )
        return found[:limit]

    @abc.abstractmethod
    def project_artifacts(self, project: str, kind: str | None = None) -> list[Artifact]:
        """The artifacts of every run of ``project`` (of one ``kind``)."""

    @abc.abstractmethod
    def download_blob(self, digest: str, dest: Path) -> Path:
        """Write a blob's bytes to ``dest`` (verified against its digest)."""

    # -- incidents ----------------------------------------------------------------------
    @abc.abstractmethod
    def list_incidents(self, open_only: bool, run: str | None, limit: int) -> list[Incident]:
        """Incidents newest first; ``open_only`` keeps open and acknowledged ones."""

    @abc.abstractmethod
    def get_incident(self, incident_id: int) -> dict[str, Any]:
        """One incident with its deliveries and their attempts. Raises NotFound."""

    @abc.abstractmethod
    def ack_incident(self, incident_id: int) -> Incident:
        """Acknowledge an incident as ``self.user``. Raises NotFound, Conflict."""

    @abc.abstractmethod
    def resolve_incident(self, incident_id: int, note: str | None) -> Incident:
        """Resolve an incident as ``self.user``. Raises NotFound, Conflict."""
