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

from lablink.checks.wire_numbers import check_wire_int
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
    if end > len(body):
        raise InvalidInput(f"binary batch header claims {length} bytes; the body is shorter")
    seq, pairs = _read_header(body[8:end])
    needed = end + sum(24 * count for _, count in pairs)
    if needed != len(body):
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


def _refuse_constant(name: str) -> Any:
    raise InvalidInput(f"binary batch header holds {name}: seq and each count are whole numbers")


def _read_header(raw: bytes) -> tuple[int, list[tuple[str, int]]]:
    """The header, held to the same rules as a JSON batch: ``seq`` and each count are
    JSON integers (not NaN, Infinity, 2.0 or true), each key is text.

    Raises:
        InvalidInput: naming what is wrong.
    """
    try:
        header = json.loads(raw, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and bad UTF-8 included
        raise InvalidInput(f"binary batch header is malformed: not JSON ({exc})") from None
    if not isinstance(header, dict) or set(header) != {"seq", "keys"}:
        raise InvalidInput('binary batch header must be {"seq": n, "keys": [[key, count], ...]}')
    seq, keys = header["seq"], header["keys"]
    check_wire_int(seq, "seq")
    if not isinstance(keys, list):
        raise InvalidInput("binary batch header: keys must be a list of [key, count]")
    pairs: list[tuple[str, int]] = []
    for item in keys:
        if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)):
            raise InvalidInput(
                f"binary batch header: {str(item)[:60]} is not [key, count] with a text key"
            )
        pairs.append((item[0], check_wire_int(item[1], f"count of metric {item[0][:40]!r}")))
    return seq, pairs
