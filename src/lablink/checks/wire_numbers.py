"""Integers from the wire (paths, headers, query strings, batch headers) and their bounds.

Python's ``str.isdigit()`` and ``int()`` accept Unicode digits such as ``³`` or ``٣``,
and ``int()`` also takes signs, spaces and underscores; a number from a client is read
here instead, from ASCII digits only. Every integer the API accepts has an upper bound
checked before it reaches the store: SQLite raises ``OverflowError`` (a 500) for
anything outside 64 bits, where PostgreSQL answers with a data error.
"""

from __future__ import annotations

import re
from typing import Any

from lablink.errors import InvalidInput

# The largest step, seq, id, cursor or offset the API takes: well inside a signed 64-bit
# column on every backend, and exact in the int64 arrays the batches travel in.
MAX_WIRE_INT = 2**62
MAX_WIRE_INT_TEXT = "2**62"  # how messages name it
STEPS_RULE = f"steps are integers from 0 to {MAX_WIRE_INT_TEXT}"
# Schema versions are small numbers people type.
MAX_VERSION = 999_999_999

_DIGITS = re.compile(r"[0-9]{1,19}")


def parse_wire_int(raw: str, what: str, *, low: int = 0, high: int = MAX_WIRE_INT) -> int:
    """``raw`` as an integer in ``[low, high]``, from ASCII digits only.

    Raises:
        InvalidInput: naming ``what`` when ``raw`` is not such a number.
    """
    text = raw.strip(" \t")
    if not _DIGITS.fullmatch(text) or not low <= int(text) <= high:
        raise InvalidInput(
            f"{what} {raw[:40]!r} is not a whole number from {low} to {high}",
            "send ASCII digits only",
        )
    return int(text)


def check_wire_int(value: Any, what: str, *, low: int = 0, high: int = MAX_WIRE_INT) -> int:
    """``value`` if it is a JSON integer (not a bool, not a float) in ``[low, high]``.

    Raises:
        InvalidInput: naming ``what``.
    """
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        shown = repr(value)[:40]
        raise InvalidInput(f"{what} must be a whole number from {low} to {high}, not {shown}")
    return value


def json_int(value: Any, what: str, *, low: int = 0, high: int = MAX_WIRE_INT) -> int:
    """``check_wire_int``, also taking an integral float such as ``5.0``.

    JSON Schema counts ``5.0`` as an integer, and the OpenAPI spec says ``integer``, so
    a JSON body field takes it; ``5.5``, ``NaN`` and ``true`` are still refused.

    Raises:
        InvalidInput: naming ``what``.
    """
    if type(value) is float and value.is_integer():
        value = int(value)
    return check_wire_int(value, what, low=low, high=high)
