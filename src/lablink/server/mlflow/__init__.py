"""The MLflow-compatible API: an unchanged ``mlflow`` client works against lablink.

``MLFLOW_TRACKING_URI=http://host:8500`` makes the MLflow client call
``/api/2.0/mlflow/...`` (experiments, runs, metrics) and, for artifacts, the proxy
``/api/2.0/mlflow-artifacts/artifacts/...``. The routes follow MLflow's conventions
(protobuf JSON, MLflow's error envelope), so they are left out of lablink's OpenAPI
spec; docs/mlflow.md describes them. Every route checks the caller's role itself
(``guard.py``); ``access.py`` gives them the ``self`` rule. ``direct.py`` answers the
two calls a run makes most (``runs/create``, ``runs/log-batch``) ahead of FastAPI's
routing, through the same route functions.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI, Request

from lablink.checks.routes import MLFLOW_PREFIXES
from lablink.errors import NotFound
from lablink.server.access import authorize
from lablink.server.mlflow import artifacts, experiments, info, metrics, models, registry, runs

API = "/api/2.0/mlflow"
API3 = "/api/3.0/mlflow"
# (prefix, router) of every MLflow route, for the app and the route matrix test.
ROUTERS: tuple[tuple[str, APIRouter], ...] = (
    (API, experiments.router),
    (API, runs.router),
    (API, metrics.router),
    (API, models.router),
    (API, registry.models),
    (API, registry.versions),
    (API3, info.router),
    ("", artifacts.router),
)


def mount(app: FastAPI) -> None:
    """Serve the MLflow API on ``app`` (its own paths, outside lablink's spec)."""
    api = APIRouter(include_in_schema=False, dependencies=[Depends(authorize)])
    for router in (
        experiments.router,
        runs.router,
        metrics.router,
        models.router,
        registry.models,
        registry.versions,
    ):
        api.include_router(router)
    app.include_router(api, prefix=API)
    app.include_router(
        info.router, prefix=API3, include_in_schema=False, dependencies=[Depends(authorize)]
    )
    app.include_router(artifacts.router, include_in_schema=False, dependencies=[Depends(authorize)])
    for prefix in MLFLOW_PREFIXES:
        app.add_api_route(
            prefix + "/{rest:path}",
            unknown_endpoint,
            methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            include_in_schema=False,
        )


async def unknown_endpoint(request: Request, rest: str) -> None:
    """An MLflow endpoint lablink does not serve: MLflow's ``ENDPOINT_NOT_FOUND``."""
    raise NotFound(
        f"no route {request.method} {request.url.path}",
        "lablink serves MLflow's tracking API (experiments, runs, metrics, artifacts) "
        "and model registry; "
        "see docs/mlflow.md",
    )
