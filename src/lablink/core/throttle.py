"""Bounded in-process counters against password guessing and token floods; no I/O.

``RateLimit`` is a token bucket per key (a client address, a token): ``rate`` a second,
bursts of ``burst``. ``Lockout`` counts consecutive failures per key (a user name, a
client address) and, past ``free`` of them, locks the key for ``base`` seconds doubled
at each further failure, up to ``cap``; a success clears the key, and a key quiet for
``forget`` seconds starts over. ``TtlCache`` keeps answers for a few seconds.

These are written here rather than taken from a library (``limits``, ``cachetools``)
because the need is small and exact: each is one dict with an injectable clock, which
the tests move by hand instead of sleeping, and the least recently used key is dropped
once ``max_keys`` is reached, so an attacker who sends from many addresses costs a
bounded amount of memory (at worst the oldest keys forget their counts). Counters live
in one server process: several processes behind a balancer each count on their own,
which multiplies an attacker's budget by their number and changes nothing else.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

Clock = Callable[[], float]
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
MAX_KEYS = 10_000


class _Bounded(Generic[K, V]):
    """An LRU dict of at most ``max_keys`` entries, safe across threads."""

    def __init__(self, max_keys: int) -> None:
        self.max_keys = max_keys
        self.items: collections.OrderedDict[K, V] = collections.OrderedDict()
        self.lock = threading.Lock()

    def _get(self, key: K) -> V | None:
        found = self.items.get(key)
        if found is not None:
            self.items.move_to_end(key)
        return found

    def _put(self, key: K, value: V) -> None:
        self.items[key] = value
        self.items.move_to_end(key)
        while len(self.items) > self.max_keys:
            self.items.popitem(last=False)

    def clear(self) -> None:
        """Forget every key."""
        with self.lock:
            self.items.clear()


class RateLimit(_Bounded[Hashable, tuple[float, float]]):
    """A token bucket per key: ``rate`` events a second, bursts of up to ``burst``."""

    def __init__(self, rate: float, burst: float, clock: Clock, max_keys: int = MAX_KEYS) -> None:
        super().__init__(max_keys)
        self.rate, self.burst, self.clock = rate, burst, clock

    def hit(self, key: Hashable) -> float:
        """Count one event for ``key``: 0 when it may go ahead, else seconds to wait."""
        now = self.clock()
        with self.lock:
            tokens, at = self._get(key) or (self.burst, now)
            tokens = min(self.burst, tokens + max(0.0, now - at) * self.rate)
            if tokens < 1:
                self._put(key, (tokens, now))
                return (1 - tokens) / self.rate
            self._put(key, (tokens - 1, now))
            return 0.0


class Lockout(_Bounded[Hashable, tuple[int, float]]):
    """Exponential backoff after ``free`` consecutive failures of a key."""

    def __init__(
        self,
        free: int,
        base: float,
        cap: float,
        clock: Clock,
        forget: float = 86_400.0,
        max_keys: int = MAX_KEYS,
    ) -> None:
        super().__init__(max_keys)
        self.free, self.base, self.cap, self.forget, self.clock = free, base, cap, forget, clock

    def wait(self, key: Hashable) -> float:
        """Seconds ``key`` stays locked (0: not locked)."""
        with self.lock:
            failures, last = self._get(key) or (0, 0.0)
        return max(0.0, last + self._lock(failures) - self.clock())

    def failed(self, key: Hashable) -> float:
        """Count a failure of ``key``; returns how long it is now locked (0: not yet)."""
        now = self.clock()
        with self.lock:
            failures, last = self._get(key) or (0, now)
            if now - last > self.forget:
                failures = 0
            failures += 1
            self._put(key, (failures, now))
        return self._lock(failures)

    def succeeded(self, key: Hashable) -> None:
        """Clear ``key``'s failures."""
        with self.lock:
            self.items.pop(key, None)

    def _lock(self, failures: int) -> float:
        if failures < self.free:
            return 0.0
        return float(min(self.cap, self.base * 2 ** min(failures - self.free, 30)))


class TtlCache(_Bounded[K, tuple[float, V]]):
    """Values kept for ``ttl`` seconds, at most ``max_keys`` of them."""

    def __init__(self, ttl: float, clock: Clock, max_keys: int = MAX_KEYS) -> None:
        super().__init__(max_keys)
        self.ttl, self.clock = ttl, clock

    def get(self, key: K) -> V | None:
        """The value kept for ``key``, unless it is older than ``ttl``."""
        with self.lock:
            found = self._get(key)
            if found is None:
                return None
            if self.clock() - found[0] >= self.ttl:
                self.items.pop(key, None)
                return None
            return found[1]

    def put(self, key: K, value: V) -> None:
        """Keep ``value`` for ``key`` from now."""
        if self.ttl <= 0:
            return
        with self.lock:
            self._put(key, (self.clock(), value))
