"""Pure ASGI middleware at the edge: request log, request guard, bearer token.

Pure ASGI (not ``BaseHTTPMiddleware``) so the ingestion hot path pays one function call
per layer and streamed bodies (blob uploads, SSE) pass through untouched.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Callable

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lablink.errors import InvalidInput, LablinkError, PayloadTooLarge, Unauthorized
from lablink.server.errors import CarriedError, error_response

access_log = logging.getLogger("lablink.server.access")
_LINE = '%s "%s %s" %d %.1fms'


class RequestLog:
    """One INFO line per request: client, method, path, status, milliseconds."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            if access_log.isEnabledFor(logging.INFO):
                client = scope.get("client") or ("-", 0)
                query = scope.get("query_string", b"").decode("latin-1")
                target = scope["path"] + (f"?{query}" if query else "")
                millis = (time.perf_counter() - started) * 1000
                args = (client[0], scope["method"], target, status, millis)
                # ``handle`` of a record made here: the same line as ``info`` gives, less the
                # search of the call stack for its caller (a few per cent of a small request)
                access_log.handle(
                    access_log.makeRecord(
                        access_log.name, logging.INFO, __file__, 0, _LINE, args, None, "RequestLog"
                    )
                )


class RequestGuard:
    """Refuse NUL characters in the URL and bodies over the size limit (413).

    Bulk writes (``bulk(scope)``: metric batches, packs, manifests, schemas) may send up
    to ``max_bytes``; every other request, whose body a route decodes and checks as a
    whole (a run's config, a summary, a note), up to ``small_bytes``: such bodies are
    cheap to send and dear to store. The declared ``Content-Length`` is checked before
    the app runs; chunked bodies are counted as they stream and cut off once over the
    limit. Requests for which ``unlimited(scope)`` is true (streamed blob uploads, never
    held in memory) are not size-limited.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        unlimited: Callable[[Scope], bool] | None = None,
        small_bytes: int | None = None,
        bulk: Callable[[Scope], bool] | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.small_bytes = min(max_bytes, small_bytes if small_bytes is not None else max_bytes)
        self.unlimited = unlimited or (lambda scope: False)
        self.bulk = bulk or (lambda scope: True)

    def _too_large(self, scope: Scope, limit: int) -> PayloadTooLarge:
        if limit < self.max_bytes:
            return PayloadTooLarge(
                f"request body is over the limit of {limit} bytes for "
                f"{scope['method']} {scope['path']}",
                "this request holds a run's config, summary, note or tags: log large values "
                "(lists, tables, files) as artifacts instead",
                limit=limit,
            )
        return PayloadTooLarge(
            f"request body is over the server's limit of {limit} bytes",
            "send smaller batches, or raise LABLINK_MAX_REQUEST_BYTES on the server",
            limit=limit,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if "\x00" in scope["path"] or b"%00" in scope.get("query_string", b""):
            # PostgreSQL text cannot hold NUL; refuse it before it reaches a query.
            await _respond(InvalidInput("the URL contains a NUL character"), scope, receive, send)
            return
        if self.unlimited(scope):
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes if self.bulk(scope) else self.small_bytes
        declared = Headers(scope=scope).get("content-length")
        if (
            declared is not None
            and declared.isascii()
            and declared.isdigit()
            and int(declared) > limit
        ):
            await _respond(self._too_large(scope, limit), scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise CarriedError(self._too_large(scope, limit))
            return message

        await self.app(scope, counted, send)


class TokenAuth:
    """Require ``Authorization: Bearer <token>`` on every ``/api/`` path."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/api/"):
            given = Headers(scope=scope).get("authorization", "").encode("latin-1")
            if not hmac.compare_digest(given, self.expected):
                err = Unauthorized(
                    "this server needs an API token",
                    "send Authorization: Bearer <token> (LABLINK_TOKEN for the SDK and CLI)",
                )
                await _respond(err, scope, receive, send, {"WWW-Authenticate": "Bearer"})
                return
        await self.app(scope, receive, send)


async def _respond(
    err: LablinkError,
    scope: Scope,
    receive: Receive,
    send: Send,
    headers: dict[str, str] | None = None,
) -> None:
    await error_response(err, headers, scope["path"])(scope, receive, send)
