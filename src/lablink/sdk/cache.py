"""The client cache: verified blobs (LRU, size limit) and read-only views of versions.

Materialising a version hardlinks each file from the cache into the target folder, so
a second pull of a version costs a few syscalls per file and no extra disk. Where a
link is impossible (another file system, a file system without hardlinks) files are
copied instead. Cached blobs are read-only, and so is everything linked to them: a
write through a link would change the cache (root can still do it; every read from
an endpoint is verified, and ``lablink data pull`` re-links a version from the cache).

``lablink.dataset(ref).path`` is a *view*: ``<cache>/views/<digest>``, a hardlinked
tree built once per version and shared by every process (built under a temporary name
and renamed into place). Eviction removes least recently used blobs and, with them,
views not used since, so the limit bounds what the cache keeps alive.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import os
import shutil
import stat
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from lablink.core.datasets.manifest import FileEntry, Manifest, check_path
from lablink.errors import Conflict, InvalidInput
from lablink.store.blobcache import BlobCache
from lablink.store.blobs import READ_ONLY, raise_storage_error

# Errors that mean "hardlinks are impossible here", not "something is wrong".
_NO_LINK = {errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EACCES}
Advance = Callable[[int], None]


@dataclasses.dataclass
class Materialised:
    """What materialising a version did, file by file."""

    linked: int = 0
    copied: int = 0
    unchanged: int = 0


class ClientCache(BlobCache):
    """Blobs plus version views, under ``root`` (default ``<home>/cache``)."""

    def _init_schema(self) -> None:
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS views (digest TEXT PRIMARY KEY, used REAL NOT NULL)"
        )
        (self.root / "views").mkdir(exist_ok=True)

    def materialise(
        self,
        manifest: Manifest,
        dest: Path,
        *,
        link: bool = True,
        advance: Advance | None = None,
        on_linked: Callable[[str, FileEntry, os.stat_result], None] | None = None,
    ) -> Materialised:
        """Put every file of ``manifest`` under ``dest`` from the cache.

        Files already linked to the cache are left as they are, so an interrupted
        pull resumes where it stopped. Files in ``dest`` that the manifest does not
        list are left alone. ``on_linked(path, entry, stat)`` hears of each file that
        is a hardlink to its blob once placed: its absolute path (``dest`` resolved),
        its entry and its stat, the blob's.

        Raises:
            InvalidInput: a manifest path that would leave ``dest``, or a folder in
                ``dest`` that is a symlink out of it (nothing is written through it); a
                file where the version has a folder, or a folder where it has a file.
            Conflict: a file's size in the manifest is not its blob's.
            FileNotFoundError: a blob is not cached (fetch first).
        """
        result = Materialised()
        root = os.fspath(dest)
        make_folder(root)
        inside = os.path.realpath(root)
        made: set[str] = {root}
        for entry in manifest.files:
            check_path(entry.path)
            target = os.path.join(root, entry.path)
            parent = os.path.dirname(target)
            if parent not in made:
                check_inside(parent, inside, root)
                make_folder(parent)
                made.add(parent)
            if entry.link is None:
                source = self.where(entry.digest)
                held = _blob_stat(source, entry.path, entry.size)
            try:
                if entry.link is not None:
                    _put_link(entry.link, target, result)
                else:
                    link = self._put_file(source, target, link, result)
                    if link and on_linked is not None:  # the file is the blob's inode
                        on_linked(f"{inside}/{entry.path}", entry, held)
            except IsADirectoryError:
                raise InvalidInput(
                    f"{target} is a folder where the version has a file",
                    "pull into a new folder, or move that folder away",
                ) from None
            if advance:
                advance(entry.size)
        return result

    def _put_file(self, source: str, target: str, link: bool, result: Materialised) -> bool:
        """Link (or copy) ``source`` to ``target``; returns whether links still work."""
        if link:
            try:
                os.link(source, target)
                result.linked += 1
                return True
            except FileExistsError:
                if _same_file(source, target):
                    result.unchanged += 1
                    return True
                tmp = f"{target}.lablink-{uuid.uuid4().hex[:8]}"
                try:
                    os.link(source, tmp)
                    os.replace(tmp, target)
                    result.linked += 1
                    return True
                except OSError as exc:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(tmp)
                    if exc.errno not in _NO_LINK:
                        raise
            except OSError as exc:
                if exc.errno not in _NO_LINK:
                    raise
        tmp = f"{target}.lablink-{uuid.uuid4().hex[:8]}"
        try:
            shutil.copyfile(source, tmp)
            os.chmod(tmp, READ_ONLY)
            os.replace(tmp, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        result.copied += 1
        return False

    # -- views --------------------------------------------------------------------------
    def view_path(self, digest: str) -> Path:
        """Where the view of the version with manifest ``digest`` lives."""
        return self.root / "views" / digest.replace(":", "-")

    def view(self, digest: str, manifest: Manifest) -> Path:
        """A read-only tree of the version (every blob must be cached), built once."""
        final = self.view_path(digest)
        if not final.is_dir():
            tmp = final.with_name(f"{final.name}.tmp-{uuid.uuid4().hex[:8]}")
            self.materialise(manifest, tmp)
            _set_tree_writable(tmp, False)
            try:
                os.rename(tmp, final)
            except OSError:  # another process built it first: use theirs
                _remove_tree(tmp)
        self.touch_view(digest, manifest)
        return final

    def touch_view(self, digest: str, manifest: Manifest) -> None:
        """Mark a view and its blobs as used now."""
        now = time.time()  # the same instant for the view and its blobs: see _before_evict
        self.touch(manifest.blobs(), now)
        with self._lock:
            self._db.execute(
                "INSERT INTO views (digest, used) VALUES (?, ?) "
                "ON CONFLICT (digest) DO UPDATE SET used = excluded.used",
                (digest, now),
            )

    def _before_evict(self, last_used: float) -> None:
        # A view touches its blobs whenever it is used, so any view holding the blob
        # about to go was last used no later than it: remove those views first.
        rows = self._db.execute("SELECT digest FROM views WHERE used <= ?", (last_used,))
        for (digest,) in rows.fetchall():
            _remove_tree(self.view_path(digest))
            self._db.execute("DELETE FROM views WHERE digest = ?", (digest,))


def make_folder(path: str | os.PathLike[str]) -> None:
    """Create a folder (and its parents) a version is materialised into.

    Raises:
        InvalidInput: a file is in the way, or the folder cannot be created.
    """
    try:
        os.makedirs(path, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise InvalidInput(
            f"{os.fspath(path)} is a file (or lies under one); versions are pulled into folders",
            "give --to a new or existing folder, or move the file away",
        ) from None
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise InvalidInput(
                f"cannot create the folder {os.fspath(path)}: {exc.strerror or exc}",
                "give --to a folder you can write to",
            ) from None
        raise_storage_error(
            exc, f"the disk of {os.fspath(path)}", "free disk space, then pull again"
        )


def _put_link(link: str, target: str, result: Materialised) -> None:
    """Make ``target`` a symlink to ``link`` (a version's file stored as a link)."""
    with contextlib.suppress(OSError):
        if os.readlink(target) == link:
            result.unchanged += 1
            return
    if os.path.isdir(target) and not os.path.islink(target):
        raise IsADirectoryError(target)
    tmp = f"{target}.lablink-{uuid.uuid4().hex[:8]}"
    os.symlink(link, tmp)
    try:
        os.replace(tmp, target)  # replaces a file or a link, never writes through one
    except OSError:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    result.linked += 1


def check_inside(folder: str, inside: str, root: str) -> None:
    """Refuse a folder that resolves outside ``inside`` (the real path of ``root``).

    A symlinked folder in the target (``sub -> /elsewhere``) would make a pull write
    files where the user never asked: a link to a file is replaced instead, since
    ``os.replace`` swaps the link itself, never what it points to.
    """
    real = os.path.realpath(folder)
    if real != inside and not real.startswith(inside + os.sep):
        link = _first_link(folder, root)
        raise InvalidInput(
            f"{link} is a symlink to {os.path.realpath(link)}, outside {root}; a pull "
            "never writes through a link out of its target folder",
            "remove the link, or pull into another folder",
        )


def _first_link(folder: str, root: str) -> str:
    """The first component of ``folder`` below ``root`` that is a symlink."""
    path = root
    for part in os.path.relpath(folder, root).split(os.sep):
        path = os.path.join(path, part)
        if os.path.islink(path):
            return path
    return folder


def _blob_stat(source: str, path: str, size: int) -> os.stat_result:
    """The stat of the blob for ``path``, refused when it is not the size the manifest
    lists.

    The blob matches its digest, so the manifest is what is wrong (a server that did
    not check sizes at commit accepted it): placing the file would write other bytes
    than ``data show`` promised, silently.
    """
    held = os.stat(source)
    if held.st_size != size:
        raise Conflict(
            f"{path}: the version lists {size} bytes, but its blob holds {held.st_size} bytes",
            "the version's manifest is wrong; add the folder again to make a correct version",
        )
    return held


def _same_file(a: str, b: str) -> bool:
    try:
        sa, sb = os.stat(a), os.lstat(b)
    except FileNotFoundError:
        return False
    return (sa.st_ino, sa.st_dev) == (sb.st_ino, sb.st_dev)


def _set_tree_writable(root: Path, writable: bool) -> None:
    """Folders of a view are read-only too, so nothing can be added or renamed in it."""
    mode = stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH
    if not writable:
        mode &= ~stat.S_IWUSR
    folders = [Path(d) for d, _, _ in os.walk(root)]
    for folder in reversed(folders) if not writable else folders:
        os.chmod(folder, mode)


def _remove_tree(root: Path) -> None:
    if root.exists():
        _set_tree_writable(root, True)
        shutil.rmtree(root, ignore_errors=True)
