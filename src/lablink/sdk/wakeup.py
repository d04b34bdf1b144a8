"""Wake-ups that are safe to send from a signal handler.

``threading.Event`` and ``Condition`` take a lock in ``set``; a signal handler that
runs while the interrupted code is inside ``set`` on the same thread would wait on
itself forever. ``queue.SimpleQueue.put`` never blocks and may be called re-entrantly,
so the training loop, ``run.summary`` and the signal path signal through it.
"""

from __future__ import annotations

import queue


class Wakeup:
    """An Event-like wake-up: ``set`` never blocks; one waiter consumes it."""

    def __init__(self) -> None:
        self._tokens: queue.SimpleQueue[None] = queue.SimpleQueue()

    def set(self) -> None:
        """Wake the waiter (or the next ``wait``). Safe in a signal handler."""
        self._tokens.put(None)

    def clear(self) -> None:
        """Forget wake-ups sent so far."""
        while True:
            try:
                self._tokens.get_nowait()
            except queue.Empty:
                return

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for a wake-up; True if one came."""
        try:
            self._tokens.get(timeout=max(0.0, timeout))
        except queue.Empty:
            return False
        return True


class Flag:
    """A flag set once, read by other threads: a plain attribute, no lock to wait on."""

    def __init__(self) -> None:
        self._set = False

    def set(self) -> None:
        """Raise the flag."""
        self._set = True

    def is_set(self) -> bool:
        """Whether the flag is raised."""
        return self._set
