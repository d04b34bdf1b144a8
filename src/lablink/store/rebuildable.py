"""SQLite files that only cache what can be made again: a damaged one is replaced.

The hash cache (``sdk/scan.py``) and a blob cache's index (``store/blobcache.py``)
speed a command up and hold nothing that cannot be recomputed. A file that is not a
database (a crash mid-write on a file system that tears pages, something written over
it) must not stop the command: it is moved aside as ``<name>.corrupt``, with a
warning, and a new one is made. A busy or unreadable file (locked, no permission, a
folder) is no damage and raises as before.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


def open_rebuildable(
    path: Path, setup: Callable[[sqlite3.Connection], None], **connect: Any
) -> sqlite3.Connection:
    """A connection to the cache database at ``path``, set up by ``setup`` (pragmas,
    tables); a damaged file is moved aside and made anew.

    Raises:
        sqlite3.OperationalError: the file is busy or cannot be opened.
        sqlite3.DatabaseError: a new file is damaged too.
    """
    for fresh in (False, True):
        db: sqlite3.Connection = sqlite3.connect(path, **connect)
        try:
            setup(db)
            return db
        except sqlite3.DatabaseError as exc:
            db.close()
            if isinstance(exc, sqlite3.OperationalError) or fresh:
                raise
            logger.warning(
                "lablink: %s is damaged (%s); it is kept as %s.corrupt and a new one is made",
                path,
                exc,
                path.name,
            )
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.replace(f"{path}{suffix}", f"{path}.corrupt{suffix}")
    raise AssertionError("unreachable")  # the second pass returns or raises
