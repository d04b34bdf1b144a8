"""The pull-through blob cache behind an edge server: single flight per digest.

``EdgeCache.ensure(digests)`` makes blobs local: those cached are served as they are;
for the others exactly one thread asks the upstream (in packs), however many requests
want the same blob at the same moment. The others wait on that fetch's future.
``EdgeCache.stream(digests)`` does the same for a pack request, but forwards what it
fetches to that request while writing it, so a client never waits for the edge to
hold a whole large blob first. Every blob from upstream is verified as it is written
(``BlobCache.incoming``), and the cache is kept within its size limit by LRU
eviction, never evicting a blob a request is still serving (pinned).
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import json
import logging
import os
import threading
from collections.abc import Generator, Iterator, Mapping
from pathlib import Path
from typing import IO

import httpx

from lablink.core.datasets.packs import (
    PackReader,
    TruncatedPack,
    blob_header,
    coalesce,
    missing_frame,
    write_pack,
)
from lablink.errors import CorruptBlob, InsufficientStorage, LablinkError, ServiceUnavailable
from lablink.store.blobcache import BlobCache

logger = logging.getLogger(__name__)

API = "/api/v1"
WAIT_SECONDS = 600.0
ATTEMPTS = 3  # claims of a blob whose fetching request went away
_Futures = dict[str, "concurrent.futures.Future[bool]"]


class _Abandoned(Exception):
    """The request fetching a blob went away before it landed: claim it again."""


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
        )
        self._lock = threading.Lock()
        self._inflight: dict[str, concurrent.futures.Future[bool]] = {}
        self._pins: collections.Counter[str] = collections.Counter()
        self.stats = collections.Counter[str]()

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

    def ensure(self, digests: list[str]) -> set[str]:
        """Make ``digests`` local; returns those available (upstream may lack some).

        Raises:
            ServiceUnavailable: the upstream cannot be reached or broke off.
            InsufficientStorage: this cache's disk is full.
        """
        for _ in range(ATTEMPTS):
            mine, theirs = self._claim(digests)
            for _frame in self.relay(mine):
                pass
            if self._wait(theirs):
                break
        return {d for d in digests if self.cache.has(d)}

    def stream(self, digests: list[str]) -> Iterator[bytes]:
        """The pack frames of ``digests`` (no ``end`` frame), for a request to forward.

        Cached blobs are read from disk. Blobs no one is fetching yet are fetched from
        upstream and forwarded as they arrive, a MB at a time, each piece written to
        the cache before it goes out: the first client of a large blob does not wait
        for the edge to hold all of it, and a small blob that cannot be written is an
        error before any of it is sent. Blobs another request is fetching are sent
        once they land. The client verifies every blob too: a corrupt one is not
        cached here, and the client reports it and fetches it elsewhere.

        Raises:
            ServiceUnavailable, InsufficientStorage: as ``ensure``.
        """
        mine, theirs = self._claim(digests)
        relayed = self.relay(mine)
        try:
            pieces = coalesce(relayed)
            first = next(pieces, b"")  # the upstream answered (or failed) before we send
            cached = [d for d in digests if d not in mine and d not in theirs]
            yield from write_pack(self._sizes(cached), self._open, end=False)
            if first:
                yield first
            yield from pieces
        finally:
            relayed.close()
        if theirs:
            self.ensure(list(theirs))
            yield from write_pack(self._sizes(list(theirs)), self._open, end=False)

    def _claim(self, digests: list[str]) -> tuple[_Futures, _Futures]:
        """Split the digests not cached into those this caller fetches and those it awaits."""
        mine: _Futures = {}
        theirs: _Futures = {}
        with self._lock:
            for digest in dict.fromkeys(digests):
                if self.cache.has(digest):
                    self.stats["hits"] += 1
                    continue
                future = self._inflight.get(digest)
                if future is None:
                    future = self._inflight[digest] = concurrent.futures.Future()
                    mine[digest] = future
                else:
                    theirs[digest] = future
                self.stats["misses"] += 1
        return mine, theirs

    def _wait(self, futures: _Futures) -> bool:
        """Wait for other requests' fetches; False when one gave up (claim them again)."""
        done = True
        for future in futures.values():
            try:
                future.result(WAIT_SECONDS)  # re-raises the leader's error
            except _Abandoned:
                done = False
        return done

    def relay(self, futures: _Futures) -> Generator[bytes, None, None]:
        """Fetch claimed blobs from upstream in one pack; yield its frames as they land.

        Each blob is written to the cache as it streams and its future resolved once
        it is verified. A caller that stops early abandons the rest: whoever awaits
        those blobs claims them again.
        """
        if not futures:
            return
        try:
            yield from self._relay_pack(futures)
            for future in futures.values():
                if not future.done():  # neither sent nor reported missing: treat as missing
                    future.set_result(False)
        except GeneratorExit:
            for future in futures.values():
                if not future.done():
                    future.set_exception(_Abandoned())
            raise
        except BaseException as exc:
            error = _as_lablink_error(exc, self.upstream)
            for future in futures.values():
                if not future.done():
                    future.set_exception(error)
            if isinstance(exc, Exception) and error is not exc:
                raise error from exc
            raise
        finally:
            with self._lock:
                for digest in futures:
                    self._inflight.pop(digest, None)
                pins = set(self._pins)
            self.cache.flush()
            self.cache.evict(protect=pins | set(futures))

    def _relay_pack(self, futures: _Futures) -> Iterator[bytes]:
        self.stats["upstream_requests"] += 1
        body = json.dumps({"digests": list(futures)}).encode()
        headers = {"Content-Type": "application/json"}
        with self.client.stream("POST", f"{API}/data/fetch", content=body, headers=headers) as r:
            if r.status_code >= 400:
                r.read()
                raise ServiceUnavailable(f"the upstream answered HTTP {r.status_code}")
            reader = PackReader(r.iter_bytes())
            for digest, size, chunks in reader:
                future = futures.get(digest)
                if future is None or future.done():
                    continue  # not asked for: skipped by the reader
                try:
                    yield from self._relay_blob(digest, size, chunks)
                except CorruptBlob:
                    logger.warning("the upstream sent a corrupt copy of %s", digest)
                    self.stats["upstream_corrupt"] += 1
                    future.set_result(False)
                    continue
                self.stats["upstream_blobs"] += 1
                future.set_result(True)
            for digest in reader.missing:
                if digest in futures and not futures[digest].done():
                    futures[digest].set_result(False)
                    yield missing_frame(digest)

    def _relay_blob(self, digest: str, size: int, chunks: Iterator[bytes]) -> Iterator[bytes]:
        """One blob's frame, each chunk written to the cache before it goes out."""
        yield blob_header(digest, size)
        with self.cache.incoming(digest) as blob:
            for chunk in chunks:
                blob.write(chunk)
                yield chunk
            blob.commit()

    def _sizes(self, digests: list[str]) -> list[tuple[str, int]]:
        return [(d, _size(self.cache.where(d))) for d in digests]

    def _open(self, digest: str) -> IO[bytes] | None:
        try:
            return open(self.cache.where(digest), "rb")
        except FileNotFoundError:
            return None

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


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return -1


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
