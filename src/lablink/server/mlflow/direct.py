"""The two MLflow calls a run makes most, ``runs/create`` and ``runs/log-batch``, as one
ASGI layer.

An MLflow client sends each as its own small request, and through FastAPI each paid
for route matching over every lablink route, dependency solving and the exception
layers: more than its own store work. ``MlflowDirect`` sits innermost among the
middleware, beside ``server/ingest_path.py``, under the request log, the guards and
authentication, which all still run. It calls the same route functions
(``runs.py``), with the same arguments, caller and threadpool as FastAPI would; the
routes stay declared and serve every other method and path. Errors go to the app's
own exception handlers, so they answer in MLflow's envelope as from the routes; an
unexpected exception goes up to Starlette's catch-all, as from any route.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from lablink.server.access import Access, access_of
from lablink.server.mlflow import runs, wire

API = "/api/2.0/mlflow"  # as ``__init__.API``, which imports this module's neighbours
Route = Callable[[Request, dict[str, Any], Access | None], Response]
ROUTES: dict[str, Route] = {
    API + "/runs/create": runs.create,
    API + "/runs/log-batch": runs.log_batch,
}


class MlflowDirect:
    """Answer ``POST`` of the paths in ``ROUTES`` directly; pass everything else on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = None
        if scope["type"] == "http" and scope["method"] == "POST" and not scope.get("root_path"):
            route = ROUTES.get(scope["path"])
        if route is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            # what the routes' dependencies give: ``wire.arguments`` and ``authorize``,
            # whose MLflow rule (``self``) leaves every check to the route
            args = await wire.arguments(request)
            response = await run_in_threadpool(route, request, args, access_of(request))
        except Exception as exc:
            handler = _handler(request, exc)
            if handler is None:
                raise
            response = await handler(request, exc)
        await response(scope, receive, send)


def _handler(request: Request, exc: Exception) -> Any:
    """The app's handler for ``exc``, looked up as Starlette's ``ExceptionMiddleware``
    does (by class, nearest first); None for what only the catch-all handles."""
    handlers = request.app.exception_handlers
    for cls in type(exc).__mro__:
        if cls is Exception:
            return None  # Starlette's ServerErrorMiddleware answers these, above
        if cls in handlers:
            return handlers[cls]
    return None
