"""MLflow experiments: create, get, get by name, search, rename, tag, delete, restore."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request

from lablink.checks import mlflow_search as search
from lablink.core.mlflow_compat import check_experiment_name
from lablink.errors import InvalidInput
from lablink.server.jsonio import JSONResponse, reply
from lablink.server.mlflow import wire
from lablink.server.mlflow.guard import (
    Args,
    Authorized,
    lab_of,
    read_project,
    write_project,
)
from lablink.store.mlflow_sql import ExperimentRow

router = APIRouter(prefix="/experiments")
VIEWS = {"ACTIVE_ONLY": ("active",), "DELETED_ONLY": ("deleted",), "ALL": ("active", "deleted")}
MAX_EXPERIMENTS = 50_000


@router.post("/create")
def create(request: Request, args: Args, access: Authorized) -> JSONResponse:
    """A new experiment (over a new project); answers its id."""
    lab = lab_of(request)
    name = check_experiment_name(wire.text(args, "name"))
    if access is not None:
        access.anywhere("member")  # a new project: its creator needs a role somewhere
    exp = lab.mlflow.create_experiment(name, wire.pairs(args, "tags"))
    return reply({"experiment_id": str(exp.experiment_id)})


@router.get("/get")
def get(request: Request, args: Args, access: Authorized) -> JSONResponse:
    """One experiment by id."""
    exp = lab_of(request).mlflow.experiment(wire.text(args, "experiment_id") or "")
    read_project(access, exp.project, f"experiment {exp.experiment_id}")
    return reply({"experiment": wire.experiment(exp)})


@router.get("/get-by-name")
def get_by_name(request: Request, args: Args, access: Authorized) -> JSONResponse:
    """One experiment by name."""
    name = wire.text(args, "experiment_name") or ""
    exp = lab_of(request).mlflow.experiment_by_name(name)
    read_project(access, exp.project, f"experiment {name!r}")
    return reply({"experiment": wire.experiment(exp)})


@router.api_route("/search", methods=["GET", "POST"])
def search_experiments(request: Request, args: Args, access: Authorized) -> JSONResponse:
    """Experiments the caller may read, filtered (``name``, ``tags.*``), sorted, paged."""
    view = VIEWS.get(str(args.get("view_type") or "ACTIVE_ONLY").upper())
    if view is None:
        raise InvalidInput(f"invalid view_type {args.get('view_type')!r}", ", ".join(VIEWS))
    limit = wire.integer(args, "max_results", 1000) or 1000
    if not 1 <= limit <= MAX_EXPERIMENTS:
        raise InvalidInput(f"max_results must be between 1 and {MAX_EXPERIMENTS}")
    clauses = search.parse(_attributes(wire.text(args, "filter", required=False)))
    order = search.parse_order_by(
        [_attributes(o) or "" for o in args.get("order_by") or []] or ["attributes.start_time DESC"]
    )
    offset = search.read_page_token(wire.text(args, "page_token", required=False))
    readable = access.readable() if access is not None else (lambda _: True)
    found = [
        e
        for e in lab_of(request).mlflow.experiments()
        if e.lifecycle_stage in view and readable(e.project) and search.matches(clauses, _lookup(e))
    ]
    found.sort(key=lambda e: (search.sort_key(order, _lookup(e)), e.experiment_id))
    page = found[offset : offset + limit]
    out: dict[str, Any] = {"experiments": [wire.experiment(e) for e in page]}
    if offset + limit < len(found):
        out["next_page_token"] = search.page_token(offset + limit)
    return reply(out)


def _attributes(text: str | None) -> str | None:
    """Experiment filters name bare attributes (``name LIKE 'x%'``): give them the entity."""
    if text is None:
        return None
    names = {
        "name": "run_name",
        "creation_time": "start_time",
        "last_update_time": "end_time",
        "experiment_id": "run_id",
    }
    return re.sub(
        r"(?<![.\w`\"'])(name|creation_time|last_update_time|experiment_id)\b(?!\s*\.)",
        lambda m: f"attributes.{names[m.group(1)]}",
        text,
    )


def _lookup(exp: ExperimentRow) -> search.Lookup:
    def value(entity: str, key: str) -> Any:
        if entity == "tags":
            return exp.tags.get(key)
        if entity == "attributes":
            return {
                "run_name": exp.name,
                "start_time": wire.ms(exp.created_at),
                "end_time": wire.ms(exp.updated_at),
                "run_id": str(exp.experiment_id),
            }.get(key)
        return None

    return value


@router.post("/update")
def update(request: Request, args: Args, access: Authorized) -> JSONResponse:
    """Rename an experiment (the project underneath keeps its name)."""
    lab = lab_of(request)
    exp = lab.mlflow.experiment(wire.text(args, "experiment_id") or "")
    write_project(access, exp.project, f"experiment {exp.experiment_id}")
    name = wire.text(args, "new_name", required=False)
    if name is not None:
        lab.mlflow.rename_experiment(str(exp.experiment_id), name)
    return reply({})


@router.post("/set-experiment-tag")
def set_tag(request: Request, args: Args, access: Authorized) -> JSONResponse:
    """Set one tag of an experiment."""
    lab = lab_of(request)
    exp = lab.mlflow.experiment(wire.text(args, "experiment_id") or "")
    write_project(access, exp.project, f"experiment {exp.experiment_id}")
    value = args.get("value", "")
    lab.mlflow.set_experiment_tag(str(exp.experiment_id), wire.text(args, "key") or "", value)
    return reply({})


@router.post("/delete")
def delete(request: Request, args: Args, access: Authorized) -> JSONResponse:
    """Mark an experiment and its runs deleted (they stay stored)."""
    return _stage(request, args, access, "deleted")


@router.post("/restore")
def restore(request: Request, args: Args, access: Authorized) -> JSONResponse:
    """Bring a deleted experiment and its runs back."""
    return _stage(request, args, access, "active")


def _stage(request: Request, args: dict[str, Any], access: Any, stage: str) -> JSONResponse:
    lab = lab_of(request)
    exp = lab.mlflow.experiment(wire.text(args, "experiment_id") or "")
    write_project(access, exp.project, f"experiment {exp.experiment_id}")
    lab.mlflow.set_experiment_stage(str(exp.experiment_id), stage)
    return reply({})
