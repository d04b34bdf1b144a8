"""The metric-key rule, shared by the server, the core and the SDK (no I/O, no numpy).

A key is non-empty text of at most ``MAX_KEY_LENGTH`` characters with no control
characters: C0 (below 0x20), DEL (0x7f) and C1 (0x80-0x9f), the line and paragraph
separators U+2028/U+2029 (which end a line in JavaScript and in log viewers), and no
unpaired surrogates (which PostgreSQL cannot store). Summary keys follow the same rule.
"""

from __future__ import annotations

import re
from typing import Any

from lablink.errors import InvalidInput

MAX_KEY_LENGTH = 250
_FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def metric_key_problem(key: Any) -> str | None:
    """Why ``key`` is not a valid metric key, or None when it is."""
    if not isinstance(key, str):
        return f"metric keys must be text, not {type(key).__name__}"
    if not key.strip():
        return "a metric key is empty"
    if len(key) > MAX_KEY_LENGTH:
        return (
            f"metric key {key[:40]!r}... is {len(key)} characters long (at most {MAX_KEY_LENGTH})"
        )
    bad = _FORBIDDEN.search(key)
    if bad is not None:
        char = bad.group()
        if "\ud800" <= char <= "\udfff":
            return f"metric key {key!r} contains an unpaired surrogate (invalid unicode)"
        return f"metric key {key!r} contains a control character (U+{ord(char):04X})"
    return None


def check_metric_key(key: Any) -> str:
    """``key`` if it is a valid metric key.

    Raises:
        InvalidInput: naming what is wrong with it.
    """
    if type(key) is str and key in _VALID:
        return key
    problem = metric_key_problem(key)
    if problem is not None:
        raise InvalidInput(problem, "name metrics like train/loss: printable text, 1-250 chars")
    if len(_VALID) >= VALID_CACHE:
        _VALID.clear()
    _VALID.add(key)
    return key  # type: ignore[no-any-return]


# Keys found valid: a run logs the same keys batch after batch (an MLflow batch a
# thousand of them), and a set lookup is far cheaper than the checks. Cleared when full.
VALID_CACHE = 100_000
_VALID: set[str] = set()
