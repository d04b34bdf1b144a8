"""What stands between the credentials and the database: limits, lockouts, a short cache.

``Guard`` holds one server process's counters (``core/throttle.py``) for ``People``:

- password sign-in: a rate limit per client address, and a lockout with exponential
  backoff per user name and per client address after repeated failures;
- token use: a rate limit per token, and a lockout of a client address that keeps
  presenting bad tokens;
- the audit of refusals: at most ``audit_burst`` entries per action and client address
  a minute, the rest counted into the next entry's ``suppressed``, so a flood of bad
  attempts cannot flood the audit table;
- verified tokens and role lookups, kept ``cache_seconds`` so an API call with a known
  token reads nothing from the database (hashing stays at sign-in and first use).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Hashable
from typing import Any

from lablink.core.throttle import Lockout, RateLimit, TtlCache
from lablink.errors import TooManyRequests


@dataclasses.dataclass(frozen=True)
class Limits:
    """How much abuse a server process takes before it says 429 (defaults documented in
    docs/people.md)."""

    signin_per_minute: float = 10.0  # password sign-ins per client address
    signin_burst: int = 10
    free_failures_user: int = 5  # failed sign-ins for one name before it locks
    free_failures_address: int = 20  # failed sign-ins or bad tokens from one address
    lock_base: float = 30.0  # the first lock; doubles with every further failure
    lock_cap: float = 3600.0
    token_per_second: float = 200.0  # API calls per token: generous, ingestion is bursty
    token_burst: int = 5000
    audit_burst: int = 10  # refusals written per action and address a minute
    cache_seconds: float = 10.0  # verified tokens and roles; 0 turns the cache off


class Guard:
    """One process's counters and caches over ``clock`` (``People.clock``)."""

    def __init__(self, limits: Limits, clock: Callable[[], float]) -> None:
        self.limits = limits
        lim = limits
        self.signin = RateLimit(lim.signin_per_minute / 60, lim.signin_burst, clock)
        self.names = Lockout(lim.free_failures_user, lim.lock_base, lim.lock_cap, clock)
        self.addresses = Lockout(lim.free_failures_address, lim.lock_base, lim.lock_cap, clock)
        self.token_use = RateLimit(lim.token_per_second, lim.token_burst, clock)
        self.audits = RateLimit(lim.audit_burst / 60, lim.audit_burst, clock)
        self.suppressed: TtlCache[Hashable, int] = TtlCache(86_400.0, clock)
        self.tokens: TtlCache[str, Any] = TtlCache(lim.cache_seconds, clock)
        self.roles: TtlCache[tuple[str, str], tuple[str | None]] = TtlCache(
            lim.cache_seconds, clock
        )
        # Bumped by every invalidation: an answer read from the database before a revoke
        # and cached after it would otherwise outlive the revoke by a TTL.
        self.generation = 0

    def invalidate(self) -> None:
        """Forget every cached token and role: a revoke, disable or grant just happened.

        Clears everything rather than the entries it concerns: such changes are rare,
        and a miss costs only the reads a call made before the cache existed.
        """
        self.generation += 1
        self.tokens.clear()
        self.roles.clear()

    def check_signin(self, name: str, client: str | None) -> None:
        """Refuse a sign-in attempt while its name or address is locked or too frequent.

        Raises:
            TooManyRequests: with ``retry_after`` seconds in its details.
        """
        wait = max(self.names.wait(name), self.addresses.wait(client))
        if wait > 0:
            raise _too_many(f"too many failed sign-ins for {name} or from {client}", wait)
        wait = self.signin.hit(client)
        if wait > 0:
            raise _too_many(f"too many sign-ins from {client}", wait)

    def signin_failed(self, name: str, client: str | None) -> float:
        """Count a failed sign-in; the longer lock it now holds (0: none yet)."""
        return max(self.names.failed(name), self.addresses.failed(client))

    def signin_succeeded(self, name: str) -> None:
        """A right password clears the name's failures (not the address's)."""
        self.names.succeeded(name)

    def check_token_address(self, client: str | None) -> None:
        """Refuse unverified tokens from an address that keeps sending bad ones.

        Raises:
            TooManyRequests: the address is locked.
        """
        wait = self.addresses.wait(("token", client))
        if wait > 0:
            raise _too_many(f"too many bad tokens from {client}", wait)

    def token_failed(self, client: str | None) -> None:
        """Count a bad token from ``client``."""
        self.addresses.failed(("token", client))

    def check_token_rate(self, token_id: int | None) -> None:
        """Hold one token to ``token_per_second``.

        Raises:
            TooManyRequests: it is over.
        """
        wait = self.token_use.hit(("token", token_id))
        if wait > 0:
            raise _too_many(f"token {token_id} is making calls too fast", wait)

    def audit_budget(self, action: str, client: str | None) -> int | None:
        """Whether to write this refusal: None to skip it, else how many were skipped
        since the last one written for this action and address."""
        key = (action, client)
        if self.audits.hit(key) > 0:
            self.suppressed.put(key, (self.suppressed.get(key) or 0) + 1)
            return None
        skipped = self.suppressed.get(key) or 0
        if skipped:
            self.suppressed.put(key, 0)
        return skipped


def token_key(text: str) -> str:
    """What the cache keys a presented token by: a hash, so no secret sits in memory
    longer than the request that brought it."""
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()


def _too_many(message: str, wait: float) -> TooManyRequests:
    seconds = max(1, int(wait + 0.999))
    return TooManyRequests(message, f"try again in {seconds} s", retry_after=seconds)
