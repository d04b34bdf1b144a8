"""MLflow's model registry: registered models, versions, stages, aliases and tags.

A registered model belongs to the project of the run its first version came from
(``core/registry.py``): reading it needs viewer there, changing it member. Before it
has a project, any role anywhere reads it and member anywhere changes it, as for
lablink's shared datasets.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request

from lablink.checks import mlflow_search as search
from lablink.core.registry import source_model
from lablink.errors import InvalidInput
from lablink.server.access import check_model, model_readable
from lablink.server.jsonio import JSONResponse, reply
from lablink.server.mlflow import wire, wire_registry
from lablink.server.mlflow.guard import (
    MEMBER,
    VIEWER,
    Args,
    Authorized,
    lab_of,
    run_access,
)
from lablink.server.mlflow.models import logged_model
from lablink.store.registry_sql import ModelRow, VersionRow

models = APIRouter(prefix="/registered-models")
versions = APIRouter(prefix="/model-versions")
MAX_RESULTS = 1000
MAX_VERSION_RESULTS = 200_000


def _name(args: dict[str, Any]) -> str:
    return wire.text(args, "name") or ""


def _model(request: Request, access: Any, args: dict[str, Any], needed: str) -> ModelRow:
    model = lab_of(request).registry.model(_name(args))
    check_model(access, model.project, needed, f"registered model {model.name!r}")
    return model


def _render_model(request: Request, model: ModelRow) -> dict[str, Any]:
    return wire_registry.model(model, lab_of(request).registry.latest(model.name))


# -- registered models ----------------------------------------------------------------
@models.post("/create")
def create_model(request: Request, args: Args, access: Authorized) -> JSONResponse:
    """Register a model name (its first version gives it a project)."""
    lab = lab_of(request)
    if access is not None:
        access.anywhere(MEMBER)
    actor = access.identity.user if access is not None else lab.settings.user
    model = lab.registry.create(
        actor,
        args.get("name"),
        wire.pairs(args, "tags"),
        wire.text(args, "description", required=False),
    )
    return reply({"registered_model": _render_model(request, model)})


@models.get("/get")
def get_model(request: Request, args: Args, access: Authorized) -> JSONResponse:
    """One registered model with its aliases and latest versions."""
    model = _model(request, access, args, VIEWER)
    return reply({"registered_model": _render_model(request, model)})


@models.post("/rename")
def rename_model(request: Request, args: Args, access: Authorized) -> JSONResponse:
    """Rename a model."""
    model = _model(request, access, args, MEMBER)
    renamed = lab_of(request).registry.rename(model.name, args.get("new_name"))
    return reply({"registered_model": _render_model(request, renamed)})


@models.patch("/update")
def update_model(request: Request, args: Args, access: Authorized) -> JSONResponse:
    """Set a model's description."""
    model = _model(request, access, args, MEMBER)
    described = lab_of(request).registry.describe(
        model.name, wire.text(args, "description", required=False)
    )
    return reply({"registered_model": _render_model(request, described)})


@models.delete("/delete")
def delete_model(request: Request, args: Args, access: Authorized) -> JSONResponse:
    """Remove a model, its versions and aliases (the files stay with the runs)."""
    model = _model(request, access, args, MEMBER)
    lab_of(request).registry.delete(model.name)
    return reply({})


@models.api_route("/search", methods=["GET", "POST"])
def search_models(request: Request, args: Args, access: Authorized) -> JSONResponse:
    """Registered models the caller may read, filtered by ``name``/``tags``, paged."""
    limit = wire.integer(args, "max_results", 100)
    if limit is None or not 1 <= limit <= MAX_RESULTS:
        raise InvalidInput(f"max_results must be between 1 and {MAX_RESULTS}")
    clauses = search.parse(_attributes(wire.text(args, "filter", required=False)))
    order = search.parse_order_by(
        [_attributes(o) or "" for o in args.get("order_by") or []] or ["attributes.run_name ASC"]
    )
    offset = search.read_page_token(wire.text(args, "page_token", required=False))
    found = [
        m
        for m in lab_of(request).registry.models()
        if _readable(access, m) and _matches(clauses, _model_lookup(m))
    ]
    found.sort(key=lambda m: (search.sort_key(order, _model_lookup(m)), m.name))
    page = found[offset : offset + limit]
    out: dict[str, Any] = {"registered_models": [_render_model(request, m) for m in page]}
    if offset + limit < len(found):
        out["next_page_token"] = search.page_token(offset + limit)
    return reply(out)


def _matches(clauses: list[search.Clause], lookup: search.Lookup) -> bool:
    """MLflow's registry reads ``tags.k != 'x'`` as true where ``k`` is not set: the
    client sends ``tags.`mlflow.prompt.is_prompt` != 'true'`` to leave prompts out."""
    return all(
        (c.entity == "tags" and c.op == "!=" and lookup(c.entity, c.key) is None)
        or search.matches([c], lookup)
        for c in clauses
    )


def _readable(access: Any, model: ModelRow) -> bool:
    return model_readable(access, model.project)


def _attributes(text: str | None) -> str | None:
    """Registry filters name bare attributes (``name LIKE 'iris%'``): give them the entity."""
    if text is None:
        return None
    names = {
        "name": "run_name",
        "run_id": "run_id",
        "source_path": "artifact_uri",
        "creation_timestamp": "start_time",
        "last_updated_timestamp": "end_time",
    }
    return re.sub(
        r"(?<![.\w`\"'])(name|run_id|source_path|creation_timestamp|last_updated_timestamp)\b"
        r"(?!\s*\.)",
        lambda m: f"attributes.{names[m.group(1)]}",
        text,
    )


def _model_lookup(model: ModelRow) -> search.Lookup:
    def value(entity: str, key: str) -> Any:
        if entity == "tags":
            return model.tags.get(key)
        if entity == "attributes":
            return {
                "run_name": model.name,
                "start_time": wire.ms(model.created_at),
                "end_time": wire.ms(model.updated_at),
            }.get(key)
        return None

    return value


@models.post("/set-tag")
def set_model_tag(request: Request, args: Args, access: Authorized) -> JSONResponse:
    """Set one tag of a model."""
    model = _model(request, access, args, MEMBER)
    value = args.get("value", "")
    lab_of(request).registry.set_tag(model.name, wire.text(args, "key") or "", value)
    return reply({})


@models.delete("/delete-tag")
def delete_model_tag(request: Request, args: Args, access: Authorized) -> JSONResponse:
    """Remove one tag of a model."""
    model = _model(request, access, args, MEMBER)
    lab_of(request).registry.delete_tag(model.name, wire.text(args, "key") or "")
    return reply({})


@models.api_route("/get-latest-versions", methods=["GET", "POST"])
def latest_versions(request: Request, args: Args, access: Authorized) -> JSONResponse:
    """The newest version in each stage (of the stages asked for)."""
    model = _model(request, access, args, VIEWER)
    stages = args.get("stages") or []
    if not isinstance(stages, list) or not all(isinstance(s, str) for s in stages):
        raise InvalidInput("stages must be a list of stage names")
    found = lab_of(request).registry.latest(model.name, stages)
    return reply({"model_versions": [wire_registry.version(v) for v in found]})


@models.post("/alias")
def set_alias(request: Request, args: Args, access: Authorized) -> JSONResponse:
    """Point an alias at a version (moving it if set)."""
    lab = lab_of(request)
    model = _model(request, access, args, MEMBER)
    actor = access.identity.user if access is not None else lab.settings.user
    lab.registry.set_alias(actor, model.name, args.get("alias"), args.get("version"))
    return reply({})


@models.delete("/alias")
def delete_alias(request: Request, args: Args, access: Authorized) -> JSONResponse:
    """Remove an alias."""
    model = _model(request, access, args, MEMBER)
    lab_of(request).registry.delete_alias(model.name, args.get("alias"))
    return reply({})


@models.get("/alias")
def get_by_alias(request: Request, args: Args, access: Authorized) -> JSONResponse:
    """The version an alias points at."""
    model = _model(request, access, args, VIEWER)
    found = lab_of(request).registry.by_alias(model.name, args.get("alias"))
    return reply({"model_version": wire_registry.version(found)})


# -- versions -------------------------------------------------------------------------
@versions.post("/create")
def create_version(request: Request, args: Args, access: Authorized) -> JSONResponse:
    """The next version of a model from model files lablink keeps."""
    lab = lab_of(request)
    model = _model(request, access, args, MEMBER)
    source = args.get("source")
    named = source_model(source)  # a model the caller cannot read is hidden here too
    if named is not None and named[0] == "registered":
        _model(request, access, {"name": named[1]}, VIEWER)
    elif named is not None:
        logged_model(request, access, named[1], VIEWER)
    run_id = wire.text(args, "run_id", required=False)
    _, source_run, _ = lab.registry.resolve_source(source, wire.text(args, "model_id", False))
    for rid in {source_run, run_id} - {None}:
        run_access(request, access, str(rid), VIEWER)
    actor = access.identity.user if access is not None else lab.settings.user
    row = lab.registry.create_version(
        actor,
        model.name,
        source,
        run_id,
        wire.pairs(args, "tags"),
        wire.text(args, "description", required=False),
        wire.text(args, "model_id", required=False),
    )
    return reply({"model_version": wire_registry.version(row)})


def _version(request: Request, access: Any, args: dict[str, Any], needed: str) -> VersionRow:
    model = _model(request, access, args, needed)
    return lab_of(request).registry.version(model.name, args.get("version"))


@versions.get("/get")
def get_version(request: Request, args: Args, access: Authorized) -> JSONResponse:
    """One version."""
    return reply({"model_version": wire_registry.version(_version(request, access, args, VIEWER))})


@versions.patch("/update")
def update_version(request: Request, args: Args, access: Authorized) -> JSONResponse:
    """Set a version's description."""
    row = _version(request, access, args, MEMBER)
    updated = lab_of(request).registry.describe_version(
        row.model, row.version, wire.text(args, "description", required=False)
    )
    return reply({"model_version": wire_registry.version(updated)})


@versions.post("/transition-stage")
def transition(request: Request, args: Args, access: Authorized) -> JSONResponse:
    """Move a version to None, Staging, Production or Archived."""
    row = _version(request, access, args, MEMBER)
    archive = args.get("archive_existing_versions")
    moved = lab_of(request).registry.transition(
        row.model, row.version, args.get("stage"), archive is True or archive == "true"
    )
    return reply({"model_version": wire_registry.version(moved)})


@versions.delete("/delete")
def delete_version(request: Request, args: Args, access: Authorized) -> JSONResponse:
    """Remove a version and its aliases (the files stay with the run)."""
    row = _version(request, access, args, MEMBER)
    lab_of(request).registry.delete_version(row.model, row.version)
    return reply({})


@versions.post("/set-tag")
def set_version_tag(request: Request, args: Args, access: Authorized) -> JSONResponse:
    """Set one tag of a version."""
    row = _version(request, access, args, MEMBER)
    value = args.get("value", "")
    lab_of(request).registry.set_version_tag(
        row.model, row.version, wire.text(args, "key") or "", value
    )
    return reply({})


@versions.delete("/delete-tag")
def delete_version_tag(request: Request, args: Args, access: Authorized) -> JSONResponse:
    """Remove one tag of a version."""
    row = _version(request, access, args, MEMBER)
    lab_of(request).registry.delete_version_tag(
        row.model, row.version, wire.text(args, "key") or ""
    )
    return reply({})


@versions.get("/get-download-uri")
def download_uri(request: Request, args: Args, access: Authorized) -> JSONResponse:
    """Where a version's files are: an artifact-proxy URI of this server."""
    row = _version(request, access, args, VIEWER)
    return reply({"artifact_uri": row.location})


@versions.api_route("/search", methods=["GET", "POST"])
def search_versions(request: Request, args: Args, access: Authorized) -> JSONResponse:
    """Versions the caller may read, filtered (``name``, ``run_id``, ``tags.*``), paged."""
    lab = lab_of(request)
    limit = wire.integer(args, "max_results", 10_000)
    if limit is None or not 1 <= limit <= MAX_VERSION_RESULTS:
        raise InvalidInput(f"max_results must be between 1 and {MAX_VERSION_RESULTS}")
    clauses = search.parse(_attributes(wire.text(args, "filter", required=False)))
    order = _version_order(args.get("order_by") or [])
    offset = search.read_page_token(wire.text(args, "page_token", required=False))
    readable = {m.name: _readable(access, m) for m in lab.registry.models()}
    found = [
        v
        for v in lab.registry.versions()
        if readable.get(v.model) and _matches(clauses, _version_lookup(v))
    ]
    if order:
        found.sort(key=lambda v: search.sort_key(order, _version_lookup(v)))
    page = found[offset : offset + limit]
    out: dict[str, Any] = {"model_versions": [wire_registry.version(v) for v in page]}
    if offset + limit < len(found):
        out["next_page_token"] = search.page_token(offset + limit)
    return reply(out)


def _version_order(items: list[Any]) -> list[tuple[str, str, bool]]:
    """``order_by`` of a version search; ``version_number`` (what clients sort the
    latest first by) is the version itself, the rest as in run searches."""
    out: list[tuple[str, str, bool]] = []
    for item in items:
        match = re.fullmatch(r"\s*version_number(?:\s+(ASC|DESC))?\s*", str(item), re.I)
        if match:
            out.append(("attributes", "version_number", (match.group(1) or "ASC").upper() == "ASC"))
        else:
            out.extend(search.parse_order_by([_attributes(str(item)) or ""]))
    return out


def _version_lookup(row: VersionRow) -> search.Lookup:
    def value(entity: str, key: str) -> Any:
        if entity == "tags":
            return row.tags.get(key)
        if entity == "attributes":
            return {
                "run_name": row.model,
                "version_number": row.version,
                "run_id": row.run_id,
                "artifact_uri": row.source,
                "start_time": wire.ms(row.created_at),
                "end_time": wire.ms(row.updated_at),
            }.get(key)
        return None

    return value
