"""The pull-through blob cache behind an edge server: single flight per digest.

``EdgeCache.ensure(digests)`` makes blobs local: those cached are served as they are;
for the others exactly one thread asks the upstream (in packs), however many requests
want the same blob at the same moment. The others wait on that fetch's future. Every
blob from upstream is verified as it is written (``BlobCache.put``), and the cache is
kept within its size limit by LRU eviction, never evicting a blob a request is still
serving (pinned).

A blob the upstream sends corrupt is not kept: the edge reports it to the upstream
(``POST /api/v1/data/verify``), which rehashes and quarantines its copy so the next
push uploads a good one, and remembers it (``corrupt_upstream``) so clients are told
"corrupt", not "missing", until a good copy arrives.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import logging
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path

import httpx

from lablink.core.datasets.pack_fetch import API, PackResult, fetch_pack
from lablink.core.datasets.packs import TruncatedPack
from lablink.errors import CorruptBlob, InsufficientStorage, LablinkError, ServiceUnavailable
from lablink.server.edge_access import no_cookies
from lablink.store.blobcache import BlobCache

logger = logging.getLogger(__name__)

WAIT_SECONDS = 600.0
MAX_REMEMBERED = 10_000  # digests remembered as corrupt upstream (oldest forgotten first)


class EdgeCache:
    """Blobs of one upstream server, cached under ``root`` within ``limit`` bytes."""

    def __init__(
        self,
        root: Path,
        limit: int,
        upstream: str,
        headers: Mapping[bytes, bytes] | None = None,
        timeout: httpx.Timeout | None = None,
    ) -> None:
        self.upstream = upstream.rstrip("/")
        self.cache = BlobCache(root, limit)
        self.client = httpx.Client(
            base_url=self.upstream,
            headers=dict(headers or {}),
            timeout=timeout or httpx.Timeout(300.0, connect=5.0),
            # fetches run with callers' credentials: no cookie may outlive its request
            cookies=no_cookies(),
        )
        self._lock = threading.Lock()
        self._inflight: dict[str, concurrent.futures.Future[bool]] = {}
        self._pins: collections.Counter[str] = collections.Counter()
        self.stats = collections.Counter[str]()
        # digests whose upstream copy was corrupt when last fetched; insertion ordered
        self.corrupt_upstream: dict[str, None] = {}

    def close(self) -> None:
        """Close the upstream connections and the cache index."""
        self.client.close()
        self.cache.close()

    @contextlib.contextmanager
    def pinned(self, digests: list[str]) -> Iterator[None]:
        """Keep ``digests`` from eviction while a request serves them."""
        with self._lock:
            self._pins.update(digests)
        try:
            yield
        finally:
            with self._lock:
                self._pins.subtract(digests)
                for d in digests:
                    if self._pins[d] <= 0:
                        del self._pins[d]

    def ensure(self, digests: list[str], headers: Mapping[str, str] | None = None) -> set[str]:
        """Make ``digests`` local; returns those available (upstream may lack some).

        ``headers`` (the caller's credentials) go with the upstream requests this call
        makes; the caller was allowed to read ``digests`` before (``edge_access.py``).

        Raises:
            ServiceUnavailable: the upstream cannot be reached or broke off.
            InsufficientStorage: this cache's disk is full.
        """
        mine: dict[str, concurrent.futures.Future[bool]] = {}
        theirs: list[concurrent.futures.Future[bool]] = []
        with self._lock:
            for digest in dict.fromkeys(digests):
                if self.cache.has(digest):
                    self.stats["hits"] += 1
                    continue
                future = self._inflight.get(digest)
                if future is None:
                    future = concurrent.futures.Future()
                    self._inflight[digest] = future
                    mine[digest] = future
                else:
                    theirs.append(future)
                self.stats["misses"] += 1
        if mine:
            self._fetch(mine, headers or {})
        for future in [*mine.values(), *theirs]:
            try:
                future.result(WAIT_SECONDS)  # re-raises the leader's error
            except TimeoutError:
                raise ServiceUnavailable(
                    f"the upstream {self.upstream} took over {WAIT_SECONDS:.0f} s to send a blob",
                    "try again, or read from another endpoint",
                ) from None
        return {d for d in digests if self.cache.has(d)}

    def _fetch(
        self, futures: dict[str, concurrent.futures.Future[bool]], headers: Mapping[str, str]
    ) -> None:
        """Fetch blobs from upstream in packs; resolve each blob's future as it lands."""
        try:
            self._fetch_pack(list(futures), futures, headers)
            for future in futures.values():
                if not future.done():  # neither sent nor reported missing: treat as missing
                    future.set_result(False)
        except BaseException as exc:
            error = _as_lablink_error(exc, self.upstream)
            for future in futures.values():
                if not future.done():
                    future.set_exception(error)
            if not isinstance(exc, Exception):
                raise
        finally:
            with self._lock:
                for digest in futures:
                    self._inflight.pop(digest, None)
                pins = set(self._pins)
            self.cache.flush()
            self.cache.evict(protect=pins | set(futures))

    def _fetch_pack(
        self,
        digests: list[str],
        futures: dict[str, concurrent.futures.Future[bool]],
        headers: Mapping[str, str],
    ) -> None:
        with self._lock:  # request threads count at the same time
            self.stats["upstream_requests"] += 1

        def landed(digest: str, size: int, stored: bool) -> None:
            if stored:
                with self._lock:
                    self.stats["upstream_blobs"] += 1
                self._remember(digest, corrupt=False)
            else:
                logger.warning("the upstream sent a corrupt copy of %s", digest)
                with self._lock:
                    self.stats["upstream_corrupt"] += 1
            futures[digest].set_result(stored)

        result = PackResult()
        fetch_pack(self.client, digests, self.cache, result, landed, headers=headers)
        for digest in [*result.missing, *result.upstream_corrupt]:
            if not futures[digest].done():
                futures[digest].set_result(False)
        corrupt = [*result.corrupt, *result.upstream_corrupt]  # a chained edge's upstream
        for digest in corrupt:
            self._remember(digest, corrupt=True)
        if corrupt:
            self._report(corrupt, headers)

    def _remember(self, digest: str, *, corrupt: bool) -> None:
        with self._lock:
            self.corrupt_upstream.pop(digest, None)
            if corrupt:
                self.corrupt_upstream[digest] = None
                if len(self.corrupt_upstream) > MAX_REMEMBERED:
                    del self.corrupt_upstream[next(iter(self.corrupt_upstream))]

    def is_corrupt_upstream(self, digest: str) -> bool:
        """Whether the upstream's copy of ``digest`` was corrupt when last fetched."""
        with self._lock:
            return digest in self.corrupt_upstream

    def _report(self, digests: list[str], headers: Mapping[str, str]) -> None:
        """Tell the upstream its copies are corrupt: it rehashes and quarantines them.

        Best effort: a failed report is logged; the next fetch finds and reports it again.
        """
        try:
            answer = self.client.post(
                f"{API}/data/verify", json={"digests": digests}, headers=dict(headers)
            )
        except httpx.HTTPError as exc:
            logger.warning("could not report corrupt blobs to %s: %s", self.upstream, exc)
            return
        if answer.status_code != 200:
            logger.warning(
                "the upstream %s answered HTTP %d to a corruption report",
                self.upstream,
                answer.status_code,
            )
            return
        with self._lock:
            self.stats["reported_corrupt"] += len(digests)
        quarantined = answer.json().get("corrupt", [])
        logger.warning(
            "reported %d corrupt blobs to %s; it quarantined %d",
            len(digests),
            self.upstream,
            len(quarantined),
        )

    def verify(self, digest: str) -> bool | None:
        """Rehash a cached copy; drop it when corrupt. None when it is not cached."""
        if not self.cache.has(digest):
            return None
        try:
            for _ in _verified(self.cache, digest):
                pass
        except CorruptBlob:
            logger.warning("cached copy of %s is corrupt; dropped, refetched on demand", digest)
            self.cache.remove(digest)
            self.stats["corrupt"] += 1
            return False
        return True


def _verified(cache: BlobCache, digest: str) -> Iterator[bytes]:
    from lablink.store.blobs import algorithm_of, new_hasher

    h = new_hasher(algorithm_of(digest))
    for chunk in cache.open(digest):
        h.update(chunk)
        yield chunk
    if f"{algorithm_of(digest)}:{h.hexdigest()}" != digest:
        raise CorruptBlob(f"the cached copy of {digest} is corrupt")


def _as_lablink_error(exc: BaseException, upstream: str) -> LablinkError:
    if isinstance(exc, LablinkError):
        return exc
    if isinstance(exc, httpx.HTTPError | TruncatedPack):
        return ServiceUnavailable(
            f"the upstream {upstream} failed: {type(exc).__name__}: {exc}",
            "try another data endpoint",
        )
    if isinstance(exc, OSError):
        return InsufficientStorage(f"the edge cache cannot write: {exc}")
    return ServiceUnavailable(f"the edge cache failed: {exc!r}")
