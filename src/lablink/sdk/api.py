"""An httpx client for lablink's REST API: the schema registry and dataset calls.

It sends the same headers, maps the same error envelope and says the same thing
about an unreachable server as the tracking transport (``sdk/wire.py``, on httpcore),
from the same functions; httpx loads only where these calls are made.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from lablink import errors
from lablink.checks.routes import API_PREFIX
from lablink.sdk.wire import auth_headers, error_from_answer, unreachable
from lablink.settings import Settings

API = API_PREFIX


class ApiClient:
    """Requests to ``settings.server``'s REST API; errors come back typed."""

    def __init__(
        self,
        settings: Settings,
        timeout: float | httpx.Timeout = 60.0,
        limits: httpx.Limits | None = None,
    ) -> None:
        if not settings.server:
            raise errors.InvalidInput("no lablink server is configured", "set LABLINK_SERVER")
        self.server = settings.server
        self.http = httpx.Client(
            base_url=settings.server,
            headers=auth_headers(settings),
            timeout=timeout,
            limits=limits or httpx.Limits(),
        )

    def send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request to ``/api/v1{path}``; a 4xx or 5xx answer raises its typed error.

        Raises:
            ServiceUnavailable: the server cannot be reached.
            LablinkError: the error the server answered with.
        """
        try:
            response = self.http.request(method, API + path, **kwargs)
        except httpx.TransportError as exc:
            raise unreachable(self.server, exc) from exc
        if response.status_code >= 400:
            raise error_from_answer(response.status_code, response.content)
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        """``send`` and decode the JSON body."""
        return json.loads(self.send(method, path, **kwargs).content)

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
