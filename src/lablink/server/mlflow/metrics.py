"""MLflow metric history: one run's points a page at a time, and several runs' at once."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from lablink.checks import mlflow_search as search
from lablink.errors import InvalidInput
from lablink.server.jsonio import JSONResponse, reply
from lablink.server.mlflow import wire
from lablink.server.mlflow.guard import VIEWER, Args, Authorized, lab_of, run_access

router = APIRouter(prefix="/metrics")
PAGE = 25_000  # the MLflow client's page size
MAX_PAGE = 100_000
MAX_RUNS = 100


@router.get("/get-history")
def get_history(request: Request, args: Args, access: Authorized) -> JSONResponse:
    """Every point of a metric in step order; empty when the run never logged it."""
    run_id = wire.text(args, "run_id", required=False) or wire.text(args, "run_uuid") or ""
    key = wire.text(args, "metric_key") or ""
    run_access(request, access, run_id, VIEWER)
    limit = wire.integer(args, "max_results", PAGE) or PAGE
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"max_results must be between 1 and {MAX_PAGE}")
    offset = search.read_page_token(wire.text(args, "page_token", required=False))
    points, total = _points(request, run_id, key, offset, limit)
    out: dict[str, Any] = {"metrics": points}
    if offset + limit < total:
        out["next_page_token"] = search.page_token(offset + limit)
    return reply(out)


@router.get("/get-history-bulk-interval")
def get_history_bulk(request: Request, args: Args, access: Authorized) -> JSONResponse:
    """A metric's points of several runs (``run_ids``), with each point's run id."""
    run_ids = args.get("run_ids") or []
    if not 1 <= len(run_ids) <= MAX_RUNS:
        raise InvalidInput(f"name 1 to {MAX_RUNS} run_ids")
    key = wire.text(args, "metric_key") or ""
    limit = wire.integer(args, "max_results", PAGE) or PAGE
    start, end = wire.integer(args, "start_step"), wire.integer(args, "end_step")
    out = []
    for run_id in run_ids:
        run_access(request, access, run_id, VIEWER)
        points = [
            {**p, "run_id": run_id}
            for p in _points(request, run_id, key)[0]
            if (start is None or p["step"] >= start) and (end is None or p["step"] <= end)
        ]
        out.extend(points[:limit])
    return reply({"metrics": out})


def _points(
    request: Request, run_id: str, key: str, offset: int = 0, limit: int | None = None
) -> tuple[list[dict[str, Any]], int]:
    """The points ``offset:offset + limit`` of a metric as MLflow writes them, and how
    many it has in all. Only the page is built: the client reads 25,000 at a time."""
    history = lab_of(request).mlflow.history(run_id, key)
    if history is None:
        return [], 0
    end = None if limit is None else offset + limit
    page = zip(
        history.steps[offset:end],
        history.times[offset:end],
        history.values[offset:end],
        strict=True,
    )
    points = [
        {"key": key, "value": wire.number(v), "timestamp": round(t * 1000), "step": s}
        for s, t, v in page
    ]
    return points, len(history.steps)
