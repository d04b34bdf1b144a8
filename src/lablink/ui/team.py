"""The Team page and the bus-factor page.

``/team`` shows the roster with each person's local time and state now, a week's
heat-map of who is free together (inline SVG, ``?week=2026-W50&min=2``), focus blocks,
each day's best slot, and who is on call now and next. ``/team/busfactor`` runs the
bus-factor analysis on the server's ``LABLINK_BUSFACTOR_REPO`` (cached for a few
minutes), or says how to enable it. Both read the same core calls as the JSON API.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from fastapi import APIRouter, Query
from markupsafe import Markup
from starlette.responses import HTMLResponse

from lablink.core.lab import Lab
from lablink.errors import LablinkError
from lablink.ui.render import Renderer

BUSFACTOR_CACHE_SECONDS = 600.0


def team_router(lab: Lab, renderer: Renderer) -> APIRouter:
    """Routes for ``/team`` and ``/team/busfactor``."""
    router = APIRouter(include_in_schema=False)
    cache: dict[str, tuple[float, dict[str, Any]]] = {}
    lock = threading.Lock()

    @router.get("/team", response_class=HTMLResponse)
    def team_page(
        week: str | None = Query(None, max_length=10),
        min: int | None = Query(None, ge=1, le=1000),
    ) -> HTMLResponse:
        from lablink.team.hours import week_text
        from lablink.team.overlap_html import DAYS, heat_svg

        now = time.time()
        members = lab.team.members()
        overlap = None
        heat = None
        try:
            if members:
                found = lab.team.overlap(week, min)
                overlap = found.to_dict()
                heat = Markup(heat_svg(overlap))
            oncall = lab.team.now(now)
        except LablinkError as exc:
            return renderer.error(exc, "Cannot show that week")
        context = {
            "members": [m.to_dict(now) for m in members],
            "overlap": overlap,
            "heat": heat,
            "days": DAYS,
            "week_text": week_text,
            "oncall": oncall,
            "rotations": {r.name: r for r in lab.team.rotations()},
            "week": week or "",
            "min": min,
            "now": now,
        }
        return renderer.page("team.html", context)

    @router.get("/team/busfactor", response_class=HTMLResponse)
    def busfactor_page() -> HTMLResponse:
        from lablink.team.report_html import HEIGHT, PAD, WIDTH, chart_points

        repo = lab.settings.busfactor_repo
        if repo is None:
            return renderer.page("busfactor.html", {"data": None, "repo": None})
        key = str(repo)
        with lock:  # one analysis at a time; the others wait for its answer
            hit = cache.get(key)
            if hit is None or time.monotonic() - hit[0] > BUSFACTOR_CACHE_SECONDS:
                from lablink.team.busfactor import analyse

                try:
                    data = analyse(repo).to_dict()
                except LablinkError as exc:
                    return renderer.error(exc, "No bus factor")
                hit = cache[key] = (time.monotonic(), data)
        data = hit[1]
        points = chart_points(data["timeline"])
        context = {
            "data": data,
            "repo": key,
            "points": points,
            "polyline": " ".join(f"{p['x']},{p['y']}" for p in points),
            "W": WIDTH,
            "H": HEIGHT,
            "P": PAD,
        }
        return renderer.page("busfactor.html", context)

    return router
