"""A launched job's output: timestamped lines stored with its run in bounded chunks.

Each chunk is a JSON-lines artifact ``logs/NNNNNN.jsonl`` (kind ``log``), one object
per line: ``t`` (epoch seconds), ``s`` (``out`` or ``err``), ``a`` (the attempt) and
``l`` (the text). Readers only append to a list; a flusher thread uploads, so a job
that prints fast never waits on the store.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lablink.sdk.transport import Transport

KIND = "log"
PREFIX = "logs/"
PAGE_CHUNKS = 100  # chunk names asked for at a time
CHUNK_BYTES = 1 << 20  # one artifact holds about this much output
# ... or up to this much while more than it waits (a job printing as fast as it can):
# each chunk stored costs a fixed part (its rows, its file), so fewer cost less CPU
BIG_CHUNK_BYTES = 4 << 20
MAX_PENDING = 64 << 20  # output waiting to be stored before a reader stores it itself
FLUSH_SECONDS = 1.0  # so that `jobs logs -f` follows within about a second
CAPTURE_NICE = 10  # how much lower than the launcher the threads storing output run
MAX_LINE_CHARS = 16_384
# Bytes that are their own JSON: printable ASCII but the quote and the backslash ("\n"
# only joins the lines of a read here; a "\r" a line gives up is not among them).
_PLAIN = bytes(b for b in range(0x20, 0x7F) if b not in b'"\\') + b"\n"


class LogSink:
    """Collects lines from the reader threads and stores them as log chunks.

    The reader threads only format and append; the flusher thread writes and uploads,
    woken early when a chunk is full. Only when ``MAX_PENDING`` bytes wait (the store is
    slower than the output) does a reader upload itself rather than hold the output in
    memory without bound; a local job's reader stops reading before that
    (``lablink.launch.tail``: the job's output waits in its file, the job never does).
    """

    def __init__(self, transport: Transport | Callable[[], Transport], run_id: str) -> None:
        # a function gives the store once the run is in it: a job's first lines may
        # come before its run is created
        self._transport = transport
        self.run_id = run_id
        self.attempt = 1
        self._lines: list[bytes] = []
        self._size = 0
        self._lock = threading.Lock()
        self._upload = threading.Lock()  # chunks are stored one at a time, in order
        self._chunk = 0
        self._stop = threading.Event()
        self._full = threading.Event()
        self._dir = tempfile.TemporaryDirectory(prefix="lablink-logs-")
        self._thread = threading.Thread(target=self._loop, name="lablink-logs", daemon=True)
        self._thread.start()

    def block(self, stream: str, data: bytes, at: float | None = None) -> None:
        """Record the complete lines of one read of ``stream``: ``data`` is them joined
        by newlines (the last one's left off), all with one timestamp (``at``, else now)."""
        if data.translate(None, _PLAIN) or not _short_lines(data):
            self.lines(stream, data.split(b"\n"), at)
            return
        # printable ASCII is its own JSON string: the read becomes its entries in one
        # replace, never split into lines: capture must keep up with a job printing as
        # fast as it can
        head = self._head(stream, at)
        self._add([head + b'"' + data.replace(b"\n", b'"}\n' + head + b'"') + b'"}'])

    def lines(self, stream: str, raw: list[bytes], at: float | None = None) -> None:
        """Record lines of ``stream`` (``out``/``err``) with one timestamp (``at``, else now)."""
        if not raw:
            return
        head = self._head(stream, at)
        if not b"".join(raw).translate(None, _PLAIN) and max(map(len, raw)) <= MAX_LINE_CHARS:
            entries = [head + b'"' + (b'"}\n' + head + b'"').join(raw) + b'"}']
        else:
            dumps = json.dumps
            text = head.decode()
            entries = [
                (
                    text + dumps(r.decode("utf-8", "replace").rstrip("\r")[:MAX_LINE_CHARS]) + "}"
                ).encode()
                for r in raw
            ]
        self._add(entries)

    @property
    def pending(self) -> int:
        """Bytes recorded and not stored yet."""
        return self._size

    def _head(self, stream: str, at: float | None) -> bytes:
        t = time.time() if at is None else at
        return f'{{"t": {t:.6f}, "s": "{stream}", "a": {self.attempt}, "l": '.encode()

    def _add(self, entries: list[bytes]) -> None:
        size = sum(map(len, entries)) + len(entries)
        with self._lock:
            self._lines.extend(entries)
            self._size += size
            pending = self._size
        if pending >= MAX_PENDING:
            while self._flush():
                pass
        elif pending >= CHUNK_BYTES:
            self._full.set()

    def _loop(self) -> None:
        yield_to_job()
        while not self._stop.is_set():
            self._full.wait(FLUSH_SECONDS)
            self._full.clear()
            while self._flush():
                pass

    def _flush(self) -> bool:
        """Store one chunk of what waits (about ``CHUNK_BYTES``, ``BIG_CHUNK_BYTES`` when
        more than that waits); whether a full chunk's worth is still waiting."""
        with self._upload:
            with self._lock:
                size, cut = 0, 0
                limit = BIG_CHUNK_BYTES if self._size >= BIG_CHUNK_BYTES else CHUNK_BYTES
                while cut < len(self._lines) and size < limit:
                    size += len(self._lines[cut]) + 1
                    cut += 1
                lines, self._lines = self._lines[:cut], self._lines[cut:]
                self._size -= size
                more = self._size >= CHUNK_BYTES
                if not lines:
                    return False
                self._chunk += 1
                chunk = self._chunk
            try:  # waits while the job's run is being created
                store = self._transport() if callable(self._transport) else self._transport
            except Exception:  # the run could not be created: the job says why
                return False
            path = Path(self._dir.name) / f"{chunk:06d}.jsonl"
            with open(path, "wb") as fh:
                fh.write(b"\n".join(lines))
                fh.write(b"\n")
            try:
                store.upload_artifact(self.run_id, path, chunk_name(chunk), KIND)
            except Exception as exc:  # output is best effort; the job itself must go on
                import logging

                logging.getLogger("lablink.launch").warning("lablink: log chunk lost: %s", exc)
            finally:
                path.unlink(missing_ok=True)
        return more

    def close(self, store: bool = True) -> None:
        """Store what is left (drop it unless ``store``) and stop the flusher."""
        if not store:
            with self._lock:
                self._lines, self._size = [], 0
        self._stop.set()
        self._full.set()
        self._thread.join(30)
        while self._flush():
            pass
        self._flush()
        self._dir.cleanup()


def yield_to_job() -> None:
    """Lower the calling thread's CPU priority by ``CAPTURE_NICE`` (Linux, where a
    thread has its own): on a busy machine the job runs first and its output waits to
    be stored, rather than the job waiting for the CPU lablink takes to store it."""
    if not sys.platform.startswith("linux"):
        return  # elsewhere this would lower the whole launcher, heartbeats included
    tid = threading.get_native_id()
    with contextlib.suppress(OSError):
        now = os.getpriority(os.PRIO_PROCESS, tid)
        os.setpriority(os.PRIO_PROCESS, tid, min(19, now + CAPTURE_NICE))


def _short_lines(data: bytes) -> bool:
    """Whether ``data`` (printable ASCII) holds no line over ``MAX_LINE_CHARS``, found
    without splitting it: such a line covers a whole aligned window of half that size,
    so a newline in every window rules it out (a "no" only means the slow path)."""
    step = MAX_LINE_CHARS // 2
    find = data.find
    return all(find(b"\n", i, i + step) >= 0 for i in range(0, len(data) - step + 1, step))


def read_lines(
    transport: Transport, run_id: str, after: int = 0
) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(chunk number, line)`` of the chunks numbered above ``after``, in order: only
    their names are asked for, a page at a time, so following a long job costs what is
    new, not its whole listing."""
    cursor = None if after <= 0 else chunk_name(after)
    with tempfile.TemporaryDirectory(prefix="lablink-logs-") as tmp:
        while True:
            page = transport.artifact_page(run_id, PREFIX, cursor, PAGE_CHUNKS)
            for artifact in page:
                cursor = artifact.name
                number = chunk_number(artifact.name)
                if artifact.kind != KIND or number is None:
                    continue  # a stray artifact under logs/, not one of the launcher's
                dest = transport.download_blob(artifact.digest, Path(tmp) / f"{number}.jsonl")
                for text in dest.read_text(encoding="utf-8").splitlines():
                    if text:
                        yield number, json.loads(text)
                dest.unlink()
            if len(page) < PAGE_CHUNKS:
                return


def chunk_name(number: int) -> str:
    """The artifact name of log chunk ``number``."""
    return f"{PREFIX}{number:06d}.jsonl"


def chunk_number(name: str) -> int | None:
    """The number of the log chunk named ``name``; None for another name."""
    digits = name[len(PREFIX) : -len(".jsonl")]
    if not name.startswith(PREFIX) or not name.endswith(".jsonl") or not digits.isdigit():
        return None
    return int(digits)
