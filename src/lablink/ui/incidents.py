"""The incidents page and the incidents box of the run page (issue 7).

``/incidents`` lists incidents (``?open=1`` for unresolved ones, ``?run=ID`` for one
run), each with the metric window that triggered it drawn as an inline SVG (no script
needed), its lifecycle and its notification attempts. The run page shows the run's
incidents through ``_run_incidents.html``, which calls the ``run_incidents`` global
registered here. Both read the same ``Incidents`` use case as the JSON API.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Query
from starlette.responses import HTMLResponse

from lablink.core.lab import Lab
from lablink.errors import LablinkError
from lablink.models import Incident
from lablink.ui.render import Renderer

WIDTH, HEIGHT, PAD = 360.0, 90.0, 4.0


def sparkline(xs: Sequence[Any], ys: Sequence[Any]) -> dict[str, Any] | None:
    """SVG polyline points for a window; non-finite values become marks at the top."""
    pairs = [(float(x), _num(y)) for x, y in zip(xs, ys, strict=False)]
    if len(pairs) < 2:
        return None
    finite = [y for _, y in pairs if y is not None]
    lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
    if hi == lo:
        lo, hi = lo - 1.0, hi + 1.0
    x0, x1 = pairs[0][0], pairs[-1][0]
    span = (x1 - x0) or 1.0

    def px(x: float) -> float:
        return round(PAD + (x - x0) / span * (WIDTH - 2 * PAD), 1)

    def py(y: float) -> float:
        return round(HEIGHT - PAD - (y - lo) / (hi - lo) * (HEIGHT - 2 * PAD), 1)

    points = " ".join(f"{px(x)},{py(y)}" for x, y in pairs if y is not None)
    marks = [px(x) for x, y in pairs if y is None]
    return {"points": points, "marks": marks, "lo": lo, "hi": hi, "x0": x0, "x1": x1,
            "width": WIDTH, "height": HEIGHT}  # fmt: skip


def _num(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None  # "nan", "inf" as the evidence stores them
    return number if math.isfinite(number) else None


def charts(incident: Incident) -> list[dict[str, Any]]:
    """The windows an incident's evidence holds: one per metric or GPU."""
    ev = incident.evidence
    out = []
    window = ev.get("window")
    if isinstance(window, dict):
        line = sparkline(window.get("steps") or [], window.get("values") or [])
        if line:
            out.append({"label": f"{ev.get('metric', 'metric')} by step", **line})
    for gpu, info in (ev.get("gpus") or {}).items():
        w = info.get("window") or {}
        times = [t - (w.get("times") or [0])[0] for t in w.get("times") or []]
        line = sparkline(times, w.get("values") or [])
        if line:
            out.append({"label": f"gpu{gpu} utilisation % by second", **line})
    return out


def incidents_router(lab: Lab, renderer: Renderer) -> APIRouter:
    """The ``/incidents`` page; also registers ``run_incidents`` for the run page."""
    router = APIRouter(include_in_schema=False)
    use = lab.watchdog.incidents

    def run_incidents(run_id: str) -> list[dict[str, Any]]:
        return [{"incident": i, "charts": charts(i)} for i in use.list(run=run_id, limit=20)]

    renderer.env.globals["run_incidents"] = run_incidents

    @router.get("/incidents", response_class=HTMLResponse)
    def incidents_page(
        open: bool = False,
        run: str | None = Query(None, max_length=32),
        limit: int = Query(100, ge=1, le=1000),
    ) -> HTMLResponse:
        try:
            found = use.list(open, run or None, None, limit)
            deliveries = {i.id: use.deliveries.for_incident(i.id) for i in found}
        except LablinkError as exc:
            return renderer.error(exc, "No such run")
        items = [
            {"incident": i, "charts": charts(i), "deliveries": deliveries[i.id]} for i in found
        ]
        context = {"items": items, "open": open, "run": run, "now": time.time()}
        return renderer.page("incidents.html", context)

    return router
