"""An edge serves a blob only to a caller its origin allows: ``EdgeAccess``.

An edge cache holds no database and knows nobody, so it asks its upstream, with the
caller's own credentials (the ``Authorization`` header or the session cookie, passed
on as they came), which of the blobs asked for the caller may read
(``POST /api/v1/data/access``). A blob cached for one caller is served to another only
after the upstream said yes for that other caller.

Yes answers are remembered for ``ttl`` seconds (30 by default), keyed by a hash of the
credentials and the digest, so a pull of many packs costs one question per blob and
credential, not one per request; a revoked token therefore keeps reading what it had
already been allowed for at most that long. No answer is remembered: a refusal is
asked again every time, and the upstream's own refusal (401, 403, 429) goes back to
the caller exactly as the upstream gave it.
"""

from __future__ import annotations

import hashlib
import http.cookiejar
import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping

import httpx
from starlette.requests import Request
from starlette.responses import Response

from lablink.checks.routes import API_PREFIX
from lablink.core.datasets.transfer import MAX_DIGESTS
from lablink.errors import ServiceUnavailable

DEFAULT_TTL = 30.0
MAX_REMEMBERED = 100_000  # (credential, digest) pairs; the oldest half goes when full
CREDENTIALS = ("authorization", "cookie")
# The upstream's headers a refusal keeps when the edge passes it on.
_KEPT = ("content-type", "www-authenticate", "retry-after", "set-cookie")


class Refused(Exception):
    """The upstream refused the caller; ``response`` is its answer, to pass on."""

    def __init__(self, answer: httpx.Response) -> None:
        super().__init__(answer.status_code)
        headers = {k: v for k, v in answer.headers.items() if k.lower() in _KEPT}
        self.response = Response(answer.content, answer.status_code, headers=headers)


def no_cookies() -> http.cookiejar.CookieJar:
    """A cookie jar that keeps nothing, for the edge's clients of its upstream.

    They serve every caller: a session cookie the upstream sets for one browser (a
    sign-in through the edge) must go back to that browser only, never ride along
    with the next caller's request.
    """
    return http.cookiejar.CookieJar(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))


def credentials(request: Request) -> dict[str, str]:
    """The caller's credential headers, to send upstream on their behalf."""
    return {name: request.headers[name] for name in CREDENTIALS if name in request.headers}


class EdgeAccess:
    """Which blobs a caller may read, asked of the upstream and remembered briefly."""

    def __init__(
        self,
        ttl: float = DEFAULT_TTL,
        clock: Callable[[], float] = time.monotonic,
        max_remembered: int = MAX_REMEMBERED,
    ) -> None:
        self.ttl = ttl
        self.clock = clock
        self.max_remembered = max_remembered
        self._lock = threading.Lock()
        self._allowed: dict[tuple[str, str], float] = {}  # → when the yes expires
        self.stats = {"asked": 0, "remembered": 0}

    async def readable(
        self, client: httpx.AsyncClient, given: Mapping[str, str], digests: Iterable[str]
    ) -> set[str]:
        """The subset of ``digests`` the caller with credentials ``given`` may read.

        Raises:
            Refused: the upstream refused the caller (no, a wrong or revoked credential).
            ServiceUnavailable: the upstream cannot be reached.
        """
        key = _key(given)
        wanted = list(dict.fromkeys(digests))
        now = self.clock()
        with self._lock:
            known = {d for d in wanted if self._allowed.get((key, d), -1.0) > now}
            self.stats["remembered"] += len(known)
        ask = [d for d in wanted if d not in known]
        for start in range(0, len(ask), MAX_DIGESTS):
            batch = ask[start : start + MAX_DIGESTS]
            with self._lock:
                self.stats["asked"] += len(batch)
            yes = await self._ask(client, given, batch)
            expires = self.clock() + self.ttl
            with self._lock:
                if len(self._allowed) + len(yes) > self.max_remembered:
                    self._forget(now)
                for digest in yes:
                    self._allowed[(key, digest)] = expires
            known |= yes
        return known

    async def _ask(
        self, client: httpx.AsyncClient, given: Mapping[str, str], digests: list[str]
    ) -> set[str]:
        headers = {**given, "content-type": "application/json"}
        body = json.dumps({"digests": digests})
        try:
            answer = await client.post(f"{API_PREFIX}/data/access", content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(
                f"the upstream {client.base_url} cannot be reached: {exc}", "try again shortly"
            ) from exc
        if answer.status_code != 200:
            raise Refused(answer)
        try:
            readable = answer.json()["readable"]
        except (ValueError, KeyError, TypeError):
            raise ServiceUnavailable(
                f"the upstream {client.base_url} gave a malformed access answer",
                "is it a lablink server of the same version?",
            ) from None
        return set(readable) & set(digests)

    def _forget(self, now: float) -> None:
        """Drop expired answers, then the oldest half if still full (under the lock)."""
        self._allowed = {k: t for k, t in self._allowed.items() if t > now}
        if len(self._allowed) > self.max_remembered // 2:
            ordered = sorted(self._allowed.items(), key=lambda item: item[1])
            self._allowed = dict(ordered[len(ordered) // 2 :])


def _key(given: Mapping[str, str]) -> str:
    """A hash of the credentials: the secrets themselves are not kept in memory."""
    text = "\n".join(f"{name}:{given.get(name, '')}" for name in CREDENTIALS)
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()
