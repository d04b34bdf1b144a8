"""The attempts of a launched job, for the run page's table and its charts' markers.

They come from the run's ``launch/job.json`` artifact, which the launcher rewrites after
each attempt (``lablink.launch.job``): number, start, end, status, exit status, reason
and where it ran. ``GET /ui-data/runs/{run_id}/attempts`` answers ``{attempts: [...]}``
so a page that follows a running job redraws them when the artifact changes.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from lablink.core.lab import Lab
from lablink.errors import LablinkError
from lablink.models import Artifact
from lablink.ui.charts import json_response
from lablink.ui.guard import check_run

JOB_ARTIFACT = "launch/job.json"  # as ``lablink.launch.job.JOB_ARTIFACT``
FIELDS = ("number", "started_at", "ended_at", "status", "exit_code", "reason", "host", "job_id")


def attempts_of(lab: Lab, artifacts: list[Artifact]) -> list[dict[str, Any]]:
    """The job's attempts, oldest first; [] for a run nobody launched (or unreadable)."""
    found = [a for a in artifacts if a.name == JOB_ARTIFACT]
    if not found:
        return []
    try:
        record = json.loads(lab.blobs.read_bytes(found[0].digest))
    except (LablinkError, OSError, ValueError):
        return []  # a page shows without them rather than failing
    rows = record.get("attempts") if isinstance(record, dict) else None
    if not isinstance(rows, list):
        return []
    return [{k: row.get(k) for k in FIELDS} for row in rows if isinstance(row, dict)]


def attempts_router(lab: Lab) -> APIRouter:
    """``GET /ui-data/runs/{run_id}/attempts``."""
    router = APIRouter(include_in_schema=False)

    @router.get("/ui-data/runs/{run_id}/attempts")
    def attempts(request: Request, run_id: str) -> Response:
        try:
            check_run(request, run_id)
            rid = lab.store.resolve_run_id(run_id)
            rows = attempts_of(lab, lab.tracking.list_artifacts(rid))
        except LablinkError as exc:
            return json_response(request, exc.to_dict(), exc.status)
        return json_response(request, {"attempts": rows})

    return router
