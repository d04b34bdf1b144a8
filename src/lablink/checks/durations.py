"""Durations as people write them: ``500ms``, ``90s``, ``2m``, ``12h``, ``1h30m``, ``90d``, ``2w``."""

from __future__ import annotations

import math
import re

from lablink.errors import InvalidInput

_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_HINT = 'write durations like "90s", "30m", "12h", "1h30m", "2w" or a number of seconds'


def parse_duration(value: object, what: str = "duration", *, allow_zero: bool = False) -> float:
    """Seconds from a number, a number of seconds as text, or text with units.

    Raises:
        InvalidInput: text that does not parse, a negative duration, or zero unless
            ``allow_zero``; the message names ``what``.
    """
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and value.strip():
        text = value.strip().lower().replace(" ", "")
        try:
            seconds = float(text)
        except ValueError:
            parts = _PART.findall(text)
            if not parts or "".join(n + u for n, u in parts) != text:
                raise InvalidInput(f"{what}: cannot read {value!r} as a duration", _HINT) from None
            seconds = sum(float(n) * _UNIT[u] for n, u in parts)
    else:
        raise InvalidInput(f"{what}: expected a duration, not {value!r}", _HINT)
    if not math.isfinite(seconds) or seconds < 0 or (seconds == 0 and not allow_zero):
        least = "zero or more" if allow_zero else "more than zero"
        raise InvalidInput(f"{what}: a duration must be {least}, not {value!r}", _HINT)
    return seconds
