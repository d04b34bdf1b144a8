"""The review report over each store backend (SQLite and PostgreSQL), issue 19."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from lablink.core.lab import Lab
from lablink.core.review_report import ReviewOptions, build_report
from lablink.sdk.data import add
from lablink.settings import Settings


def test_a_report_on_each_backend(lab: Lab, settings: Settings, work: Path) -> None:
    root = work / "rows"
    for split, ids in (("train", range(0, 80)), ("test", range(70, 100))):
        (root / split).mkdir(parents=True)
        frame = pl.DataFrame({"id": list(ids), "x": [i % 7 for i in ids]})
        frame.write_parquet(root / split / "part.parquet")
    add(root, "rows", settings=settings)
    report = build_report(lab, "rows", 1, ReviewOptions(key="id"))
    checks = {c["name"]: c for c in report["checks"]}
    assert report["ref"] == "rows@v1" and report["rows"] == 110
    assert checks["leakage.exact"]["evidence"]["rows"]["by_split"]["test"]["items"] == 10
    assert checks["leakage.group"]["evidence"]["count"] == 10
    assert report["status"] == "fail"
