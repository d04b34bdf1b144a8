"""The automated review report of a dataset version: leakage, corruption, balance.

``build_report`` reads the version once, file by file and table batch by batch, and
returns a JSON-able dict: a status (``pass``, ``warn`` or ``fail``, the worst of its
checks), a summary line a reviewer reads first, one entry per check with its evidence
(capped lists with counts), and ``flagged`` samples for previews. A check that does not
apply (no key given, no schema registered) has status ``skip`` and says why. The review
workflow stores the dict with the version's review; this module changes nothing.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lablink.checks.tablefiles import table_format
from lablink.core import review_health as health
from lablink.core import review_leakage as leakage
from lablink.core.review_files import FileScan, local_copy
from lablink.core.review_options import ReviewOptions
from lablink.core.review_splits import NO_SPLIT, plan_splits
from lablink.core.review_tables import Columns, TableScan
from lablink.errors import InvalidInput, NotFound
from lablink.settings import ReviewThresholds

if TYPE_CHECKING:
    from lablink.checks.validate import Validator
    from lablink.core.datasets.manifest import FileEntry
    from lablink.core.review_context import ReviewLab
    from lablink.models import DatasetVersion

__all__ = ["ReviewOptions", "ReviewThresholds", "build_report"]

_ORDER = {"skip": 0, "pass": 0, "warn": 1, "fail": 2}


def build_report(
    lab: ReviewLab,
    dataset: str,
    version: int,
    options: ReviewOptions,
    *,
    thresholds: ReviewThresholds | None = None,
) -> dict[str, Any]:
    """The automated review report of ``dataset@v{version}``.

    Raises:
        NotFound: no such dataset or version.
        InvalidInput: a split prefix no file is under; a key, label or group column that
            no table has; probabilities that cannot be read or do not fit the rows.
    """
    from lablink.checks.near_text import TextIndex

    t = thresholds or review_thresholds(lab)
    started = time.perf_counter()
    info, manifest = _version(lab, dataset, version)
    entries = [e for e in manifest.files if e.link is None]
    paths = [e.path for e in entries]
    plan = plan_splits(options.splits, paths, info.ref)
    probabilities = _probabilities_entry(options, entries)
    tables_in = [e for e in entries if table_format(Path(e.path)) and e is not probabilities]
    _check_columns(lab, info, options, tables_in, entries)
    texts = TextIndex(t.text_similarity)
    columns = Columns(options.key, options.label, options.groups, options.probabilities is not None)
    previous = _previous(lab, info)
    tables = TableScan(
        plan, columns, t, profile=previous is not None, validator=_validator(lab, info), texts=texts
    )
    files = FileScan(plan, lab.blobs, texts, t.max_texts)
    try:
        for entry in entries:
            if entry is probabilities:
                continue
            fmt = table_format(Path(entry.path))
            if fmt is not None and entry.size > 0:
                with local_copy(lab.blobs, entry.digest) as local:
                    tables.scan_file(entry.path, local, fmt)
            else:
                files.scan(entry)
        files.finish()
    finally:
        files.close()
    file_splits = _file_splits(plan, entries)
    flagged: list[dict[str, Any]] = []
    label_counts = (
        tables.labels if tables.labels or not options.label else _folder_labels(plan, entries)
    )
    from lablink.core.review_drift import drift_check
    from lablink.core.review_labels import cleanlab_check

    checks = [
        leakage.exact(plan, entries, file_splits, tables, t, flagged),
        leakage.near(plan, files, tables, texts, t, flagged),
        leakage.group(plan, tables, options.key, t),
        health.decode(files, tables, t, flagged),
        health.empty(files, tables, t, flagged),
        health.schema(tables.validator.finish() if tables.validator else None, t),
        health.nonfinite(tables, t),
        health.constant(tables),
        drift_check(lab, plan, info, previous, tables, options),
        health.labels(plan, label_counts, options.label, t),
        health.subgroups(plan, tables.groups, t),
        cleanlab_check(lab, options, probabilities, tables, t, flagged),
    ]
    status = max((c["status"] for c in checks), key=_ORDER.__getitem__)
    status = "pass" if status == "skip" else status
    return {
        "dataset": info.dataset,
        "version": info.version,
        "ref": info.ref,
        "computed_at": time.time(),
        "seconds": round(time.perf_counter() - started, 3),
        "options": options.to_dict(),
        "thresholds": t.to_dict(),
        "splits": {
            "source": plan.source,
            "names": list(plan.names),
            "files": {n: int((file_splits == i).sum()) for i, n in enumerate(plan.names)},
            "rows": {
                plan.names[s]: n for s, n in sorted(tables.split_rows.items()) if s != NO_SPLIT
            },
        },
        "files": len(entries),
        "rows": tables.rows,
        "status": status,
        "summary": summary(status, checks, len(entries), tables.rows),
        "checks": checks,
        "flagged": _unique(flagged)[: t.max_flagged],
    }


def review_thresholds(lab: ReviewLab) -> ReviewThresholds:
    """The ``[review]`` table of the lab's ``lablink.toml``, over the defaults."""
    return lab.settings.review_thresholds()


def summary(status: str, checks: list[dict[str, Any]], files: int, rows: int) -> str:
    """One line: the verdict, then each failing and warning check's message."""
    bad = [c for c in checks if c["status"] == "fail"] + [
        c for c in checks if c["status"] == "warn"
    ]
    ran = sum(1 for c in checks if c["status"] != "skip")
    if not bad:
        return f"PASS: {ran} checks passed on {files} files and {rows} table rows"
    counts = ", ".join(
        f"{n} {s}" for s in ("fail", "warn") if (n := sum(1 for c in checks if c["status"] == s))
    )
    detail = "; ".join(f"{c['name']}: {c['message']}" for c in bad)
    line = f"{status.upper()} ({counts} of {ran} checks): {detail}"
    return line if len(line) <= 500 else line[:497] + "..."


def _version(lab: ReviewLab, dataset: str, version: int) -> tuple[DatasetVersion, Any]:
    try:
        return lab.datasets.manifest(f"{dataset}@v{version}")
    except NotFound as exc:
        raise NotFound(
            f"{dataset}@v{version} does not exist: {exc.message}",
            f"list the versions with `lablink data log {dataset}`",
        ) from None


def _previous(lab: ReviewLab, info: DatasetVersion) -> DatasetVersion | None:
    older = [v for v in lab.datasets.log(info.dataset) if v.version < info.version]
    return max(older, key=lambda v: v.version) if older else None


def _validator(lab: ReviewLab, info: DatasetVersion) -> Validator | None:
    """A validator for the dataset's schema: the latest version of the subject its
    version was checked against, else a subject named like the dataset."""
    from lablink.checks.validate import Validator
    from lablink.core.schemas import Schemas

    schemas = Schemas(lab.store)
    subject = info.schema_ref.split("@")[0] if info.schema_ref else info.dataset
    try:
        stored = schemas.get(subject)
    except (NotFound, InvalidInput):
        return None
    return Validator(schemas.schema(stored.ref), stored.ref)


def _file_splits(plan: Any, entries: list[FileEntry]) -> Any:
    import numpy as np

    return np.array([plan.of_path(e.path) for e in entries], dtype=np.int64)


def _folder_labels(plan: Any, entries: list[FileEntry]) -> dict[int, Any]:
    """Image labels from their parent folders, per split (``train/cat/1.png`` is a cat)."""
    import collections

    from lablink.checks.images import is_image

    counts: dict[int, collections.Counter[Any]] = collections.defaultdict(collections.Counter)
    for entry in entries:
        if is_image(entry.path) and "/" in entry.path:
            counts[plan.of_path(entry.path)][entry.path.rsplit("/", 2)[-2]] += 1
    return counts


def _probabilities_entry(options: ReviewOptions, entries: list[FileEntry]) -> FileEntry | None:
    if options.probabilities is None:
        return None
    wanted = options.probabilities.removeprefix("./")
    found = next((e for e in entries if e.path == wanted), None)
    if found is None and not Path(options.probabilities).is_file():
        raise InvalidInput(
            f"probabilities {options.probabilities!r}: not a file of the version nor a local file",
            "give the path of a .npy, .csv or .parquet of predicted probabilities",
        )
    return found


def _check_columns(
    lab: ReviewLab,
    info: DatasetVersion,
    options: ReviewOptions,
    tables: list[FileEntry],
    entries: list[FileEntry],
) -> None:
    """Refuse key, label and group columns that no table has, before reading any data."""
    wanted = [("key", options.key)] + [("group", g) for g in options.groups]
    images = any(_is_image(e.path) for e in entries)
    if options.label and not (images and not tables):
        wanted.append(("label", options.label))
    wanted = [(what, name) for what, name in wanted if name]
    if not wanted:
        return
    if not tables:
        what, name = wanted[0]
        raise InvalidInput(
            f"{what} column {name!r}: {info.ref} has no table files",
            "key, label and group columns are read from .parquet, .csv and .jsonl files",
        )
    seen: dict[str, None] = {}
    for entry in tables:
        with local_copy(lab.blobs, entry.digest) as local:
            seen.update(dict.fromkeys(_columns_of(local, table_format(Path(entry.path)))))
    for what, name in wanted:
        if name not in seen:
            raise InvalidInput(
                f"{what} column {name!r} is not in the tables of {info.ref}",
                f"columns: {', '.join(list(seen)[:30]) or '(none readable)'}",
            )


def _is_image(path: str) -> bool:
    from lablink.checks.images import is_image

    return is_image(path)


def _columns_of(local: Path, fmt: str | None) -> list[str]:
    """A table's column names from its header or footer; none if it does not parse."""
    from lablink.checks.tablefiles import iter_chunks

    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            return list(pq.read_schema(local).names)
        for chunk in iter_chunks([local], None, 1000, fmt):
            return list(chunk.frame.columns)
    except (InvalidInput, OSError, ValueError):
        return []
    return []


def _unique(flagged: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[tuple[Any, ...]] = set()
    out = []
    for item in flagged:
        key = (item["path"], item["row"], item["reason"])
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out
