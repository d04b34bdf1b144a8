"""Role checks for the MLflow routes, which name projects only through their arguments.

``access.py`` gives these routes the ``self`` rule; each route calls one of these
before it reads or writes. Without auth (``access`` None) everything is allowed.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from lablink.core.lab import Lab
from lablink.server.access import MEMBER, VIEWER, Access, Authorized, run_not_found, run_project
from lablink.server.mlflow.wire import arguments

Args = Annotated[dict[str, Any], Depends(arguments)]


def read_project(access: Access | None, project: str, what: str | None = None) -> None:
    """Require viewer in ``project`` (404 otherwise)."""
    if access is not None:
        access.check(project, VIEWER, what)


def write_project(access: Access | None, project: str, what: str | None = None) -> None:
    """Require member in ``project``."""
    if access is not None:
        access.check(project, MEMBER, what)


def run_access(request: Request, access: Access | None, run_id: str, needed: str = MEMBER) -> None:
    """Require ``needed`` in the project of run ``run_id`` (404 for an unknown run)."""
    project = run_project(request, run_id)
    if access is not None:
        access.check(project, needed, run_not_found(run_id))


def lab_of(request: Request) -> Lab:
    """The app's ``Lab``."""
    lab: Lab = request.app.state.lab
    return lab


__all__ = [
    "MEMBER",
    "VIEWER",
    "Args",
    "Authorized",
    "lab_of",
    "read_project",
    "run_access",
    "write_project",
]
