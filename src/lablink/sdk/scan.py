"""Scan a file or folder tree into a manifest, hashing only what changed since last time.

Hashing runs in a small thread pool (hashlib and blake3 release the GIL). A hash cache
(``<cache>/hashes.db``, keyed by absolute path, size, mtime and inode) lets a second
``lablink data add`` of a tree where 1% of the files changed hash only that 1%, as
git's index and DVC's state database do. A cached hash is trusted only when the
file's mtime is more than a second older than the moment it was hashed, so a write in
the same clock tick as the hash is never missed (git's "racy clean" problem); three
seconds when the mtime is a whole second (FAT keeps two-second times, other old file
systems whole seconds: a write two seconds later may keep the mtime). Each
scan of a tree forgets the cached rows below it whose file it no longer lists, so the
cache holds only files that still exist (other trees' rows stay until they are scanned).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import logging
import operator
import os
import sqlite3
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from pathlib import Path

from lablink.core.datasets.manifest import Checked, FileEntry, Manifest, path_matches
from lablink.errors import InvalidInput
from lablink.homedir import make_dirs
from lablink.store.blobs import file_digest
from lablink.store.rebuildable import open_rebuildable

logger = logging.getLogger("lablink.sdk.data")

ALGORITHM = "blake3"
WORKERS = 2
BATCH_FILES = 64  # files per task: handing each small file to a thread costs more than hashing it
BATCH_BYTES = 16 * 1024 * 1024
RACY_NS = 1_000_000_000
COARSE_RACY_NS = 3 * RACY_NS  # for an mtime of whole seconds
MAX_PULLED_BYTES = 256 * 1024 * 1024  # about a million rows: beyond, pulls record none
PRUNE_BATCH = 10_000  # rows read, and folder listings kept, at a time by forget_gone
TIDY_EVERY = 86400.0  # a full cache forgets gone files before a pull, at most this often
_Stat = tuple[int, int, int]  # size, mtime_ns, inode
_FIRST, _SECOND, _THIRD = (operator.itemgetter(i) for i in range(3))


class HashCache:
    """Digests of local files by (path, size, mtime, inode), in SQLite."""

    def __init__(self, path: Path) -> None:
        make_dirs(path.parent)
        self._db = open_rebuildable(path, _setup, timeout=30, isolation_level=None)

    @classmethod
    def usable(cls, path: Path) -> HashCache | None:
        """The hash cache at ``path``, or None (with a warning) when it cannot be opened
        (a read-only or missing folder, a lock held too long): the command goes on
        without it, hashing every file it reads."""
        try:
            return cls(path)
        except (sqlite3.OperationalError, OSError) as exc:
            logger.warning(
                "lablink: the hash cache %s cannot be used (%s); going on without it", path, exc
            )
            return None

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def under(self, root: str) -> dict[str, tuple[str, int, int, int, str, int]]:
        """Known files at or below ``root`` (not a sibling ``root``-prefixed name):
        path → (path, size, mtime_ns, inode, digest, hashed_ns), the row as stored (no
        tuples rebuilt: a re-push reads every row)."""
        rows = self._db.execute(
            "SELECT path, size, mtime_ns, ino, digest, hashed_ns FROM hashes "
            "WHERE path = ? OR (path >= ? AND path < ?)",
            _below(root),
        ).fetchall()
        return dict(zip(map(_FIRST, rows), rows, strict=True))

    def forget(self, paths: Collection[str]) -> None:
        """Drop the rows of ``paths`` (files gone since they were hashed): one statement,
        however many there are."""
        if not paths:
            return
        try:
            self._db.execute(
                "DELETE FROM hashes WHERE path IN (SELECT value FROM json_each(?))",
                (json.dumps(list(paths)),),
            )
        except sqlite3.OperationalError as error:  # an SQLite built without JSON: keep them
            logger.debug("lablink: hash cache rows not pruned: %s", error)

    def store(self, rows: list[tuple[str, _Stat, str, int]], replace_under: str = "") -> None:
        """Remember fresh hashes (one transaction); with ``replace_under``, the rows of
        files at or below that folder are dropped first."""
        if not rows:
            return
        self._db.execute("BEGIN IMMEDIATE")
        if replace_under:
            self._db.execute(
                "DELETE FROM hashes WHERE path = ? OR (path >= ? AND path < ?)",
                _below(replace_under),
            )
        self._db.executemany(
            "INSERT OR REPLACE INTO hashes VALUES (?, ?, ?, ?, ?, ?)",
            [(p, s[0], s[1], s[2], d, h) for p, s, d, h in rows],
        )
        self._db.execute("COMMIT")

    def forget_gone(self) -> int:
        """Drop the rows of files that are gone (deleted, or their folder deleted or
        moved); returns how many. A listing per folder, not a stat per file. A folder
        that cannot be read (permissions, a network mount away) keeps its rows."""
        forgotten = 0
        listed: dict[str, frozenset[str] | None] = {}
        after = ""
        while rows := self._db.execute(
            "SELECT path FROM hashes WHERE path > ? ORDER BY path LIMIT ?",
            (after, PRUNE_BATCH),
        ).fetchall():
            after = rows[-1][0]
            gone = [path for (path,) in rows if _is_gone(path, listed)]
            self.forget(gone)
            forgotten += len(gone)
            if len(listed) > PRUNE_BATCH:  # rows come in path order: old folders are done
                listed.clear()
        self._db.execute("INSERT OR REPLACE INTO meta VALUES ('tidied_at', ?)", (time.time(),))
        return forgotten

    def tidied_at(self) -> float:
        """When ``forget_gone`` last ran (0 for never)."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'tidied_at'").fetchone()
        return float(row[0]) if row else 0.0

    def count(self) -> int:
        """How many files the cache knows."""
        return int(self._db.execute("SELECT count(*) FROM hashes").fetchone()[0])

    def size(self) -> int:
        """Bytes the rows take in the database (free pages left out)."""
        pages = self._db.execute("PRAGMA page_count").fetchone()[0]
        free = self._db.execute("PRAGMA freelist_count").fetchone()[0]
        return int((pages - free) * self._db.execute("PRAGMA page_size").fetchone()[0])


def _setup(db: sqlite3.Connection) -> None:
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(
        "CREATE TABLE IF NOT EXISTS hashes (path TEXT PRIMARY KEY, size INTEGER, "
        "mtime_ns INTEGER, ino INTEGER, digest TEXT, hashed_ns INTEGER)"
    )
    db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value)")


def _is_gone(path: str, listed: dict[str, frozenset[str] | None]) -> bool:
    """Whether ``path`` is not in its folder's listing (kept in ``listed``, None for a
    folder that could not be read)."""
    folder, _, name = path.rpartition(os.sep)
    if folder not in listed:
        try:
            listed[folder] = frozenset(os.listdir(folder or os.sep))
        except (FileNotFoundError, NotADirectoryError):
            listed[folder] = frozenset()
        except OSError:
            listed[folder] = None
    names = listed[folder]
    return names is not None and name not in names


def _below(root: str) -> tuple[str, str, str]:
    """The parameters of ``path = ? OR (path >= ? AND path < ?)`` for ``root`` and every
    path below it: they sort in [root + sep, root + the character after sep), whatever
    characters the names hold (not a sibling ``root``-prefixed name). The file system's
    root, ``/``, holds every absolute path."""
    root = root.rstrip(os.sep) or root
    base = "" if root == os.sep else root
    return root, base + os.sep, base + chr(ord(os.sep) + 1)


@dataclasses.dataclass
class Links:
    """Symlinks met while listing a folder."""

    # followed links whose file lies outside the folder: (relative path, real path)
    outside: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    # with follow_symlinks=False, every link: relative path → its target, as written
    kept: dict[str, str] = dataclasses.field(default_factory=dict)


def list_files(
    root: Path, *, follow_symlinks: bool = True, links: Links | None = None
) -> list[tuple[str, str, _Stat]]:
    """(relative path, absolute path, stat) of every file under ``root`` (or ``root``).

    Symlinks to files are followed (their content is what is added; ``links.outside``
    lists those leading out of ``root``); symlinked folders are skipped with a warning.
    With ``follow_symlinks=False`` no link is followed: each one (to a file, a folder or
    nothing) goes to ``links.kept``, to be stored as a link.

    Raises:
        InvalidInput: the path does not exist, is empty, or holds a broken symlink.
    """
    links = links if links is not None else Links()
    if not root.exists():
        raise InvalidInput(f"{root} does not exist", "give a file or a folder to add")
    if root.is_file():
        st = root.stat()
        return [(root.name, str(root.resolve()), (st.st_size, st.st_mtime_ns, st.st_ino))]
    base = str(root.resolve())
    cut = len(base) + 1  # entry paths are base + "/" + relative path: slicing beats relpath
    found: list[tuple[str, str, _Stat]] = []
    stack = [base]
    while stack:
        folder = stack.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                # The common case first, with the fewest calls: a plain file (d_type
                # says so without a system call), then its one stat.
                if entry.is_file(follow_symlinks=False):
                    st = entry.stat(follow_symlinks=False)
                    path = entry.path
                    found.append((path[cut:], path, (st.st_size, st.st_mtime_ns, st.st_ino)))
                elif entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                elif entry.is_symlink():
                    _symlink(entry, base, cut, follow_symlinks, links, found)
                # else: sockets, FIFOs, devices
    if not found and not links.kept:
        raise InvalidInput(f"{root} holds no files", "a dataset version needs at least one file")
    return found


def _symlink(
    entry: os.DirEntry[str],
    base: str,
    cut: int,
    follow: bool,
    links: Links,
    found: list[tuple[str, str, _Stat]],
) -> None:
    """List a symlink met by ``list_files``: kept as a link, or followed to its file."""
    if not follow:
        links.kept[entry.path[cut:]] = os.readlink(entry.path)
        return
    try:
        st = entry.stat()
    except FileNotFoundError:
        raise InvalidInput(f"{entry.path} is a broken symlink") from None
    if entry.is_dir():
        logger.warning("lablink: skipping symlinked folder %s", entry.path)
        return
    if not entry.is_file():
        return  # a link to a socket, FIFO or device
    rel = entry.path[cut:]
    real = os.path.realpath(entry.path)
    if not real.startswith(base + os.sep):
        links.outside.append((rel, real))
    found.append((rel, entry.path, (st.st_size, st.st_mtime_ns, st.st_ino)))


def exclude_files(
    files: list[tuple[str, str, _Stat]], patterns: Sequence[str], root: Path
) -> list[tuple[str, str, _Stat]]:
    """``files`` without those matching a pattern (``Manifest.select``'s globs and folders).

    Raises:
        InvalidInput: every file is excluded.
    """
    if not patterns:
        return files
    kept = [f for f in files if not any(path_matches(f[0], p) for p in patterns)]
    if not kept:
        raise InvalidInput(f"every file of {root} is excluded", "check the --exclude patterns")
    return kept


def scan(
    root: Path,
    files: list[tuple[str, str, _Stat]],
    hashes: HashCache | None = None,
    advance: Callable[[int], None] | None = None,
    workers: int = WORKERS,
    links: Mapping[str, str] | None = None,
    listed: Collection[str] | None = None,
    checked: Checked | None = None,
) -> tuple[Manifest, dict[str, str], int]:
    """The manifest of ``files`` (from ``list_files(root)``), with their sources.

    ``links`` (relative path → target) become link entries, stored as links. The hash
    cache forgets its rows below ``root`` for files not in ``listed`` (every absolute
    path ``list_files`` found, excluded ones too; by default those of ``files``).
    ``checked`` (the latest version's manifest) vouches for the paths and digests it
    holds, which the manifest's validation then skips.

    Returns:
        The manifest, digest → absolute path of one file with that content, and how
        many files had to be hashed (the rest came from the hash cache).
    """
    known = hashes.under(str(root.resolve())) if hashes else {}
    digests: dict[str, str] = {}
    todo: list[tuple[str, _Stat]] = []
    trusted = 0
    for _rel, path, st in files:
        row = known.get(path)
        # Trusted only when size, mtime and inode are unchanged and the file was last
        # written more than RACY_NS before it was hashed (else it may have changed
        # again within the same mtime tick, after the hash was taken).
        if (
            row is not None
            and row[1] == st[0]
            and row[2] == st[1]
            and row[3] == st[2]
            and st[1] + (RACY_NS if st[1] % RACY_NS else COARSE_RACY_NS) < row[5]
        ):
            digests[path] = row[4]
            trusted += st[0]
        else:
            todo.append((path, st))
    if advance and trusted:
        advance(trusted)  # once: a progress update per file costs more than the lookup

    def hash_batch(batch: list[tuple[str, _Stat]]) -> list[tuple[str, _Stat, str, int]]:
        out = []
        for path, st in batch:
            started = time.time_ns()
            digest, size = file_digest(path, ALGORITHM)
            if size != st[0]:
                raise InvalidInput(f"{path} changed while it was being hashed", "add it again")
            out.append((path, st, digest, started))
        if advance:
            advance(sum(st[0] for _, st in batch))
        return out

    with concurrent.futures.ThreadPoolExecutor(workers, "lablink-hash") as pool:
        fresh = [row for rows in pool.map(hash_batch, _batches(todo)) for row in rows]
    for path, _st, digest, _ in fresh:
        digests[path] = digest
    if hashes:
        hashes.store(fresh)
        present = set(listed) if listed is not None else {path for _, path, _ in files}
        hashes.forget(known.keys() - present)
    # Column by column with map (C speed): these run over every file of a re-push.
    paths = list(map(_SECOND, files))
    found = list(map(digests.__getitem__, paths))
    entries = list(map(FileEntry, map(_FIRST, files), map(_FIRST, map(_THIRD, files)), found))
    entries += [FileEntry.symlink(rel, target) for rel, target in (links or {}).items()]
    sources = dict(zip(found, paths, strict=True))  # one file per content: the last listed
    return Manifest.build(ALGORITHM, entries, checked), sources, len(fresh)


class PulledFiles:
    """Records in the hash cache the files a pull places as hardlinks to verified
    blobs, with the blobs' digests, so a push of that folder hashes only what changed
    since the pull.

    The folder's rows are replaced, so pulling into one folder again and again keeps
    one row a file; once the cache's rows take ``MAX_PULLED_BYTES``, it forgets files
    that are gone (at most once every ``TIDY_EVERY``), and if still full, pulls record
    none (a push of any folder still records its hashes). Rows go in batches, so a pull of
    a million files holds a few thousand at a time. A cache that cannot be written is
    logged, never raised: the pull succeeds.
    """

    BATCH = 5000

    def __init__(self, hashes: HashCache, root: str) -> None:
        self._hashes: HashCache | None = hashes
        self._root = root
        self._rows: list[tuple[str, _Stat, str, int]] = []
        # the racy rule applies: a blob written within a second of this is not trusted
        self._now = time.time_ns()

    @classmethod
    def open(cls, hash_cache: Path, root: str) -> PulledFiles | None:
        """A recorder for a pull into ``root`` (resolved), or None when the cache is
        full or cannot be opened."""
        hashes = HashCache.usable(hash_cache)
        if hashes is None:
            return None
        try:
            full = hashes.size() > MAX_PULLED_BYTES
            if full and time.time() - hashes.tidied_at() > TIDY_EVERY:
                forgotten = hashes.forget_gone()
                logger.info("lablink: the hash cache forgot %d files that are gone", forgotten)
                full = hashes.size() > MAX_PULLED_BYTES
        except sqlite3.Error:
            full = False  # the first write will tell
        if full:
            logger.info("lablink: the hash cache is full; the pulled files are not in it")
            hashes.close()
            return None
        return cls(hashes, root)

    def add(self, path: str, entry: FileEntry, held: os.stat_result) -> None:
        """Record one placed file (its stat is its blob's)."""
        stat_key = (held.st_size, held.st_mtime_ns, held.st_ino)
        self._rows.append((path, stat_key, entry.digest, self._now))
        if len(self._rows) >= self.BATCH:
            self._write()

    def close(self) -> None:
        """Record what is left and close the cache."""
        self._write()
        if self._hashes is not None:
            self._hashes.close()
            self._hashes = None

    def _write(self) -> None:
        rows, self._rows = self._rows, []
        if self._hashes is None or not rows:
            return
        try:
            self._hashes.store(rows, self._root)
            self._root = ""  # replaced at the first batch only
        except (sqlite3.Error, OSError) as exc:
            logger.warning("lablink: the pulled files are not in the hash cache: %s", exc)
            self._hashes.close()
            self._hashes = None


def _batches(todo: list[tuple[str, _Stat]]) -> Iterator[list[tuple[str, _Stat]]]:
    """Files in groups of up to ``BATCH_FILES`` files or about ``BATCH_BYTES`` bytes."""
    batch: list[tuple[str, _Stat]] = []
    size = 0
    for item in todo:
        batch.append(item)
        size += item[1][0]
        if len(batch) >= BATCH_FILES or size >= BATCH_BYTES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch
