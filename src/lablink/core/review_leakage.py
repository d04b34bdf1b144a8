"""The leakage checks of the review report: exact, near and group duplicates across splits."""

from __future__ import annotations

import collections
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from lablink.checks.leakage import cross_split, hamming_pairs
from lablink.core.datasets.manifest import FileEntry
from lablink.core.review_files import FileScan
from lablink.core.review_splits import NO_SPLIT, SplitPlan
from lablink.core.review_tables import TableScan
from lablink.settings import ReviewThresholds

if TYPE_CHECKING:
    from lablink.checks.near_text import TextIndex

Check = dict[str, Any]
Flag = dict[str, Any]


def check(name: str, status: str, message: str, **evidence: Any) -> Check:
    """One entry of a report's ``checks``."""
    return {"name": name, "status": status, "message": message, "evidence": evidence}


class Involved:
    """Items (rows or files) found in more than one split, counted per split."""

    def __init__(self, names: Sequence[str], totals: dict[int, int], unit: str) -> None:
        self.names, self.totals, self.unit = names, totals, unit
        self.by_split: collections.Counter[int] = collections.Counter()
        self.pairs: list[dict[str, Any]] = []
        self.count = 0

    def add(self, splits: np.ndarray) -> None:
        for sid, n in zip(*np.unique(splits, return_counts=True), strict=True):
            self.by_split[int(sid)] += int(n)

    def share(self) -> float:
        """The largest share of a split's items that also occur in another split."""
        return max(
            (n / self.totals[s] for s, n in self.by_split.items() if self.totals.get(s)),
            default=0.0,
        )

    def summary(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "unit": self.unit,
            "by_split": {
                self.names[s]: {"items": n, "of": self.totals.get(s, 0)}
                for s, n in sorted(self.by_split.items())
            },
            "shown": self.pairs,
        }

    def describe(self, what: str) -> str:
        parts = [
            f"{n} {what} of {self.names[s]} ({n / self.totals[s]:.1%})"
            for s, n in sorted(self.by_split.items())
            if self.totals.get(s)
        ]
        return ", ".join(parts)


def _where(plan: SplitPlan, split: int, path: str, row: int | None) -> dict[str, Any]:
    return {"split": plan.names[split], "path": path, "row": row}


def _status(found: list[Involved], t: ReviewThresholds) -> str:
    if not any(f.count for f in found):
        return "pass"
    return "fail" if max(f.share() for f in found) >= t.leakage_fail_share else "warn"


def exact(
    plan: SplitPlan,
    entries: Sequence[FileEntry],
    file_splits: np.ndarray,
    tables: TableScan,
    t: ReviewThresholds,
    flagged: list[Flag],
) -> Check:
    """Files with equal content digests, and table rows with equal hashes, across splits."""
    files = Involved(plan.names, _totals(file_splits), "groups of equal files")
    linked = np.array([not e.digest for e in entries], dtype=bool)
    digests = np.array([int(e.digest[-16:] or "0", 16) for e in entries], dtype=np.uint64)
    inside = np.flatnonzero((file_splits != NO_SPLIT) & ~linked)
    index, group = cross_split(file_splits[inside], digests[inside])
    items, splits = inside[index], file_splits[inside][index]
    _collect(
        files,
        splits,
        group,
        lambda k: _where(plan, int(splits[k]), entries[items[k]].path, None),
        t,
    )
    located = tables.located()
    rows = Involved(plan.names, _totals(located["split"]), "groups of equal rows")
    items, group = tables.shared("exact")
    _collect(rows, located["split"][items], group, _row_where(plan, located, items, tables), t)
    for found, kind in ((files, "file"), (rows, "row")):
        for pair in found.pairs:
            for side in ("a", "b"):
                flagged.append(_flag(pair[side], f"exact duplicate {kind} across splits"))
    status = _status([files, rows], t)
    if status == "pass":
        message = _none_found(plan, "no file or row occurs in two splits")
    else:
        described = [d for d in (files.describe("files"), rows.describe("rows")) if d]
        message = "duplicates across splits: " + "; ".join(described)
    return check("leakage.exact", status, message, files=files.summary(), rows=rows.summary())


def near(
    plan: SplitPlan,
    files: FileScan,
    tables: TableScan,
    texts: TextIndex | None,
    t: ReviewThresholds,
    flagged: list[Flag],
) -> Check:
    """Images a few phash bits apart, similar texts, and rows equal once normalised."""
    hashes, splits = files.image_arrays()
    images = Involved(plan.names, _totals(splits), "pairs of similar images")
    i, j, distance = hamming_pairs(hashes, splits, t.image_distance)
    images.count = len(i)
    images.add(np.concatenate([splits[i], splits[j]]))
    for a, b, d in zip(i[: t.max_evidence], j[: t.max_evidence], distance, strict=False):
        images.pairs.append(
            {
                "a": _where(plan, int(splits[a]), files.image_paths[a], None),
                "b": _where(plan, int(splits[b]), files.image_paths[b], None),
                "distance": int(d),
            }
        )
    text = Involved(plan.names, _text_totals(texts), "pairs of similar texts")
    if texts is not None:
        for a, b, similarity in texts.pairs():
            text.count += 1
            text.add(np.array([texts.splits[a], texts.splits[b]]))
            if len(text.pairs) < t.max_evidence:
                text.pairs.append(
                    {
                        "a": _text_where(plan, texts, a),
                        "b": _text_where(plan, texts, b),
                        "similarity": round(similarity, 3),
                    }
                )
    located = tables.located()
    rows = Involved(plan.names, _totals(located["split"]), "groups of rows equal once normalised")
    items, group = tables.shared("near")
    # Rows that are exact duplicates across splits are leakage.exact's, not counted again
    counted = ~np.isin(items, tables.shared("exact")[0])
    where = _row_where(plan, located, items, tables)
    _collect(rows, located["split"][items], group, where, t, counted)
    for found, reason in ((images, "similar image"), (text, "similar text"), (rows, "row")):
        for pair in found.pairs:
            for side in ("a", "b"):
                flagged.append(_flag(pair[side], f"near duplicate {reason} across splits"))
    status = _status([images, text, rows], t)
    if status == "pass":
        message = _none_found(plan, "no near duplicates across splits")
    else:
        described = [
            d
            for d in (
                images.describe("images"),
                text.describe("texts"),
                rows.describe("rows (normalised)"),
            )
            if d
        ]
        message = "near duplicates across splits: " + "; ".join(described)
    return check(
        "leakage.near",
        status,
        message,
        images=images.summary(),
        texts=text.summary(),
        rows=rows.summary(),
        image_distance=t.image_distance,
        text_similarity=t.text_similarity,
    )


def group(plan: SplitPlan, tables: TableScan, key: str | None, t: ReviewThresholds) -> Check:
    """Key values (a patient, a user) that occur in more than one split."""
    if key is None:
        return check("leakage.group", "skip", "no group key given (--key COLUMN)")
    import polars as pl

    # one row per (key, split) with its row count: a key in two splits has two rows
    # rows without a key belong to no group
    counts = tables.key_counts().filter(
        (pl.col("__split") != NO_SPLIT) & pl.col("key").is_not_null()
    )
    totals = {int(s): int(n) for s, n in counts.group_by("__split").len().iter_rows()}
    multi = counts.group_by("key").len(name="splits").filter(pl.col("splits") > 1)
    shared = counts.join(multi.select("key"), on="key", how="semi")
    found = Involved(plan.names, totals, "keys")
    found.count = multi.height
    found.add(shared.get_column("__split").to_numpy())
    first = multi.get_column("key").sort(nulls_last=True).head(t.max_evidence)
    shown = shared.filter(pl.col("key").is_in(first.to_list())).sort("key", "__split")
    for (value,), part in shown.partition_by("key", as_dict=True, maintain_order=True).items():
        found.pairs.append(
            {
                "key": value,
                "rows": {plan.names[s]: int(n) for _, s, n in part.iter_rows()},
            }
        )
    status = _status([found], t)
    if status == "pass":
        message = _none_found(plan, f"no {key} value occurs in two splits")
    else:
        message = f"{multi.height} {key} values occur in more than one split: " + found.describe(
            f"{key} values"
        )
    return check("leakage.group", status, message, key=key, **found.summary())


def _none_found(plan: SplitPlan, message: str) -> str:
    if len(plan.names) < 2:
        return "one split or none: nothing to leak between (give --splits)"
    return message


def _totals(splits: np.ndarray) -> dict[int, int]:
    ids, counts = np.unique(splits, return_counts=True)
    return {int(s): int(n) for s, n in zip(ids, counts, strict=True) if s != NO_SPLIT}


def _text_totals(texts: TextIndex | None) -> dict[int, int]:
    return _totals(np.asarray(texts.splits)) if texts is not None and len(texts) else {}


def _text_where(plan: SplitPlan, texts: TextIndex, number: int) -> dict[str, Any]:
    path, row, column = texts.where[number]
    out = _where(plan, texts.splits[number], path, row)
    if column is not None:
        out["column"] = column
    return out


def _collect(
    found: Involved,
    splits: np.ndarray,
    group: np.ndarray,
    where_of: Callable[[int], dict[str, Any]],
    t: ReviewThresholds,
    counted: np.ndarray | None = None,
) -> None:
    """Count the items of cross-split groups (those ``counted``, default all) and show a
    pair per group, capped: a counted item and the first item of another split."""
    counted = np.ones(len(splits), dtype=bool) if counted is None else counted
    found.add(splits[counted])
    found.count = len(np.unique(group[counted]))
    if not len(group):
        return
    starts = np.flatnonzero(np.diff(group, prepend=-1))
    ends = np.append(starts[1:], len(group))
    for first, last in zip(starts.tolist(), ends.tolist(), strict=True):
        if len(found.pairs) >= t.max_evidence:
            break
        mine = np.flatnonzero(counted[first:last])
        if not len(mine):
            continue
        a = first + int(mine[0])
        b = first + int(np.argmax(splits[first:last] != splits[a]))
        found.pairs.append({"a": where_of(a), "b": where_of(b)})


def _row_where(
    plan: SplitPlan, located: dict[str, np.ndarray], items: np.ndarray, tables: TableScan
) -> Callable[[int], dict[str, Any]]:
    def where(k: int) -> dict[str, Any]:
        item = items[k]
        path = tables.files[int(located["file"][item])]
        return _where(plan, int(located["split"][item]), path, int(located["row"][item]))

    return where


def _flag(where: dict[str, Any], reason: str) -> Flag:
    return {"path": where["path"], "row": where.get("row"), "reason": reason}
