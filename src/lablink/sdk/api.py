"""A small JSON client for lablink's REST API: its headers, its errors, its messages.

Clients that talk to ``/api/v1`` (the schema registry from the CLI and the SDK, the
dataset metadata calls) share this, so every one of them sends the same user and
token headers, turns the server's error envelope back into the same typed
``LablinkError``, and says the same thing when the server cannot be reached.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from lablink import errors
from lablink.sdk.wire import error_from_answer
from lablink.settings import Settings

API = "/api/v1"


def auth_headers(settings: Settings) -> dict[bytes, bytes]:
    """The user and token headers every request carries (UTF-8 bytes)."""
    headers = {b"X-Lablink-User": settings.user.encode(), b"User-Agent": b"lablink-sdk"}
    if settings.token:
        headers[b"Authorization"] = f"Bearer {settings.token}".encode()
    return headers


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
            raise errors.ServiceUnavailable(
                f"cannot reach the lablink server at {self.server}: {exc}",
                "is `lablink server` running there? Check LABLINK_SERVER",
            ) from exc
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
