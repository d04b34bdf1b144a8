"""The corruption and balance checks of the review report."""

from __future__ import annotations

import collections
import math
from typing import TYPE_CHECKING, Any

from lablink.core.review_files import FileScan
from lablink.core.review_leakage import Check, Flag, check
from lablink.core.review_splits import NO_SPLIT, SplitPlan
from lablink.core.review_tables import TableScan
from lablink.settings import ReviewThresholds

if TYPE_CHECKING:
    from lablink.checks.validation_report import ValidationReport

MAX_LABELS = 1000  # a "label" with more values is not a class label


def _name(plan: SplitPlan, split: int) -> str:
    return plan.names[split] if split != NO_SPLIT else "(no split)"


def decode(files: FileScan, tables: TableScan, t: ReviewThresholds, flagged: list[Flag]) -> Check:
    """Files that do not decode: images, tables, JSON, text."""
    errors = files.errors + tables.errors
    for path, reason in errors[: t.max_flagged]:
        flagged.append({"path": path, "row": None, "reason": f"does not decode: {reason}"})
    shown = [{"path": p, "error": e} for p, e in errors[: t.max_evidence]]
    checked = files.checked + len(tables.files)
    if not errors:
        return check("corruption.decode", "pass", f"all {checked} files checked decode", files=[])
    return check(
        "corruption.decode",
        "fail",
        f"{len(errors)} of {checked} files do not decode (first: {errors[0][0]})",
        count=len(errors),
        files=shown,
    )


def empty(files: FileScan, tables: TableScan, t: ReviewThresholds, flagged: list[Flag]) -> Check:
    """Empty files, tables without rows, blank images (every pixel the same)."""
    found = {
        "empty_files": files.empty,
        "tables_without_rows": tables.empty,
        "blank_images": files.blank,
    }
    for reason, paths in found.items():
        for path in paths[: t.max_flagged]:
            flagged.append({"path": path, "row": None, "reason": reason.replace("_", " ")})
    total = sum(len(p) for p in found.values())
    evidence = {k: {"count": len(v), "shown": v[: t.max_evidence]} for k, v in found.items()}
    if not total:
        return check("corruption.empty", "pass", "no empty file, table or blank image", **evidence)
    parts = [f"{len(v)} {k.replace('_', ' ')}" for k, v in found.items() if v]
    return check("corruption.empty", "warn", ", ".join(parts), **evidence)


def schema(report: ValidationReport | None, t: ReviewThresholds) -> Check:
    """Rows that break the dataset's registered schema."""
    if report is None:
        return check(
            "corruption.schema",
            "skip",
            "no registered schema for this dataset (lablink data add --schema records one)",
        )
    body = report.to_dict()
    body["failures"] = body.get("failures", [])[: t.max_evidence]
    if report.ok:
        return check(
            "corruption.schema", "pass", f"{report.rows} rows pass {report.schema}", **body
        )
    return check("corruption.schema", "fail", f"{report.schema}: {report.summary()}", **body)


def nonfinite(tables: TableScan, t: ReviewThresholds) -> Check:
    """NaN and infinite values in float columns."""
    columns = {
        name: {"nan": nan, "inf": inf, "share": (nan + inf) / cells}
        for name, (nan, inf, cells) in tables.nonfinite.items()
        if nan + inf
    }
    if not tables.nonfinite:
        return check("corruption.nonfinite", "skip", "no float columns")
    if not columns:
        return check("corruption.nonfinite", "pass", "no NaN or inf in float columns", columns={})
    worst = max(columns.items(), key=lambda kv: kv[1]["share"])
    status = "fail" if worst[1]["share"] >= t.nonfinite_fail_share else "warn"
    message = (
        f"{len(columns)} columns hold NaN or inf; most in {worst[0]} ({worst[1]['share']:.2%})"
    )
    return check("corruption.nonfinite", status, message, columns=columns)


def constant(tables: TableScan) -> Check:
    """Columns with a single value (or none) over every row."""
    if tables.rows < 2:
        what = "no table rows" if not tables.rows else "one table row"
        return check("corruption.constant", "skip", f"{what}: nothing to compare")
    found: list[dict[str, Any]] = []
    for name, (low, high, cells) in tables.extremes.items():
        if cells == 0:
            found.append({"column": name, "value": None, "note": "every cell is empty"})
        elif low is not None and low == high and not _nan(low):
            found.append({"column": name, "value": _plain(low)})
    if not found:
        return check("corruption.constant", "pass", "no constant column", columns=[])
    names = ", ".join(str(f["column"]) for f in found[:5])
    return check(
        "corruption.constant", "warn", f"{len(found)} constant columns: {names}", columns=found
    )


def labels(
    plan: SplitPlan,
    counts: dict[int, collections.Counter[Any]],
    label: str | None,
    t: ReviewThresholds,
) -> Check:
    """Label counts per split, the imbalance ratio, labels missing from a split."""
    if label is None:
        return check("balance.labels", "skip", "no label given (--label COLUMN)")
    every = {v for c in counts.values() for v in c if v is not None}
    if len(every) > MAX_LABELS:
        return check(
            "balance.labels", "skip", f"{label} has {len(every)} values: not a class label"
        )
    splits: dict[str, Any] = {}
    status, notes = "pass", []
    for sid in sorted(counts):
        c = counts[sid]
        present = {v: n for v, n in c.items() if v is not None}
        ratio = max(present.values()) / min(present.values()) if present else None
        missing = sorted(map(str, every - set(present))) if sid != NO_SPLIT else []
        splits[_name(plan, sid)] = {
            "counts": {str(v): n for v, n in sorted(present.items(), key=lambda kv: -kv[1])},
            "unlabelled": c.get(None, 0),
            "imbalance": ratio,
            "missing": missing,
        }
        if ratio is not None and ratio >= t.imbalance_fail:
            status = "fail"
        elif (ratio is not None and ratio >= t.imbalance_warn) or missing:
            status = "warn" if status == "pass" else status
        if ratio is not None and ratio >= t.imbalance_warn:
            notes.append(f"{_name(plan, sid)} {ratio:.1f}:1")
        if missing:
            notes.append(f"{_name(plan, sid)} lacks {', '.join(missing[:3])}")
    worst = max((s["imbalance"] or 0 for s in splits.values()), default=0)
    message = f"{label}: {len(every)} labels, largest imbalance {worst:.1f}:1" + (
        f" ({'; '.join(notes)})" if notes else ""
    )
    return check("balance.labels", status, message, label=label, splits=splits)


def subgroups(
    plan: SplitPlan, groups: dict[str, dict[int, collections.Counter[Any]]], t: ReviewThresholds
) -> Check:
    """Rows per subgroup per split; a subgroup small in, or missing from, a split warns."""
    if not groups:
        return check("balance.subgroups", "skip", "no subgroup columns given (--groups a,b)")
    columns: dict[str, Any] = {}
    small: list[dict[str, Any]] = []
    missing: list[dict[str, Any]] = []
    for column, per_split in groups.items():
        values = {v for c in per_split.values() for v in c}
        if len(values) > MAX_LABELS:
            columns[column] = {"skipped": f"{len(values)} values: not a subgroup column"}
            continue
        columns[column] = {
            _name(plan, s): {str(v): n for v, n in sorted(c.items(), key=lambda kv: -kv[1])}
            for s, c in sorted(per_split.items())
        }
        for sid, c in sorted(per_split.items()):
            if sid == NO_SPLIT and plan.names:
                continue
            for value in sorted(values, key=str):
                n = c.get(value, 0)
                where = {"column": column, "value": _plain(value), "split": _name(plan, sid)}
                if n == 0 and len(per_split) > 1:
                    missing.append(where)
                elif 0 < n < t.subgroup_min:
                    small.append({**where, "rows": n})
    status = "warn" if small or missing else "pass"
    parts = []
    if small:
        parts.append(f"{len(small)} subgroups under {t.subgroup_min} rows in a split")
    if missing:
        first = missing[0]
        parts.append(
            f"{len(missing)} missing from a split (first: {first['column']}={first['value']} "
            f"in {first['split']})"
        )
    message = "; ".join(parts) or f"every subgroup has {t.subgroup_min}+ rows in every split"
    return check(
        "balance.subgroups",
        status,
        message,
        columns=columns,
        small=small[: t.max_evidence],
        missing=missing[: t.max_evidence],
    )


def _nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _plain(value: Any) -> Any:
    """A JSON-able value: numbers, text, booleans and None as they are, others as text."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    return str(value)
