"""``/p/{project}/params``: parameters against a metric over a project's runs.

A parallel-coordinates chart (one axis per param that varies, the metric last, lines
coloured by the metric) and, for one chosen param, a scatter of that param against the
metric. Text params become axes of their distinct values. The runs are the project's
latest ``MAX_RUNS`` (optionally filtered with the runs table's filter language).
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse

from lablink.checks.metric_goal import goal
from lablink.checks.nonfinite import finite_or_none
from lablink.core.lab import Lab
from lablink.errors import LablinkError
from lablink.models import RunRecord
from lablink.ui.guard import check_project
from lablink.ui.render import Renderer

MAX_RUNS = 1000
MAX_AXES = 12


def dimensions(runs: list[RunRecord], metric: str) -> dict[str, Any]:
    """Axes for the chart: params that vary (numbers, or text as categories), then metric."""
    kept = [r for r in runs if (m := r.metrics.get(metric)) and finite_or_none(m.value) is not None]
    keys = list(dict.fromkeys(k for r in kept for k in r.params))
    axes = []
    for key in keys:
        values = [r.params.get(key) for r in kept]
        if len({repr(v) for v in values}) < 2:
            continue  # a param every run shares says nothing about the metric
        numbers = [finite_or_none(v) for v in values]
        if all(n is not None for n in numbers):
            axes.append({"label": key, "values": numbers})
        else:
            labels = sorted({str(v) for v in values})
            axes.append(
                {
                    "label": key,
                    "values": [labels.index(str(v)) for v in values],
                    "ticktext": labels,
                    "tickvals": list(range(len(labels))),
                }
            )
    metric_values = [finite_or_none(r.metrics[metric].value) for r in kept]
    return {
        "axes": axes[:MAX_AXES],
        "metric": {"label": metric, "values": metric_values, "goal": goal(metric)},
        "runs": [{"id": r.id, "name": r.name} for r in kept],
    }


def params_router(lab: Lab, renderer: Renderer) -> APIRouter:
    """``GET /p/{project}/params``."""
    router = APIRouter(include_in_schema=False)

    @router.get("/p/{project}/params", response_class=HTMLResponse)
    def params_page(request: Request, project: str) -> HTMLResponse:
        query = request.query_params
        try:
            check_project(request, project)
            runs, _ = lab.tracking.search_runs(
                project, query.get("filter") or None, "created_at", True, MAX_RUNS, 0
            )
        except LablinkError as exc:
            return renderer.error(exc, "Cannot show these runs")
        metrics = sorted({k for r in runs for k, m in r.metrics.items() if m.count or m.value})
        metrics = [k for k in metrics if not k.startswith("sys/")] or metrics
        preferred = [k for k in metrics if k.startswith(("val/", "valid/", "test/"))]
        metric = query.get("metric") or (preferred or metrics or [""])[0]
        data = dimensions(runs, metric) if metric in metrics else None
        context = {
            "project": project,
            "metric": metric,
            "metrics": metrics,
            "filter": query.get("filter", ""),
            "data": data,
            "now": time.time(),
        }
        return renderer.page("params.html", context)

    return router
