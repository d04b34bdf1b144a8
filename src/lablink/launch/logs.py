"""A launched job's output: timestamped lines stored with its run in bounded chunks.

Each chunk is a JSON-lines artifact ``logs/NNNNNN.jsonl`` (kind ``log``), one object
per line: ``t`` (epoch seconds), ``s`` (``out`` or ``err``), ``a`` (the attempt) and
``l`` (the text). Reader threads only append to a list; a flusher thread uploads, so
a job that prints fast never waits on the store.
"""

from __future__ import annotations

import json
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lablink.sdk.transport import Transport

KIND = "log"
CHUNK_BYTES = 1 << 20  # one artifact holds about this much output
FLUSH_SECONDS = 1.0  # so that `jobs logs -f` follows within about a second
MAX_LINE_CHARS = 16_384


class LogSink:
    """Collects lines from the reader threads and stores them as log chunks."""

    def __init__(self, transport: Transport, run_id: str) -> None:
        self.transport = transport
        self.run_id = run_id
        self.attempt = 1
        self._lines: list[str] = []
        self._size = 0
        self._lock = threading.Lock()
        self._chunk = 0
        self._stop = threading.Event()
        self._dir = tempfile.TemporaryDirectory(prefix="lablink-logs-")
        self._thread = threading.Thread(target=self._loop, name="lablink-logs", daemon=True)
        self._thread.start()

    def lines(self, stream: str, raw: list[bytes]) -> None:
        """Record lines of ``stream`` (``out``/``err``) as they arrive, with one timestamp."""
        head = f'{{"t": {time.time():.6f}, "s": "{stream}", "a": {self.attempt}, "l": '
        dumps = json.dumps
        entries = [
            head + dumps(r.decode("utf-8", "replace").rstrip("\r")[:MAX_LINE_CHARS]) + "}"
            for r in raw
        ]
        size = sum(map(len, entries)) + len(entries)
        with self._lock:
            self._lines.extend(entries)
            self._size += size
            full = self._size >= CHUNK_BYTES
        if full:
            self._flush()

    def _loop(self) -> None:
        while not self._stop.wait(FLUSH_SECONDS):
            self._flush()

    def _flush(self) -> None:
        with self._lock:
            lines, self._lines, self._size = self._lines, [], 0
            if not lines:
                return
            self._chunk += 1
            chunk = self._chunk
        path = Path(self._dir.name) / f"{chunk:06d}.jsonl"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        try:
            self.transport.upload_artifact(self.run_id, path, f"logs/{chunk:06d}.jsonl", KIND)
        except Exception as exc:  # output is best effort; the job itself must go on
            import logging

            logging.getLogger("lablink.launch").warning("lablink: log chunk lost: %s", exc)
        finally:
            path.unlink(missing_ok=True)

    def close(self) -> None:
        """Store what is left and stop the flusher."""
        self._stop.set()
        self._thread.join(30)
        self._flush()
        self._dir.cleanup()


def read_lines(
    transport: Transport, run_id: str, after: int = 0
) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(chunk number, line)`` of the chunks numbered above ``after``, in order."""
    chunks = sorted(
        (int(a.name[5:11]), a.digest)
        for a in transport.list_artifacts(run_id)
        if a.kind == KIND and a.name.startswith("logs/")
    )
    with tempfile.TemporaryDirectory(prefix="lablink-logs-") as tmp:
        for number, digest in chunks:
            if number <= after:
                continue
            dest = transport.download_blob(digest, Path(tmp) / f"{number}.jsonl")
            for text in dest.read_text(encoding="utf-8").splitlines():
                if text:
                    yield number, json.loads(text)
