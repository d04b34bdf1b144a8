"""Metrics: batch ingestion (the hot path), heartbeats, history and comparison."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter, Query, Request
from pydantic import Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from lablink.checks.batchwire import CONTENT_TYPE as BATCH_CONTENT_TYPE
from lablink.checks.batchwire import decode_batch
from lablink.checks.keys import MAX_KEY_LENGTH, check_metric_key
from lablink.checks.wire_numbers import MAX_WIRE_INT, json_int
from lablink.core.lab import Lab
from lablink.errors import InvalidInput
from lablink.models import History
from lablink.server.access import Authorized, run_not_found, run_project
from lablink.server.deps import LabDep
from lablink.server.fields import Body, Integral, MetricKey
from lablink.server.jsonio import JSONResponse, loads_body, reply
from lablink.server.offloop import OffLoopRoute

router = APIRouter(tags=["metrics"], route_class=OffLoopRoute)

MAX_COMPARE = 50
_FORMAT_HELP = (
    "json (default), or binary: the steps as int64, then the times and the values as "
    "float64, little-endian, with X-Lablink-Points, -Total and -Downsampled headers"
)
_SERIES = {
    "type": "object",
    "required": ["steps", "times", "values"],
    "properties": {
        "steps": {"type": "array", "items": {"type": "integer", "minimum": 0}},
        "times": {"type": "array", "items": {"type": "number"}},
        "values": {"type": "array", "items": {"type": "number"}},
    },
}
_BATCH_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["seq", "metrics"],
                    "properties": {
                        "seq": {"type": "integer", "minimum": 0},
                        "metrics": {"type": "object", "additionalProperties": _SERIES},
                    },
                }
            }
        },
    }
}


class Heartbeat(Body):
    """Liveness, optionally with sampled system metrics logged as a batch ``seq``."""

    system: dict[MetricKey, float] | None = None
    seq: Annotated[int, Field(ge=0, le=MAX_WIRE_INT), Integral] | None = None
    # sent by the launcher of a ``lablink launch`` job: it takes a watchdog restart
    take_restart: bool = False


@router.post(
    "/runs/{run_id}/batches", summary="Ingest a batch of points", openapi_extra=_BATCH_SCHEMA
)
async def ingest_batch(run_id: str, request: Request, lab: LabDep) -> JSONResponse:
    """Store ``{"seq", "metrics": {key: {steps, times, values}}}`` once per ``seq``.

    The body is parsed with ``json.loads`` (NaN and Infinity tokens allowed) rather
    than a pydantic model: a batch holds many thousands of numbers, and the core
    checks them as numpy arrays. Parsing and storing run in the threadpool.
    """
    body = await request.body()
    binary = request.headers.get("content-type", "").startswith(BATCH_CONTENT_TYPE)
    result = await run_in_threadpool(ingest_body, lab, run_id, body, binary)
    return reply(result)


def ingest_body(lab: Lab, run_id: str, body: bytes, binary: bool = False) -> dict[str, Any]:
    """Decode a batch body (JSON, or the packed wire format) and store it; the answer.

    Blocking: callers run it in the threadpool. ``server/ingest_path.py`` calls it too.

    Raises:
        InvalidInput: a malformed body or batch.
    """
    if binary:
        seq, packed = decode_batch(body)
        data: Any = {"seq": seq, "metrics": packed}
    else:
        data = loads_body(body, "batch")
    if not isinstance(data, dict):
        raise InvalidInput("a batch must be a JSON object {seq, metrics}")
    unknown = sorted(set(data) - {"seq", "metrics"})
    if unknown:
        raise InvalidInput(f"unknown field(s) in batch: {', '.join(unknown)}")
    if "seq" not in data or "metrics" not in data:
        raise InvalidInput("a batch needs seq and metrics", "send {seq, metrics: {key: {...}}}")
    seq = data["seq"] if binary else json_int(data["seq"], "seq")
    return lab.tracking.log_batch(run_id, seq, data["metrics"])


@router.post("/runs/{run_id}/heartbeat", summary="Report liveness")
def heartbeat(run_id: str, lab: LabDep, body: Heartbeat | None = None) -> JSONResponse:
    """Record liveness; the answer's ``stop`` is set when the run must stop, and its
    ``restart`` (with ``take_restart``) when the watchdog asks the launcher to restart."""
    body = body or Heartbeat()
    for key in body.system or {}:
        check_metric_key(key)  # before the heartbeat is written: all or nothing
    return reply(lab.tracking.heartbeat(run_id, body.system, body.seq, body.take_restart))


@router.get("/runs/{run_id}/history", summary="A metric's history")
def history(
    run_id: str,
    lab: LabDep,
    key: Annotated[str, Query(min_length=1, max_length=MAX_KEY_LENGTH)],
    max_points: int | None = None,
    step_min: Annotated[int | None, Query(ge=-MAX_WIRE_INT, le=MAX_WIRE_INT)] = None,
    step_max: Annotated[int | None, Query(ge=-MAX_WIRE_INT, le=MAX_WIRE_INT)] = None,
    fmt: Annotated[
        Literal["json", "binary"], Query(alias="format", description=_FORMAT_HELP)
    ] = "json",
) -> Response:
    """Points of ``key`` in step order; with ``max_points`` the server downsamples,
    keeping the first and last points and each bucket's minimum and maximum.
    """
    h = lab.tracking.history(run_id, key, max_points, step_min, step_max)
    if fmt == "binary":
        return _binary_history(h)
    # Built by hand: dataclasses.asdict would copy a million-point list item by item.
    return reply(
        {
            "run_id": h.run_id,
            "key": h.key,
            "steps": h.steps,
            "values": h.values,
            "times": h.times,
            "total": h.total,
            "downsampled": h.downsampled,
        }
    )


def _binary_history(h: History) -> Response:
    """Steps (int64), times and values (float64), little-endian, one array after another.

    Encoding a million floats as JSON text takes seconds on a small machine; this takes
    milliseconds, and NaN and ±inf survive bit for bit.
    """
    body = b"".join(
        (
            np.asarray(h.steps, dtype="<i8").tobytes(),
            np.asarray(h.times, dtype="<f8").tobytes(),
            np.asarray(h.values, dtype="<f8").tobytes(),
        )
    )
    headers = {
        "x-lablink-points": str(len(h)),
        "x-lablink-run": h.run_id,
        "x-lablink-total": str(h.total),
        "x-lablink-downsampled": "true" if h.downsampled else "false",
    }
    return Response(body, media_type="application/octet-stream", headers=headers)


@router.get("/compare", summary="Compare runs")
def compare(
    request: Request,
    lab: LabDep,
    access: Authorized,
    run: Annotated[list[str] | None, Query(description="a run id; repeat it")] = None,
) -> JSONResponse:
    """Params that differ, and final and best metrics side by side."""
    run = run or []
    if len(run) > MAX_COMPARE:
        raise InvalidInput(f"compare takes at most {MAX_COMPARE} runs, not {len(run)}")
    if access is not None:
        for ref in run:
            access.check(run_project(request, ref), "viewer", run_not_found(ref))
    return reply(lab.tracking.compare(run))
