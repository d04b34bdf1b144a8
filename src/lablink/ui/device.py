"""``/login/device``: where a signed-in person approves (or denies) a ``lablink login``.

The page shows the code the CLI printed and the label it sent, and asks to confirm; the
form's CSRF token is checked before the view runs (``server/auth.py``). A browser that
shows this page with a token as its credential may not approve: a token must not mint
one without its own limits (as on ``/me``). The use cases are ``core/device_login.py``.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from lablink.core.device_login import DeviceLogins, format_code
from lablink.errors import InvalidInput, LablinkError, NotFound, TooManyRequests
from lablink.identity import Identity
from lablink.ui.profile import require_interactive
from lablink.ui.render import Renderer
from lablink.ui.signin import NO_STORE, client_ip, form_fields


def _identity(request: Request) -> Identity:
    identity: Identity | None = request.scope.get("state", {}).get("identity")
    if identity is None or not request.app.state.auth.on:
        raise NotFound("this server runs without sign-in", "there is no login to approve")
    return identity


def _who(request: Request, identity: Identity) -> list[Hashable]:
    """The keys a lookup of a user code counts against: the client's address and its
    session (or token, or proxy user), so neither many browsers at one address nor one browser moving
    between addresses guesses freely."""
    session = request.scope.get("state", {}).get("session")
    if session is not None:
        own: Hashable = ("session", session.id)
    elif identity.token_id is not None:
        own = ("token", identity.token_id)
    else:  # a proxy's sign-in: no session of ours, the user is the caller
        own = ("user", identity.user)
    return [("address", client_ip(request)), own]


def refused(response: Response, exc: LablinkError) -> Response:
    """``response`` with ``Retry-After`` when ``exc`` is a 429."""
    if isinstance(exc, TooManyRequests):
        response.headers["Retry-After"] = str(int(exc.details.get("retry_after", 60)))
    return response


def device_router(renderer: Renderer) -> APIRouter:
    """``GET`` and ``POST /login/device``."""
    router = APIRouter(include_in_schema=False)

    def page(status: int = 200, **values: Any) -> Response:
        context = {"code": "", "login": None, "error": None, "done": None, **values}
        return renderer.page("device_login.html", context, status, NO_STORE)

    @router.get("/login/device")
    def device_page(request: Request, code: str = "") -> Response:
        try:
            identity = _identity(request)
        except LablinkError as exc:
            return renderer.error(exc, "No login here")
        if not code.strip():
            return page()
        logins: DeviceLogins = request.app.state.device_logins
        try:
            row = logins.pending(code[:40], _who(request, identity))
        except LablinkError as exc:
            error = {"message": exc.message, "hint": exc.hint}
            return refused(page(exc.status, code=code[:40], error=error), exc)
        return page(code=format_code(row.user_code), login=row)

    @router.post("/login/device")
    async def decide(request: Request) -> Response:
        fields = await form_fields(request)
        logins: DeviceLogins = request.app.state.device_logins
        decision = fields.get("decision")

        def run() -> Response:
            identity = _identity(request)
            require_interactive(identity)
            if decision not in ("approve", "deny"):
                raise InvalidInput(f"decision {decision!r} is not approve or deny")
            approve = decision == "approve"
            code, ip = fields.get("code", ""), client_ip(request)
            row = logins.decide(identity, code, approve, ip, _who(request, identity))
            done = "approved" if approve else "denied"
            return page(code=format_code(row.user_code), login=row, done=done)

        try:
            return await run_in_threadpool(run)
        except LablinkError as exc:
            return refused(renderer.error(exc, "Cannot decide that login"), exc)

    return router
