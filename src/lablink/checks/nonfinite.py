"""NaN and ±infinity in JSON: strict JSON has no token for them, so each use picks a policy.

* ``null``: every non-finite float becomes ``None`` (charts skip the point, stored JSON
  documents and gate reports stay strict JSON).
* ``text``: it becomes ``"nan"``, ``"inf"`` or ``"-inf"``, so a reader still sees which
  (a run's raw points, watchdog evidence).
* ``nan_null``: NaN becomes ``None`` (a missing cell) and ±inf its text (a real value
  a schema check should show).

``json_float`` applies a policy to one float; ``scrub`` to every float in nested dicts,
lists and tuples.
"""

from __future__ import annotations

import math
from typing import Any, Literal

Policy = Literal["null", "text", "nan_null"]
POLICIES: tuple[Policy, ...] = ("null", "text", "nan_null")


def json_float(value: float, policy: Policy = "null") -> float | str | None:
    """``value`` itself if finite, else its stand-in under ``policy``."""
    if math.isfinite(value):
        return value
    if policy == "null" or (policy == "nan_null" and math.isnan(value)):
        return None
    return str(float(value))


def finite_or_none(value: Any) -> float | None:
    """A real number (not a bool) as a finite float, else ``None``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def scrub(value: Any, policy: Policy = "null") -> Any:
    """``value`` with every float inside it made JSON-safe; dict keys become text."""
    if isinstance(value, float):
        return json_float(value, policy)
    if isinstance(value, dict):
        return {str(k): scrub(v, policy) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v, policy) for v in value]
    return value
