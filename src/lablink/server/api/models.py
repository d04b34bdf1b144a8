"""Registered models, read through lablink's own API (``lablink models --server``).

Models are written through the MLflow-compatible registry (``server/mlflow/
registry.py``); these routes list them and show one with its versions. A model is
readable where its project is (``access.check_model``): the list leaves out the
others and ``/models/{name}`` answers 404 for them.
"""

from __future__ import annotations

from fastapi import APIRouter

from lablink.core.registry import model_dict, version_dict
from lablink.server.access import VIEWER, Authorized, check_model, model_readable
from lablink.server.deps import LabDep
from lablink.server.jsonio import JSONResponse, reply
from lablink.server.offloop import OffLoopRoute

router = APIRouter(tags=["models"], route_class=OffLoopRoute)


@router.get("/models", summary="List registered models")
def list_models(lab: LabDep, access: Authorized) -> JSONResponse:
    """Registered models the caller may read, by name, with aliases and latest version."""
    found = [m for m in lab.registry.models() if model_readable(access, m.project)]
    return reply({"models": [model_dict(m) for m in found]})


@router.get("/models/{name}", summary="A registered model and its versions")
def show_model(name: str, lab: LabDep, access: Authorized) -> JSONResponse:
    """One registered model with every version, newest first."""
    model = lab.registry.model(name)
    check_model(access, model.project, VIEWER, f"registered model {name!r}")
    versions = lab.registry.versions(model.name)
    return reply({"model": model_dict(model), "versions": [version_dict(v) for v in versions]})
