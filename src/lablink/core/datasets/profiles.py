"""Table profiles stored beside dataset versions: canonical bytes in, checked dict out.

A profile (``checks/profile.py``: per-column counts, quantile sketches, histograms,
top categories) is a small content-addressed blob named by the version, so drift
between two versions reads two profiles instead of both versions' data.
"""

from __future__ import annotations

import json
from typing import Any

from lablink.errors import InvalidInput, NotFound
from lablink.models import DatasetVersion

MAX_PROFILE_BYTES = 64 * 1024**2


def encode_profile(profile: dict[str, Any]) -> bytes:
    """A profile as canonical JSON bytes (what is stored and hashed)."""
    from lablink.checks.validation_report import jsonable

    return json.dumps(jsonable(profile), sort_keys=True, separators=(",", ":")).encode()


def decode_profile(data: bytes) -> dict[str, Any]:
    """A stored profile. Raises InvalidInput when the bytes are not one."""
    if len(data) > MAX_PROFILE_BYTES:
        raise InvalidInput(f"the profile is {len(data)} bytes (max {MAX_PROFILE_BYTES})")
    try:
        profile = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"the profile blob is not JSON: {exc}") from None
    if (
        not isinstance(profile, dict)
        or not isinstance(profile.get("columns"), dict)
        or not isinstance(profile.get("rows"), int)
    ):
        raise InvalidInput(
            "the profile blob is not a table profile", 'it needs "rows" and "columns"'
        )
    return profile


def no_profile(version: DatasetVersion) -> NotFound:
    """The error for a version stored without a profile."""
    return NotFound(
        f"{version.ref} has no profile: it holds no table files, or was added with --no-profile",
        "profiles are made for .parquet, .csv and .jsonl files at `lablink data add`",
    )
