"""Fixtures for the dataset tests (issue 4): an origin server, edge caches, clients.

Test modules here are named ``test_data_*`` so their basenames never clash with other
suites' modules; shared helpers are in ``datatools.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from datatools import Counting

from helpers import AppServer
from lablink.core.lab import Lab
from lablink.server.app import create_app
from lablink.server.edge import create_edge_app
from lablink.server.edge_cache import EdgeCache


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder outside this repository (the SDK looks for git roots)."""
    folder = tmp_path / "work"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


@pytest.fixture
def origin(lab: Lab) -> Iterator[tuple[AppServer, Counting]]:
    """A real origin server over the test's store, with a request counter in front."""
    counted = Counting(create_app(lab, ui=False))
    server = AppServer(counted).start()
    yield server, counted
    server.stop()


@pytest.fixture(scope="module")
def module_origin(module_lab: Lab) -> Iterator[tuple[AppServer, Counting]]:
    """``origin`` over ``module_lab``: one per module and backend, for refused requests
    that store nothing, so one case cannot see another's."""
    counted = Counting(create_app(module_lab, ui=False))
    server = AppServer(counted).start()
    yield server, counted
    server.stop()


@pytest.fixture
def edge_factory(tmp_path: Path) -> Iterator[Callable[..., tuple[AppServer, EdgeCache]]]:
    """Start edge caches in front of an upstream URL; all are stopped afterwards."""
    started: list[tuple[AppServer, EdgeCache]] = []

    def start(upstream: str, limit: int = 10**9, name: str = "edge") -> tuple[AppServer, EdgeCache]:
        edge = EdgeCache(tmp_path / name, limit, upstream)
        server = AppServer(create_edge_app(edge)).start()
        started.append((server, edge))
        return server, edge

    yield start
    for server, edge in started:
        server.stop()
        edge.close()
