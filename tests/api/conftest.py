"""Fixtures for the REST API tests: an httpx client on the loopback server, runs, state.

Test modules here are named ``test_api_*`` so their basenames never clash with other
suites' modules (the tests folders are not packages); shared helpers are in
``apitools.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from apitools import API, state_of

from helpers import LoopbackServer
from lablink.core.lab import Lab


@pytest.fixture
def api(server: LoopbackServer) -> Iterator[httpx.Client]:
    """A client of the real server (paths start with /api/v1 or /healthz)."""
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client


@pytest.fixture
def new_run(api: httpx.Client) -> Callable[..., dict[str, Any]]:
    """Create a run through the API and return its dict."""

    def create(project: str = "vision", **fields: Any) -> dict[str, Any]:
        response = api.post(f"{API}/runs", json={"project": project, **fields})
        assert response.status_code == 201, response.text
        return dict(response.json())

    return create


@pytest.fixture
def snapshot(lab: Lab) -> Callable[[], str]:
    """Call it before and after a request: equal answers mean nothing was stored."""
    return lambda: state_of(lab)
