"""A local, content-addressed blob cache with a size limit and LRU eviction.

Used twice: by the SDK's client cache (``sdk/cache.py``) and by an edge cache server
(``server/edge.py``). Files live at ``<root>/blobs/<algorithm>/<2 hex>/<rest>``, are
written to ``<root>/tmp`` first, verified against their digest, made read-only and
renamed into place, so a reader never sees a partial or unverified blob.

The file system is the truth about *what* is cached; a small SQLite index
(``<root>/index.db``, WAL, shared safely by several processes) records sizes and last
use for eviction. Index writes are batched: a pull of 20,000 files costs one
transaction, not 20,000. A disk that fills up mid-write leaves no partial file and no
index row behind, and raises ``InsufficientStorage``.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, NoReturn

from lablink.errors import CorruptBlob
from lablink.homedir import make_dirs
from lablink.store.blobs import (
    CHUNK,
    READ_ONLY,
    algorithm_of,
    check_digest,
    create_read_only,
    new_hasher,
    raise_storage_error,
    temp_name,
)
from lablink.store.rebuildable import open_rebuildable

logger = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS blobs (digest TEXT PRIMARY KEY, size INTEGER NOT NULL,
                                  used REAL NOT NULL);
CREATE INDEX IF NOT EXISTS ix_blobs_used ON blobs (used);
"""


class BlobCache:
    """Verified blobs under ``root``, kept within ``limit`` bytes by LRU eviction."""

    def __init__(self, root: str | os.PathLike[str], limit: int) -> None:
        self.root = Path(root)
        self.limit = limit
        self.tmp = self.root / "tmp"
        make_dirs(self.tmp)
        self._blobs = os.fspath(self.root / "blobs")
        self.tmp_dir = os.fspath(self.tmp)
        (self.root / "blobs").mkdir(exist_ok=True)
        self._lock = threading.RLock()
        self._pending: dict[str, int] = {}  # stored since the last flush
        # A damaged index is made anew: the files are the truth, and reindex reads them.
        self._db = open_rebuildable(
            self.root / "index.db",
            self._setup,
            timeout=30,
            check_same_thread=False,
            isolation_level=None,
        )
        if self.count() == 0:
            self.reindex()

    def _setup(self, db: sqlite3.Connection) -> None:
        """Pragmas and tables of the index ``db``; it becomes ``self._db`` first, since
        subclasses' ``_init_schema`` writes through ``self._db``."""
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(SCHEMA)
        self._db = db
        self._init_schema()

    def _init_schema(self) -> None:
        """Hook for subclasses that keep more tables in the index."""

    def close(self) -> None:
        """Write pending index rows and close the index."""
        with self._lock:
            self.flush()
            self._db.close()

    # -- reading ------------------------------------------------------------------------
    def path(self, digest: str) -> Path:
        """Where ``digest`` lives (whether or not it is cached)."""
        return Path(self.where(digest))

    def where(self, digest: str) -> str:
        """``path`` as a string: the hot paths do thousands of these per pull."""
        algorithm, hexd = check_digest(digest).split(":", 1)
        return f"{self._blobs}/{algorithm}/{hexd[:2]}/{hexd[2:]}"

    def has(self, digest: str) -> bool:
        """Whether the blob is cached."""
        return os.path.exists(self.where(digest))

    def open(self, digest: str) -> Iterator[bytes]:
        """The cached bytes in chunks (``FileNotFoundError`` if evicted meanwhile)."""
        with open(self.path(digest), "rb") as fh:
            while chunk := fh.read(CHUNK):
                yield chunk

    # -- writing ------------------------------------------------------------------------
    def put(self, digest: str, chunks: Iterable[bytes]) -> int:
        """Store bytes that must hash to ``digest``; returns the size.

        Raises:
            CorruptBlob: the bytes hash to something else (nothing is kept).
            InsufficientStorage: the disk is full (nothing is kept).
        """
        with self.incoming(digest) as blob:
            for chunk in chunks:
                blob.write(chunk)
            return blob.commit()

    def incoming(self, digest: str) -> Incoming:
        """A blob being written chunk by chunk (for callers that forward the bytes too).

        Use it as a context manager and call ``commit`` at the end: a blob left
        without a commit (an error, a cut-off stream) leaves nothing behind.
        """
        return Incoming(self, digest)

    def open_tmp(self, path: str) -> IO[bytes]:
        """A new read-only file open for writing (a seam: tests aim it at /dev/full)."""
        return create_read_only(path)

    def adopt(self, digest: str, source: Path, link: bool = True) -> int:
        """Cache a local file (a local blob store's), verified; hardlinked when possible.

        Raises:
            CorruptBlob: the file does not hash to ``digest``.
        """
        with open(source, "rb") as fh:
            h = new_hasher(algorithm_of(digest), os.fstat(fh.fileno()).st_size)
            while chunk := fh.read(CHUNK):
                h.update(chunk)
        if f"{digest.split(':', 1)[0]}:{h.hexdigest()}" != digest:
            raise CorruptBlob(f"{source} does not hash to {digest}", digest=digest)
        size = source.stat().st_size
        if self.has(digest):
            self.added(digest, size)
            return size
        tmp = temp_name(self.tmp_dir)
        try:
            try:
                if not link:
                    raise OSError(errno.EXDEV, "copy requested")
                os.link(source, tmp)
            except OSError:
                shutil.copyfile(source, tmp)
            os.chmod(tmp, READ_ONLY)  # a link shares the store's inode: read-only there too
            self.place(tmp, digest)
        except OSError as exc:
            self.raise_storage_error(exc, size)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        self.added(digest, size)
        return size

    def place(self, tmp: str, digest: str) -> None:
        """Rename a verified temporary file to where ``digest`` lives."""
        final = self.where(digest)
        try:
            os.replace(tmp, final)
        except FileNotFoundError:
            os.makedirs(os.path.dirname(final), exist_ok=True)
            os.replace(tmp, final)

    def raise_storage_error(self, exc: OSError, size: int) -> NoReturn:
        """Raise ``InsufficientStorage`` for a full disk, naming this cache; else ``exc``."""
        raise_storage_error(
            exc,
            f"the cache at {self.root} ({size} bytes into a blob)",
            "free disk space or lower the cache size (LABLINK_CACHE_SIZE / --cache-size); "
            "nothing half-written was kept",
        )

    def remove(self, digest: str) -> None:
        """Drop a blob from the cache (a corrupt copy, say)."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.where(digest))
        with self._lock:
            self._pending.pop(digest, None)
            self._db.execute("DELETE FROM blobs WHERE digest = ?", (digest,))

    # -- the index ----------------------------------------------------------------------
    def added(self, digest: str, size: int) -> None:
        """Record a blob just stored (written to the index on the next flush)."""
        with self._lock:
            self._pending[digest] = size
            if len(self._pending) >= 2000:
                self.flush()

    def flush(self) -> None:
        """Write the rows of blobs stored since the last flush (one transaction)."""
        with self._lock:
            if not self._pending:
                return
            rows, self._pending = self._pending, {}
            now = time.time()
            with self._transaction():
                self._db.executemany(
                    "INSERT INTO blobs (digest, size, used) VALUES (?, ?, ?) "
                    "ON CONFLICT (digest) DO UPDATE SET used = excluded.used",
                    [(d, s, now) for d, s in rows.items()],
                )

    def touch(self, digests: Iterable[str], now: float | None = None) -> None:
        """Mark blobs as used ``now`` (they become the last to be evicted)."""
        self.flush()
        now = time.time() if now is None else now
        with self._lock, self._transaction():
            self._db.executemany(
                "UPDATE blobs SET used = ? WHERE digest = ?", [(now, d) for d in digests]
            )

    def usage(self) -> int:
        """Bytes the index accounts for."""
        self.flush()
        with self._lock:
            return int(self._db.execute("SELECT COALESCE(SUM(size), 0) FROM blobs").fetchone()[0])

    def count(self) -> int:
        """Blobs the index accounts for."""
        self.flush()
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM blobs").fetchone()[0])

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def reindex(self) -> int:
        """Rebuild the index from the files (a lost or new index); returns blobs found."""
        rows = []
        base = self.root / "blobs"
        for algorithm in ("sha256", "blake3"):
            for path in (base / algorithm).glob("*/*"):
                st = path.stat()
                rows.append((f"{algorithm}:{path.parent.name}{path.name}", st.st_size, st.st_mtime))
        with self._lock, self._transaction():
            self._db.execute("DELETE FROM blobs")
            self._db.executemany("INSERT INTO blobs VALUES (?, ?, ?)", rows)
        return len(rows)

    def evict(self, protect: Iterable[str] = (), limit: int | None = None) -> list[str]:
        """Remove least recently used blobs until the cache fits ``limit`` (its own).

        Blobs in ``protect`` (being served or materialised now) stay.
        """
        limit = self.limit if limit is None else limit
        keep = set(protect)
        evicted: list[str] = []
        with self._lock:
            used = self.usage()
            if used <= limit:
                return evicted
            rows = self._db.execute("SELECT digest, size, used FROM blobs ORDER BY used").fetchall()
            for digest, size, last_used in rows:
                if used <= limit:
                    break
                if digest in keep:
                    continue
                self._before_evict(last_used)
                with contextlib.suppress(FileNotFoundError):
                    self.path(digest).unlink()
                evicted.append(digest)
                used -= size
            with self._transaction():
                self._db.executemany("DELETE FROM blobs WHERE digest = ?", [(d,) for d in evicted])
        if used > limit:
            logger.warning("cache %s holds %d bytes, over its limit of %d", self.root, used, limit)
        return evicted

    def _before_evict(self, last_used: float) -> None:
        """Hook: a blob last used at ``last_used`` is about to be evicted."""


class Incoming:
    """One blob being written to a cache: hashed as it is written, kept on ``commit``.

    Hashed on one thread: network chunks are small, and multi-threaded blake3 is three
    times slower than one thread on 64 KiB updates.
    """

    def __init__(self, cache: BlobCache, digest: str) -> None:
        self.cache = cache
        self.digest = digest
        self.size = 0
        self._hash = new_hasher(algorithm_of(digest))
        self._tmp = temp_name(cache.tmp_dir)
        self._out: IO[bytes] | None = None
        self._placed = False

    def __enter__(self) -> Incoming:
        try:
            self._out = self.cache.open_tmp(self._tmp)
        except OSError as exc:
            self.cache.raise_storage_error(exc, 0)
        return self

    def write(self, chunk: bytes) -> None:
        """Hash and write the next bytes.

        Raises:
            InsufficientStorage: the disk is full.
        """
        assert self._out is not None, "use Incoming as a context manager"
        self._hash.update(chunk)
        try:
            self._out.write(chunk)
        except OSError as exc:
            self.cache.raise_storage_error(exc, self.size)
        self.size += len(chunk)

    def commit(self) -> int:
        """Verify the bytes against the digest and put the blob in place; returns its size.

        Raises:
            CorruptBlob: the bytes hash to something else (nothing is kept).
            InsufficientStorage: the disk is full.
        """
        assert self._out is not None, "use Incoming as a context manager"
        try:
            self._out.close()
        except OSError as exc:
            self.cache.raise_storage_error(exc, self.size)
        got = f"{self.digest.split(':', 1)[0]}:{self._hash.hexdigest()}"
        if got != self.digest:
            raise CorruptBlob(f"bytes received for {self.digest} hash to {got}", digest=self.digest)
        try:
            self.cache.place(self._tmp, self.digest)
        except OSError as exc:
            self.cache.raise_storage_error(exc, self.size)
        self._placed = True
        self.cache.added(self.digest, self.size)
        return self.size

    def __exit__(self, *exc: object) -> None:
        if self._out is not None:
            with contextlib.suppress(OSError):
                self._out.close()
        if not self._placed:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._tmp)
