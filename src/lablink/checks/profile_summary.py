"""Display rows for a stored profile and a drift report, shared by the CLI and the web UI.

Pure Python over the profile's JSON (no numpy), so rendering a profile costs nothing
beyond reading it. Dates and datetimes, profiled as epoch microseconds, are shown as
dates again.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

SHOWN_CATEGORIES = 3


def number(value: Any, temporal: str | None = None) -> str:
    """A statistic as text: four significant digits, or a date for temporal columns."""
    if value is None:
        return ""
    if temporal in ("date", "datetime") and isinstance(value, int | float):
        try:
            moment = datetime.datetime.fromtimestamp(value / 1e6, datetime.UTC)
        except (OverflowError, OSError, ValueError):  # beyond Python's years 1-9999
            return f"{value:.4g} µs"
        return moment.date().isoformat() if temporal == "date" else moment.isoformat(" ")[:19]
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def profile_rows(profile: Mapping[str, Any]) -> list[dict[str, str]]:
    """One row per column: name, dtype, kind, count, empty share, range, mean ± std, top."""
    rows: list[dict[str, str]] = []
    for name, col in profile.get("columns", {}).items():
        count, nulls = int(col.get("count", 0)), int(col.get("nulls", 0))
        total = count + nulls
        row = {
            "column": name,
            "dtype": str(col.get("dtype", "")),
            "kind": str(col.get("kind", "")),
            "count": f"{count:,}" if "count" in col else "",  # "other" kinds: not counted
            "empty": f"{nulls / total:.1%}" if total else "",
            "min": "",
            "max": "",
            "mean": "",
            "std": "",
            "top": "",
        }
        if col.get("kind") == "numeric":
            temporal = col.get("temporal")
            row.update(
                min=number(col.get("min"), temporal),
                max=number(col.get("max"), temporal),
                mean=number(col.get("mean"), temporal),
                std=number(col.get("std")) if not temporal else "",
            )
        elif col.get("kind") == "categorical":
            distinct = col.get("distinct")
            top = ", ".join(f"{v} ({n:,})" for v, n in col.get("top", [])[:SHOWN_CATEGORIES])
            row["top"] = (f"{distinct:,} distinct: " if distinct is not None else "") + top
        rows.append(row)
    return rows


def drift_rows(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per shared column of a drift report (``DriftReport.to_dict()``)."""
    rows: list[dict[str, Any]] = []
    for col in report.get("columns", []):
        stats = col.get("stats", {})
        if col.get("kind") == "numeric":
            tests = _pairs(("KS D", stats.get("ks")), ("p", stats.get("ks_p_value")))
            size = _pairs(("PSI", stats.get("psi")))
        else:
            tests = _pairs(("χ²", stats.get("chi2")), ("p", stats.get("chi2_p_value")))
            size = _pairs(("JS", stats.get("js")), ("V", stats.get("cramers_v")))
        rows.append(
            {
                "column": col["column"],
                "kind": col.get("kind", ""),
                "drifted": bool(col.get("drifted")),
                "test": tests,
                "size": size,
                "reasons": "; ".join(col.get("reasons", [])),
            }
        )
    return rows


def _pairs(*items: tuple[str, Any]) -> str:
    return " ".join(f"{label}={number(value)}" for label, value in items if value is not None)
