"""Process-wide exit hooks shared by every open run: signals, ``sys.excepthook``, atexit.

Installed when the first run opens, removed when the last one ends:

- SIGTERM and SIGINT (only when ``init`` runs in the main thread, where Python allows
  handlers, and only when the signal is not ignored: a job started with ``&`` ignores
  SIGINT, and so must lablink). A signal whose default action ends the process ends
  open runs as killed first. A signal with a Python handler (SIGINT's raises
  KeyboardInterrupt) goes to that handler; the run is marked killed only if the
  exception it raises ends the program, when ``with`` or the hooks below end the run.
  So the handler never waits on anything the interrupted code may hold.
- ``sys.excepthook`` ends open runs as failed with the traceback of an uncaught
  exception (runs inside ``with`` have already ended in ``__exit__``).
- ``atexit`` ends runs still open when the interpreter exits as finished.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
from types import FrameType, TracebackType
from typing import Any, Protocol

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class OpenRun(Protocol):
    """What the hooks need of an open run (``lablink.sdk.run.Run``): two ways to end it."""

    def finish(self, status: str, reason: str | None) -> None:
        """End the run with ``status`` and ``reason``; later calls do nothing."""

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """End the run as leaving ``with`` on ``exc`` would."""


_lock = threading.RLock()  # re-entrant: a signal handler may run while it is held
_active: list[OpenRun] = []
# id(run) → a signal whose Python handler was running while the run was open and has
# not returned (it raised): the run's end is then the signal's doing.
_signalled: dict[int, str] = {}
_previous_signals: dict[int, Any] = {}
_previous_excepthook: Any = None
_atexit_registered = False


def register(run: OpenRun) -> None:
    """Track ``run`` so that every exit path ends it."""
    with _lock:
        _active.append(run)
        if len(_active) == 1:
            _install()


def unregister(run: OpenRun) -> None:
    """Stop tracking ``run``; the last one out removes the hooks."""
    with _lock:
        if run in _active:
            _active.remove(run)
        _signalled.pop(id(run), None)
        if not _active:
            _uninstall()


def active() -> list[OpenRun]:
    """The runs still open, oldest first."""
    with _lock:
        return list(_active)


def signal_raised(run: OpenRun) -> str | None:
    """The signal whose handler raised while ``run`` was open (None: no such signal).

    An exception that handler raised (SIGINT's KeyboardInterrupt) ends the run as killed.
    """
    return _signalled.get(id(run))


def handles(signum: int) -> bool:
    """Whether lablink's handler for ``signum`` is installed (it ends open runs)."""
    return signum in _previous_signals and signal.getsignal(signum) is _on_signal


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _install() -> None:
    global _previous_excepthook, _atexit_registered
    if not _atexit_registered:
        atexit.register(_at_exit)
        _atexit_registered = True
    if sys.excepthook is not _excepthook:
        _previous_excepthook = sys.excepthook
        sys.excepthook = _excepthook
    if not _in_main_thread():
        return
    for signum in SIGNALS:
        previous = signal.getsignal(signum)
        # None: a handler installed outside Python, which we could not chain to.
        # SIG_IGN: the process was told to ignore the signal (a background job ignores
        # SIGINT); a handler of ours would end the run while training goes on.
        if previous is None or previous is _on_signal or previous == signal.SIG_IGN:
            continue
        _previous_signals[signum] = previous
        signal.signal(signum, _on_signal)


def _uninstall() -> None:
    if sys.excepthook is _excepthook:
        sys.excepthook = _previous_excepthook or sys.__excepthook__
    if not _in_main_thread():
        return  # our handlers stay; with no open run they only pass the signal on
    for signum, previous in list(_previous_signals.items()):
        if signal.getsignal(signum) is _on_signal:
            signal.signal(signum, previous)
        del _previous_signals[signum]


def _on_signal(signum: int, frame: FrameType | None) -> None:
    previous = _previous_signals.get(signum, signal.SIG_DFL)
    name = signal.Signals(signum).name
    runs = list(_active)  # no lock: the interrupted code may hold it
    if callable(previous):
        for run in runs:
            _signalled[id(run)] = name
        # SIGINT's default handler raises KeyboardInterrupt: the run ends (killed, with
        # this signal as the reason) when that exception ends the program
        previous(signum, frame)
        for run in runs:  # the handler returned: the program goes on, and so do the runs
            _signalled.pop(id(run), None)
        return
    if previous == signal.SIG_IGN:  # set by someone after lablink's handler
        return
    # the default action ends the process: end the runs, then put it back and deliver
    # the signal again, so the process ends as it would have without lablink
    for run in runs:
        run.finish("killed", f"received {name}")  # a stop the server asked for wins
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _excepthook(
    exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> None:
    previous = _previous_excepthook or sys.__excepthook__
    for run in active():
        run.__exit__(exc_type, exc, tb)
    previous(exc_type, exc, tb)


def _at_exit() -> None:
    for run in active():  # the interpreter exits with the run still open
        name = signal_raised(run)
        if name is not None:
            run.finish("killed", f"received {name}")
        else:
            run.finish("finished", None)
