"""``lablink.Client``: query and annotate runs through the same transports as the SDK."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from lablink.checks.limits import MAX_BATCH_RUNS
from lablink.checks.run_view import parse_fields
from lablink.deprecation import deprecated_property
from lablink.models import Artifact, History, NewRun, Project, RunRecord
from lablink.sdk.connect import make_transport
from lablink.sdk.transport import Transport
from lablink.settings import Settings

# The most runs one request asks for; ``Client.runs`` pages through larger answers.
PAGE_SIZE = 1000
# ... when only some fields are asked for: rows are small, and each page costs a count.
SELECTED_PAGE_SIZE = 10_000


class Client:
    """Read and annotate runs, embedded or over HTTP.

    With no arguments it follows the settings: ``LABLINK_SERVER`` means HTTP, otherwise
    the embedded store under ``LABLINK_HOME``.

    Example:
        >>> client = lablink.Client()
        >>> client.runs("vision", filter="tags.baseline and metrics.val/acc > 0.9")
    """

    def __init__(
        self,
        server: str | None = None,
        *,
        home: str | None = None,
        db: str | None = None,
        token: str | None = None,
        transport: Transport | None = None,
        settings: Settings | None = None,
    ) -> None:
        if transport is None:
            settings = settings or Settings.load(
                {"server": server, "home": home, "db": db, "token": token}
            )
            transport = make_transport(settings)
        self._transport = transport

    transport = deprecated_property("transport", "_transport")

    def close(self) -> None:
        """Release connections."""
        self._transport.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def projects(self) -> list[Project]:
        """All projects with run counts and last activity."""
        return self._transport.list_projects()

    def runs(
        self,
        project: str | None = None,
        filter: str | None = None,
        *,
        sort: str | None = None,
        descending: bool = True,
        limit: int | None = None,
        offset: int = 0,
        fields: Sequence[str] | None = None,
    ) -> list[RunRecord]:
        """Runs of a project (or all) matching a filter, newest first by default.

        Returns every match (fetched ``PAGE_SIZE`` at a time, ``SELECTED_PAGE_SIZE`` with
        ``fields``), or at most ``limit``.
        ``fields`` (e.g. ``["lean"]`` or ``["metrics", "tags"]``) keeps only those parts
        of each run, the rest left blank: a smaller, faster answer. ``id``, ``project``,
        ``name``, ``status`` and ``created_at`` always come along.

        Raises:
            InvalidInput: a name in ``fields`` that is not a field of a run.
        """
        found: list[RunRecord] = []
        size = PAGE_SIZE if fields is None else SELECTED_PAGE_SIZE
        while limit is None or len(found) < limit:
            want = size if limit is None else min(size, limit - len(found))
            page, total = self.search(
                project,
                filter,
                sort=sort,
                descending=descending,
                limit=want,
                offset=offset + len(found),
                fields=fields,
            )
            found.extend(page)
            if not page or offset + len(found) >= total:
                break
        return found

    def search(
        self,
        project: str | None = None,
        filter: str | None = None,
        *,
        sort: str | None = None,
        descending: bool = True,
        limit: int = 100,
        offset: int = 0,
        fields: Sequence[str] | None = None,
    ) -> tuple[list[RunRecord], int]:
        """Like ``runs`` but also returns how many runs match in all (for paging)."""
        chosen = None if fields is None else parse_fields(fields)
        return self._transport.search_runs(project, filter, sort, descending, limit, offset, chosen)

    def create_runs(self, runs: Iterable[NewRun | Mapping[str, Any]]) -> list[str]:
        """Create many runs at once (an import, a sweep's trials); returns their ids.

        Each run is a ``lablink.models.NewRun`` or a dict of its fields (``project``, and
        ``name``, ``config``, ``tags``, ``id``, ``capture``); the runs start as
        ``running``, owned by the caller. Sent ``MAX_BATCH_RUNS`` (1000) to a request;
        each request is stored whole or not at all.

        Example:
            >>> client.create_runs([{"project": "sweep", "config": {"lr": lr}} for lr in lrs])

        Raises:
            InvalidInput: a bad run (the message names its index), or a repeated id.
            AlreadyExists: a run with one of the ids exists.
        """
        todo = [run if isinstance(run, NewRun) else NewRun(**run) for run in runs]
        ids: list[str] = []
        for start in range(0, len(todo), MAX_BATCH_RUNS):
            ids += self._transport.create_runs(todo[start : start + MAX_BATCH_RUNS])
        return ids

    def run(self, ref: str) -> RunRecord:
        """One run by id or unique id prefix."""
        return self._transport.get_run(ref)

    def history(
        self,
        run_id: str,
        key: str,
        max_points: int | None = None,
        *,
        step_min: int | None = None,
        step_max: int | None = None,
    ) -> History:
        """A metric's steps, values and times; downsampled on the server if ``max_points``."""
        return self._transport.history(run_id, key, max_points, step_min, step_max)

    def compare(self, *run_ids: str) -> dict[str, Any]:
        """Params that differ, and final and best metrics side by side."""
        return self._transport.compare(list(run_ids))

    def tag(self, run_id: str, *tags: str, remove: tuple[str, ...] = ()) -> RunRecord:
        """Add (and remove) tags."""
        return self._transport.tag(run_id, list(tags), list(remove))

    def note(self, run_id: str, text: str, outcome: str | None = None) -> RunRecord:
        """Add a note; ``outcome="negative"`` records a negative result."""
        return self._transport.note(run_id, text, outcome)

    def set_summary(self, run_id: str, summary: Mapping[str, Any]) -> None:
        """Merge values into a run's summary."""
        self._transport.set_summary(run_id, summary)

    def artifacts(self, run_id: str) -> list[Artifact]:
        """A run's artifacts."""
        return self._transport.list_artifacts(run_id)

    def project_artifacts(self, project: str, kind: str | None = None) -> list[Artifact]:
        """The artifacts of every run of ``project`` in one call, ``kind="model"`` for
        only models."""
        return self._transport.project_artifacts(project, kind)

    def download_artifact(self, run_id: str, name: str, dest: str | Path) -> Path:
        """Download one artifact to ``dest`` (a file path)."""
        for artifact in self.artifacts(run_id):
            if artifact.name == name:
                return self._transport.download_blob(artifact.digest, Path(dest))
        from lablink.errors import NotFound

        raise NotFound(f"run {run_id} has no artifact {name!r}")
