"""Content-addressed blobs over fsspec: a local folder by default, any fsspec URL else.

A blob's id is ``<algorithm>:<hex>``: ``sha256:`` for artifacts and diffs (what the
tracking core has always written), ``blake3:`` for dataset files and manifests
(blake3 hashes 3-5x faster than sha256 on one core; ``benchmarks/data.py`` measures
both). A blob lives at ``<root>/<algorithm>/<2 hex>/<rest>``. Equal bytes are stored
once. Writes go to a temporary name and are renamed into place, so a reader never
sees half a blob. On a local folder, blobs are made read-only: caches hardlink them,
and a write through a link must not change what the store holds.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import itertools
import operator
import os
import re
import stat
import uuid
from collections.abc import Collection, Iterable, Iterator
from pathlib import Path
from typing import IO, Any, NoReturn, Protocol

from lablink.errors import InsufficientStorage, InvalidInput, NotFound
from lablink.homedir import make_dirs

CHUNK = 1024 * 1024
ALGORITHMS = ("sha256", "blake3")
_DIGEST = re.compile(r"(sha256|blake3):[0-9a-f]{64}")
_DIGEST_LINES = re.compile(f"(?:{_DIGEST.pattern}\n)*{_DIGEST.pattern}")  # one per line
_FOLDER_OF = operator.itemgetter(slice(None, -62))  # "blake3:ab" of "blake3:ab<62 hex>"
READ_ONLY = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH
LIST_THRESHOLD = 2000  # digests above which ``existing`` lists folders instead of stat-ing
# Listing a folder costs about 0.5 us a name, a stat about 2 us a digest: listing pays
# while the folders hold at most this many names per digest asked about.
NAMES_PER_LOOKUP = 4


class Hasher(Protocol):
    """What hashlib.sha256 and blake3.blake3 objects have in common."""

    def update(self, data: bytes, /) -> Any: ...

    def hexdigest(self) -> str: ...


def temp_name(folder: str) -> str:
    """A fresh name in ``folder`` for a file being written (unique across processes).

    A random prefix per process and a counter, so naming a file costs no ``getrandom``
    system call (uuid4 per blob did, 20,000 times per pull).
    """
    return f"{folder}/{_names.prefix}-{next(_names.counter)}"


class _Names:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.prefix = uuid.uuid4().hex[:16]
        self.counter = itertools.count()


_names = _Names()
os.register_at_fork(after_in_child=_names.reset)  # a forked child must not reuse names


def create_read_only(path: str) -> IO[bytes]:
    """A new file open for writing, read-only once closed (no ``chmod`` later).

    Unbuffered: blobs are written in large chunks, and a buffered file would also cost
    an ``isatty`` and an ``lseek`` call per file.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, READ_ONLY)
    return os.fdopen(fd, "wb", buffering=0)


def raise_storage_error(exc: OSError, where: str, hint: str) -> NoReturn:
    """Raise ``InsufficientStorage`` for a full disk or quota, else ``exc`` itself."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        raise InsufficientStorage(f"{where} is out of disk space", hint) from exc
    raise exc


def check_digest(digest: str) -> str:
    """Return ``digest`` if it is a well-formed blob id, else raise InvalidInput."""
    if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
        raise InvalidInput(
            f"{digest!r} is not a blob id", "blob ids look like sha256:<64 hex> or blake3:<64 hex>"
        )
    return digest


def check_digests(digests: list[str]) -> None:
    """``check_digest`` of each of ``digests``, matched as one text (C speed).

    Raises:
        InvalidInput: naming the first that is not a blob id.
    """
    try:
        ok = not digests or _DIGEST_LINES.fullmatch("\n".join(digests)) is not None
    except TypeError:
        ok = False  # one is not text
    if not ok:
        for digest in digests:
            check_digest(digest)


def algorithm_of(digest: str) -> str:
    """``sha256`` or ``blake3``, from a well-formed blob id."""
    return check_digest(digest).split(":", 1)[0]


def new_hasher(algorithm: str, size_hint: int = 0) -> Hasher:
    """A fresh hash object.

    With a ``size_hint`` of 8 MB or more blake3 uses several threads: worth it only
    when fed 1 MB pieces (``file_digest``); on 64 KiB network chunks it is slower.
    """
    if algorithm == "sha256":
        return hashlib.sha256()
    if algorithm == "blake3":
        import blake3

        threads = blake3.blake3.AUTO if size_hint >= 8 * CHUNK else 1
        return blake3.blake3(max_threads=threads)
    raise InvalidInput(f"unknown hash algorithm {algorithm!r}", "use sha256 or blake3")


def file_digest(path: str | os.PathLike[str], algorithm: str = "sha256") -> tuple[str, int]:
    """Digest and size of a file, read in chunks."""
    size_hint = os.path.getsize(path)
    h = new_hasher(algorithm, size_hint)
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
            size += len(chunk)
    return f"{algorithm}:{h.hexdigest()}", size


def bytes_digest(data: bytes, algorithm: str = "sha256") -> str:
    """Digest of bytes in memory."""
    h = new_hasher(algorithm, len(data))
    h.update(data)
    return f"{algorithm}:{h.hexdigest()}"


class BlobStore:
    """Content-addressed storage under one fsspec root."""

    def __init__(self, root: str) -> None:
        if root.startswith("/") and "://" not in root:
            # A plain absolute path (the default under LABLINK_HOME): fsspec's local
            # filesystem would only strip trailing slashes, so it loads when first used
            # and a command that never touches a blob does not pay for importing it.
            self.root = root.rstrip("/") or "/"
            self.is_local = True
        else:
            import fsspec  # here, not at the top: clients import this module and never need it

            self.fs, self.root = fsspec.core.url_to_fs(root)
            protocol = self.fs.protocol
            self.is_local = "file" in (protocol if isinstance(protocol, tuple) else (protocol,))
        if self.is_local:
            make_dirs(self.root)  # a new .lablink/ home gets its .gitignore
        else:
            self.fs.makedirs(self.root, exist_ok=True)
        self._dirs: set[str] = set()

    @functools.cached_property
    def fs(self) -> Any:
        """The fsspec filesystem of the root (the local one for a plain path)."""
        from fsspec.implementations.local import LocalFileSystem

        return LocalFileSystem()

    def path(self, digest: str) -> str:
        """Where ``digest`` lives under the root."""
        algorithm, hexd = check_digest(digest).split(":", 1)
        return f"{self.root}/{algorithm}/{hexd[:2]}/{hexd[2:]}"

    def exists(self, digest: str) -> bool:
        """Whether the blob is stored."""
        if self.is_local:
            return os.path.exists(self.path(digest))
        return bool(self.fs.exists(self.path(digest)))

    def existing(self, digests: Iterable[str], *, checked: bool = False) -> set[str]:
        """Which of ``digests`` are stored (``checked``: they are known to be blob ids,
        taken from a manifest that was checked, so they are not matched again).

        On a local folder with many digests, each ``<algorithm>/<2 hex>`` folder is
        listed once instead of one ``stat`` per digest: 20,000 digests cost 256
        listings, an order of magnitude faster. In a store much larger than what is
        asked, listing it all would cost more: then each digest is looked up.
        """
        wanted = list(digests)
        if not self.is_local or len(wanted) < LIST_THRESHOLD:
            return {d for d in wanted if self.exists(check_digest(d))}
        if not checked:
            check_digests(wanted)
        # "blake3:ab" → the folder holding the blobs whose ids start so
        folders = {f: f"{self.root}/{f.replace(':', '/')}" for f in set(map(_FOLDER_OF, wanted))}
        if self._outsized(list(folders.values()), len(wanted)):
            return {d for d in wanted if os.path.exists(self.path(d))}
        # Set operations at C speed: every name in the folders wanted, as a digest
        # ("blake3:ab" + the file name), then those of them that are wanted.
        present: set[str] = set()
        for folder, where in folders.items():
            try:
                names = os.listdir(where)
            except FileNotFoundError:
                continue
            present.update(map(folder.__add__, names))
        return present.intersection(wanted)

    def sizes(self, digests: Iterable[str]) -> dict[str, int]:
        """The size in bytes of each of ``digests`` that is stored; the others are left out.

        On a local folder with many digests, each ``<algorithm>/<2 hex>`` folder is
        scanned once and only its entries that are wanted are stat-ed (``existing``
        does the same without the sizes, and looks each digest up in a store much
        larger than what is asked); elsewhere each folder is listed with details.
        """
        wanted = list(dict.fromkeys(check_digest(d) for d in digests))
        folders: dict[str, dict[str, str]] = {}
        if len(wanted) >= LIST_THRESHOLD:
            for digest in wanted:
                algorithm, hexd = digest.split(":", 1)
                folders.setdefault(f"{self.root}/{algorithm}/{hexd[:2]}", {})[hexd[2:]] = digest
        if not folders or (self.is_local and self._outsized(folders, len(wanted))):
            found: dict[str, int] = {}
            for digest in wanted:
                with contextlib.suppress(NotFound):
                    found[digest] = self.size(digest)
            return found
        return {
            digest: size
            for folder, items in folders.items()
            for digest, size in self._folder_sizes(folder, items)
        }

    def _outsized(self, folders: Collection[str], wanted: int) -> bool:
        """Whether the local ``folders`` (paths of blob folders) hold over
        ``NAMES_PER_LOOKUP`` names per digest of the ``wanted`` ones, estimated from one
        of them (blobs spread evenly over the folders): then a stat per digest costs
        less than listing them."""
        try:
            names = len(os.listdir(next(iter(folders))))
        except FileNotFoundError:
            return False
        return names * len(folders) > NAMES_PER_LOOKUP * wanted

    def _folder_sizes(self, folder: str, items: dict[str, str]) -> Iterator[tuple[str, int]]:
        """(digest, size) of the blobs of ``items`` (file name → digest) in ``folder``."""
        if self.is_local:
            try:
                with os.scandir(folder) as entries:
                    for entry in entries:
                        if entry.name in items:
                            yield items[entry.name], entry.stat().st_size
            except FileNotFoundError:
                return
            return
        try:
            listing = self.fs.ls(folder, detail=True)
        except FileNotFoundError:
            return
        for info in listing:
            name = str(info["name"]).rsplit("/", 1)[-1]
            if name in items:
                yield items[name], int(info["size"])

    def size(self, digest: str) -> int:
        """The blob's size in bytes. Raises NotFound."""
        try:
            if self.is_local:
                return os.stat(self.path(digest)).st_size
            return int(self.fs.size(self.path(digest)))
        except FileNotFoundError:
            raise NotFound(f"blob {digest} is not stored", "upload it first") from None

    def put_stream(
        self,
        stream: IO[bytes] | Iterator[bytes],
        expected: str | None = None,
        algorithm: str = "sha256",
    ) -> tuple[str, int]:
        """Store bytes from a file object or an iterator of chunks; verify ``expected``.

        The hash algorithm is ``expected``'s when given, else ``algorithm``.

        Raises:
            InvalidInput: the bytes do not hash to ``expected`` (nothing is kept).
        """
        if expected is not None:
            algorithm = algorithm_of(expected)
        h = new_hasher(algorithm)
        size = 0
        chunks: Any = iter(lambda: stream.read(CHUNK), b"") if hasattr(stream, "read") else stream
        tmp = self._tmp_name()
        try:
            with self._open_tmp(tmp) as out:
                for chunk in chunks:
                    h.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
            digest = f"{algorithm}:{h.hexdigest()}"
            if expected is not None and expected != digest:
                raise InvalidInput(
                    f"content hashes to {digest}, not {expected}",
                    "the upload was corrupted or the id is wrong; send it again",
                )
            self._commit(tmp, digest)
            return digest, size
        except OSError as exc:
            self._discard(tmp)
            hint = "free disk space on the server, then send it again; nothing was kept"
            raise_storage_error(exc, f"the blob store at {self.root}", hint)
        except BaseException:
            self._discard(tmp)
            raise

    def put_file(self, path: str | os.PathLike[str], algorithm: str = "sha256") -> tuple[str, int]:
        """Store a file's content (streamed, never loaded whole)."""
        with open(path, "rb") as fh:
            return self.put_stream(fh, algorithm=algorithm)

    def put_bytes(self, data: bytes, algorithm: str = "sha256") -> tuple[str, int]:
        """Store bytes held in memory."""
        return self.put_stream(iter([data]), algorithm=algorithm)

    def open(self, digest: str) -> IO[bytes]:
        """A readable file object. Raises NotFound."""
        try:
            if self.is_local:
                return open(self.path(digest), "rb")
            return self.fs.open(self.path(digest), "rb")  # type: ignore[no-any-return]
        except FileNotFoundError as exc:
            raise NotFound(f"blob {digest} is not stored") from exc

    def read_bytes(self, digest: str) -> bytes:
        """A whole blob (small ones: manifests, diffs)."""
        with self.open(digest) as fh:
            return fh.read()

    def local_path(self, digest: str) -> Path | None:
        """The blob's path when the store is a local folder (for hardlinks), else None."""
        return Path(self.path(digest)) if self.is_local else None

    def quarantine(self, digest: str) -> None:
        """Move a blob found corrupt out of the way, so a re-upload can replace it."""
        path = self.path(digest)
        target = f"{self.root}/corrupt/{digest.replace(':', '-')}-{uuid.uuid4().hex[:8]}"
        self.fs.makedirs(f"{self.root}/corrupt", exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            self.fs.mv(path, target)

    # -- writing ------------------------------------------------------------------------
    def _tmp_name(self) -> str:
        return temp_name(f"{self.root}/tmp")

    def _makedirs(self, folder: str) -> None:
        if folder not in self._dirs:
            self.fs.makedirs(folder, exist_ok=True)
            self._dirs.add(folder)

    def _open_tmp(self, tmp: str) -> IO[bytes]:
        self._makedirs(f"{self.root}/tmp")
        if self.is_local:
            try:
                return create_read_only(tmp)
            except FileNotFoundError:  # the folder was removed behind our back
                os.makedirs(f"{self.root}/tmp", exist_ok=True)
                return create_read_only(tmp)
        return self.fs.open(tmp, "wb")  # type: ignore[no-any-return]

    def _commit(self, tmp: str, digest: str) -> None:
        final = self.path(digest)
        if self.is_local:
            # Equal bytes under the same name: replacing a blob already stored is
            # harmless, and cheaper than a stat of every blob to avoid it.
            folder = final.rsplit("/", 1)[0]
            self._makedirs(folder)
            try:
                os.replace(tmp, final)
            except FileNotFoundError:
                os.makedirs(folder, exist_ok=True)
                os.replace(tmp, final)
            return
        if self.fs.exists(final):
            self.fs.rm(tmp)
        else:
            self._makedirs(final.rsplit("/", 1)[0])
            self.fs.mv(tmp, final)

    def _discard(self, tmp: str) -> None:
        try:
            if self.is_local:
                os.unlink(tmp)
            elif self.fs.exists(tmp):
                self.fs.rm(tmp)
        except FileNotFoundError:
            pass
