"""The drift check of the review report: each split against the previous version's.

The current version's splits are profiled during the report's one pass over its
tables (``checks/profile.py``); the previous version's tables are read only for splits
whose files changed, since equal files cannot drift. Columns are compared with
``checks/drift.py`` under the ``[drift]`` thresholds of ``lablink.toml``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from lablink.checks.drift import DriftThresholds, compare_profiles
from lablink.checks.profile import Profiler
from lablink.checks.tablefiles import iter_chunks, table_format
from lablink.core.review_files import local_copy
from lablink.core.review_leakage import Check, check
from lablink.core.review_splits import NO_SPLIT, SplitPlan
from lablink.core.review_tables import BATCH_ROWS, TableScan
from lablink.errors import InvalidInput

if TYPE_CHECKING:
    from lablink.core.review_context import ReviewLab
    from lablink.core.review_options import ReviewOptions
    from lablink.models import DatasetVersion


def drift_check(
    lab: ReviewLab,
    plan: SplitPlan,
    info: DatasetVersion,
    previous: DatasetVersion | None,
    tables: TableScan,
    options: ReviewOptions,
) -> Check:
    """Columns whose distribution moved since the previous version, per split."""
    if previous is None:
        return check(
            "corruption.drift", "skip", f"{info.ref} is the first version: nothing to compare"
        )
    if not tables.profilers:
        return check("corruption.drift", "skip", "no table rows to compare")
    thresholds = DriftThresholds.from_config(lab.settings.project_config.get("drift"))
    _, old_manifest = lab.datasets.manifest(previous.ref)
    _, new_manifest = lab.datasets.manifest(info.ref)
    old_tables = _tables(old_manifest.files, options)
    new_tables = _tables(new_manifest.files, options)
    unchanged = {
        name
        for sid, name in enumerate(plan.names)
        if plan.source != "column"
        and _in_split(old_tables, plan, sid) == _in_split(new_tables, plan, sid)
    }
    current = {_name(plan, sid): p.finish() for sid, p in tables.profilers.items()}
    wanted = {name for name in current if name not in unchanged}
    before = _profiles(lab, plan, old_tables, wanted)
    splits: dict[str, Any] = {}
    drifted_total = 0
    for name, profile in current.items():
        if name in unchanged:
            splits[name] = {"unchanged": True, "drifted": []}
            continue
        if name not in before:
            splits[name] = {"new": True, "drifted": []}
            continue
        report = compare_profiles(before[name], profile, thresholds)
        drifted_total += len(report.drifted)
        splits[name] = {
            "rows": list(report.rows),
            "drifted": report.drifted,
            "reasons": {c.column: c.reasons for c in report.columns if c.drifted},
            "added": report.added,
            "removed": report.removed,
        }
    evidence = {"against": previous.ref, "splits": splits}
    if not drifted_total:
        return check(
            "corruption.drift", "pass", f"no column drifted since {previous.ref}", **evidence
        )
    moved = [f"{n}: {', '.join(s['drifted'][:4])}" for n, s in splits.items() if s["drifted"]]
    return check(
        "corruption.drift",
        "warn",
        f"{drifted_total} columns drifted since {previous.ref} ({'; '.join(moved)})",
        **evidence,
    )


def _name(plan: SplitPlan, sid: int) -> str:
    return plan.names[sid] if sid != NO_SPLIT else "(no split)"


def _tables(entries: Any, options: ReviewOptions) -> list[Any]:
    skip = (options.probabilities or "").removeprefix("./")
    return [
        e
        for e in entries
        if e.link is None and e.size > 0 and table_format(Path(e.path)) and e.path != skip
    ]


def _in_split(entries: list[Any], plan: SplitPlan, sid: int) -> set[tuple[str, str]]:
    return {(e.path, e.digest) for e in entries if plan.of_path(e.path) == sid}


def _profiles(
    lab: ReviewLab, plan: SplitPlan, entries: list[Any], wanted: set[str]
) -> dict[str, dict[str, Any]]:
    """Profiles of the wanted splits of another version's tables (same split plan)."""
    import polars as pl

    profilers: dict[str, Profiler] = {}
    column = plan.column if plan.source == "column" else None
    for entry in entries:
        sid = plan.of_path(entry.path)
        if column is None and _name(plan, sid) not in wanted:
            continue
        with local_copy(lab.blobs, entry.digest) as local:
            try:
                for chunk in iter_chunks([local], None, BATCH_ROWS, table_format(Path(entry.path))):
                    frame = chunk.frame
                    if column is not None and column in frame.columns and sid == NO_SPLIT:
                        parts = frame.partition_by(column, as_dict=True)
                        for (value,), part in parts.items():
                            name = str(value) if value is not None else _name(plan, NO_SPLIT)
                            if name in wanted:
                                profilers.setdefault(name, Profiler()).feed(part.drop(column))
                    else:
                        profilers.setdefault(_name(plan, sid), Profiler()).feed(frame)
            except (InvalidInput, pl.exceptions.PolarsError):
                continue  # an unreadable old table: its split compares on what was read
    return {name: p.finish() for name, p in profilers.items()}
