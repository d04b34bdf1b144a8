"""Dependencies the routers share: the ``Lab`` of this app and the acting user."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from lablink.core.lab import Lab
from lablink.errors import InvalidInput

MAX_USER_LENGTH = 200


async def get_lab(request: Request) -> Lab:
    """The ``Lab`` the app was created over."""
    lab: Lab = request.app.state.lab
    return lab


async def get_actor(request: Request) -> str:
    """Who is making this request: ``X-Lablink-User``, else the server's user.

    With auth on (``server/auth.py``) it is the authenticated user, and the header is
    refused before any route runs. With auth off and a shared ``LABLINK_TOKEN``, the
    name is taken from the header.

    Raises:
        InvalidInput: the header is empty, too long or holds control characters.
    """
    identity = request.scope.get("state", {}).get("identity")
    if identity is not None:
        return str(identity.user)
    raw = request.headers.get("x-lablink-user")
    if raw is None:
        return str(request.app.state.lab.settings.user)
    try:
        name = raw.encode("latin-1").decode("utf-8").strip()  # headers travel as bytes
    except UnicodeError:
        name = raw.strip()
    if not name or len(name) > MAX_USER_LENGTH or not name.isprintable():
        raise InvalidInput(
            f"invalid X-Lablink-User header {raw[:40]!r}",
            f"send a user name or e-mail of 1-{MAX_USER_LENGTH} printable characters",
        )
    return name


LabDep = Annotated[Lab, Depends(get_lab)]
Actor = Annotated[str, Depends(get_actor)]
