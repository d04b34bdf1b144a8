"""The incidents page and the incidents box of the run page.

``/incidents`` lists incidents (``?open=1`` for unresolved ones, ``?run=ID`` for one
run), each with the metric window that triggered it drawn as an inline SVG (no script
needed), its lifecycle and its notification attempts. The run page shows the run's
incidents through ``_run_incidents.html``, which calls the ``run_incidents`` global
registered here. Both read the same ``Incidents`` use case as the JSON API.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Query, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from lablink.core.lab import Lab
from lablink.errors import Forbidden, LablinkError
from lablink.models import Incident
from lablink.server.access import MEMBER, access_of
from lablink.server.browser import same_origin
from lablink.ui.guard import check_run, readable
from lablink.ui.render import Renderer
from lablink.ui.sparkline import sparkline


def charts(incident: Incident) -> list[dict[str, Any]]:
    """The windows an incident's evidence holds: one per metric or GPU."""
    ev = incident.evidence
    out: list[dict[str, Any]] = []
    window = ev.get("window")
    if isinstance(window, dict):
        step = ev.get("step")
        line = sparkline(
            window.get("steps") or [],
            window.get("values") or [],
            trigger_x=float(step) if isinstance(step, int | float) else None,
        )
        if line:
            metric = ev.get("metric", "metric")
            out.append({"label": f"{metric} by step", "line": line, "x_name": "step"})
    for gpu, info in (ev.get("gpus") or {}).items():
        w = info.get("window") or {}
        times = [t - (w.get("times") or [0])[0] for t in w.get("times") or []]
        line = sparkline(times, w.get("values") or [], x_name="second")
        if line:
            out.append({"label": f"gpu{gpu} utilisation %", "line": line, "x_name": "seconds"})
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
        request: Request,
        open: bool = False,
        run: str | None = Query(None, max_length=32),
        limit: int = Query(100, ge=1, le=1000),
    ) -> HTMLResponse:
        try:
            if run:
                check_run(request, run)
            shown = readable(request)  # the viewer's projects only (a page may come back short)
            found = [i for i in use.list(open, run or None, None, limit) if shown(i.project)]
            deliveries = {i.id: use.deliveries.for_incident(i.id) for i in found}
        except LablinkError as exc:
            return renderer.error(exc, "No such run")
        items = [
            {"incident": i, "charts": charts(i), "deliveries": deliveries[i.id]} for i in found
        ]
        context = {"items": items, "open": open, "run": run, "now": time.time()}
        return renderer.page("incidents.html", context)

    @router.post("/incidents/{incident_id}/ack")
    def acknowledge(request: Request, incident_id: int) -> Response:
        """The page's Acknowledge button: someone is on it, escalation stops."""
        try:
            if not same_origin(request.headers):  # a form posted from another site
                raise Forbidden("acknowledge from lablink's own page", "reload the page")
            incident = use.get(incident_id)
            access = access_of(request)
            if access is not None:
                access.check(incident.project, MEMBER, f"incident {incident_id}")
            actor = access.identity.user if access is not None else lab.settings.user
            use.acknowledge(actor, incident_id)
        except LablinkError as exc:
            return renderer.error(exc, "Cannot acknowledge")
        return RedirectResponse(f"/incidents?run={incident.run_id}", status_code=303)

    return router
