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
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lablink.sdk.run import Run

SIGNALS = (signal.SIGTERM, signal.SIGINT)

_lock = threading.RLock()  # re-entrant: a signal handler may run while it is held
_active: list[Run] = []
_previous_signals: dict[int, Any] = {}
_previous_excepthook: Any = None
_atexit_registered = False


def register(run: Run) -> None:
    """Track ``run`` so that every exit path ends it."""
    with _lock:
        _active.append(run)
        if len(_active) == 1:
            _install()


def unregister(run: Run) -> None:
    """Stop tracking ``run``; the last one out removes the hooks."""
    with _lock:
        if run in _active:
            _active.remove(run)
        if not _active:
            _uninstall()


def active() -> list[Run]:
    """The runs still open, oldest first."""
    with _lock:
        return list(_active)


def current() -> Run | None:
    """The run opened last and still open: ``lablink.run``."""
    with _lock:
        return _active[-1] if _active else None


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
            run._signalled(name)
        # SIGINT's default handler raises KeyboardInterrupt: the run ends (killed, with
        # this signal as the reason) when that exception ends the program
        previous(signum, frame)
        for run in runs:  # the handler returned: the program goes on, and so do the runs
            run._signalled(None)
        return
    if previous == signal.SIG_IGN:  # set by someone after lablink's handler
        return
    # the default action ends the process: end the runs, then put it back and deliver
    # the signal again, so the process ends as it would have without lablink
    for run in runs:
        run._on_signal(name)
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _excepthook(
    exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> None:
    previous = _previous_excepthook or sys.__excepthook__
    for run in active():
        run._on_exception(exc_type, exc, tb)
    previous(exc_type, exc, tb)


def _at_exit() -> None:
    for run in active():
        run._on_exit()
