"""Compressed metric blocks: steps, times and values of one key, bit for bit.

A block is a small header and two zstd frames (pyarrow's codec: already a
dependency). Before compression each column becomes a stream of 64-bit words
that are small or repeat:

- steps: delta of delta, zigzagged (a steady stride becomes zeros);
- times: the float64 bits as an int64, delta encoded and zigzagged (close
  timestamps differ by a few thousand ulps);
- values: whichever of three forms compresses best for this block: the bits XOR
  the previous value's (Gorilla: float32-born values leave low bytes zero), the
  int64 delta of the bits (smooth curves), or the raw bits unshuffled (values
  drawn from a few distinct numbers, which zstd matches whole).

Shuffled streams are byte-transposed (all first bytes, then all second bytes,
...) so zstd sees long runs of equal bytes. Every transform is wrapping int64
arithmetic or XOR on the raw bits, so NaN payloads, -0.0, ±inf and any step
survive exactly. Import this module lazily: it loads numpy and, on first use,
pyarrow.
"""

from __future__ import annotations

import struct
from functools import cache
from typing import Any

import numpy as np

from lablink.errors import LablinkError

MAGIC = b"LLB1"
# magic, number of points, values form, compressed size of the steps+times frame
_HEADER = struct.Struct("<4sQBI")
LEVEL = 3  # zstd's default: level 6 saves ~2% more on these streams at twice the time
XOR, DELTA, RAW = 0, 1, 2
Arrays = tuple[np.ndarray, np.ndarray, np.ndarray]


def load_codec() -> None:
    """Import the compression library now (cheap once loaded)."""
    _codec()


@cache
def _codec() -> Any:
    import pyarrow as pa

    return pa.Codec("zstd", compression_level=LEVEL)


def _zigzag(x: np.ndarray) -> np.ndarray:
    """Small negative and positive int64 to small unsigned words (wrapping)."""
    return ((x << 1) ^ (x >> 63)).view("<u8")


def _unzigzag(z: np.ndarray) -> np.ndarray:
    u = z.view("<u8")
    return ((u >> np.uint64(1)) ^ (np.uint64(0) - (u & np.uint64(1)))).view("<i8")


def _delta(x: np.ndarray) -> np.ndarray:
    out = np.empty_like(x)
    if len(x):
        out[0] = x[0]
        np.subtract(x[1:], x[:-1], out=out[1:])
    return out


def _shuffle(words: np.ndarray) -> bytes:
    """(k, n) 64-bit words -> their bytes transposed to (k, 8, n)."""
    k, n = words.shape
    return words.view(np.uint8).reshape(k, n, 8).transpose(0, 2, 1).tobytes()


def _unshuffle(raw: bytes, k: int, n: int) -> np.ndarray:
    words = np.frombuffer(raw, np.uint8).reshape(k, 8, n).transpose(0, 2, 1)
    return np.ascontiguousarray(words).reshape(k, n * 8).view("<u8")


def encode(steps: np.ndarray, times: np.ndarray, values: np.ndarray) -> bytes:
    """One block holding the three equal-length columns, in the order given."""
    n = len(steps)
    s = np.ascontiguousarray(steps, dtype="<i8")
    w = np.ascontiguousarray(times, dtype="<f8").view("<i8")
    v = np.ascontiguousarray(values, dtype="<f8").view("<u8")
    codec = _codec()
    with np.errstate(over="ignore"):
        head = np.empty((2, n), dtype="<u8")
        head[0] = _zigzag(_delta(_delta(s)))
        head[1] = _zigzag(_delta(w))
        xor = v.copy()
        if n > 1:
            np.bitwise_xor(v[1:], v[:-1], out=xor[1:])
        forms = {
            XOR: _shuffle(xor.reshape(1, n)),
            DELTA: _shuffle(_delta(v.view("<i8")).view("<u8").reshape(1, n)),
            RAW: v.tobytes(),
        }
    packed = {form: codec.compress(data, asbytes=True) for form, data in forms.items()}
    form = min(packed, key=lambda f: len(packed[f]))
    first = codec.compress(_shuffle(head), asbytes=True)
    return bytes(_HEADER.pack(MAGIC, n, form, len(first)) + first + packed[form])


def decode(block: bytes) -> Arrays:
    """The steps (int64), times and values (float64) of a block, exactly as encoded.

    Raises:
        LablinkError: the bytes are not a block this version can read.
    """
    magic, n, form, first = _HEADER.unpack_from(block)
    if magic != MAGIC or form not in (XOR, DELTA, RAW):
        raise LablinkError(
            f"a metric block starts with {bytes(block[:4])!r}, not {MAGIC!r}",
            "upgrade lablink: a newer version wrote this database",
        )
    codec = _codec()
    start = _HEADER.size
    head = _unshuffle(
        codec.decompress(block[start : start + first], decompressed_size=16 * n, asbytes=True),
        2,
        n,
    )
    raw = codec.decompress(block[start + first :], decompressed_size=8 * n, asbytes=True)
    with np.errstate(over="ignore"):
        steps = np.cumsum(np.cumsum(_unzigzag(head[0]), dtype="<i8"), dtype="<i8")
        times = np.cumsum(_unzigzag(head[1]), dtype="<i8").view("<f8")
        if form == RAW:
            values = np.frombuffer(raw, "<f8").copy()
        else:
            words = _unshuffle(raw, 1, n)[0]
            if form == XOR:
                values = np.bitwise_xor.accumulate(words).view("<f8")
            else:
                values = np.cumsum(words.view("<i8"), dtype="<i8").view("<f8")
    return steps, times, values


BLOCK_POINTS = 65_536  # points per block: big enough to compress, small for step ranges


def fold(chunks: list[tuple[bytes, bytes, bytes]]) -> list[tuple[int, int, int, bytes]]:
    """Chunk rows (packed steps, times, values, in read order) as blocks.

    Each block is ``(n, step_min, step_max, data)``; read in the order returned, the
    blocks hold the chunks' points in the same order as the chunks themselves once
    stably sorted by step (within a block the points are already stably sorted).
    """
    if not chunks:
        return []
    # one join per column, not an array per chunk: a tail of single points is
    # thousands of 8-byte chunks
    steps = np.frombuffer(b"".join([c[0] for c in chunks]), "<i8")
    times = np.frombuffer(b"".join([c[1] for c in chunks]), "<f8")
    values = np.frombuffer(b"".join([c[2] for c in chunks]), "<f8")
    return fold_arrays(steps, times, values)


def fold_arrays(
    steps: np.ndarray, times: np.ndarray, values: np.ndarray
) -> list[tuple[int, int, int, bytes]]:
    """``fold`` of points already joined into three columns, in read order."""
    blocks = []
    for start in range(0, len(steps), BLOCK_POINTS):
        s = steps[start : start + BLOCK_POINTS]
        w = times[start : start + BLOCK_POINTS]
        v = values[start : start + BLOCK_POINTS]
        if len(s) > 1 and not bool(np.all(s[1:] >= s[:-1])):
            order = np.argsort(s, kind="stable")
            s, w, v = s[order], w[order], v[order]
        if len(s):
            blocks.append((len(s), int(s[0]), int(s[-1]), encode(s, w, v)))
    return blocks
