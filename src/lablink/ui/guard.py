"""The API's project roles, applied to the pages: what a viewer may not read is not there.

With auth on, ``server/auth.py`` leaves the viewer's identity in the request and these
helpers ask ``server/access.py`` the same questions the API's routes ask: a project, run
or incident the viewer cannot read is a 404 page, exactly as if it did not exist, and
lists hold only readable projects. With auth off every helper lets everything through.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request

from lablink.server.access import VIEWER, access_of, run_not_found, run_project


def check_project(request: Request, project: str) -> None:
    """Require viewer in ``project``. Raises ``NotFound`` as if it did not exist."""
    access = access_of(request)
    if access is not None:
        access.check(project, VIEWER)


def check_run(request: Request, ref: str) -> None:
    """Require viewer in the project of run ``ref``. Raises ``NotFound``."""
    access = access_of(request)
    if access is not None:
        access.check(run_project(request, ref), VIEWER, run_not_found(ref))


def readable(request: Request) -> Callable[[str], bool]:
    """A test of "may the viewer read this project?" (always yes with auth off)."""
    access = access_of(request)
    return access.readable() if access is not None else lambda project: True


def check_anywhere(request: Request) -> None:
    """Require viewer in some project (datasets and schemas are shared by all).

    Raises:
        Forbidden: the viewer holds no role anywhere.
    """
    access = access_of(request)
    if access is not None:
        access.anywhere(VIEWER)
