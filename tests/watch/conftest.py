"""Fixtures of the watchdog suite (issue 7)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from watch_support import open_lab, project_folder

from helpers import LoopbackServer
from lablink.core.lab import Lab


@pytest.fixture
def make_lab(tmp_path: Path, db_url: str) -> Iterator[Callable[..., Lab]]:
    """Labs over this test's store, each configured by a lablink.toml text."""
    labs: list[Lab] = []

    def make(toml: str = "", name: str = "repo", **overrides: Any) -> Lab:
        folder = project_folder(tmp_path, toml, name)
        lab = open_lab(folder, db_url, tmp_path / "home", **overrides)
        labs.append(lab)
        return lab

    yield make
    for lab in labs:
        lab.close()


@pytest.fixture
def serve() -> Iterator[Callable[[Lab], LoopbackServer]]:
    """Start a loopback server (its watchdog loop included) over a lab."""
    servers: list[LoopbackServer] = []

    def start(lab: Lab) -> LoopbackServer:
        server = LoopbackServer(lab).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
