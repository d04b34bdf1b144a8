"""Helpers for the watchdog suite: labs with a lablink.toml, a webhook receiver, a
stand-in NVML source, child training processes, bounded waits."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

from lablink.core.lab import Lab
from lablink.settings import Settings


def project_folder(tmp_path: Path, toml: str, name: str = "repo") -> Path:
    """A folder holding ``lablink.toml`` (settings read it from there)."""
    folder = tmp_path / name
    folder.mkdir(exist_ok=True)
    (folder / "lablink.toml").write_text(textwrap.dedent(toml))
    return folder


def settings_in(folder: Path, db_url: str, home: Path, **overrides: Any) -> Settings:
    """Settings as resolved in ``folder`` (so its lablink.toml is the project config)."""
    values = {"home": str(home), "db": db_url, "user": "tester@example.org", **overrides}
    return Settings.load(overrides=values, environ={}, cwd=folder)


def open_lab(folder: Path, db_url: str, home: Path, **overrides: Any) -> Lab:
    return Lab(settings_in(folder, db_url, home, **overrides))


class Receiver:
    """A webhook receiver on 127.0.0.1: records JSON bodies, fails the first N posts."""

    def __init__(self, fail_first: int = 0, status: int = 500, hold: bool = False) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.failures = 0
        self.fail_first = fail_first
        self.status = status
        self.release = threading.Event()  # with ``hold``, each post waits for this
        if not hold:
            self.release.set()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                receiver.release.wait(60)
                if receiver.failures < receiver.fail_first:
                    receiver.failures += 1
                    self.send_response(receiver.status)
                    self.end_headers()
                    return
                receiver.bodies.append(json.loads(body or b"{}"))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The apprise URL of this receiver."""
        return f"json://127.0.0.1:{self.port}/hook"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


class FakeNvml:
    """A stand-in NVML source (``lablink.sdk.gpu.NvmlSource``): GPUs the test drives."""

    def __init__(self, utils: list[float], procs: dict[int, dict[int, int | None]]) -> None:
        self.utils = utils
        self.procs = procs
        self.closed = False

    def device_count(self) -> int:
        return len(self.utils)

    def utilization(self, index: int) -> float:
        return self.utils[index]

    def memory_used(self, index: int) -> int:
        return sum(m or 0 for m in self.procs.get(index, {}).values())

    def processes(self, index: int) -> dict[int, int | None] | None:
        return dict(self.procs.get(index, {}))

    def close(self) -> None:
        self.closed = True


def child_env(server_url: str, home: Path, **extra: str) -> dict[str, str]:
    """Environment for a child process whose SDK talks to ``server_url``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABLINK_")}
    env.update(
        LABLINK_SERVER=server_url,
        LABLINK_HOME=str(home),
        LABLINK_SPOOL_DIR=str(home / "spool"),
        LABLINK_FLUSH_INTERVAL="0.05",
        LABLINK_HEARTBEAT_INTERVAL="0.2",
        LABLINK_USER="tester@example.org",
        LABLINK_CONFIG=str(home / "no-user-config.toml"),
        PYTHONPATH=os.pathsep.join(p for p in sys.path if p),
    )
    env.update(extra)
    return env


def spawn(folder: Path, source: str, env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    """Run ``source`` in ``folder``; returns the process and the run id it prints first."""
    script = folder / "train_child.py"
    script.write_text(textwrap.dedent(source))
    child = subprocess.Popen(
        [sys.executable, str(script)],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    run_id = child.stdout.readline().strip()
    if not run_id:
        _, err = child.communicate(timeout=30)
        raise AssertionError(f"child printed no run id: {err}")
    return child, run_id


def reap(child: subprocess.Popen[str]) -> str:
    """Kill the child if it still runs; return its stderr."""
    if child.poll() is None:
        child.kill()
    _, err = child.communicate(timeout=30)
    return err
