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
    points = _points(request, run_id, key)
    out: dict[str, Any] = {"metrics": points[offset : offset + limit]}
    if offset + limit < len(points):
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
            for p in _points(request, run_id, key)
            if (start is None or p["step"] >= start) and (end is None or p["step"] <= end)
        ]
        out.extend(points[:limit])
    return reply({"metrics": out})


def _points(request: Request, run_id: str, key: str) -> list[dict[str, Any]]:
    history = lab_of(request).mlflow.history(run_id, key)
    if history is None:
        return []
    return [
        {"key": key, "value": wire.number(v), "timestamp": round(t * 1000), "step": s}
        for s, t, v in zip(history.steps, history.times, history.values, strict=True)
    ]
