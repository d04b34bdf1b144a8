"""Gather what ``lablink docs build`` renders, through the SDK's transports.

Going through ``Client`` and the data remote (not the store) means the docs build the
same from the embedded store and from a server (``--server``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from lablink.docs.decisions import read_decisions
from lablink.docs.facts import LabFacts
from lablink.errors import NotFound
from lablink.models import Artifact
from lablink.sdk.client import Client
from lablink.sdk.connect import open_remote
from lablink.sdk.reviews import open_reviews
from lablink.settings import Settings


def gather(settings: Settings, projects: Sequence[str] | None, docs: Path) -> LabFacts:
    """The facts for ``projects`` (every project when None) and the decisions under ``docs``.

    Raises:
        NotFound: a project that has no runs in the store.
    """
    with Client(settings=settings) as client:
        known = sorted(p.name for p in client.projects())
        if projects:
            unknown = [p for p in projects if p not in known]
            if unknown:
                raise NotFound(
                    f"no project {', '.join(unknown)}", f"known: {', '.join(known) or 'none yet'}"
                )
        chosen = tuple(sorted(set(projects or known)))
        runs = sorted(
            (run for project in chosen for run in client.runs(project)),
            key=lambda run: (run.created_at, run.id),
        )
        # only models become pages; one listing per project, not one per run
        artifacts: dict[str, list[Artifact]] = {}
        for project in chosen:
            for artifact in client.project_artifacts(project, "model"):
                artifacts.setdefault(artifact.run_id, []).append(artifact)
    remote = open_remote(settings)
    try:
        versions = [v for d in remote.list_datasets() for v in remote.log(d.name)]
    finally:
        remote.close()
    versions.sort(key=lambda v: (v.dataset, v.version))
    with open_reviews(settings) as found:  # the newest 1,000 reviews: the API's page limit
        reviews = {str(r["ref"]): r for r in found.ls(pending=False, mine=False, limit=1000)}
    return LabFacts(
        projects=chosen,
        runs=runs,
        artifacts={
            rid: sorted(a, key=lambda a: (a.name, a.digest)) for rid, a in artifacts.items()
        },
        versions=versions,
        decisions=read_decisions(docs),
        reviews=reviews,
    )
