"""The REST API under ``/api/v1``: one router per resource."""

from __future__ import annotations

from fastapi import APIRouter

from lablink.checks.routes import API_PREFIX
from lablink.server.api import (
    admin,
    blobs,
    datasets,
    events,
    incidents,
    metrics,
    models,
    projects,
    reviews,
    runs,
    schemas,
    team,
)

PREFIX = API_PREFIX

ROUTERS: tuple[APIRouter, ...] = (
    projects.router,
    metrics.router,
    runs.router,
    blobs.router,
    datasets.router,
    reviews.router,
    models.router,
    events.router,
    schemas.router,
    incidents.router,
    admin.router,
    team.router,
)

__all__ = ["PREFIX", "ROUTERS"]
