"""Fixtures for the MLflow-compatibility tests: the real ``mlflow`` client aimed at a real
lablink server on loopback.

Test modules are named ``test_mlflow_*`` so their basenames never clash with other
suites' modules; this folder is not a package, so ``import mlflow`` finds the client.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from helpers import LoopbackServer


@pytest.fixture
def tracking_uri(server: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """``MLFLOW_TRACKING_URI`` pointed at the loopback lablink server."""
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
    # a failing request must fail the test now, not after minutes of retries
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "60")
    mlflow.set_tracking_uri(server.url)
    yield server.url
    while mlflow.active_run() is not None:
        mlflow.end_run()
    mlflow.set_tracking_uri(None)  # type: ignore[arg-type]
