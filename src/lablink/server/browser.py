"""What the web UI's pages need to know about a signed-in browser: cookies, CSRF, redirects.

The session cookie is ``HttpOnly`` (no script reads it), ``SameSite=Lax`` (another site's
forms and fetches go without it), ``Path=/`` and ``Secure`` when the page came over
HTTPS. Every state-changing request a browser makes with it carries the session's CSRF
token, in the ``X-CSRF-Token`` header (the UI's scripts) or a ``csrf_token`` form field
(its forms). The sign-in form, sent before there is a session, is checked against a
short-lived cookie of its own instead (a double-submit token), so another site cannot
sign a browser into an account of its choosing.

``VIEWER`` holds who the current page is for, so templates can show the name and the
sign-out button without every view passing it along.
"""

from __future__ import annotations

import contextvars
import dataclasses
import html
import secrets
import urllib.parse
from collections.abc import Mapping

from starlette.datastructures import Headers
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.types import Message, Receive, Scope

from lablink.errors import LablinkError
from lablink.identity import Identity
from lablink.server.errors import error_response

SESSION_COOKIE = "lablink_session"
SIGNIN_COOKIE = "lablink_signin"  # the sign-in form's own CSRF token
SIGNIN_COOKIE_SECONDS = 3600
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Paths served to anyone: the sign-in form and single sign-on, static files, health and
# the API's spec.
PUBLIC = frozenset(
    {
        "/signin",
        "/signin/oidc",
        "/signin/oidc/callback",
        "/favicon.ico",
        "/healthz",
        "/openapi.json",
    }
)
PUBLIC_PREFIXES = ("/static/",)
# API routes called before the caller has a credential: a device login's start and poll.
PUBLIC_API = frozenset({"/api/v1/login/device", "/api/v1/login/device/token"})
MAX_FORM_BYTES = 64 * 1024


@dataclasses.dataclass(frozen=True)
class Viewer:
    """Who a page is rendered for, and the CSRF token its forms carry (None: not needed)."""

    identity: Identity
    csrf: str | None


VIEWER: contextvars.ContextVar[Viewer | None] = contextvars.ContextVar(
    "lablink_viewer", default=None
)


def current_viewer() -> Viewer | None:
    """The signed-in viewer of the page being rendered (None with auth off)."""
    return VIEWER.get()


def public(path: str) -> bool:
    """Whether ``path`` is served without a sign-in."""
    return path in PUBLIC or path.startswith(PUBLIC_PREFIXES)


def cookie(headers: Headers, name: str) -> str | None:
    """The value of cookie ``name`` in the request, if sent."""
    for part in headers.get("cookie", "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name and value:
            return value
    return None


def secure(scope: Scope) -> bool:
    """Whether the request came over HTTPS (then cookies are ``Secure``)."""
    return scope.get("scheme") == "https"


def set_cookie(
    response: Response, scope: Scope, name: str, value: str, max_age: int, same_site: str = "lax"
) -> None:
    """Set an ``HttpOnly`` cookie on ``Path=/``, ``Secure`` over HTTPS."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        secure=secure(scope),
        httponly=True,
        samesite=same_site,  # type: ignore[arg-type]
    )


def clear_cookie(response: Response, scope: Scope, name: str) -> None:
    """Tell the browser to forget cookie ``name``."""
    response.delete_cookie(name, path="/", secure=secure(scope), httponly=True, samesite="lax")


def new_signin_token() -> str:
    """A fresh double-submit token for the sign-in form."""
    return secrets.token_urlsafe(24)


def safe_next(target: str | None) -> str:
    """``target`` when it is a path on this site, else ``/``: never an open redirect.

    Only a relative path starting with one ``/`` passes; ``//host``, ``/\\host``, a
    scheme, control characters and the sign-in and sign-out pages themselves do not.
    """
    if not target or len(target) > 2000 or not target.startswith("/"):
        return "/"
    if target.startswith("//") or "\\" in target or any(ord(c) < 32 for c in target):
        return "/"
    parts = urllib.parse.urlsplit(target)
    if parts.scheme or parts.netloc or parts.path in ("/signin", "/signout"):
        return "/"
    return target


def signin_redirect(scope: Scope, clear: bool) -> Response:
    """303 to the sign-in page, coming back to this page (when it was a GET) after."""
    target = "/signin"
    if scope["method"] in ("GET", "HEAD"):
        query = scope.get("query_string", b"").decode("latin-1")
        here = scope["path"] + (f"?{query}" if query else "")
        if here != "/":
            target += "?" + urllib.parse.urlencode({"next": here})
    response = RedirectResponse(target, status_code=303)
    if clear:
        clear_cookie(response, scope, SESSION_COOKIE)
    return response


def refusal(scope: Scope, err: LablinkError, clear: bool = False) -> Response:
    """``err`` as JSON for ``/ui-data/`` and scripts, as a small HTML page for forms."""
    headers = Headers(scope=scope)
    wants_json = scope["path"].startswith("/ui-data/") or CSRF_HEADER in headers
    if wants_json or "text/html" not in headers.get("accept", "text/html"):
        response: Response = error_response(err)
    else:
        body = (
            "<!doctype html><html lang=en><meta charset=utf-8><title>Refused · lablink</title>"
            f"<h1>Refused</h1><p>{html.escape(err.message)}</p>"
            f"<p>{html.escape(err.hint or '')}</p><p><a href=/>lablink</a></p></html>"
        )
        response = HTMLResponse(body, status_code=err.status)
    if clear:
        clear_cookie(response, scope, SESSION_COOKIE)
    return response


def same_origin(headers: Headers) -> bool:
    """False when the browser says the request came from another site's page.

    Browsers send ``Origin`` on every cross-origin POST; its absence (curl, old
    browsers on same-origin forms) is left to the CSRF token.
    """
    origin = headers.get("origin")
    if origin is None:
        return True
    host = headers.get("host", "")
    return urllib.parse.urlsplit(origin).netloc == host and host != ""


async def csrf_given(scope: Scope, receive: Receive) -> tuple[str | None, Receive]:
    """The CSRF token a request carries, and a ``receive`` that replays its body.

    The header wins; otherwise an urlencoded form's ``csrf_token`` field is read (the
    UI's forms are small: a body over ``MAX_FORM_BYTES`` is not looked into).
    """
    headers = Headers(scope=scope)
    given = headers.get(CSRF_HEADER)
    media = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if given is not None or media != "application/x-www-form-urlencoded":
        return given, receive
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        more = message.get("more_body", False)
        if size > MAX_FORM_BYTES:
            return None, receive
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    fields: Mapping[str, list[str]] = urllib.parse.parse_qs(body.decode("latin-1"))
    values = fields.get(CSRF_FIELD)
    return (values[0] if values else None), replay
