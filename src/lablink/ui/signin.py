"""``/signin`` and ``/signout``: a password form that starts a session, a button that ends it.

With auth off there is nobody to sign in: both send the browser to the projects page
and change nothing. The CSRF tokens are checked before these views run
(``server/auth.py``); the views only start and end sessions.
"""

from __future__ import annotations

import urllib.parse

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from lablink.core.sessions import MAX_SECONDS, Session, Sessions
from lablink.errors import TooManyRequests, Unauthorized
from lablink.server import browser
from lablink.ui.render import Renderer

NO_STORE = {"Cache-Control": "no-store"}
MAX_FIELD = 2000


async def form_fields(request: Request) -> dict[str, str]:
    """An urlencoded form's fields (the first value of each), each cut to 2000 characters."""
    body = await request.body()
    fields = urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {name: values[0][:MAX_FIELD] for name, values in fields.items()}


def client_ip(request: Request) -> str | None:
    """The address the request came from, for the audit log."""
    return request.client.host if request.client else None


def signin_router(renderer: Renderer) -> APIRouter:
    """``GET`` and ``POST /signin``, ``POST /signout``."""
    router = APIRouter(include_in_schema=False)

    def form(
        request: Request, target: str, error: str | None = None, name: str = "", status: int = 200
    ) -> Response:
        token = browser.cookie(request.headers, browser.SIGNIN_COOKIE) or browser.new_signin_token()
        oidc = request.app.state.oidc
        sso = oidc.config.name if oidc is not None else None
        context = {"csrf": token, "next": target, "error": error, "name": name, "sso": sso}
        response = renderer.page("signin.html", context, status, NO_STORE)
        # Strict: the form's token cookie never travels with another site's request.
        browser.set_cookie(
            response,
            request.scope,
            browser.SIGNIN_COOKIE,
            token,
            browser.SIGNIN_COOKIE_SECONDS,
            "strict",
        )
        if request.scope.get("state", {}).get("stale_session"):
            browser.clear_cookie(response, request.scope, browser.SESSION_COOKIE)
        return response

    @router.get("/signin")
    def signin_page(request: Request, next: str = "/") -> Response:
        target = browser.safe_next(next)
        if not request.app.state.auth.on or browser.current_viewer() is not None:
            return RedirectResponse(target, status_code=303)
        return form(request, target)

    @router.post("/signin")
    async def signin(request: Request) -> Response:
        fields = await form_fields(request)
        target = browser.safe_next(fields.get("next"))
        if not request.app.state.auth.on:
            return RedirectResponse("/", status_code=303)
        sessions: Sessions = request.app.state.sessions
        name = fields.get("user", "").strip()
        try:
            secret, _ = await run_in_threadpool(
                sessions.sign_in,
                name,
                fields.get("password", ""),
                client_ip(request),
                request.headers.get("user-agent"),
            )
        except Unauthorized as exc:
            return form(request, target, exc.message, name, 401)
        except TooManyRequests as exc:
            refused = form(request, target, f"{exc.message}. {exc.hint or ''}", name, 429)
            refused.headers["Retry-After"] = str(int(exc.details.get("retry_after", 60)))
            return refused
        response = RedirectResponse(target, status_code=303)
        browser.set_cookie(
            response, request.scope, browser.SESSION_COOKIE, secret, int(MAX_SECONDS)
        )
        browser.clear_cookie(response, request.scope, browser.SIGNIN_COOKIE)
        return response

    @router.post("/signout")
    async def signout(request: Request) -> Response:
        session: Session | None = request.scope.get("state", {}).get("session")
        target = "/signin" if request.app.state.auth.on else "/"
        response = RedirectResponse(target, status_code=303)
        if session is not None:
            sessions: Sessions = request.app.state.sessions
            await run_in_threadpool(sessions.sign_out, session, client_ip(request))
            browser.clear_cookie(response, request.scope, browser.SESSION_COOKIE)
        return response

    return router
