"""Running the `lablink` CLI as a subprocess for the launch tests of other backends."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from lablink.errors import NotFound
from lablink.sdk.client import Client

SRC = str(Path(__file__).resolve().parents[1] / "src")
LIMIT = 120  # seconds any one launch may take before the test fails


def cli_env(**extra: str) -> dict[str, str]:
    """This environment without LABLINK_*, lablink's source importable, and ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABLINK_")}
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    env["LABLINK_USER"] = "tester@example.org"
    env["LABLINK_CONFIG"] = os.environ["LABLINK_CONFIG"]
    env.update(extra)
    return env


def lablink(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``lablink ARGS`` in ``cwd``, its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "lablink.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=LIMIT,
    )


def runs_of(home: Path, project: str) -> list[Any]:
    """The runs of ``project`` in the embedded store at ``home``."""
    if not (home / "lablink.db").exists():
        return []
    with Client(home=str(home)) as client:
        try:
            found, _ = client._transport.search_runs(project, None, None, False, 100, 0)
        except NotFound:  # the launch made no project, so no run either
            return []
    return found
