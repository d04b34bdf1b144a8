"""Content-addressed blobs over fsspec: a local folder by default, any fsspec URL else.

A blob's id is ``sha256:<hex>``; it lives at ``<root>/sha256/<2 hex>/<rest>``. Equal
bytes are stored once. Writes go to a temporary name and are renamed into place, so a
reader never sees half a blob.
"""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import fsspec

from lablink.errors import InvalidInput, NotFound

CHUNK = 1024 * 1024
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def check_digest(digest: str) -> str:
    """Return ``digest`` if it is a well-formed blob id, else raise InvalidInput."""
    if not _DIGEST.match(digest):
        raise InvalidInput(f"{digest!r} is not a blob id", "blob ids look like sha256:<64 hex>")
    return digest


def file_digest(path: str | os.PathLike[str]) -> tuple[str, int]:
    """sha256 digest and size of a file, read in chunks."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
            size += len(chunk)
    return "sha256:" + h.hexdigest(), size


class BlobStore:
    """Content-addressed storage under one fsspec root."""

    def __init__(self, root: str) -> None:
        self.fs, self.root = fsspec.core.url_to_fs(root)
        self.fs.makedirs(self.root, exist_ok=True)

    def path(self, digest: str) -> str:
        hexd = check_digest(digest).split(":", 1)[1]
        return f"{self.root}/sha256/{hexd[:2]}/{hexd[2:]}"

    def exists(self, digest: str) -> bool:
        return bool(self.fs.exists(self.path(digest)))

    def put_stream(
        self, stream: IO[bytes] | Iterator[bytes], expected: str | None = None
    ) -> tuple[str, int]:
        """Store bytes from a file object or an iterator of chunks; verify ``expected``."""
        tmp = f"{self.root}/tmp/{uuid.uuid4().hex}"
        self.fs.makedirs(f"{self.root}/tmp", exist_ok=True)
        h = hashlib.sha256()
        size = 0
        chunks: Any = iter(lambda: stream.read(CHUNK), b"") if hasattr(stream, "read") else stream
        try:
            with self.fs.open(tmp, "wb") as out:
                for chunk in chunks:
                    h.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
            digest = "sha256:" + h.hexdigest()
            if expected is not None and expected != digest:
                raise InvalidInput(
                    f"content hashes to {digest}, not {expected}",
                    "the upload was corrupted or the id is wrong; send it again",
                )
            final = self.path(digest)
            if self.fs.exists(final):
                self.fs.rm(tmp)
            else:
                self.fs.makedirs(final.rsplit("/", 1)[0], exist_ok=True)
                self.fs.mv(tmp, final)
            return digest, size
        except BaseException:
            if self.fs.exists(tmp):
                self.fs.rm(tmp)
            raise

    def put_file(self, path: str | os.PathLike[str]) -> tuple[str, int]:
        """Store a file's content (streamed, never loaded whole)."""
        with open(path, "rb") as fh:
            return self.put_stream(fh)

    def put_bytes(self, data: bytes) -> tuple[str, int]:
        return self.put_stream(iter([data]))

    def open(self, digest: str) -> IO[bytes]:
        """A readable file object. Raises NotFound."""
        try:
            return self.fs.open(self.path(digest), "rb")  # type: ignore[no-any-return]
        except FileNotFoundError as exc:
            raise NotFound(f"blob {digest} is not stored") from exc

    def read_bytes(self, digest: str) -> bytes:
        with self.open(digest) as fh:
            return fh.read()

    def local_path(self, digest: str) -> Path | None:
        """The blob's path when the store is a local folder (for hardlinks), else None."""
        protocol = self.fs.protocol
        local = "file" in (protocol if isinstance(protocol, tuple) else (protocol,))
        return Path(self.path(digest)) if local else None
