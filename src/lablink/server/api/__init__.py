"""The REST API under ``/api/v1``: one router per resource."""

from __future__ import annotations

from fastapi import APIRouter

from lablink.server.api import blobs, events, metrics, projects, runs, schemas

PREFIX = "/api/v1"

ROUTERS: tuple[APIRouter, ...] = (
    projects.router,
    metrics.router,
    runs.router,
    blobs.router,
    events.router,
    schemas.router,
)

__all__ = ["PREFIX", "ROUTERS"]
