"""Fixtures for the importers: a real MLflow server, and the CLI on an embedded home."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from importer_support import Cli, MlflowServer


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """``mlflow server`` on SQLite, one per test module (each test makes its own runs)."""
    server = MlflowServer(tmp_path_factory.mktemp("mlflow-server")).start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def quick_mlflow(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A failing MLflow request fails now, not after minutes of retries; LABLINK_HOME is
    the test's own."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "60")
    monkeypatch.setenv("LABLINK_HOME", str(tmp_path / "lablink-home"))


@pytest.fixture
def cli() -> Cli:
    return Cli()
