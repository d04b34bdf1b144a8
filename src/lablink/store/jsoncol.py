"""JSON columns that keep NaN and ±inf (a run's config, summary, event payloads).

Strict JSON has no NaN or Infinity, and PostgreSQL's ``json``/``jsonb`` refuse the
tokens Python writes for them, so both dialects store a non-finite float as MongoDB
Extended JSON's ``{"$numberDouble": "NaN"}`` (``"Infinity"``, ``"-Infinity"``) and
read it back as the float. An object of exactly that shape in user data reads back as
the float too.
"""

from __future__ import annotations

import json
import math
from typing import Any

MARKER = "$numberDouble"
_DECODED = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


# One encoder for every value: json.dumps with options builds a new one per call, a
# third of the cost of the small values most columns hold.
_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)


class FiniteJson(dict[str, Any]):
    """A JSON object whose maker vouches that it holds only text keys, ints in 64 bits,
    text, lists, objects and finite floats: nothing to mark. ``json_dumps`` writes it
    with orjson, a tenth of the time of ``json`` for a live event's thousand points.
    (orjson would write NaN as ``null`` silently, so only such a vouched object goes
    there.)"""


def json_dumps(value: Any) -> str:
    """Compact JSON text for a JSON column; non-finite floats become markers."""
    if type(value) is FiniteJson:
        import orjson  # here: the CLI imports this module and starts without it

        try:
            return orjson.dumps(value).decode()
        except TypeError:  # an int past 64 bits after all: the general path below
            pass
    try:
        # The common case, in C: nothing non-finite to mark.
        return _ENCODER.encode(value)
    except ValueError:
        return _ENCODER.encode(_mark(value))


def json_loads(text: str | bytes) -> Any:
    """Parse a JSON column's text; markers become NaN / ±inf again."""
    if isinstance(text, bytes | bytearray):
        text = text.decode()
    if MARKER not in text:
        return json.loads(text)
    return json.loads(text, object_hook=_unmark)


def _mark(value: Any) -> Any:
    # Iterative: a config may be nested 64 levels, and events hold long lists.
    if isinstance(value, float):
        return _marker(value)
    root: list[Any] = [value]
    stack: list[tuple[Any, Any, Any]] = [(root, 0, value)]  # (parent, key, item)
    while stack:
        parent, key, item = stack.pop()
        if isinstance(item, dict):
            copy: dict[str, Any] = {}
            for k, v in item.items():
                copy[k] = v
                stack.append((copy, k, v))
        elif isinstance(item, list | tuple):
            copy_list = list(item)
            stack.extend((copy_list, i, v) for i, v in enumerate(copy_list))
            parent[key] = copy_list
            continue
        elif isinstance(item, float) and not math.isfinite(item):
            parent[key] = _marker(item)
            continue
        else:
            continue
        parent[key] = copy
    return root[0]


def _marker(value: float) -> Any:
    if math.isfinite(value):
        return value
    return {MARKER: "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")}


def _unmark(obj: dict[str, Any]) -> Any:
    if len(obj) == 1 and MARKER in obj:
        decoded = _DECODED.get(obj[MARKER])
        if decoded is not None:
            return decoded
    return obj
