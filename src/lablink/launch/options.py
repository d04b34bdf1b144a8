"""Launch options: durations, and the ``[launch]`` defaults of a project's lablink.toml."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

from lablink.errors import InvalidInput

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
# where jobs run (``lablink.launch.backend`` reads these)
BACKEND_KEYS = ("backend", "address", "partition", "gpus", "cpus", "memory", "time")
KNOWN_KEYS = ("project", "timeout", "grace", "restarts", "backoff", *BACKEND_KEYS)


def parse_duration(raw: str | float | int, what: str = "duration") -> float:
    """Seconds from ``12h``, ``30s``, ``1h30m``, ``500ms`` or a bare number of seconds."""
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        seconds = float(raw)
    else:
        text = str(raw).strip().lower().replace(" ", "")
        try:
            seconds = float(text)
        except ValueError:
            parts = _PART.findall(text)
            if not parts or "".join(n + u for n, u in parts) != text:
                raise InvalidInput(
                    f"{what} {raw!r} does not parse",
                    "write it like 90s, 30m, 12h, 1h30m or a number of seconds",
                ) from None
            seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if seconds < 0:
        raise InvalidInput(f"{what} {raw!r} is negative", "give a duration of zero or more")
    return seconds


@dataclasses.dataclass(frozen=True)
class LaunchOptions:
    """How a job is bounded and restarted; ``timeout`` None means no deadline."""

    timeout: float | None = None
    grace: float = 30.0
    restarts: int = 0
    backoff: float = 1.0  # seconds before the first restart, doubled for each next one

    def backoff_for(self, restart: int) -> float:
        """Seconds to wait before restart number ``restart`` (1-based), capped at 5 min."""
        return float(min(300.0, self.backoff * 2 ** (restart - 1)))


def resolve(table: Mapping[str, Any], **flags: Any) -> LaunchOptions:
    """Options from command-line ``flags`` (None: not given) over the ``[launch]`` table."""
    unknown = sorted(set(table) - set(KNOWN_KEYS))
    if unknown:
        raise InvalidInput(
            f"unknown key(s) in [launch] of lablink.toml: {', '.join(unknown)}",
            f"known keys: {', '.join(KNOWN_KEYS)}",
        )

    def pick(name: str) -> Any:
        value = flags.get(name)
        return table.get(name) if value is None else value

    timeout = pick("timeout")
    restarts = pick("restarts")
    if restarts is not None and (not isinstance(restarts, int) or restarts < 0):
        raise InvalidInput(f"restarts must be an integer of 0 or more, not {restarts!r}")
    grace, backoff = pick("grace"), pick("backoff")
    seconds = None if timeout in (None, "", 0, "0") else parse_duration(timeout, "timeout")
    return LaunchOptions(
        timeout=seconds or None,
        grace=30.0 if grace is None else parse_duration(grace, "grace"),
        restarts=restarts or 0,
        backoff=1.0 if backoff is None else parse_duration(backoff, "backoff"),
    )
