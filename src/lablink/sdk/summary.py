"""``run.summary`` and the key check it shares with ``run.log``."""

from __future__ import annotations

import json
import logging
import queue
from collections.abc import Iterator, MutableMapping
from typing import Any

from lablink.checks.keys import metric_key_problem
from lablink.sdk.wakeup import Wakeup

logger = logging.getLogger("lablink.sdk")


class WarnOnce:
    """Logs each distinct problem once; a training loop would repeat it a million times."""

    def __init__(self) -> None:
        self._seen: set[str] = set()

    def __call__(self, what: str, message: str, *args: Any) -> None:
        if what not in self._seen:
            self._seen.add(what)
            logger.warning("lablink: " + message, *args)


class Summary(MutableMapping[str, Any]):
    """``run.summary``: a dict whose writes reach the server with the next flush."""

    def __init__(self, warn: WarnOnce, wake: Wakeup) -> None:
        self._data: dict[str, Any] = {}
        # Writes travel to the background thread through a queue, not under a lock: a
        # signal handler that ends the run while the training loop is inside
        # ``__setitem__`` must not wait on a lock that loop holds.
        self._pending: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._warn = warn
        self._wake = wake

    def __setitem__(self, key: str, value: Any) -> None:
        problem = metric_key_problem(key)
        if problem:
            self._warn(f"summary-key:{key!r}", "summary key %r ignored: %s", key, problem)
            return
        if getattr(value, "ndim", None) == 0 and hasattr(value, "item"):
            value = value.item()  # numpy scalars, 0-d arrays and tensors
        elif hasattr(value, "tolist"):
            value = value.tolist()  # arrays
        try:
            json.dumps(value)
        except (TypeError, ValueError) as exc:
            self._warn(f"summary-value:{key}", "summary value for %r ignored: %s", key, exc)
            return
        self._data[key] = value
        self._pending.put((key, value))
        self._wake.set()

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __delitem__(self, key: str) -> None:
        raise TypeError("summary values cannot be deleted; set a new value instead")

    def __iter__(self) -> Iterator[str]:
        return iter(dict(self._data))

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"Summary({self._data!r})"

    def take(self) -> dict[str, Any]:
        """The values set since the last call (for the background thread)."""
        pending: dict[str, Any] = {}
        while True:
            try:
                key, value = self._pending.get_nowait()
            except queue.Empty:
                return pending
            pending[key] = value  # the last write of a key wins
