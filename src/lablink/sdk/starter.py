"""Starts each run's background threads off ``lablink.init``'s path.

``Thread.start`` waits until the new thread runs, which on a busy machine takes
milliseconds of scheduling. One long-lived daemon thread per process takes that wait
instead: ``init`` hands it the run and returns. Whoever needs the threads first
(this starter, ``finish``, a full buffer) starts them; they start once.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

logger = logging.getLogger("lablink.sdk")

_lock = threading.Lock()
_jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
_thread: threading.Thread | None = None


def submit(start: Callable[[], None]) -> None:
    """Call ``start`` soon in the starter thread (started on first use, and after a fork)."""
    global _thread
    with _lock:
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_serve, name="lablink-starter", daemon=True)
            _thread.start()
    _jobs.put(start)


def _serve() -> None:
    while True:
        start = _jobs.get()
        try:
            start()
        except Exception:  # the caller's path starts the threads then (finish, run.log)
            logger.exception("lablink: could not start a run's background threads")
