"""``/sweeps/{sweep_id}``: a sweep's trials, their states, the best so far, and a
parallel-coordinates chart of the params against the sweep's metric.

A sweep has no table of its own: its trials are the runs tagged ``sweep:<id>`` and its
file is their ``sweep/spec.json`` artifact (see ``launch/sweep_trials.py``). The chart is
the params page's (``params_view.dimensions``), over the trials that reported the metric.
"""

from __future__ import annotations

import json
import time
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse

from lablink.core.lab import Lab
from lablink.errors import LablinkError, NotFound
from lablink.launch.sweep_trials import SPEC_ARTIFACT, sweep_tag
from lablink.launch.sweeps import MAX_TRIAL_RUNS, view_of
from lablink.models import RunRecord
from lablink.ui.guard import readable
from lablink.ui.params_view import dimensions
from lablink.ui.render import Renderer


def _spec(lab: Lab, runs: list[RunRecord]) -> dict[str, Any]:
    for run in sorted(runs, key=lambda r: r.created_at, reverse=True):
        for artifact in lab.tracking.list_artifacts(run.id):
            if artifact.name == SPEC_ARTIFACT:
                data: dict[str, Any] = json.loads(lab.blobs.read_bytes(artifact.digest))
                return data
    return {}


def sweep_router(lab: Lab, renderer: Renderer) -> APIRouter:
    """``GET /sweeps/{sweep_id}``."""
    router = APIRouter(include_in_schema=False)

    @router.get("/sweeps/{sweep_id}", response_class=HTMLResponse)
    def sweep_page(sweep_id: str, request: Request) -> HTMLResponse:
        try:
            found, _ = lab.tracking.search_runs(
                None, f"tags.{sweep_tag(sweep_id)}", "created_at", False, MAX_TRIAL_RUNS, 0
            )
            # trials the viewer may not read are not there (none readable: no sweep)
            shown = readable(request)
            runs = [run for run in found if shown(run.project)]
            spec = _spec(lab, runs) if runs else {}
            if not spec:
                raise NotFound(f"no sweep {sweep_id!r}", "`lablink sweeps ls` lists the sweeps")
        except LablinkError as exc:
            return renderer.error(exc, "No such sweep")
        view = view_of(sweep_id, spec, runs)
        data = dimensions(runs, view.metric)
        data["metric"]["goal"] = "min" if view.goal == "minimize" else "max"
        context = {
            "view": view,
            "best": view.best(),
            "data": data,
            "project": spec.get("project"),
            "now": time.time(),
        }
        return renderer.page("sweep.html", context)

    return router
