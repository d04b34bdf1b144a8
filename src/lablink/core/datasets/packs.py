"""Packs: many blobs in one HTTP body, so 20,000 small files are not 20,000 requests.

A pack is a stream of frames::

    blob <digest> <size>\\n<size bytes>
    missing <digest>\\n            (a server that does not hold it: ask elsewhere)
    corrupt <digest>\\n            (its upstream's copy is corrupt: reported, quarantined)
    end\\n

Both directions use it: a client uploads small files in packs and downloads versions
in packs; an edge cache forwards the digests it lacks to its upstream in one. Readers
never hold more than one chunk in memory, and a stream cut off before ``end`` is told
apart from a complete one, so a client can fetch what is left from another endpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import IO

from lablink.errors import InvalidInput
from lablink.store.blobs import CHUNK, check_digest

END = b"end\n"
MAX_HEADER = 200
# Writers yield buffers of about this size: few enough crossings between threads.
YIELD_BYTES = 1024 * 1024


class TruncatedPack(Exception):
    """The stream ended before its ``end`` frame (the sender died or was cut off)."""


def blob_header(digest: str, size: int) -> bytes:
    """The header line of a blob frame."""
    return f"blob {digest} {size}\n".encode()


def missing_frame(digest: str) -> bytes:
    """A frame saying the sender does not hold ``digest``."""
    return f"missing {digest}\n".encode()


def corrupt_frame(digest: str) -> bytes:
    """A frame saying the sender's upstream held only a corrupt copy of ``digest``."""
    return f"corrupt {digest}\n".encode()


def write_pack(
    items: Iterable[tuple[str, int]],
    open_blob: Callable[[str], IO[bytes] | None],
    end: bool = True,
) -> Iterator[bytes]:
    """Frames for ``(digest, size)`` items, reading each from ``open_blob(digest)``.

    ``open_blob`` returns None for a blob the sender lacks (a ``missing`` frame).
    ``end=False`` leaves the ``end`` frame out, for a pack written in several parts.

    Raises:
        InvalidInput: a blob is shorter or longer than its size (a file that changed
            after it was hashed).
    """
    out = _Gather()
    for digest, size in items:
        fh = open_blob(digest)
        if fh is None:
            out.add(missing_frame(digest))
            continue
        out.add(blob_header(digest, size))
        with fh:
            left = size
            while left:
                chunk = fh.read(min(CHUNK, left))
                if not chunk:
                    raise InvalidInput(f"{digest} is shorter than {size} bytes: it changed")
                left -= len(chunk)
                out.add(chunk)
                if out.size >= YIELD_BYTES:
                    yield out.take()
            if fh.read(1):
                raise InvalidInput(f"{digest} is longer than {size} bytes: it changed")
    if end:
        out.add(END)
    if out.size:
        yield out.take()


class _Gather:
    """Pieces joined in one copy when taken (a single large piece is not copied)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0

    def add(self, piece: bytes) -> None:
        self.parts.append(piece)
        self.size += len(piece)

    def take(self) -> bytes:
        joined = b"".join(self.parts)
        self.parts, self.size = [], 0
        return joined


class PackReader:
    """Iterate the frames of a pack from an iterator of byte chunks.

    ``for digest, size, body in reader`` yields each blob with an iterator of its
    bytes; a body left unread is skipped. ``missing`` collects the digests the sender
    lacks, ``corrupt`` those it found corrupt upstream, and ``complete`` is set by the
    ``end`` frame.

    Raises:
        TruncatedPack: the stream ends inside a frame or before ``end``.
        InvalidInput: a malformed header.
    """

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._buf = bytearray()
        self._eof = False
        self._left = 0  # body bytes of the current frame not read yet
        self.missing: list[str] = []
        self.corrupt: list[str] = []
        self.complete = False

    def _fill(self) -> bool:
        if self._eof:
            return False
        for chunk in self._chunks:
            if chunk:
                self._buf += chunk
                return True
        self._eof = True
        return False

    def _line(self) -> bytes | None:
        while True:
            end = self._buf.find(b"\n", 0, MAX_HEADER)
            if end >= 0:
                line = bytes(self._buf[:end])
                del self._buf[: end + 1]
                return line
            if len(self._buf) >= MAX_HEADER:
                raise InvalidInput("malformed pack: a header line is too long")
            if not self._fill():
                if self._buf:
                    raise TruncatedPack("the pack ends inside a header")
                return None

    def _body(self) -> Iterator[bytes]:
        while self._left:
            if self._buf:
                piece = bytes(self._buf[: self._left])
                del self._buf[: len(piece)]
            else:  # straight from the stream: a large blob's chunks are not copied
                piece = self._next_chunk()
                if len(piece) > self._left:
                    self._buf += piece[self._left :]
                    piece = piece[: self._left]
            self._left -= len(piece)
            yield piece

    def _next_chunk(self) -> bytes:
        for chunk in self._chunks:
            if chunk:
                return chunk
        self._eof = True
        raise TruncatedPack(f"the pack ends {self._left} bytes short of a blob")

    def __iter__(self) -> Iterator[tuple[str, int, Iterator[bytes]]]:
        while True:
            for _ in self._body():  # whatever the caller left of the previous body
                pass
            line = self._line()
            if line is None:
                raise TruncatedPack("the pack ended before its end frame")
            if line == b"end":
                self.complete = True
                return
            kind, _, rest = line.decode("ascii", "replace").partition(" ")
            if kind == "missing":
                self.missing.append(check_digest(rest))
                continue
            if kind == "corrupt":
                self.corrupt.append(check_digest(rest))
                continue
            digest, _, size_text = rest.partition(" ")
            if kind != "blob" or not size_text.isdigit():
                raise InvalidInput(f"malformed pack frame {line[:80]!r}")
            self._left = int(size_text)
            yield check_digest(digest), self._left, self._body()
