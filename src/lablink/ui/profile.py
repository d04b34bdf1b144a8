"""``/me``: who you are signed in as, your roles, your sessions and your personal tokens.

A new token is shown once, in the answer to the form that made it (never stored, never
in a URL); afterwards only its ``ll_<prefix>_…`` start. Only a browser signed in with a
password or through the proxy may make or revoke tokens here: a token used as a page's
credential must not mint one without its own limits.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from lablink.core.lab import Lab
from lablink.core.sessions import Sessions, session_state
from lablink.errors import Forbidden, InvalidInput, LablinkError, NotFound
from lablink.identity import ROLES, Identity, NewToken
from lablink.ui.guard import check_project
from lablink.ui.render import Renderer
from lablink.ui.signin import NO_STORE, form_fields

DAY = 86400.0
EXPIRIES: dict[str, float | None] = {
    "7 days": 7 * DAY,
    "30 days": 30 * DAY,
    "90 days": 90 * DAY,
    "1 year": 365 * DAY,
    "never": None,
}


def _identity(request: Request) -> Identity:
    identity: Identity | None = request.scope.get("state", {}).get("identity")
    if identity is None:
        raise NotFound("this server runs without sign-in", "there is no profile to show")
    return identity


def require_interactive(identity: Identity) -> None:
    """Refuse a browser whose credential is a token: it may not mint tokens.

    Raises:
        Forbidden: ``identity`` came from a token.
    """
    if identity.token_id is not None:
        raise Forbidden(
            "tokens cannot be made or revoked with a token",
            "sign in with your password (or through your proxy) in a browser",
        )


def profile_router(lab: Lab, renderer: Renderer) -> APIRouter:
    """``GET /me``, ``POST /me/tokens`` and ``POST /me/tokens/{id}/revoke``."""
    router = APIRouter(include_in_schema=False)
    people = lab.people

    def context(identity: Identity, sessions: Sessions) -> dict[str, Any]:
        now = people.clock()
        user = people.get_user(identity.user)
        roles = (
            [{"project": p.name, "role": "admin"} for p in lab.tracking.list_projects()]
            if user.is_admin
            else [{"project": g.project, "role": g.role} for g in people.grants(user=user.name)]
        )
        return {
            "user": user,
            "roles": roles,
            "tokens": [t.to_dict(now) for t in people.list_tokens(user.name)],
            "sessions": [
                {"row": s, "state": session_state(s, now)} for s in sessions.of_user(user.name)
            ][:20],
            "role_choices": ROLES,
            "expiries": list(EXPIRIES),
            "new_token": None,
            "error": None,
            "via_token": identity.token_id is not None,
            "now": time.time(),
        }

    def page(request: Request, status: int = 200, **extra: Any) -> Response:
        identity = _identity(request)
        values = {**context(identity, request.app.state.sessions), **extra}
        return renderer.page("me.html", values, status, NO_STORE)

    @router.get("/me")
    def me(request: Request) -> Response:
        try:
            return page(request)
        except LablinkError as exc:
            return renderer.error(exc, "No profile")

    @router.post("/me/tokens")
    async def create_token(request: Request) -> Response:
        fields = await form_fields(request)

        def make() -> NewToken:
            identity = _identity(request)
            require_interactive(identity)
            project = fields.get("project", "").strip() or None
            if project is not None:
                check_project(request, project)  # an unreadable project does not exist
            expiry = fields.get("expires", "90 days")
            if expiry not in EXPIRIES:
                raise InvalidInput(f"expiry {expiry!r} is not one of {', '.join(EXPIRIES)}")
            return people.create_token(
                identity.user,
                identity.user,
                fields.get("name", "").strip(),
                project,
                fields.get("role", "member"),
                EXPIRIES[expiry],
            )

        try:
            new = await run_in_threadpool(make)
        except LablinkError as exc:
            error, status = {"message": exc.message, "hint": exc.hint}, exc.status
            try:
                return await run_in_threadpool(lambda: page(request, status, error=error))
            except LablinkError as outer:
                return renderer.error(outer, "No profile")
        return await run_in_threadpool(lambda: page(request, 201, new_token=new))

    @router.post("/me/tokens/{token_id}/revoke")
    def revoke_token(request: Request, token_id: int) -> Response:
        try:
            identity = _identity(request)
            require_interactive(identity)
            if token_id not in {t.id for t in people.list_tokens(identity.user)}:
                raise NotFound(f"you have no token {token_id}")
            people.revoke_token(identity.user, token_id)
        except LablinkError as exc:
            return renderer.error(exc, "Cannot revoke that token")
        return RedirectResponse("/me", status_code=303)

    return router
