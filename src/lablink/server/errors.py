"""Every error leaves the server as ``LablinkError.to_dict()`` with its HTTP status.

The body is always ``{"error": {"code", "message", "hint"?, "details"?}}``; the HTTP
transport rebuilds the typed exception from ``code``. Validation problems and
malformed JSON are 400 ``bad_request`` with a message naming the field; unknown routes
are 404 ``not_found``. Only a real bug reaches the catch-all, which logs the traceback
and answers 500 ``internal``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import sqlalchemy.exc
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Match

from lablink.checks.routes import API_PREFIX, is_mlflow_path
from lablink.errors import (
    Conflict,
    InvalidInput,
    LablinkError,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    Unauthorized,
)
from lablink.server.jsonio import JSONResponse
from lablink.server.mlflow.errors import mlflow_error_response

logger = logging.getLogger(__name__)

_BY_STATUS: dict[int, type[LablinkError]] = {
    400: InvalidInput,
    401: Unauthorized,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    503: ServiceUnavailable,
}


class CarriedError(HTTPException):
    """An ``HTTPException`` carrying a ``LablinkError``.

    Raised where FastAPI would turn any other exception into a generic 400: while it
    reads a request body (a body cut off at the size limit must stay a 413).
    """

    def __init__(self, error: LablinkError) -> None:
        super().__init__(error.status, error.message)
        self.error = error


def error_response(
    exc: LablinkError, headers: dict[str, str] | None = None, path: str | None = None
) -> Response:
    """The JSON envelope for ``exc`` with its status; MLflow's envelope for a request to
    ``path`` under the MLflow-compatible API."""
    if path is not None and is_mlflow_path(path):
        return mlflow_error_response(exc, headers)
    return JSONResponse(exc.to_dict(), status_code=exc.status, headers=headers)


def _answer(request: Request, exc: LablinkError, headers: dict[str, str] | None = None) -> Response:
    """``exc`` in the envelope of the API the request went to (MLflow's or lablink's)."""
    return error_response(exc, headers, request.url.path)


def http_error(status: int, message: str, hint: str | None = None) -> LablinkError:
    """A ``LablinkError`` for an HTTP status (405 and others get a generic code)."""
    cls = _BY_STATUS.get(status)
    if cls is not None:
        return cls(message, hint)
    err = LablinkError(message, hint)
    err.status = status
    err.code = "method_not_allowed" if status == 405 else "http_error"
    return err


def describe_validation(errors: Sequence[Any]) -> tuple[str, list[dict[str, str]]]:
    """A one-line message and per-field details from pydantic / FastAPI errors."""
    items: list[dict[str, str]] = []
    for err in errors:
        loc = ".".join(str(part) for part in err.get("loc", ()))
        kind = err.get("type", "")
        if kind == "json_invalid":
            reason = (err.get("ctx") or {}).get("error", "invalid JSON")
            msg = f"request body is not valid JSON: {reason} at position {err['loc'][-1]}"
            items.append({"loc": "body", "message": msg})
            continue
        if loc == "body" and isinstance(err.get("input"), bytes):
            msg = "request body must be a JSON object sent with Content-Type: application/json"
            items.append({"loc": loc, "message": msg})
            continue
        if kind == "missing" and loc == "body":
            items.append({"loc": loc, "message": "request body is missing: send a JSON object"})
            continue
        message = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
        if kind == "string_pattern_mismatch" and (err.get("ctx") or {}).get("pattern") == r"\S":
            message = "is empty: write some text"
        elif kind in ("literal_error", "enum"):
            message = f"{message}, not {str(err.get('input'))[:80]!r}"
        items.append({"loc": loc, "message": f"{loc}: {message}" if loc else message})
    shown = "; ".join(item["message"] for item in items[:3])
    more = f" (and {len(items) - 3} more)" if len(items) > 3 else ""
    return (shown or "invalid request") + more, items


async def _lablink_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LablinkError)
    retry = exc.details.get("retry_after")
    return _answer(request, exc, {"Retry-After": str(retry)} if retry is not None else None)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    message, items = describe_validation(exc.errors())
    hint = "see the API reference at /docs"
    return _answer(request, InvalidInput(message, hint, errors=items))


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if isinstance(exc, CarriedError):
        return _answer(request, exc.error)
    err: LablinkError
    if exc.status_code == 404 and exc.detail == "Not Found":
        hint = f"the API lives under {API_PREFIX}"
        if request.url.path.startswith(API_PREFIX * 2):
            # a client configured with the API prefix in its server URL adds it twice
            hint = (
                f"the server URL ends with {API_PREFIX}, which lablink adds itself: drop that "
                "suffix (e.g. LABLINK_SERVER=http://host:8500)"
            )
        err = NotFound(f"no route {request.method} {request.url.path}", hint)
    elif exc.status_code == 405:
        err = http_error(405, f"{request.method} is not allowed on {request.url.path}")
        allowed = _allowed_methods(request)
        if allowed:
            return _answer(request, err, {"Allow": ", ".join(allowed)})
    else:
        err = http_error(exc.status_code, str(exc.detail))
    return _answer(request, err, dict(exc.headers) if exc.headers else None)


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route takes on this path (Starlette names only the first route's).

    Asks the router itself, method by method: FastAPI nests included routers, so a walk
    over ``app.router.routes`` would not see the API's routes.
    """
    routes = request.app.router.routes
    return [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes
        )
    ]


def database_error(exc: sqlalchemy.exc.DBAPIError) -> LablinkError:
    """The error a client sees for a database exception.

    Clients act on the status: a 4xx is never retried, a 503 is retried until the
    database is back, and a 500 (a bug) is retried a few times and then set aside. So
    only a database that is away or locked may answer 503.
    """
    if isinstance(exc, sqlalchemy.exc.IntegrityError):
        return Conflict("the request clashes with stored data (a concurrent write?)")
    if isinstance(exc, sqlalchemy.exc.DataError):
        first = str(exc.orig).splitlines()[0] if exc.orig else "invalid value"
        return InvalidInput(f"the database refused a value: {first}")
    if isinstance(exc, sqlalchemy.exc.OperationalError | sqlalchemy.exc.InterfaceError):
        return ServiceUnavailable("the database is unavailable", "try again shortly")
    err = LablinkError("the database failed on this request", "the server log has the error")
    err.code = "internal"
    return err


async def _database_error(request: Request, exc: Exception) -> Response:
    # A safety net: values are checked before writes, but the database has the last word.
    assert isinstance(exc, sqlalchemy.exc.DBAPIError)
    err = database_error(exc)
    if err.status >= 500:
        logger.warning("database error on %s %s: %s", request.method, request.url.path, exc)
    return _answer(request, err)


async def _client_disconnect(request: Request, exc: Exception) -> Response:
    return _answer(request, InvalidInput("the client disconnected before the body was sent"))


async def _unexpected(request: Request, exc: Exception) -> Response:
    logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    err = LablinkError("internal server error", "this is a lablink bug; the server log has it")
    err.code = "internal"
    # Starlette re-raises the exception after this answer and uvicorn then drops the
    # connection: say so, or a client reusing it would see its next request cut off
    # and take a server bug for an outage.
    return _answer(request, err, {"Connection": "close"})


def install_error_handlers(app: FastAPI) -> None:
    """Route every exception type to its JSON envelope."""
    app.add_exception_handler(LablinkError, _lablink_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_exception)
    app.add_exception_handler(sqlalchemy.exc.DBAPIError, _database_error)
    app.add_exception_handler(ClientDisconnect, _client_disconnect)
    app.add_exception_handler(Exception, _unexpected)
