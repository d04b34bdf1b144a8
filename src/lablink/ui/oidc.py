"""``/signin/oidc``: single sign-on with the server's OpenID Connect provider.

``GET /signin/oidc?next=`` sends the browser to the provider with a fresh state, nonce
and PKCE challenge, kept in a signed cookie of its own (``lablink_oidc``,
``SameSite=Lax``: the provider's redirect back is a top-level navigation from another
site, which a ``Strict`` cookie would not follow). ``GET /signin/oidc/callback`` checks
the answer (``core/oidc_signin.py``) and starts the same session a password sign-in
does; a refusal is a page that says why, and an entry in the audit log.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from lablink.core.oidc_config import FLOW_SECONDS
from lablink.core.sessions import MAX_SECONDS, Sessions
from lablink.errors import (
    LablinkError,
    NotFound,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
)
from lablink.server import browser
from lablink.ui.render import Renderer
from lablink.ui.signin import NO_STORE, client_ip

if TYPE_CHECKING:
    from lablink.core.oidc import OidcClient

OIDC_COOKIE = "lablink_oidc"
CALLBACK = "/signin/oidc/callback"
MAX_PARAM = 4000


def redirect_uri(request: Request) -> str:
    """The callback URL the provider sends the browser back to (register it there).

    Built from ``public_url`` when set, so it stays the same behind a reverse proxy,
    else from the address the browser used.
    """
    base = request.app.state.lab.settings.public_url or str(request.base_url)
    return base.rstrip("/") + CALLBACK


def oidc_router(renderer: Renderer) -> APIRouter:
    """``GET /signin/oidc`` and ``GET /signin/oidc/callback``."""
    router = APIRouter(include_in_schema=False)

    def refused(request: Request, exc: LablinkError) -> Response:
        context = {"message": exc.message, "hint": exc.hint}
        response = renderer.page("signin_refused.html", context, exc.status, NO_STORE)
        browser.clear_cookie(response, request.scope, OIDC_COOKIE)
        return response

    def provider(request: Request) -> OidcClient:
        # app.state.oidc is set only when single sign-on is configured, and with it the
        # client module (httpx, authlib, joserfc) is loaded
        client: OidcClient | None = request.app.state.oidc
        if client is None:
            raise NotFound(
                "this server has no single sign-on", "sign in with your user name and password"
            )
        return client

    @router.get("/signin/oidc")
    def start(request: Request, next: str = "/") -> Response:
        if not request.app.state.auth.on:
            return RedirectResponse("/", status_code=303)
        try:
            client = provider(request)
            url, cookie = client.begin(redirect_uri(request), browser.safe_next(next))
        except NotFound as exc:
            return renderer.error(exc)
        except ServiceUnavailable as exc:
            return refused(request, exc)
        response = RedirectResponse(url, status_code=303, headers=NO_STORE)
        browser.set_cookie(response, request.scope, OIDC_COOKIE, cookie, int(FLOW_SECONDS))
        return response

    @router.get(CALLBACK)
    def callback(request: Request) -> Response:
        if not request.app.state.auth.on:
            return RedirectResponse("/", status_code=303)
        try:
            client = provider(request)
        except NotFound as exc:
            return renderer.error(exc)
        from lablink.core.oidc_signin import sign_in_oidc  # with the client: see provider

        params = {k: v[:MAX_PARAM] for k, v in request.query_params.items()}
        ip = client_ip(request)
        try:
            identity, flow = sign_in_oidc(
                request.app.state.lab.people,
                client,
                browser.cookie(request.headers, OIDC_COOKIE),
                params,
                redirect_uri(request),
                ip,
            )
        except (Unauthorized, ServiceUnavailable) as exc:
            return refused(request, exc)
        except TooManyRequests as exc:
            response = refused(request, exc)
            response.headers["Retry-After"] = str(int(exc.details.get("retry_after", 60)))
            return response
        sessions: Sessions = request.app.state.sessions
        secret, _ = sessions.start(identity, ip, request.headers.get("user-agent"))
        response = RedirectResponse(browser.safe_next(flow.next), status_code=303)
        browser.set_cookie(
            response, request.scope, browser.SESSION_COOKIE, secret, int(MAX_SECONDS)
        )
        browser.clear_cookie(response, request.scope, OIDC_COOKIE)
        return response

    return router
