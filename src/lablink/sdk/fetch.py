"""Fetch blobs into the client cache from the nearest endpoint, failing over silently.

Blobs are asked for in packs (``POST /api/v1/data/fetch``): small files grouped to a
few MB, a large file alone, several packs in flight at once. Each blob is verified
against its digest as it is written (``BlobCache.put``). When an endpoint fails in
the middle of a pack, the blobs that already arrived are kept and the rest is asked
of the next endpoint. A corrupt blob is reported to the endpoint that sent it (which
rehashes and quarantines its copy: an edge cache then refetches it from upstream) and
fetched again elsewhere; the report lists it. An edge whose upstream sent it a corrupt
copy says so (a ``corrupt`` frame, already reported upstream); when no endpoint has a
good copy the fetch fails with ``CorruptBlob``, which says a push heals it.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING

from lablink.core.datasets.packs import TruncatedPack
from lablink.errors import CorruptBlob, InsufficientStorage, ServiceUnavailable
from lablink.store.blobcache import BlobCache

# httpx loads with the first fetch: `lablink data add` on the embedded store never needs it.
if TYPE_CHECKING:
    import httpx

    from lablink.core.datasets.pack_fetch import PackResult
    from lablink.sdk.endpoints import Endpoints

logger = logging.getLogger("lablink.sdk.data")

PACK_BYTES = 4 * 1024 * 1024  # small enough to gather in memory on the server
PACK_FILES = 2000
WORKERS = 2  # parallel packs: overlap the network and the disk without a GIL convoy
ROUNDS = 2  # passes over the endpoints: an edge that quarantined a copy refetches it


@dataclasses.dataclass
class FetchReport:
    """What a fetch did: blobs and bytes received, failovers, corrupt copies seen."""

    blobs: int = 0
    bytes: int = 0
    failovers: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    corrupt: list[tuple[str, str]] = dataclasses.field(default_factory=list)  # (url, digest)
    healed: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    _lock: threading.Lock = dataclasses.field(default_factory=threading.Lock, repr=False)

    def add(self, size: int) -> None:
        """Count one blob received."""
        with self._lock:
            self.blobs += 1
            self.bytes += size

    def merge(self, other: FetchReport) -> FetchReport:
        """Add another report's counts and events to this one; returns self."""
        with self._lock:
            self.blobs += other.blobs
            self.bytes += other.bytes
            self.failovers += other.failovers
            self.corrupt += other.corrupt
            self.healed += other.healed
        return self


def plan(items: Mapping[str, int]) -> list[list[str]]:
    """Digests grouped into packs: big blobs alone, small ones to ~4 MB or 2000 files."""
    packs: list[list[str]] = []
    current: list[str] = []
    current_bytes = 0
    for digest, size in items.items():
        if size >= PACK_BYTES:
            packs.append([digest])
            continue
        if current and (current_bytes + size > PACK_BYTES or len(current) >= PACK_FILES):
            packs.append(current)
            current, current_bytes = [], 0
        current.append(digest)
        current_bytes += size
    if current:
        packs.append(current)
    return packs


def fetch_blobs(
    endpoints: Endpoints,
    cache: BlobCache,
    items: Mapping[str, int],
    advance: Callable[[int], None] | None = None,
    workers: int = WORKERS,
) -> FetchReport:
    """Bring every blob of ``items`` (digest → size) into ``cache``.

    Raises:
        CorruptBlob: some blobs are corrupt wherever they are stored (the corrupt copies
            were reported and quarantined: a push of the version heals them).
        ServiceUnavailable: no endpoint could deliver some blobs (the others are kept).
        InsufficientStorage: the cache's disk is full.
    """
    report = FetchReport()
    todo = {d: s for d, s in items.items() if not cache.has(d)}
    if not todo:
        return report
    with concurrent.futures.ThreadPoolExecutor(workers, "lablink-fetch") as pool:
        futures = [
            pool.submit(_fetch_pack, endpoints, cache, pack, report, advance) for pack in plan(todo)
        ]
        try:
            for future in concurrent.futures.as_completed(futures):
                future.result()
        except BaseException:
            for future in futures:
                future.cancel()
            raise
        finally:
            cache.flush()
    return report


def _fetch_pack(
    endpoints: Endpoints,
    cache: BlobCache,
    digests: list[str],
    report: FetchReport,
    advance: Callable[[int], None] | None,
) -> None:
    import httpx

    from lablink.core.datasets.pack_fetch import PackResult

    remaining = list(digests)
    reasons: list[str] = []
    seen_corrupt: dict[str, str] = {}  # digest → the endpoint that found it corrupt
    for _ in range(ROUNDS):
        for url in endpoints.ordered():
            result = PackResult()
            try:
                _receive(endpoints.client(url), remaining, cache, report, advance, result)
            except InsufficientStorage:
                raise
            except (httpx.HTTPError, TruncatedPack, ServiceUnavailable, OSError) as exc:
                reason = f"{type(exc).__name__}: {exc}"
                reasons.append(f"{url}: {reason}")
                report.failovers.append((url, reason))
                endpoints.failed(url, reason)
            for digest in result.corrupt:
                _report_corrupt(endpoints, url, digest, report)
            seen_corrupt.update(dict.fromkeys([*result.corrupt, *result.upstream_corrupt], url))
            # What arrived is known; only the rest is looked for on disk (another
            # process may have cached it meanwhile).
            received = set(result.received)
            remaining = [d for d in remaining if d not in received and not cache.has(d)]
            if not remaining:
                return
    bad = [d for d in remaining if d in seen_corrupt]
    if bad:
        where = sorted({seen_corrupt[d] for d in bad})
        raise CorruptBlob(
            f"{len(bad)} blobs are corrupt where they are stored (found by "
            f"{', '.join(where)}); the corrupt copies were reported and quarantined",
            "push the version again (lablink data add of the same folder) to upload good "
            "copies, then pull again",
            corrupt=bad[:20],
        )
    raise ServiceUnavailable(
        f"{len(remaining)} blobs could not be fetched from any data endpoint",
        "check LABLINK_DATA_ENDPOINTS / LABLINK_SERVER; "
        + ("; ".join(reasons[-3:]) if reasons else "no endpoint holds them"),
        missing=remaining[:20],
    )


def _receive(
    client: httpx.Client,
    digests: list[str],
    cache: BlobCache,
    report: FetchReport,
    advance: Callable[[int], None] | None,
    result: PackResult,
) -> None:
    """Stream one pack into the cache, counting each blob in ``report`` as it lands."""
    from lablink.core.datasets.pack_fetch import fetch_pack

    meter = _Meter(advance)

    def landed(digest: str, size: int, stored: bool) -> None:
        if stored:
            report.add(size)

    fetch_pack(client, digests, cache, result, landed, meter.count)
    meter.flush()


class _Meter:
    """Reports bytes to a progress callback every few MB, not on every chunk."""

    STEP = 4 * 1024 * 1024

    def __init__(self, advance: Callable[[int], None] | None) -> None:
        self.advance = advance
        self.pending = 0

    def count(self, chunks: Iterator[bytes]) -> Iterator[bytes]:
        for chunk in chunks:
            self.pending += len(chunk)
            if self.pending >= self.STEP:
                self.flush()
            yield chunk

    def flush(self) -> None:
        if self.advance and self.pending:
            self.advance(self.pending)
        self.pending = 0


def _report_corrupt(endpoints: Endpoints, url: str, digest: str, report: FetchReport) -> None:
    """Tell the endpoint its copy is corrupt; it rehashes and quarantines it."""
    import httpx

    from lablink.core.datasets.pack_fetch import API

    logger.warning("lablink: %s sent a corrupt copy of %s; fetching it elsewhere", url, digest)
    report.corrupt.append((url, digest))
    try:
        answer = endpoints.client(url).post(f"{API}/data/verify", json={"digest": digest})
        if answer.status_code == 200 and answer.json().get("ok") is False:
            report.healed.append((url, digest))
    except (httpx.HTTPError, ValueError) as exc:
        logger.debug("could not report corrupt %s to %s: %s", digest, url, exc)
