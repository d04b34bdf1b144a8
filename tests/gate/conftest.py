"""Fixtures for the gate: an embedded lablink home with runs made through the tracking core."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from helpers import make_settings
from lablink.core.lab import Lab
from lablink.sdk.direct import DirectTransport
from lablink.settings import Settings

BASE = [90.1, 89.6, 90.4, 89.9, 90.0, 90.3, 89.7, 90.2, 89.8, 90.0]  # sd 0.26


class Home:
    """A LABLINK_HOME and a way to add tagged runs to it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.settings: Settings = make_settings(path, user="tester@example.org")

    def runs(
        self,
        tag: str,
        values: Sequence[float],
        metric: str = "val/acc",
        *,
        project: str = "gate",
        summary: bool = True,
        curve: Sequence[float] = (),
        status: str | None = "finished",
    ) -> list[str]:
        """One run per value, tagged ``tag``; the value is the summary (or the last point)."""
        ids = []
        with Lab(self.settings) as lab:
            tr = lab.tracking
            for i, value in enumerate(values):
                run = tr.create_run("tester@example.org", project, f"{tag}-{i}", tags=[tag])
                points = [*curve, value]
                now = time.time()
                tr.log_batch(
                    run.id,
                    0,
                    {
                        metric: {
                            "steps": list(range(len(points))),
                            "times": [now] * len(points),
                            "values": points,
                        }
                    },
                )
                if summary:
                    tr.set_summary(run.id, {metric: value})
                if status:
                    tr.finish_run("tester@example.org", run.id, status)
                ids.append(run.id)
        return ids


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Home:
    """An empty embedded home; LABLINK_HOME points at it and the cwd is its parent."""
    path = tmp_path / "home"
    path.mkdir()
    monkeypatch.setenv("LABLINK_HOME", str(path))
    monkeypatch.chdir(tmp_path)
    return Home(path)


@pytest.fixture
def transport(home: Home) -> Iterator[DirectTransport]:
    tr = DirectTransport(home.settings)
    yield tr
    tr.close()
