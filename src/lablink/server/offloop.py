"""A route class that decodes JSON request bodies off the event loop.

FastAPI decodes a route's JSON body with ``json.loads`` on the event loop, so one large
body (a config of a million numbers) stalls every other request, ``/healthz``
included, while it is read. ``OffLoopRoute`` hands bodies over ``INLINE_BYTES`` to a
worker thread; small ones, the common case, are decoded in place, where a thread hop
would cost more than the decoding. Deep checks of what was decoded (config, summary)
run in the route itself, which FastAPI runs in its threadpool.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from lablink.errors import InvalidInput
from lablink.server.errors import CarriedError
from lablink.server.jsonio import loads_body

INLINE_BYTES = 64 * 1024


class OffLoopRequest(Request):
    """A request whose ``json()`` decodes a large body in a worker thread."""

    async def json(self) -> Any:
        """The body as JSON (NaN and Infinity tokens allowed), decoded once.

        Raises:
            CarriedError: the body is not JSON (a 400 naming the position): FastAPI
                would turn any other exception raised here into a generic 400.
        """
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                if len(body) <= INLINE_BYTES:
                    self._json = loads_body(body)
                else:
                    self._json = await run_in_threadpool(loads_body, body)
            except InvalidInput as exc:
                raise CarriedError(exc) from None
        return self._json


class OffLoopRoute(APIRoute):
    """An ``APIRoute`` whose handler sees an ``OffLoopRequest``."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """FastAPI's handler, given the request as an ``OffLoopRequest``."""
        handler = super().get_route_handler()

        async def offloop_handler(request: Request) -> Response:
            return await handler(OffLoopRequest(request.scope, request.receive))

        return offloop_handler
