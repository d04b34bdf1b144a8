"""The ingestion hot path, ``POST /api/v1/runs/{run_id}/batches``, as one ASGI layer.

Small batches come many a second from every running job, so their fixed cost counts.
Through FastAPI each one paid for route matching over every route, dependency
solving, the exception layers and a response object: together more than the batch's
own store work. ``IngestPath`` sits innermost among the middleware, under the request
log, the browser guard, the size guard and authentication, which all still run; it
answers the route itself with the same checks, errors and body as the FastAPI route
(``api/metrics.py``), which stays declared for the API reference and serves nothing
else.

Errors answer in the envelope ``server/errors.py`` gives them; an unexpected
exception goes up to Starlette's catch-all as from any route.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio.to_thread
import sqlalchemy.exc
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lablink.checks.batchwire import CONTENT_TYPE as BATCH_CONTENT_TYPE
from lablink.checks.routes import API_PREFIX
from lablink.core.lab import Lab
from lablink.errors import InvalidInput, LablinkError
from lablink.server.access import MEMBER, Access, check_run_role
from lablink.server.api.metrics import ingest_body
from lablink.server.errors import CarriedError, database_error, error_response
from lablink.server.jsonio import dumps

logger = logging.getLogger("lablink.server.errors")

# The route's own pattern: Starlette's ``{run_id}`` matches one non-empty segment.
_PATH = re.compile(re.escape(API_PREFIX) + r"/runs/(?P<run_id>[^/]+)/batches")
_JSON = b"application/json"


class IngestThreads:
    """The threads batches are stored in, started on first use and let go by ``close``.

    As many as anyio's default threadpool holds for the other routes: concurrent
    batches waiting on the disk share one WAL sync. Used from the event loop only.
    """

    def __init__(self, size: int = 40) -> None:
        self.size = size
        self._pool: ThreadPoolExecutor | None = None

    def pool(self) -> ThreadPoolExecutor:
        """The running pool (a new one after ``close``: an app may be served again)."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.size, thread_name_prefix="lablink-ingest")
        return self._pool

    def close(self) -> None:
        """Let the idle threads go; batches still being stored finish first."""
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None


class IngestPath:
    """Answer ``POST .../runs/{run_id}/batches`` directly; pass everything else on."""

    def __init__(self, app: ASGIApp, lab: Lab, threads: IngestThreads) -> None:
        self.app = app
        self.lab = lab
        self.threads = threads

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope.get("root_path"):
            await self.app(scope, receive, send)
            return
        matched = _PATH.fullmatch(scope["path"])
        if matched is None:
            await self.app(scope, receive, send)
            return
        run_id = matched["run_id"]
        try:
            identity = (scope.get("state") or {}).get("identity")
            if identity is not None:
                access = Access(self.lab, identity)
                await anyio.to_thread.run_sync(
                    check_run_role, Request(scope), access, run_id, MEMBER
                )
            body = await _read_body(receive)
            binary = _content_type(scope).startswith(BATCH_CONTENT_TYPE)
            # the store work waits on the disk: in a thread, the context copied along as
            # anyio does it, through a plain executor (anyio's hop costs more per call)
            context = contextvars.copy_context()
            call = functools.partial(ingest_body, self.lab, run_id, body, binary)
            loop = asyncio.get_running_loop()
            result = await loop.run_in_executor(self.threads.pool(), context.run, call)
        except LablinkError as err:
            await _error(err, scope, receive, send)
            return
        except CarriedError as exc:  # the size guard cut the body off: 413
            await _error(exc.error, scope, receive, send)
            return
        except sqlalchemy.exc.DBAPIError as exc:
            failed = database_error(exc)
            if failed.status >= 500:
                logger.warning("database error on POST %s: %s", scope["path"], exc)
            await _error(failed, scope, receive, send)
            return
        content = dumps(result).encode("ascii")
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-length", str(len(content)).encode("ascii")),
                    (b"content-type", _JSON),
                ],
            }
        )
        await send({"type": "http.response.body", "body": content})


async def _read_body(receive: Receive) -> bytes:
    """The whole request body.

    Raises:
        InvalidInput: the client went away before sending it all.
    """
    chunks: list[bytes] = []
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            raise InvalidInput("the client disconnected before the body was sent")
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _content_type(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return str(value.decode("latin-1"))
    return ""


async def _error(err: LablinkError, scope: Scope, receive: Receive, send: Send) -> None:
    retry = err.details.get("retry_after")
    headers: dict[str, Any] | None = {"Retry-After": str(retry)} if retry is not None else None
    await error_response(err, headers, scope["path"])(scope, receive, send)
