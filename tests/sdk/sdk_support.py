"""Helpers for the SDK suite: the SDK under test over one transport, a flaky transport,
a server that can be stopped and started again on the same port, bounded waits."""

from __future__ import annotations

import dataclasses
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lablink
from helpers import wait_for
from lablink.core.lab import Lab
from lablink.errors import ServiceUnavailable
from lablink.sdk.connect import make_transport
from lablink.sdk.transport import Transport
from lablink.settings import Settings

# Fast cadences so tests see flushes and heartbeats within a fraction of a second.
FAST = {"flush_interval": 0.05, "heartbeat_interval": 0.2}


@dataclasses.dataclass
class Sdk:
    """The SDK aimed at one store, directly or through a loopback server."""

    kind: str  # "direct" or "http"
    settings: Settings  # what the SDK resolves in training code
    lab: Lab  # the store behind it, for server-side actions (stop requests)
    client: lablink.Client
    _transports: list[Transport] = dataclasses.field(default_factory=list)

    def init(self, project: str = "sdk", **kwargs: Any) -> lablink.Run:
        return lablink.init(project=project, settings=self.settings, **kwargs)

    def transport(self, **changes: Any) -> Transport:
        """A transport the fixture closes at teardown."""
        transport = make_transport(dataclasses.replace(self.settings, **changes))
        self._transports.append(transport)
        return transport

    def env(self, **extra: str) -> dict[str, str]:
        """Environment for a child process running training code against this store."""
        env = dict(os.environ)
        env.update(
            LABLINK_HOME=str(self.settings.home),
            LABLINK_DB=self.settings.db,
            LABLINK_SPOOL_DIR=str(self.settings.spool_dir),
            LABLINK_FLUSH_INTERVAL=str(self.settings.flush_interval),
            LABLINK_HEARTBEAT_INTERVAL=str(self.settings.heartbeat_interval),
            LABLINK_USER=self.settings.user,
            PYTHONPATH=os.pathsep.join(p for p in sys.path if p),
        )
        if self.settings.server:
            env["LABLINK_SERVER"] = self.settings.server
        env.update(extra)
        return env

    def close(self) -> None:
        self.client.close()
        for transport in self._transports:
            transport.close()

    def points(self, run_id: str, key: str) -> list[int]:
        """Steps stored for ``key`` (empty when there are none yet)."""
        try:
            return list(self.client.history(run_id, key).steps)
        except lablink.NotFound:
            return []


class Flaky:
    """Wraps a transport; while ``down`` is set every call fails as if the server were away.

    ``refuse`` names ops (``log_batch``, ...) that fail with a 4xx instead.
    """

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.down = threading.Event()
        self.refuse: dict[str, Exception] = {}
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if not callable(attr) or name.startswith("_"):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            if name == "close":
                return attr(*args, **kwargs)
            if self.down.is_set():
                raise ServiceUnavailable("test: the server is down")
            if name in self.refuse:
                raise self.refuse[name]
            return attr(*args, **kwargs)

        return call


class PortServer:
    """uvicorn serving ``create_app(lab)`` in a thread on a given 127.0.0.1 port."""

    def __init__(self, lab: Lab, port: int) -> None:
        import uvicorn

        from lablink.server.app import create_app

        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(
            create_app(lab), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> PortServer:
        self.thread.start()
        wait_for(
            lambda: self.server.started or not self.thread.is_alive(),
            20,
            "the server to start",
        )
        assert self.server.started, "server did not start"
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        assert not self.thread.is_alive(), "server did not stop"


@dataclasses.dataclass
class Script:
    """A training script run as a child process."""

    path: Path

    @classmethod
    def write(cls, folder: Path, source: str) -> Script:
        path = folder / "train_child.py"
        path.write_text(source)
        return cls(path)


def iter_lines(stream: Any) -> Iterator[str]:
    for line in stream:
        yield line.rstrip("\n")
