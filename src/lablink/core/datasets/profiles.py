"""Table profiles stored beside dataset versions: canonical bytes in, checked dict out.

A profile (``checks/profile.py``: per-column counts, quantile sketches, histograms,
top categories) is a small content-addressed blob named by the version, so drift
between two versions reads two profiles instead of both versions' data.
"""

from __future__ import annotations

import itertools
import json
import math
from typing import Any

from lablink.errors import InvalidInput, NotFound
from lablink.models import DatasetVersion

MAX_PROFILE_BYTES = 64 * 1024**2


def encode_profile(profile: dict[str, Any]) -> bytes:
    """A profile as canonical JSON bytes (what is stored and hashed)."""
    from lablink.checks.validation_report import jsonable

    return json.dumps(jsonable(profile), sort_keys=True, separators=(",", ":")).encode()


def decode_profile(data: bytes) -> dict[str, Any]:
    """A stored profile, checked column by column (a server must not trust a client's).

    Raises:
        InvalidInput: the bytes are not a profile; the message names the column.
    """
    if len(data) > MAX_PROFILE_BYTES:
        raise InvalidInput(f"the profile is {len(data)} bytes (max {MAX_PROFILE_BYTES})")
    try:
        profile = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"the profile blob is not JSON: {exc}") from None
    if (
        not isinstance(profile, dict)
        or not isinstance(profile.get("columns"), dict)
        or not _count(profile.get("rows"))
    ):
        raise InvalidInput(
            "the profile blob is not a table profile", 'it needs "rows" and "columns"'
        )
    for name, column in profile["columns"].items():
        problem = column_problem(column)
        if problem:
            raise InvalidInput(
                f"the profile's column {name!r} {problem}",
                "send a profile made by lablink.checks.profile (lablink data add does)",
            )
    return profile


def column_problem(col: Any) -> str | None:
    """What makes ``col`` not a column profile (``checks/profile.py``), or None."""
    if not isinstance(col, dict):
        return "is not an object"
    kind = col.get("kind")
    if kind not in KINDS:
        return f"has an unknown kind {kind!r}"
    for key in ("count", "nulls", "finite", "non_finite", "other"):
        if key in col and not _count(col[key]):
            return f"has a {key} that is not a count"
    if col.get("distinct") is not None and not _count(col["distinct"]):
        return "has a distinct that is not a count"
    for key in ("min", "max", "mean", "std"):
        if col.get(key) is not None and not _number(col[key]):
            return f"has a {key} that is not a number"
    if "sketch" in col and not _numbers(col["sketch"]):
        return "has a sketch that is not a list of numbers"
    if "quantiles" in col and not (
        isinstance(col["quantiles"], dict) and _numbers(list(col["quantiles"].values()))
    ):
        return "has quantiles that are not numbers"
    if "exact" in col and not _exact_counts(col["exact"], col.get("finite")):
        return "has exact counts that are not sorted distinct values with a count each"
    histogram = col.get("histogram")
    if histogram is not None and not (
        isinstance(histogram, dict)
        and _numbers(histogram.get("edges"))
        and _numbers(histogram.get("counts"))
    ):
        return "has a histogram without numeric edges and counts"
    if "counts" in col and not (
        isinstance(col["counts"], dict) and all(_count(n) for n in col["counts"].values())
    ):
        return "has category counts that are not counts"
    top = col.get("top", [])
    if not isinstance(top, list) or not all(
        isinstance(p, list) and len(p) == 2 and _count(p[1]) for p in top
    ):
        return "has a top list that is not [value, count] pairs"
    return None


KINDS = frozenset({"numeric", "categorical", "other"})


def _exact_counts(exact: Any, finite: Any) -> bool:
    """Distinct finite values, increasing, each with a count >= 1, adding up to ``finite``."""
    if not isinstance(exact, dict):
        return False
    values, counts = exact.get("values"), exact.get("counts")
    if not isinstance(values, list) or not isinstance(counts, list):
        return False
    if not _numbers(values) or len(values) != len(counts):
        return False
    if not all(_count(n) and n > 0 for n in counts):
        return False
    if not all(math.isfinite(v) for v in values) or any(
        b <= a for a, b in itertools.pairwise(values)
    ):
        return False
    return finite is None or sum(counts) == finite


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _numbers(values: Any) -> bool:
    return isinstance(values, list) and all(_number(v) for v in values)


def no_profile(version: DatasetVersion) -> NotFound:
    """The error for a version stored without a profile."""
    return NotFound(
        f"{version.ref} has no profile: it holds no table files, was added without one "
        "(--no-profile, profile=False), or its tables could not be read when it was added",
        "profiles are made for .parquet, .csv and .jsonl files at `lablink data add`",
    )
