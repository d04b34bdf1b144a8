"""``run.summary`` and the key check it shares with ``run.log``."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator, MutableMapping
from typing import Any

from lablink.checks.keys import metric_key_problem

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

    def __init__(self, warn: WarnOnce, wake: threading.Event) -> None:
        self._data: dict[str, Any] = {}
        self._pending: dict[str, Any] = {}
        self._lock = threading.Lock()
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
        with self._lock:
            self._data[key] = value
            self._pending[key] = value
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
        with self._lock:
            pending, self._pending = self._pending, {}
        return pending
