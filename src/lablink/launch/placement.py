"""Where a launched job runs: the backend, and what it is asked for there.

``--backend`` (or ``backend`` in ``[launch]``) picks one of ``BACKENDS``; the resource
flags say what the job needs there. Everything is checked, and a remote backend is
reached, before the run is created: a bad flag or an unreachable cluster leaves no run.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from typing import Any

from lablink.errors import InvalidInput

BACKENDS = ("local", "ray", "slurm")
DEFAULT_RAY_ADDRESS = "http://127.0.0.1:8265"
_MEMORY = re.compile(r"(\d+(?:\.\d+)?)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib|t|tb|tib)?")
_UNIT = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
# Slurm's --time: minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS, or UNLIMITED
_SLURM_TIME = re.compile(r"\d+|\d+:\d{1,2}|\d+:\d{1,2}:\d{1,2}|\d+-\d+(:\d{1,2}){0,2}|unlimited")
_ONLY = {"address": ("ray",), "partition": ("slurm",), "time": ("slurm",)}


@dataclasses.dataclass(frozen=True)
class Placement:
    """Where a job runs and what it asks for; None: not asked (the backend's default)."""

    backend: str = "local"
    address: str | None = None  # Ray's dashboard, http://HOST:8265
    partition: str | None = None  # Slurm
    time: str | None = None  # Slurm's time limit, e.g. 12:00:00
    gpus: int | None = None
    cpus: int | None = None
    memory: int | None = None  # bytes

    def resources(self) -> dict[str, Any]:
        """What the job asked for, as recorded on its run."""
        keys = ("gpus", "cpus", "memory", "partition", "time")
        return {k: getattr(self, k) for k in keys if getattr(self, k) is not None}


def parse_memory(raw: str | int) -> int:
    """Bytes from ``4GB``, ``512M``, ``2GiB`` or a bare number of bytes (K, M, G and T are
    powers of 1024, as Slurm reads them)."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        value, unit = float(raw), ""
    else:
        match = _MEMORY.fullmatch(str(raw).strip().lower())
        if match is None:
            raise InvalidInput(
                f"memory {raw!r} does not parse", "write it like 4GB, 512MB or a number of bytes"
            )
        value, unit = float(match.group(1)), (match.group(2) or "")[:1]
    if value <= 0:
        raise InvalidInput(f"memory {raw!r} must be more than zero")
    return int(value * _UNIT[unit])


def _count(raw: Any, what: str) -> int | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
        raise InvalidInput(f"{what} must be an integer of 0 or more, not {raw!r}")
    return raw


def resolve_placement(table: Mapping[str, Any], **flags: Any) -> Placement:
    """The placement from command-line ``flags`` (None: not given) over ``[launch]``.

    Raises:
        InvalidInput: an unknown backend, a flag its backend does not take, a bad value.
    """
    backend = str(flags.get("backend") or table.get("backend") or "local")
    if backend not in BACKENDS:
        raise InvalidInput(f"unknown backend {backend!r}", f"the backends: {', '.join(BACKENDS)}")
    given = {k: v for k, v in flags.items() if v is not None and k != "backend"}
    if backend == "local" and given:
        raise InvalidInput(
            f"--{sorted(given)[0]} is for --backend ray or slurm",
            "a local job runs with this machine's resources",
        )
    for key, owners in _ONLY.items():
        if key in given and backend not in owners:
            raise InvalidInput(f"--{key} is for --backend {' or '.join(owners)}, not {backend}")

    def pick(name: str) -> Any:
        value = flags.get(name)
        if value is None and backend in _ONLY.get(name, (backend,)):
            value = table.get(name)
        return value

    memory = pick("memory")
    time_limit = pick("time")
    if time_limit is not None and not _SLURM_TIME.fullmatch(str(time_limit).strip().lower()):
        raise InvalidInput(
            f"time {time_limit!r} is not a Slurm time limit",
            "write it like 12:00:00, 90 (minutes), 1-12:00:00 or UNLIMITED",
        )
    address = pick("address")
    if backend == "ray":
        address = address or os.environ.get("RAY_ADDRESS") or DEFAULT_RAY_ADDRESS
    return Placement(
        backend=backend,
        address=None if address is None else str(address),
        partition=None if pick("partition") is None else str(pick("partition")),
        time=None if time_limit is None else str(time_limit).strip(),
        gpus=_count(pick("gpus"), "gpus"),
        cpus=_count(pick("cpus"), "cpus"),
        memory=None if memory is None else parse_memory(memory),
    )
