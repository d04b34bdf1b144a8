"""Which parts of a run a list or search answers with (``fields=``), checked without I/O.

A page of runs rarely needs a run's package list, command, notes or config; asking
for fewer fields makes the answer smaller. The names are the keys of a run's JSON
(``RunRecord.to_dict``); ``id``, ``project``, ``name``, ``status`` and ``created_at``
always come along, so a row can be shown and fetched in full later.
"""

from __future__ import annotations

from collections.abc import Iterable

from lablink.errors import InvalidInput

ALWAYS = ("id", "project", "name", "status", "created_at")
FIELDS = (
    *ALWAYS,
    "user",
    "ended_at",
    "heartbeat_at",
    "duration",
    "git",
    "command",
    "host",
    "python_version",
    "packages",
    "gpus",
    "config",
    "params",
    "tags",
    "summary",
    "metrics",
    "notes",
    "outcome",
    "status_reason",
    "inputs",
    "stop_requested",
)
# What a runs table shows: no packages, git diff, command, notes or config.
LEAN = (*ALWAYS, "user", "ended_at", "heartbeat_at", "duration", "tags", "params", "metrics")


def blank_fields(fields: Iterable[str]) -> tuple[str, ...]:
    """The fields a selection leaves blank (``duration`` is derived, never blank)."""
    chosen = set(fields)
    return tuple(f for f in FIELDS if f not in chosen and f not in ALWAYS and f != "duration")


def parse_fields(fields: str | Iterable[str]) -> tuple[str, ...]:
    """The selected field names in ``FIELDS`` order, ``ALWAYS`` included.

    ``fields`` is a comma-separated string (the HTTP query) or names; ``lean`` stands
    for the ``LEAN`` set. ``duration`` brings ``ended_at`` and ``heartbeat_at`` along:
    it is derived from them.

    Raises:
        InvalidInput: a name that is not a field of a run.
    """
    names = [n.strip() for n in fields.split(",")] if isinstance(fields, str) else list(fields)
    wanted = set(ALWAYS)
    for name in names:
        if name == "lean":
            wanted.update(LEAN)
        elif name in FIELDS:
            wanted.add(name)
        elif name:
            raise InvalidInput(
                f"unknown run field {name!r} in fields",
                f"choose from: lean, {', '.join(FIELDS)}",
            )
    if "duration" in wanted:
        wanted.update(("ended_at", "heartbeat_at"))
    return tuple(f for f in FIELDS if f in wanted)
