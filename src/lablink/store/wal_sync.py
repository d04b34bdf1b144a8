"""Group commit for SQLite in WAL mode: one fsync makes many acknowledged commits durable.

With ``synchronous=NORMAL`` a commit is in the WAL file but maybe still only in the
operating system's cache. Waiting for an fsync of the WAL after each commit gives the
guarantee of ``synchronous=FULL``; sharing that fsync between every commit that finished
before it started keeps throughput when many clients write at once.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path


class GroupSync:
    """Makes committed WAL frames durable; concurrent committers share one fsync.

    Call :meth:`committed` right after a commit returns, then :meth:`wait` with its
    ticket before acknowledging the write. A sync covers every commit counted before
    the sync started, so no commit waits for more than two syncs.
    """

    def __init__(self, wal_path: Path, datasync: Callable[[int], None] = os.fdatasync) -> None:
        self.wal_path = wal_path
        self.syncs = 0  # WAL syncs done: fewer than commits when commits overlap
        self._datasync = datasync
        self._cond = threading.Condition()
        self._committed = 0
        self._synced = 0
        self._syncing = False
        self._wal_inode: int | None = None

    @property
    def committed_count(self) -> int:
        """Commits counted so far (synced or not)."""
        with self._cond:
            return self._committed

    def committed(self) -> int:
        """Count a finished commit; the returned ticket is what :meth:`wait` waits for."""
        with self._cond:
            self._committed += 1
            return self._committed

    def wait(self, ticket: int) -> None:
        """Return once a sync that started after commit ``ticket`` finished."""
        with self._cond:
            while self._synced < ticket:
                if self._syncing:
                    self._cond.wait()
                    continue
                self._syncing = True
                target = self._committed
                self._cond.release()
                try:
                    self._sync_wal()
                finally:
                    self._cond.acquire()
                    self._syncing = False
                    self._cond.notify_all()
                self._synced = max(self._synced, target)

    def _sync_wal(self) -> None:
        try:
            fd = os.open(self.wal_path, os.O_RDONLY)
        except FileNotFoundError:
            return  # checkpointed and removed: the database file holds (and synced) it all
        try:
            inode = os.fstat(fd).st_ino
            self._datasync(fd)  # what SQLite itself uses: data and size, not times
        finally:
            os.close(fd)
        self.syncs += 1
        if inode != self._wal_inode:
            # A new WAL file: its directory entry must be durable too, once.
            self._sync_dir()
            self._wal_inode = inode

    def _sync_dir(self) -> None:
        fd = os.open(self.wal_path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
