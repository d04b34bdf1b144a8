"""The SDK suite runs over both transports and both databases.

``sdk`` is parametrised over ``direct`` (the embedded store) and ``http`` (a real
uvicorn server on loopback over the same store); the root ``settings`` fixture is
parametrised over SQLite and PostgreSQL, so every test runs four times.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from sdk_support import FAST, Sdk

import lablink
from lablink.core.lab import Lab
from lablink.settings import Settings


@pytest.fixture(params=["direct", "http"])
def sdk(
    request: pytest.FixtureRequest,
    settings: Settings,
    lab: Lab,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Sdk]:
    # capture runs git in the working directory: keep it out of this repository
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    sdk_settings = dataclasses.replace(settings, spool_dir=tmp_path / "spool", **FAST)
    if request.param == "http":
        server = request.getfixturevalue("server")
        sdk_settings = dataclasses.replace(sdk_settings, server=server.url)
    found = Sdk(request.param, sdk_settings, lab, lablink.Client(settings=sdk_settings))
    yield found
    found.close()
