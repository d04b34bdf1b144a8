"""Browser-facing guards: write content types (against cross-site forms) and headers.

A web page on another site can make a teammate's browser send a "simple" request
(``text/plain``, form-urlencoded, multipart) to a server on their network without a
CORS preflight. Requiring JSON or a lablink binary type on every API write means such
a request is refused before any route runs. The security headers keep the UI from being
framed, sniffed or made to run script from elsewhere.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lablink.checks.routes import MLFLOW_ARTIFACTS
from lablink.errors import UnsupportedMediaType
from lablink.server.errors import error_response

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Types a cross-site HTML form or fetch() can send without a preflight.
SIMPLE_TYPES = frozenset({"text/plain", "application/x-www-form-urlencoded", "multipart/form-data"})
WRITE_TYPES = frozenset(
    {"application/json", "application/vnd.lablink.batch", "application/octet-stream"}
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        b"img-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; "
        b"frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
)
# A server without the UI has FastAPI's own /docs page, which loads its script from a
# CDN with an inline bootstrap; that page keeps every header but a script policy.
_DOCS_CSP = b"object-src 'none'; base-uri 'self'; frame-ancestors 'none'"


class BrowserGuard:
    """Refuse API writes a browser could send cross-site without a preflight (415), and
    add the security headers to every HTTP response. One layer, as it wraps the
    ingestion hot path.
    """

    def __init__(self, app: ASGIApp, routes: list[BaseRoute] | None = None) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        if method in WRITE_METHODS and scope["path"].startswith("/api/"):
            given = Headers(scope=scope).get("content-type", "")
            media = given.split(";", 1)[0].strip().lower()
            # A browser preflights every PUT, PATCH and DELETE, so those need only stay
            # off the simple types (a bare `curl -T` upload has no type); a POST must
            # name one of ours, even with an empty body.
            refused = media in SIMPLE_TYPES if method != "POST" else media not in WRITE_TYPES
            if method == "PUT" and scope["path"].startswith(MLFLOW_ARTIFACTS + "/"):
                # The MLflow client sends each artifact with the type its name suggests
                # (text/plain for .txt); a browser preflights any PUT, and lablink
                # answers no CORS preflight, so no other site can send one.
                refused = False
            if refused and self._routed(scope):
                shown = f"Content-Type {given[:60]!r}" if given else "no Content-Type"
                err = UnsupportedMediaType(
                    f"{method} {scope['path']} was sent with {shown}",
                    "send Content-Type: application/json (an empty body is {}), or "
                    "application/vnd.lablink.batch / application/octet-stream for bulk data",
                )
                await error_response(err, path=scope["path"])(
                    scope, receive, self._sender(scope, send)
                )
                return
        await self.app(scope, receive, self._sender(scope, send))

    def _routed(self, scope: Scope) -> bool:
        """Whether a route takes this method and path: if none does, nothing would run,
        so the router's own 404 or 405 is the more useful answer."""
        if self.routes is None:
            return True
        return any(route.matches(scope)[0] == Match.FULL for route in self.routes)

    @staticmethod
    def _sender(scope: Scope, send: Send) -> Send:
        extra = _DOCS_HEADERS if scope["path"] in _DOCS_PATHS else _HEADERS

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        return with_headers


_DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect"})
_HEADERS = list(SECURITY_HEADERS)
_DOCS_HEADERS = [
    (name, _DOCS_CSP if name == b"content-security-policy" else value)
    for name, value in SECURITY_HEADERS
]
