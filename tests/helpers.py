"""Helpers shared by tests (importable as ``helpers``; tests/ is on pythonpath)."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Self

from lablink.core.lab import Lab
from lablink.server.listen import http_options
from lablink.settings import Settings


def make_settings(home: Path, **overrides: Any) -> Settings:
    return Settings.load(overrides={"home": str(home), **overrides}, environ={}, cwd=home)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Loopback:
    """Fresh loopback addresses, 127.0.<block>.1 onwards: each a new client to a server's
    per-address counters (rate limits, lockouts), so cases sharing one server never
    spend each other's allowance. Linux answers on all of 127.0.0.0/8."""

    def __init__(self, block: int) -> None:
        assert 1 <= block <= 255, block  # 127.0.0.x is what tests name by hand
        self.block = block
        self.used = 0

    def next(self) -> str:
        self.used += 1
        assert self.used <= 254, "no fresh address left in this block"
        return f"127.0.{self.block}.{self.used}"


class AppServer:
    """uvicorn serving any ASGI app in a thread on 127.0.0.1 (a given port, or a free one)."""

    def __init__(self, app: Any, port: int | None = None) -> None:
        import uvicorn

        self.app = app
        self.port = port if port is not None else free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
            **http_options(),  # as `lablink server` and `lablink edge`
        )
        self.server = uvicorn.Server(config)
        self.server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> Self:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("loopback server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class LoopbackServer(AppServer):
    """A real lablink server, ``create_app(lab)``, on loopback."""

    def __init__(self, lab: Lab, port: int | None = None) -> None:
        from lablink.server.app import create_app

        self.lab = lab
        super().__init__(create_app(lab), port)


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout``.

    A ``NotFound`` counts as "not yet": ``lablink.init`` returns before its run reaches
    the store, so a run id a child process printed may be unknown for a moment.
    """
    from lablink.errors import NotFound

    deadline = time.monotonic() + timeout
    missing: NotFound | None = None
    while True:
        try:
            value = predicate()
        except NotFound as exc:
            value, missing = None, exc
        if value:
            return value
        if time.monotonic() > deadline:
            why = f" (last: {missing})" if missing is not None else ""
            raise AssertionError(f"timed out after {timeout}s waiting for {what}{why}")
        time.sleep(0.02)


@contextlib.contextmanager
def chdir(path: Path) -> Iterator[None]:
    old = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)
