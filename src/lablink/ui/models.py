"""Pages of the model registry: ``/models`` and ``/models/{name}``.

They render from the same ``core/registry.py`` calls as ``/api/v1/models`` and check
the same rule (``access.check_model``): a model of a project the viewer cannot read is
not listed, and its page is a 404 as if it did not exist.
"""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from lablink.core.lab import Lab
from lablink.core.registry import location_parts
from lablink.errors import LablinkError
from lablink.server.access import VIEWER, access_of, check_model, model_readable
from lablink.ui.render import Renderer


def models_router(lab: Lab, renderer: Renderer) -> APIRouter:
    """Routes for ``/models`` and ``/models/{name}``."""
    router = APIRouter(include_in_schema=False)

    @router.get("/models", response_class=HTMLResponse)
    def models_page(request: Request) -> HTMLResponse:
        access = access_of(request)
        found = [m for m in lab.registry.models() if model_readable(access, m.project)]
        return renderer.page("models.html", {"models": found, "now": time.time()})

    @router.get("/models/{name}", response_class=HTMLResponse)
    def model_page(request: Request, name: str) -> HTMLResponse:
        try:
            model = lab.registry.model(name)
            check_model(access_of(request), model.project, VIEWER, f"registered model {name!r}")
            versions = lab.registry.versions(model.name)
        except LablinkError as exc:
            return renderer.error(exc, "No such model")
        paths = {v.version: (location_parts(v.location) or ("", ""))[1] for v in versions}
        return renderer.page(
            "model.html",
            {"model": model, "versions": versions, "paths": paths, "now": time.time()},
        )

    return router
