"""Device login over HTTP: how ``lablink login`` gets a token without one.

    POST /api/v1/login/device        {name}          start: device and user codes (201)
    POST /api/v1/login/device/token  {device_code}   poll: 400 authorization_pending,
                                                     slow_down, access_denied or
                                                     expired_token; 200 the token, once

Both are called before the client has a credential, so they take none
(``PUBLIC_API`` in ``server/browser.py``); the approval in between is a signed-in page
(``ui/device.py``). The use cases are ``core/device_login.py``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import Field, StringConstraints

from lablink.core.device_login import DeviceLogins
from lablink.errors import Conflict
from lablink.server.fields import Body
from lablink.server.jsonio import JSONResponse, reply

router = APIRouter(tags=["login"])
VERIFY_PATH = "/login/device"


class DeviceStartIn(Body):
    """The client's label, shown on the approval page (default ``cli``)."""

    name: Annotated[
        str | None,
        StringConstraints(min_length=1, max_length=60),
        Field(json_schema_extra={"pattern": r"^[A-Za-z0-9][A-Za-z0-9._ -]{0,59}$"}),
    ] = None


class DevicePollIn(Body):
    """The device code the start answered."""

    device_code: Annotated[str, StringConstraints(min_length=1, max_length=100)]


def _logins(request: Request) -> DeviceLogins:
    if not request.app.state.auth.on:
        raise Conflict(
            "this server runs without sign-in: there is no token to log in for",
            "use it without a token, or serve with --auth required",
        )
    logins: DeviceLogins = request.app.state.device_logins
    return logins


def _ip(request: Request) -> str | None:
    return request.client.host if request.client else None


@router.post("/login/device", status_code=201, summary="Start a device login")
def start_device_login(request: Request, body: DeviceStartIn) -> JSONResponse:
    """A device code (secret: keep it) and a user code for a person to approve at
    ``verification_uri``; poll ``/login/device/token`` every ``interval`` seconds."""
    started = _logins(request).start(body.name, _ip(request))
    base = str(request.base_url).rstrip("/")
    uri = base + VERIFY_PATH
    return reply(
        {
            "device_code": started.device_code,
            "user_code": started.user_code,
            "verification_uri": uri,
            "verification_uri_complete": f"{uri}?code={started.user_code}",
            "expires_in": started.expires_in,
            "interval": started.interval,
        },
        201,
    )


@router.post("/login/device/token", summary="Poll a device login for its token")
def poll_device_login(request: Request, body: DevicePollIn) -> JSONResponse:
    """The personal token once the login is approved (only to the first poll after);
    before that an error whose code says why: ``authorization_pending``, ``slow_down``,
    ``access_denied`` or ``expired_token``."""
    new, user = _logins(request).poll(body.device_code, _ip(request))
    return reply(
        {
            "token": new.secret,
            "token_type": "bearer",
            "user": user,
            "token_id": new.token.id,
            "name": new.token.name,
            "role": new.token.role,
            "expires_at": new.token.expires_at,
        }
    )
