"""Chart options, metric grouping and the chart-data endpoint the pages' scripts call.

``GET /ui-data/history?run=ID&key=train/loss&max_points=1000`` (``run`` and ``key`` may
repeat) answers one series per run and key, downsampled on the server by
``Tracking.history`` so that at most ``MAX_POINTS`` points per series ever reach a
browser. NaN and ±inf become ``null``: the browser's ``JSON.parse`` cannot read them, and
a gap in the line is what a chart should show for them anyway.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from lablink.checks.nonfinite import json_float
from lablink.checks.wire_numbers import MAX_WIRE_INT_TEXT, parse_wire_int
from lablink.core.lab import Lab
from lablink.errors import InvalidInput, LablinkError, NotFound
from lablink.models import RunRecord
from lablink.ui.guard import check_run

DEFAULT_POINTS = 1000
MAX_POINTS = 5000
MAX_SERIES = 200
GROUP_ORDER = ("train", "val", "valid", "test", "eval")
# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = (
    "#0072B2",
    "#D55E00",
    "#009E73",
    "#CC79A7",
    "#E69F00",
    "#56B4E9",
    "#000000",
    "#F0E442",
)


@dataclasses.dataclass(frozen=True)
class ChartOptions:
    """Smoothing (EMA weight 0-0.99), log y axis, x by step or wall time, charts per row."""

    smooth: float = 0.0
    log: bool = False
    x: str = "step"
    per_row: int = 2

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> ChartOptions:
        """Read ``smooth``, ``log``, ``x`` and ``per_row``; unreadable values fall back."""
        try:
            smooth = float(query.get("smooth", "0"))
        except ValueError:
            smooth = 0.0
        if not math.isfinite(smooth):
            smooth = 0.0
        return cls(
            smooth=min(max(smooth, 0.0), 0.99),
            log=query.get("log", "") in ("1", "true", "on"),
            x="time" if query.get("x") == "time" else "step",
            per_row=int(query["per_row"]) if query.get("per_row") in ("1", "2", "3") else 2,
        )


def group_keys(keys: Sequence[str]) -> list[tuple[str, list[str]]]:
    """Metric keys grouped by prefix: train/, val/, other prefixes, no prefix, sys/."""
    groups: dict[str, list[str]] = {}
    for key in sorted(keys):
        head = key.split("/", 1)[0] if "/" in key else "other"
        groups.setdefault(head, []).append(key)

    def rank(name: str) -> tuple[int, str]:
        if name in GROUP_ORDER:
            return GROUP_ORDER.index(name), name
        return {"other": 90, "sys": 99}.get(name, 50), name

    return [(name, groups[name]) for name in sorted(groups, key=rank)]


def page_data(runs: Sequence[RunRecord], options: ChartOptions, live: bool) -> dict[str, Any]:
    """What the chart script needs, embedded in the page as JSON (no NaN in here)."""
    return {
        "runs": [
            {
                "id": r.id,
                "name": r.name,
                "status": r.status,
                "project": r.project,
                "start": r.created_at,
                "color": PALETTE[i % len(PALETTE)],
            }
            for i, r in enumerate(runs)
        ],
        "options": dataclasses.asdict(options),
        "maxPoints": DEFAULT_POINTS,
        "live": live,
    }


def series_json(
    lab: Lab, run_id: str, key: str, max_points: int, lo: int | None, hi: int | None
) -> dict[str, Any]:
    """One series for the browser; a run without ``key`` gives an empty series."""
    try:
        h = lab.tracking.history(run_id, key, max_points, lo, hi)
    except NotFound:
        lab.tracking.get_run(run_id)  # an unknown run is still an error
        return {
            "run": run_id,
            "key": key,
            "steps": [],
            "values": [],
            "times": [],
            "total": 0,
            "downsampled": False,
            "missing": True,
        }
    return {
        "run": h.run_id,
        "key": key,
        "steps": h.steps,
        "values": [json_float(v) for v in h.values],
        "times": [round(t, 3) for t in h.times],
        "total": h.total,
        "downsampled": h.downsampled,
    }


def json_response(request: Request, body: Any, status: int = 200) -> Response:
    """JSON without NaN, gzip-compressed when the browser accepts it and it pays."""
    data = json.dumps(body, allow_nan=False, separators=(",", ":")).encode()
    headers = {"Cache-Control": "no-store", "Vary": "Accept-Encoding"}
    if len(data) > 1024 and "gzip" in request.headers.get("accept-encoding", ""):
        data = gzip.compress(data, compresslevel=5)
        headers["Content-Encoding"] = "gzip"
    return Response(data, status_code=status, headers=headers, media_type="application/json")


def _int_param(name: str, raw: str | None) -> int:
    text = str(raw)
    negative = text.startswith("-")
    try:
        value = parse_wire_int(text.removeprefix("-"), name)
    except InvalidInput:
        raise InvalidInput(
            f"{name} must be an integer up to {MAX_WIRE_INT_TEXT}, not {text[:40]!r}"
        ) from None
    return -value if negative else value


def data_router(lab: Lab) -> APIRouter:
    """``GET /ui-data/history``."""
    router = APIRouter(include_in_schema=False)

    @router.get("/ui-data/history")
    def history(
        request: Request,
        run: list[str] = Query(default=[]),
        key: list[str] = Query(default=[]),
        max_points: str = str(DEFAULT_POINTS),
        step_min: str | None = None,
        step_max: str | None = None,
    ) -> Response:
        try:
            points = _int_param("max_points", max_points)
            lo = None if step_min in (None, "") else _int_param("step_min", step_min)
            hi = None if step_max in (None, "") else _int_param("step_max", step_max)
            if not run or not key:
                raise InvalidInput("name at least one run and one key", "?run=ID&key=train/loss")
            if len(run) * len(key) > MAX_SERIES:
                raise InvalidInput(f"at most {MAX_SERIES} series per request")
            if not 2 <= points <= MAX_POINTS:
                raise InvalidInput(
                    f"max_points must be between 2 and {MAX_POINTS}, not {points}",
                    "the browser never needs more; zoom in to see full resolution",
                )
            for ref in dict.fromkeys(run):
                check_run(request, ref)
            series = [series_json(lab, r, k, points, lo, hi) for r in run for k in key]
        except LablinkError as exc:
            return json_response(request, exc.to_dict(), exc.status)
        return json_response(request, {"series": series})

    return router
