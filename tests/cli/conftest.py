"""Fixtures for the command line: a LABLINK_HOME with a few runs, and a CliRunner."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_support import Cli, Seeded, seed_home


@pytest.fixture
def seeded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Seeded:
    """Three runs made through the tracking core; LABLINK_HOME points at them."""
    found = seed_home(tmp_path / "lablink-home")
    monkeypatch.setenv("LABLINK_HOME", str(found.home))
    return found


@pytest.fixture
def cli() -> Cli:
    return Cli()
