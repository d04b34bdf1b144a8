"""MLflow runs: create, get, update, delete, restore, search, and everything logged."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from lablink.checks import mlflow_search as search
from lablink.core.mlflow_compat import RUN_FIELDS
from lablink.errors import InvalidInput
from lablink.gcpause import gc_paused
from lablink.models import RunRecord
from lablink.server.access import remember_run_project
from lablink.server.jsonio import JSONResponse, reply, reply_finite
from lablink.server.mlflow import wire
from lablink.server.mlflow.guard import (
    VIEWER,
    Args,
    Authorized,
    lab_of,
    run_access,
    write_project,
)
from lablink.server.mlflow.models import logged_model
from lablink.store.mlflow_sql import RunExtras

router = APIRouter(prefix="/runs")
VIEWS = {"ACTIVE_ONLY": ("active",), "DELETED_ONLY": ("deleted",), "ALL": ("active", "deleted")}
MAX_RESULTS = 50_000


def _run_id(args: dict[str, Any]) -> str:
    return wire.text(args, "run_id", required=False) or wire.text(args, "run_uuid") or ""


@router.post("/create")
def create(request: Request, args: Args, access: Authorized) -> JSONResponse:
    """Start a run; its owner is the caller (with auth) or ``mlflow.user``."""
    lab = lab_of(request)
    exp = lab.mlflow.experiment(wire.text(args, "experiment_id", required=False) or "0")
    write_project(access, exp.project, f"experiment {exp.experiment_id}")
    tags = wire.pairs(args, "tags")
    if access is not None:
        owner = access.identity.user  # an authenticated caller cannot log as another
    else:
        sent = wire.text(args, "user_id", required=False) or tags.get("mlflow.user")
        owner = (sent or lab.settings.user)[:200]
    run, extras = lab.mlflow.create_run(
        owner,
        str(exp.experiment_id),
        wire.integer(args, "start_time"),
        wire.text(args, "run_name", required=False),
        tags,
        experiment=exp,
    )
    remember_run_project(request, run.id, run.project)
    return reply({"run": wire.run(run, extras, str(exp.experiment_id))})


def _render(request: Request, run_id: str) -> dict[str, Any]:
    run, extras, exp = lab_of(request).mlflow.run(run_id)
    return wire.run(run, extras, str(exp.experiment_id))


@router.get("/get")
def get(request: Request, args: Args, access: Authorized) -> JSONResponse:
    """One run with its latest metrics, params and tags."""
    run_id = _run_id(args)
    run_access(request, access, run_id, VIEWER)
    return reply({"run": _render(request, run_id)})


@router.post("/update")
def update(request: Request, args: Args, access: Authorized) -> JSONResponse:
    """Set a run's status, end time and name."""
    run_id = _run_id(args)
    run_access(request, access, run_id)
    lab = lab_of(request)
    status = wire.text(args, "status", required=False)
    run = lab.mlflow.update_run(
        access.identity.user if access is not None else lab.settings.user,
        run_id,
        status.upper() if status else None,
        wire.integer(args, "end_time"),
        wire.text(args, "run_name", required=False),
    )
    run, extras, exp = lab.mlflow.run(run.id)
    return reply({"run_info": wire.run_info(run, extras, str(exp.experiment_id))})


@router.post("/delete")
def delete(request: Request, args: Args, access: Authorized) -> JSONResponse:
    """Mark a run deleted: searches leave it out until it is restored."""
    run_id = _run_id(args)
    run_access(request, access, run_id)
    lab_of(request).mlflow.set_run_stage(run_id, "deleted")
    return reply({})


@router.post("/restore")
def restore(request: Request, args: Args, access: Authorized) -> JSONResponse:
    """Bring a deleted run back."""
    run_id = _run_id(args)
    run_access(request, access, run_id)
    lab_of(request).mlflow.set_run_stage(run_id, "active")
    return reply({})


@router.post("/log-metric")
def log_metric(request: Request, args: Args, access: Authorized) -> JSONResponse:
    """One metric point (milliseconds, step, NaN and ±inf kept)."""
    run_id = _run_id(args)
    run_access(request, access, run_id)
    lab_of(request).mlflow.log(run_id, metrics=[wire.metric(args)])
    return reply({})


@router.post("/log-parameter")
def log_param(request: Request, args: Args, access: Authorized) -> JSONResponse:
    """One param: the string is kept as sent, its parsed value goes into the config."""
    run_id = _run_id(args)
    run_access(request, access, run_id)
    key = wire.text(args, "key") or ""
    value = args.get("value", "")
    if not isinstance(value, str):
        raise InvalidInput(f"param {key!r}: the value must be a string")
    lab_of(request).mlflow.log(run_id, params={key: value})
    return reply({})


@router.post("/set-tag")
def set_tag(request: Request, args: Args, access: Authorized) -> JSONResponse:
    """One tag; ``mlflow.runName`` renames the run."""
    run_id = _run_id(args)
    run_access(request, access, run_id)
    key = wire.text(args, "key") or ""
    value = args.get("value", "")
    if not isinstance(value, str):
        raise InvalidInput(f"tag {key!r}: the value must be a string")
    lab_of(request).mlflow.log(run_id, tags={key: value})
    return reply({})


@router.post("/delete-tag")
def delete_tag(request: Request, args: Args, access: Authorized) -> JSONResponse:
    """Remove a tag."""
    run_id = _run_id(args)
    run_access(request, access, run_id)
    lab_of(request).mlflow.delete_tag(run_id, wire.text(args, "key") or "")
    return reply({})


@router.post("/log-batch")
def log_batch(request: Request, args: Args, access: Authorized) -> JSONResponse:
    """Metrics, params and tags in one request, checked whole before anything is stored."""
    run_id = _run_id(args)
    run_access(request, access, run_id)
    metrics = args.get("metrics") or []
    if not isinstance(metrics, list):
        raise InvalidInput("metrics must be a list")
    lab_of(request).mlflow.log(
        run_id,
        metrics=wire.metrics(metrics),
        params=wire.pairs(args, "params"),
        tags=wire.pairs(args, "tags"),
    )
    return reply({})


@router.post("/log-inputs")
def log_inputs(request: Request, args: Args, access: Authorized) -> JSONResponse:
    """Datasets the run read, kept as the run's inputs (name and digest)."""
    run_id = _run_id(args)
    run_access(request, access, run_id)
    datasets = []
    for item in args.get("datasets") or []:
        ds = item.get("dataset") if isinstance(item, dict) else None
        if not isinstance(ds, dict) or not isinstance(ds.get("name"), str):
            raise InvalidInput("each input needs a dataset with a name")
        datasets.append((ds["name"], str(ds.get("digest") or "")))
    lab_of(request).mlflow.log_inputs(run_id, datasets)
    return reply({})


@router.post("/outputs")
def log_outputs(request: Request, args: Args, access: Authorized) -> JSONResponse:
    """Models the run produced: each must be a logged model (of any run the caller
    may read); lablink already lists them with the run, so nothing more is stored."""
    run_id = _run_id(args)
    run_access(request, access, run_id)
    items = args.get("models") or []
    if not isinstance(items, list):
        raise InvalidInput("models must be a list of {model_id, step}")
    for item in items:
        model_id = item.get("model_id") if isinstance(item, dict) else None
        if not isinstance(model_id, str):
            raise InvalidInput("each output needs a model_id")
        logged_model(request, access, model_id, VIEWER)
    return reply({})


@router.post("/search")
def search_runs(request: Request, args: Args, access: Authorized) -> Response:
    """Runs of the experiments matching an MLflow filter, sorted, a page at a time."""
    lab = lab_of(request)
    ids = args.get("experiment_ids") or []
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise InvalidInput("experiment_ids must be a list of ids")
    view = VIEWS.get(str(args.get("run_view_type") or "ACTIVE_ONLY").upper())
    if view is None:
        raise InvalidInput(f"invalid run_view_type {args.get('run_view_type')!r}")
    limit = wire.integer(args, "max_results", 1000) or 1000
    if not 1 <= limit <= MAX_RESULTS:
        raise InvalidInput(f"max_results must be between 1 and {MAX_RESULTS}")
    clauses = search.parse(wire.text(args, "filter", required=False))
    orders = args.get("order_by") or []
    order = [*search.parse_order_by(orders), ("attributes", "start_time", False)]
    offset = search.read_page_token(wire.text(args, "page_token", required=False))
    for eid in ids:
        exp = lab.mlflow.experiment(eid)
        if access is not None:
            access.check(exp.project, VIEWER, f"experiment {eid}")
    pushed = search.to_lablink(clauses)
    with gc_paused():  # a record and a dozen dicts a run, none of them garbage
        found = []
        for run, extras, eid in lab.mlflow.runs(ids, pushed, RUN_FIELDS):
            if extras.lifecycle_stage not in view:
                continue
            look = _lookup(run, extras)
            if search.matches(clauses, look):
                found.append((search.sort_key(order, look), run.id, run, extras, eid))
        found.sort(key=lambda f: (f[0], f[1]))
        page = found[offset : offset + limit]
        out: dict[str, Any] = {"runs": [wire.run(r, x, e) for _, _, r, x, e in page]}
        if offset + limit < len(found):
            out["next_page_token"] = search.page_token(offset + limit)
        # MLflow's JSON spells NaN and ±inf as strings (``wire.number``): orjson may write it
        return reply_finite(out)


def _lookup(run: RunRecord, extras: RunExtras) -> search.Lookup:
    params = tags = info = None

    def value(entity: str, key: str) -> Any:
        nonlocal params, tags, info
        if entity == "metrics":
            m = run.metrics.get(key)
            return None if m is None else m.value
        if entity == "params":
            params = params or wire.run_params(run, extras)
            return params.get(key)
        if entity == "tags":
            tags = tags or wire.run_tags(run, extras)
            return tags.get(key)
        info = info or wire.run_info(run, extras, "")
        return info.get(key)

    return value
