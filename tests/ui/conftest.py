"""UI fixtures: one SQLite lab and one loopback server per module; data per test.

Each test makes its own project (``uiseed.project_name``), so tests sharing the
module's server never see each other's runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from helpers import LoopbackServer, make_settings
from lablink.core.lab import Lab


@pytest.fixture(scope="module")
def ui_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    home: Path = tmp_path_factory.mktemp("uihome")
    settings = make_settings(home, db=f"sqlite:///{home / 'lablink.db'}", user="tester@example.org")
    with Lab(settings) as lab:
        yield lab


@pytest.fixture(scope="module")
def ui_server(ui_lab: Lab) -> Iterator[LoopbackServer]:
    server = LoopbackServer(ui_lab).start()
    yield server
    server.stop()


@pytest.fixture
def http(ui_server: LoopbackServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=ui_server.url, timeout=10) as client:
        yield client
