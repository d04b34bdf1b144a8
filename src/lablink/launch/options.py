"""Launch options: durations, and the ``[launch]`` defaults of a project's lablink.toml."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from lablink.checks.durations import parse_duration
from lablink.errors import InvalidInput

# where jobs run (``lablink.launch.backend`` reads these)
BACKEND_KEYS = ("backend", "address", "partition", "gpus", "cpus", "memory", "time")
KNOWN_KEYS = ("project", "timeout", "grace", "restarts", "backoff", *BACKEND_KEYS)


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
        grace=30.0 if grace is None else parse_duration(grace, "grace", allow_zero=True),
        restarts=restarts or 0,
        backoff=1.0 if backoff is None else parse_duration(backoff, "backoff", allow_zero=True),
    )
