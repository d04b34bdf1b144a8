"""Helpers for the dataset tests: trees of files, servers for any ASGI app, counting."""

from __future__ import annotations

import collections
import os
import random
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from helpers import make_settings
from lablink.settings import Settings


def make_tree(
    root: Path, files: int = 40, seed: int = 0, size: tuple[int, int] = (100, 5000)
) -> Path:
    """A folder of random files in a few sub-folders, plus two equal files."""
    rng = random.Random(seed)
    for i in range(files):
        path = root / f"part{i % 3}" / f"f{i:04d}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rng.randbytes(rng.randint(*size)))
    (root / "same-a.txt").write_text("x" * 5000)
    (root / "same-b.txt").write_text("x" * 5000)
    return root


def tree_bytes(root: Path) -> dict[str, bytes]:
    """Relative path → content of every file under ``root``."""
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def client_settings(home: Path, server: str | None = None, **more: Any) -> Settings:
    """Settings of a client with its own home (and so its own cache)."""
    home.mkdir(parents=True, exist_ok=True)
    values: dict[str, Any] = {"user": "tester@example.org", **more}
    if server:
        values["server"] = server
    return make_settings(home, **values)


class Counting:
    """ASGI middleware counting requests per (method, path) and delaying some."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.counts: collections.Counter[tuple[str, str]] = collections.Counter()
        self.delay: dict[str, float] = {}  # path → seconds to sleep before answering
        self.throttle: dict[str, float] = {}  # path → seconds to sleep per body chunk
        # path → a condition the answer waits for (bounded polling), so a test can hold
        # an upstream request until every client it expects has arrived
        self.hold: dict[str, Callable[[], bool]] = {}
        self.lock = threading.Lock()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            with self.lock:
                self.counts[(scope["method"], scope["path"])] += 1
            pause = self.delay.get(scope["path"])
            if pause:
                import anyio

                await anyio.sleep(pause)
            until = self.hold.get(scope["path"])
            if until is not None:
                await _wait_for(until)
            slow = self.throttle.get(scope["path"])
            if slow:
                receive = _throttled(receive, slow)
        await self.app(scope, receive, send)


async def _wait_for(condition: Callable[[], bool], limit: float = 30.0) -> None:
    """Poll ``condition`` until it holds; fail after ``limit`` seconds."""
    import anyio

    with anyio.fail_after(limit):
        while not condition():
            await anyio.sleep(0.01)


def _throttled(receive: Any, seconds: float) -> Any:
    """A receive channel that takes ``seconds`` per body chunk: a slow uplink."""

    async def slow_receive() -> Any:
        import anyio

        await anyio.sleep(seconds)
        return await receive()

    return slow_receive


def corrupt_file(path: Path) -> None:
    """Flip the first byte of a (read-only) file in place."""
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[0] ^= 0xFF
    path.write_bytes(bytes(data))
    os.chmod(path, 0o444)
