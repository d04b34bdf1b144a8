"""Projects, and the health check."""

from __future__ import annotations

import dataclasses
import functools

from fastapi import APIRouter

from lablink.server.access import Authorized
from lablink.server.deps import LabDep
from lablink.server.jsonio import JSONResponse, reply

router = APIRouter(tags=["projects"])
health_router = APIRouter(tags=["health"])


@functools.cache
def version() -> str:
    """The installed lablink version."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("lablink")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"


@router.get("/projects", summary="List projects")
def list_projects(lab: LabDep, access: Authorized) -> JSONResponse:
    """All projects (that the caller may read) with run counts, active runs and last
    activity."""
    projects = lab.tracking.list_projects()
    if access is not None:
        readable = access.readable()
        projects = [p for p in projects if readable(p.name)]
    return reply({"projects": [dataclasses.asdict(p) for p in projects]})


@health_router.get("/healthz", summary="Health check")
async def healthz() -> JSONResponse:
    """Answers ``{"ok": true, "version": ...}`` while the process serves requests."""
    return reply({"ok": True, "version": version()})
