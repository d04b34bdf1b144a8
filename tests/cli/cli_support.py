"""Helpers for the CLI tests: seeding runs, running lablink in-process and as a child."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from typer.testing import CliRunner, Result

from helpers import make_settings
from lablink.cli.main import app
from lablink.core.lab import Lab


@dataclass
class Seeded:
    """A home folder with two runs in project ``vision`` and one in ``nlp``."""

    home: Path
    ids: dict[str, str]


def _series(values: list[float]) -> dict[str, list[float]]:
    now = time.time()
    return {"steps": list(range(len(values))), "times": [now] * len(values), "values": values}


def seed_home(home: Path) -> Seeded:
    """Three runs made through the tracking core (not the SDK, which has its own tests)."""
    with Lab(make_settings(home, user="ana@example.org")) as lab:
        tr = lab.tracking
        capture = {"git_commit": "a" * 40, "git_branch": "main", "git_dirty": True}
        config = {"lr": 0.1, "model": {"depth": 50}}
        base = tr.create_run(
            "ana@example.org", "vision", "resnet-base", config, ["baseline"], capture=capture
        )
        tr.log_batch(base.id, 0, {"train/loss": _series([2.0, 1.0, 0.5, float("nan")])})
        tr.set_summary(base.id, {"val/acc": 0.91})
        tr.finish_run("ana@example.org", base.id)
        hot = tr.create_run(
            "ben@example.org", "vision", "resnet-hot", {"lr": 0.5, "model": {"depth": 50}}
        )
        tr.log_batch(hot.id, 0, {"train/loss": _series([3.0, 2.5, 2.7])})
        tr.set_summary(hot.id, {"val/acc": 0.42})
        tr.finish_run("ben@example.org", hot.id, "failed", "Traceback: boom")
        other = tr.create_run("ana@example.org", "nlp", "bert", {"lr": 1e-4}, ["debug"])
        tr.log_batch(other.id, 0, {"train/loss": _series([float(i) for i in range(500)])})
    return Seeded(home, {"base": base.id, "hot": hot.id, "other": other.id})


class Cli:
    """Runs ``lablink`` in-process; exceptions other than exits propagate."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str, code: int = 0) -> Result:
        # Wide enough that tables are not cut (xdist workers set COLUMNS=80).
        result = self.runner.invoke(app, list(args), catch_exceptions=False, env={"COLUMNS": "200"})
        assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
        return result


def lablink_command() -> list[str]:
    """The installed ``lablink`` entry point next to this interpreter."""
    exe = Path(sys.executable).with_name("lablink")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("lablink")
    assert found, "the lablink entry point is not installed (pip install -e .)"
    return [found]


def run_lablink(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run the real entry point as a child process and wait for it."""
    return subprocess.run(
        [*lablink_command(), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "NO_COLOR": "1", **(env or {})},
        check=False,
    )


def wait_for_healthz(url: str, proc: subprocess.Popen[bytes], seconds: float = 30) -> float:
    """Poll ``url/healthz`` until it answers 200; returns the seconds it took."""
    started = time.monotonic()
    deadline = started + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"lablink server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1) as resp:
                if resp.status == 200:
                    return time.monotonic() - started
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.05)
    raise AssertionError(f"{url}/healthz did not answer within {seconds}s")


def stop(proc: subprocess.Popen[bytes], timeout: float = 10) -> None:
    """Terminate a child and wait for it; kill it if it does not stop in time."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)
