"""A value made in a worker thread: ``lablink launch`` starts the command first and
creates its run (open the store, read the git state) beside it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Background(Generic[T]):
    """Runs ``make`` in a daemon thread; ``get`` waits for its value or raises its error."""

    def __init__(self, make: Callable[[], T], name: str) -> None:
        self._make = make
        self._value: T | None = None
        self._error: BaseException | None = None
        self._done = threading.Event()
        threading.Thread(target=self._work, name=name, daemon=True).start()

    def _work(self) -> None:
        try:
            self._value = self._make()
        except BaseException as exc:  # handed to whoever waits for the value
            self._error = exc
        finally:
            self._done.set()

    def done(self) -> bool:
        """Whether the value (or the error) is there."""
        return self._done.is_set()

    def error(self) -> BaseException | None:
        """What making it raised; None when it is not done yet or succeeded."""
        return self._error if self._done.is_set() else None

    def get(self) -> T:
        """The value, once made; raises what ``make`` raised."""
        self._done.wait()
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]
