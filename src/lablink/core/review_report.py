"""The automated review report of a dataset version (TEMPORARY stand-in, issue #19).

This minimal engine keeps the interface of the full report engine built on its own
branch: it validates the options against the version (split paths, the key, label and
group columns of CSV tables) and checks exact duplicates across splits by file digest.
The integrator replaces this file with the real engine.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from lablink.errors import InvalidInput

if TYPE_CHECKING:
    from lablink.core.lab import Lab

MAX_PAIRS = 50
TABLE_SUFFIXES = (".csv",)


@dataclasses.dataclass(frozen=True)
class ReviewOptions:
    """What the report looks at: splits (name -> path prefix), key, label, groups."""

    splits: dict[str, str] = dataclasses.field(default_factory=dict)
    key: str | None = None
    label: str | None = None
    groups: tuple[str, ...] = ()
    probabilities: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        out = dataclasses.asdict(self)
        out["groups"] = list(self.groups)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> ReviewOptions:
        """Options from ``to_dict`` output (unknown keys ignored).

        Raises:
            InvalidInput: a value of the wrong type.
        """
        data = dict(data or {})
        splits = data.get("splits") or {}
        if not isinstance(splits, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in splits.items()
        ):
            raise InvalidInput("splits must map split names to path prefixes")
        groups = data.get("groups") or ()
        if isinstance(groups, str) or not all(isinstance(g, str) for g in groups):
            raise InvalidInput("groups must be a list of column names")
        for name in ("key", "label", "probabilities"):
            if data.get(name) is not None and not isinstance(data[name], str):
                raise InvalidInput(f"{name} must be a string")
        return cls(
            splits=dict(splits),
            key=data.get("key"),
            label=data.get("label"),
            groups=tuple(groups),
            probabilities=data.get("probabilities"),
        )


def build_report(
    lab: Lab,
    dataset: str,
    version: int,
    options: ReviewOptions,
    *,
    thresholds: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The report of ``dataset@v{version}`` with ``options``.

    Raises:
        NotFound: no such version.
        InvalidInput: a split path not in the version, or a column not in its tables.
    """
    found, manifest = lab.datasets.manifest(f"{dataset}@v{version}")
    files = [f for f in manifest.files if f.link is None]
    split_of: dict[str, str] = {}
    for split, prefix in options.splits.items():
        if not any(f.path.startswith(prefix) for f in files):
            raise InvalidInput(
                f"split {split!r}: no file of {found.ref} is under {prefix!r}",
                f"see the version's paths with `lablink data show {found.ref}`",
            )
    for f in files:
        for split, prefix in options.splits.items():
            if f.path.startswith(prefix):
                split_of[f.path] = split
                break
    _check_columns(lab, found.ref, files, options)
    checks = [_exact(files, split_of)] if options.splits else []
    flagged = [
        {"path": pair["b"], "row": None, "reason": f"same bytes as {pair['a']}"}
        for check in checks
        for pair in check["evidence"].get("pairs", [])
    ]
    statuses = [c["status"] for c in checks]
    status = "fail" if "fail" in statuses else "warn" if "warn" in statuses else "pass"
    failing = [c["name"] for c in checks if c["status"] != "pass"]
    summary = f"{found.ref}: {len(files)} files, {len(checks)} checks; " + (
        f"{status}: {', '.join(failing)}" if failing else "all passed"
    )
    return {
        "dataset": dataset,
        "version": version,
        "computed_at": time.time(),
        "options": options.to_dict(),
        "status": status,
        "summary": summary,
        "checks": checks,
        "flagged": flagged[:MAX_PAIRS],
    }


def _exact(files: list[Any], split_of: Mapping[str, str]) -> dict[str, Any]:
    by_digest: dict[str, list[str]] = {}
    for f in files:
        if f.path in split_of:
            by_digest.setdefault(f.digest, []).append(f.path)
    pairs: list[dict[str, str]] = []
    for paths in by_digest.values():
        if len({split_of[p] for p in paths}) > 1:
            pairs.extend(
                {"a": paths[0], "b": p} for p in paths[1:] if split_of[p] != split_of[paths[0]]
            )
    status = "fail" if pairs else "pass"
    message = (
        f"{len(pairs)} files have the same bytes in two splits" if pairs else "no exact duplicates"
    )
    return {
        "name": "leakage.exact",
        "status": status,
        "message": message,
        "evidence": {"count": len(pairs), "pairs": pairs[:MAX_PAIRS]},
    }


def _check_columns(lab: Lab, ref: str, files: list[Any], options: ReviewOptions) -> None:
    wanted = [c for c in (options.key, options.label, *options.groups) if c]
    if not wanted:
        return
    columns: set[str] = set()
    for f in files:
        if f.path.endswith(TABLE_SUFFIXES):
            with lab.blobs.open(f.digest) as fh, io.TextIOWrapper(fh, "utf-8", "replace") as text:
                header = next(csv.reader(text), [])
            columns.update(header)
    for column in wanted:
        if column not in columns:
            raise InvalidInput(
                f"column {column!r} is not in the tables of {ref}",
                f"its tables have: {', '.join(sorted(columns)) or 'no table files'}",
            )
