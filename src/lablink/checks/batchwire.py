"""The binary batch format of ``POST /api/v1/runs/{id}/batches`` (no I/O here).

JSON spends most of a batch's cost printing and parsing floats; this format packs the
numbers as they are in memory and keeps NaN and ±inf bit for bit::

    b"LLB1"  uint32 header length  header (UTF-8 JSON: {"seq": n, "keys": [[key, count], ...]})
    then per key, in header order: int64 steps[count], float64 times[count],
    float64 values[count]; everything little-endian.

Sent with ``Content-Type: application/vnd.lablink.batch``. The SDK encodes with the
standard library only; the server decodes into numpy arrays.
"""

from __future__ import annotations

import array
import json
import struct
import sys
from collections.abc import Mapping
from typing import Any

from lablink.errors import InvalidInput

CONTENT_TYPE = "application/vnd.lablink.batch"
MAGIC = b"LLB1"
_LENGTH = struct.Struct("<I")


def encode_batch(seq: int, metrics: Mapping[str, Mapping[str, Any]]) -> bytes:
    """Pack ``{key: {steps, times, values}}``; raises TypeError/OverflowError on odd values."""
    keys = [(key, len(series["steps"])) for key, series in metrics.items()]
    header = json.dumps({"seq": seq, "keys": keys}, separators=(",", ":")).encode()
    parts = [MAGIC, _LENGTH.pack(len(header)), header]
    for key, count in keys:
        series = metrics[key]
        for code, name in (("q", "steps"), ("d", "times"), ("d", "values")):
            packed = array.array(code, series[name])
            if len(packed) != count:
                raise ValueError(f"metric {key!r}: steps, times and values differ in length")
            if sys.byteorder == "big":
                packed.byteswap()
            parts.append(packed.tobytes())
    return b"".join(parts)


def decode_batch(body: bytes) -> tuple[Any, dict[str, dict[str, Any]]]:
    """Unpack a binary batch into ``(seq, {key: {steps, times, values}})`` numpy arrays.

    Raises:
        InvalidInput: the body is not a well-formed binary batch.
    """
    import numpy as np

    if len(body) < 8 or body[:4] != MAGIC:
        raise InvalidInput(
            "not a binary batch: it must start with LLB1",
            f"send JSON, or the format described for {CONTENT_TYPE}",
        )
    (length,) = _LENGTH.unpack_from(body, 4)
    end = 8 + length
    try:
        header = json.loads(body[8:end])
        seq, keys = header["seq"], header["keys"]
        pairs = [(str(key), int(count)) for key, count in keys]
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidInput(f"binary batch header is malformed: {exc}") from None
    needed = end + sum(24 * count for _, count in pairs)
    if any(count < 0 for _, count in pairs) or needed != len(body):
        raise InvalidInput(f"binary batch is {len(body)} bytes; its header describes {needed}")
    metrics: dict[str, dict[str, Any]] = {}
    offset = end
    for key, count in pairs:
        if key in metrics:
            raise InvalidInput(f"binary batch names metric {key!r} twice")
        columns = {}
        for dtype, name in (("<i8", "steps"), ("<f8", "times"), ("<f8", "values")):
            columns[name] = np.frombuffer(body, dtype, count, offset)
            offset += 8 * count
        metrics[key] = columns
    return seq, metrics
