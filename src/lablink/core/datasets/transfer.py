"""The data plane of the origin: which blobs are missing, packs in and out, verification.

Shared by the server routes and the SDK's embedded mode. Blob bytes never sit whole
in memory: packs are parsed and written blob by blob, chunk by chunk.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection, Iterable, Iterator
from typing import IO

from lablink.core.datasets.packs import PackReader, write_pack
from lablink.errors import InvalidInput, NotFound
from lablink.store.blobs import CHUNK, BlobStore, check_digest, new_hasher
from lablink.store.datasets_sql import DatasetSql

logger = logging.getLogger(__name__)

MAX_DIGESTS = 100_000  # per missing/fetch request: a few MB of JSON
SMALL_BLOB = 4 * 1024 * 1024


class Transfers:
    """Blob transfers for datasets over one blob store."""

    def __init__(self, blobs: BlobStore, sql: DatasetSql) -> None:
        self.blobs = blobs
        self.sql = sql
        self._writing = threading.Lock()

    def missing(self, digests: Iterable[str]) -> list[str]:
        """The digests (each once, in order) the blob store does not hold."""
        unique = list(dict.fromkeys(digests))
        present = self.blobs.existing(unique)
        return [d for d in unique if d not in present]

    def put_pack(self, chunks: Iterable[bytes]) -> list[tuple[str, int]]:
        """Store every blob of a pack, each verified against its digest.

        Blobs stored before a bad or cut-off frame are kept (they are verified), so a
        retried upload sends only the rest.

        Raises:
            InvalidInput: a malformed pack, or bytes that do not match their digest.
            TruncatedPack: the body ends before its ``end`` frame.
        """
        stored: list[tuple[str, int]] = []
        try:
            for digest, size, body in PackReader(chunks):
                # One writer at a time: small writes from several threads at once make
                # each wait for the GIL after every syscall (the "convoy effect"). A
                # small blob is read whole first, so the lock is held only to write.
                data = iter([b"".join(body)]) if size <= SMALL_BLOB else body
                with self._writing:
                    stored.append(self.blobs.put_stream(data, expected=digest))
        finally:
            self.sql.record_blobs(stored)
        return stored

    def read_pack(self, digests: list[str], hidden: Collection[str] = ()) -> Iterator[bytes]:
        """A pack of the given blobs; ones not stored (or ``hidden``: the caller may not
        read them) become ``missing`` frames."""
        for digest in digests:
            check_digest(digest)
        sizes: dict[str, int] = {}
        for digest in dict.fromkeys(digests):
            try:
                sizes[digest] = -1 if digest in hidden else self.blobs.size(digest)
            except NotFound:
                sizes[digest] = -1

        def open_blob(digest: str) -> IO[bytes] | None:
            if sizes[digest] < 0:
                return None
            try:
                return self.blobs.open(digest)
            except NotFound:
                return None

        return write_pack(((d, sizes[d]) for d in dict.fromkeys(digests)), open_blob)

    def verify_many(self, digests: Iterable[str]) -> dict[str, bool | None]:
        """``verify`` each digest: True when sound, False when quarantined, None if absent."""
        results: dict[str, bool | None] = {}
        for digest in dict.fromkeys(digests):
            try:
                results[digest] = self.verify(digest)
            except NotFound:
                results[digest] = None
        return results

    def verify(self, digest: str) -> bool:
        """Rehash a stored blob; a corrupt copy is quarantined so it can be replaced.

        Raises:
            NotFound: the blob is not stored.
        """
        algorithm = check_digest(digest).split(":", 1)[0]
        size = self.blobs.size(digest)
        h = new_hasher(algorithm, size)
        with self.blobs.open(digest) as fh:
            while chunk := fh.read(CHUNK):
                h.update(chunk)
        if f"{algorithm}:{h.hexdigest()}" == digest:
            return True
        logger.warning("blob %s is corrupt; moved to quarantine", digest)
        self.blobs.quarantine(digest)
        return False


def check_digests(digests: list[str]) -> list[str]:
    """A request's digest list: well formed and not too long."""
    if len(digests) > MAX_DIGESTS:
        raise InvalidInput(
            f"{len(digests)} digests in one request (max {MAX_DIGESTS})", "send them in batches"
        )
    for digest in digests:
        check_digest(digest)
    return digests
