"""MLflow logged models: what ``mlflow.<flavor>.log_model`` creates, finalizes and tags.

Their files are artifacts of the run that logged them (``core/logged_models.py``), so
every route checks the caller's role in that run's project.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request

from lablink.checks import mlflow_search as search
from lablink.errors import InvalidInput
from lablink.server.access import run_project
from lablink.server.jsonio import JSONResponse, reply
from lablink.server.mlflow import wire, wire_registry
from lablink.server.mlflow.guard import (
    VIEWER,
    Args,
    Authorized,
    lab_of,
    read_project,
    run_access,
    write_project,
)
from lablink.store.registry_sql import LoggedModelRow

router = APIRouter(prefix="/logged-models")
MAX_RESULTS = 10_000


def _render(request: Request, row: LoggedModelRow) -> dict[str, Any]:
    models = lab_of(request).logged_models
    return wire_registry.logged_model(
        row, models.experiment(row).experiment_id, models.location(row)
    )


def logged_model(request: Request, access: Any, model_id: str, needed: str) -> LoggedModelRow:
    """A logged model, requiring ``needed`` in its run's project."""
    row = lab_of(request).logged_models.get(model_id)
    if access is not None:  # a hidden model answers as a missing one, its run unnamed
        access.check(run_project(request, row.run_id), needed, f"logged model {model_id!r}")
    return row


@router.post("")
def create(request: Request, args: Args, access: Authorized) -> JSONResponse:
    """A new logged model of a run (pending until the client finalizes it)."""
    lab = lab_of(request)
    exp = lab.mlflow.experiment(wire.text(args, "experiment_id") or "")
    write_project(access, exp.project, f"experiment {exp.experiment_id}")
    run_id = wire.text(args, "source_run_id", required=False)
    if run_id:
        run_access(request, access, run_id)
    row = lab.logged_models.create(
        str(exp.experiment_id),
        run_id,
        wire.text(args, "name", required=False),
        wire.text(args, "model_type", required=False),
        wire.pairs(args, "params"),
        wire.pairs(args, "tags"),
    )
    return reply({"model": _render(request, row)})


@router.post("/search")
def search_logged_models(request: Request, args: Args, access: Authorized) -> JSONResponse:
    """The logged models of the experiments (``name = '...'`` filters by name)."""
    lab = lab_of(request)
    ids = args.get("experiment_ids") or []
    if not isinstance(ids, list):
        ids = [ids]
    allowed = []
    for eid in ids:
        exp = lab.mlflow.experiment(str(eid))
        # as runs/search: a hidden experiment is a missing one, not an empty one
        read_project(access, exp.project, f"experiment {exp.experiment_id}")
        allowed.append(str(exp.experiment_id))
    clauses = search.parse(_attributes(wire.text(args, "filter", required=False)))
    found = [
        r for r in lab.logged_models.of_experiments(allowed) if search.matches(clauses, _lookup(r))
    ]
    limit = wire.integer(args, "max_results", 100)
    if limit is None or not 1 <= limit <= MAX_RESULTS:
        raise InvalidInput(f"max_results must be between 1 and {MAX_RESULTS}")
    offset = search.read_page_token(wire.text(args, "page_token", required=False))
    page = found[offset : offset + limit]
    out: dict[str, Any] = {"models": [_render(request, r) for r in page]}
    if offset + len(page) < len(found):
        out["next_page_token"] = search.page_token(offset + len(page))
    return reply(out)


def _attributes(text: str | None) -> str | None:
    """Logged-model filters name bare attributes (``name = 'model'``): give them the entity."""
    if text is None:
        return None
    names = {"name": "run_name", "source_run_id": "run_id"}
    return re.sub(
        r"(?<![.\w`\"'])(name|source_run_id)\b(?!\s*\.)",
        lambda m: f"attributes.{names[m.group(1)]}",
        text,
    )


def _lookup(row: LoggedModelRow) -> search.Lookup:
    def value(entity: str, key: str) -> Any:
        if entity == "tags":
            return row.tags.get(key)
        if entity == "params":
            return row.params.get(key)
        if entity == "attributes":
            return {"run_name": row.name, "run_id": row.run_id}.get(key)
        return None

    return value


@router.get("/{model_id}")
def get(model_id: str, request: Request, access: Authorized) -> JSONResponse:
    """One logged model."""
    return reply({"model": _render(request, logged_model(request, access, model_id, VIEWER))})


@router.patch("/{model_id}")
def finalize(model_id: str, request: Request, args: Args, access: Authorized) -> JSONResponse:
    """Mark a logged model ready (its files are uploaded) or failed."""
    logged_model(request, access, model_id, "member")
    status = wire.text(args, "status") or ""
    row = lab_of(request).logged_models.finalize(model_id, status)
    return reply({"model": _render(request, row)})


@router.delete("/{model_id}")
def delete(model_id: str, request: Request, access: Authorized) -> JSONResponse:
    """Forget a logged model (its files stay with the run)."""
    logged_model(request, access, model_id, "member")
    lab_of(request).logged_models.delete(model_id)
    return reply({})


@router.post("/{model_id}/params")
def log_params(model_id: str, request: Request, args: Args, access: Authorized) -> JSONResponse:
    """Add params to a logged model."""
    logged_model(request, access, model_id, "member")
    lab_of(request).logged_models.log_params(model_id, wire.pairs(args, "params"))
    return reply({})


@router.patch("/{model_id}/tags")
def set_tags(model_id: str, request: Request, args: Args, access: Authorized) -> JSONResponse:
    """Set tags of a logged model."""
    logged_model(request, access, model_id, "member")
    lab_of(request).logged_models.set_tags(model_id, wire.pairs(args, "tags"))
    return reply({})


@router.delete("/{model_id}/tags/{key:path}")
def delete_tag(model_id: str, key: str, request: Request, access: Authorized) -> JSONResponse:
    """Remove a tag of a logged model."""
    logged_model(request, access, model_id, "member")
    lab_of(request).logged_models.delete_tag(model_id, key)
    return reply({})
