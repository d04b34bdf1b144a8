"""The automated review report (issue 19) on real versions made in the tests.

Tables with planted exact and near duplicates and a shared group key, images written
with Pillow (near duplicates by crops and JPEG re-encoding, one truncated, one blank),
texts with paraphrases, a truncated Parquet file; counts are checked against pandas
and numpy references computed here.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pytest
from datatools import client_settings
from PIL import Image, ImageDraw

from lablink.core.lab import Lab
from lablink.core.review_files import FileScan
from lablink.core.review_report import ReviewOptions, ReviewThresholds, build_report
from lablink.core.review_splits import plan_splits
from lablink.core.schemas import Schemas
from lablink.errors import InvalidInput, NotFound
from lablink.sdk.data import add
from lablink.settings import Settings


@pytest.fixture
def embedded(tmp_path: Path, work: Path) -> Settings:
    return client_settings(tmp_path / "home")


@pytest.fixture
def lab(embedded: Settings) -> Any:
    with Lab(embedded) as lab:
        yield lab


def by_name(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The checks by name, once the report is shown to be strict JSON."""
    assert json.loads(json.dumps(report, allow_nan=False)) == report
    assert report["status"] in ("pass", "warn", "fail") and report["summary"]
    assert all(c["status"] in ("pass", "warn", "fail", "skip") for c in report["checks"])
    return {c["name"]: c for c in report["checks"]}


def people(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "patient": [f"p{seed}-{i // 3}" for i in range(n)],
            "age": rng.integers(18, 90, n),
            "score": rng.normal(size=n).round(6),
            "city": rng.choice(["Berlin", "Lyon", "Osaka"], n),
            "site": rng.choice(["a", "b", "c"], n, p=[0.6, 0.38, 0.02]),
            "label": rng.choice(["sick", "well"], n, p=[0.2, 0.8]),
        }
    )


def write_splits(root: Path, frames: dict[str, pd.DataFrame]) -> None:
    for split, frame in frames.items():
        (root / split).mkdir(parents=True, exist_ok=True)
        frame.to_parquet(root / split / "part-0.parquet", index=False)


def pandas_cross_split(frames: dict[str, pd.DataFrame]) -> dict[str, int]:
    """Rows of each split that also occur in another split (the reference)."""
    whole = pd.concat([f.assign(_split=s) for s, f in frames.items()], ignore_index=True)
    cols = [c for c in whole.columns if c != "_split"]
    splits_per_row = whole.groupby(cols, dropna=False)["_split"].transform("nunique")
    shared = whole[splits_per_row > 1]
    return {s: int(n) for s, n in shared["_split"].value_counts().items()}


def test_tables_exact_near_and_group_leakage_match_pandas(
    lab: Lab, embedded: Settings, work: Path
) -> None:
    train, val, test = people(600, 1), people(150, 2), people(150, 3)
    # exact duplicates: 12 train rows copied into test, one of them twice (a tie)
    test = pd.concat([test, train.iloc[:12], train.iloc[:1]], ignore_index=True)
    # near duplicates: 5 train rows with changed case and spacing and a float that
    # differs in the 9th digit
    near = train.iloc[100:105].copy()
    near["city"] = near["city"].str.upper() + "  "
    near["score"] = near["score"] * (1 + 1e-9)
    val = pd.concat([val, near], ignore_index=True)
    # group leakage: 4 patients of train also appear in val (new rows, same key)
    shared = people(4, 9).assign(patient=[train.patient[0], train.patient[30], "x", "y"])
    shared.loc[2:, "patient"] = [train.patient[60], train.patient[90]]
    val = pd.concat([val, shared], ignore_index=True)
    frames = {"train": train, "val": val, "test": test}
    write_splits(work / "ds", frames)
    add(work / "ds", "patients", settings=embedded)

    report = build_report(lab, "patients", 1, ReviewOptions(key="patient", label="label"))
    json.dumps(report)  # JSON-able
    checks = by_name(report)
    assert report["splits"]["names"] == ["train", "val", "test"]
    assert report["splits"]["source"] == "folders"
    exact = checks["leakage.exact"]
    expected = pandas_cross_split(frames)
    got = {s: v["items"] for s, v in exact["evidence"]["rows"]["by_split"].items()}
    assert got == expected == {"train": 12, "test": 13}
    assert exact["evidence"]["rows"]["count"] == 12
    assert exact["status"] == "fail"  # 13 of 163 test rows
    pair = exact["evidence"]["rows"]["shown"][0]
    assert {pair["a"]["split"], pair["b"]["split"]} == {"train", "test"}
    assert pair["a"]["path"].endswith("part-0.parquet") and isinstance(pair["a"]["row"], int)
    near_check = checks["leakage.near"]
    rows = near_check["evidence"]["rows"]
    assert rows["by_split"]["val"]["items"] == 5 and rows["count"] == 5
    assert "test" not in rows["by_split"]  # exact duplicates are not counted again
    group = checks["leakage.group"]
    assert group["status"] == "fail" and group["evidence"]["count"] >= 4
    assert {"train", "val"} <= set(group["evidence"]["shown"][0]["rows"])
    assert report["status"] == "fail" and report["summary"].startswith("FAIL")
    assert "leakage.exact" in report["summary"]
    flagged = {(f["path"], f["row"]) for f in report["flagged"]}
    assert ("test/part-0.parquet", 150) in flagged


def test_balance_counts_and_imbalance_ratio_match_numpy(
    lab: Lab, embedded: Settings, work: Path
) -> None:
    frames = {"train": people(800, 4), "test": people(200, 5)}
    frames["test"] = frames["test"][frames["test"].site != "c"]  # site c missing from test
    write_splits(work / "ds", frames)
    add(work / "ds", "balance", settings=embedded)
    report = build_report(lab, "balance", 1, ReviewOptions(label="label", groups=("site", "city")))
    checks = by_name(report)
    labels = checks["balance.labels"]["evidence"]["splits"]
    for split, frame in frames.items():
        values, counts = np.unique(frame.label.to_numpy(), return_counts=True)
        assert labels[split]["counts"] == dict(zip(values.tolist(), counts.tolist(), strict=True))
        assert labels[split]["imbalance"] == pytest.approx(counts.max() / counts.min())
    assert checks["balance.labels"]["status"] == "pass"  # about 4:1, under 10
    strict = build_report(
        lab,
        "balance",
        1,
        ReviewOptions(label="label"),
        thresholds=ReviewThresholds(imbalance_warn=2, imbalance_fail=3),
    )
    assert by_name(strict)["balance.labels"]["status"] == "fail"
    sub = checks["balance.subgroups"]
    assert sub["status"] == "warn"
    assert {"column": "site", "value": "c", "split": "test"} in sub["evidence"]["missing"]
    small = {(s["column"], s["value"], s["split"]) for s in sub["evidence"]["small"]}
    assert ("site", "c", "train") in small  # about 16 of 800 rows, under 30


def _picture(seed: int, size: int = 64) -> Image.Image:
    rng = np.random.default_rng(seed)
    base = Image.fromarray((rng.random((6, 6, 3)) * 255).astype(np.uint8))
    image = base.resize((size, size), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(image)
    for _ in range(3):
        x, y = (int(v) for v in rng.integers(0, size, 2))
        w = int(rng.integers(8, 24))
        draw.ellipse([x, y, x + w, y + w], fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
    return image


def test_images_near_duplicates_truncated_and_blank(
    lab: Lab, embedded: Settings, work: Path
) -> None:
    root = work / "images"
    for split, seeds in (("train", range(0, 40)), ("test", range(100, 115))):
        for seed in seeds:
            folder = root / split / ("cat" if seed % 3 else "dog")
            folder.mkdir(parents=True, exist_ok=True)
            _picture(seed).save(folder / f"{seed}.png")
    # near duplicates in test: a 1-pixel crop of train/5, a JPEG re-encoding of train/7
    _picture(5).crop((1, 1, 64, 64)).resize((64, 64)).save(root / "test" / "cat" / "crop5.png")
    _picture(7).save(root / "test" / "cat" / "jpeg7.jpg", quality=70)
    # an exact copy (same bytes) of train/8
    (root / "test" / "cat" / "copy8.png").write_bytes(
        (root / "train" / "cat" / "8.png").read_bytes()
    )
    whole = io.BytesIO()
    _picture(200).save(whole, format="PNG")
    (root / "test" / "dog" / "truncated.png").write_bytes(whole.getvalue()[:400])
    Image.new("RGB", (64, 64), (128, 128, 128)).save(root / "train" / "dog" / "blank.png")
    (root / "train" / "dog" / "empty.png").write_bytes(b"")
    add(root, "pictures", settings=embedded)

    report = build_report(lab, "pictures", 1, ReviewOptions(label="folder"))
    checks = by_name(report)
    near = checks["leakage.near"]["evidence"]["images"]
    pairs = {frozenset((p["a"]["path"], p["b"]["path"])) for p in near["shown"]}
    assert frozenset(("train/cat/5.png", "test/cat/crop5.png")) in pairs
    assert frozenset(("train/cat/7.png", "test/cat/jpeg7.jpg")) in pairs
    assert near["count"] == len(pairs) <= 4  # the exact copy is also within distance 0
    assert frozenset(("train/cat/8.png", "test/cat/copy8.png")) in pairs
    exact = checks["leakage.exact"]["evidence"]["files"]
    assert exact["count"] == 1 and exact["by_split"]["test"]["items"] == 1
    decode = checks["corruption.decode"]
    assert (
        decode["status"] == "fail"
        and decode["evidence"]["files"][0]["path"] == "test/dog/truncated.png"
    )
    empty = checks["corruption.empty"]["evidence"]
    assert empty["blank_images"]["shown"] == ["train/dog/blank.png"]
    assert empty["empty_files"]["shown"] == ["train/dog/empty.png"]
    labels = checks["balance.labels"]["evidence"]["splits"]
    assert labels["train"]["counts"]["cat"] == sum(1 for s in range(40) if s % 3)
    # a pool of processes probes the images as the serial path does
    _, manifest = lab.datasets.manifest("pictures@v1")
    plan = plan_splits({}, [e.path for e in manifest.files], "pictures@v1")
    scans = []
    for workers in (1, 2):
        scan = FileScan(plan, lab.blobs, None, 0, workers=workers, parallel_from=8)
        for entry in manifest.files:
            scan.scan(entry)
        scan.finish()
        scans.append((scan.errors, scan.blank, scan.empty, scan.image_paths, scan.image_hashes))
    assert scans[0] == scans[1] and len(scans[0][3]) == 59  # all but the broken ones
    reasons = {f["path"]: f["reason"] for f in report["flagged"]}
    assert reasons["test/dog/truncated.png"].startswith("does not decode")
    assert reasons["train/dog/blank.png"] == "blank images"


PARAPHRASES = [
    (
        "The quick brown fox jumps over the lazy dog near the river bank at dawn.",
        "At dawn, the quick brown fox jumped over the lazy dog near the river bank.",
    ),
    (
        "Patients with high blood pressure should reduce their salt intake and exercise regularly.",
        "Patients who have high blood pressure should reduce salt intake and exercise regularly.",
    ),
    (
        "The committee approved the new budget for the city library after a long debate.",
        "After a long debate the committee approved the new budget for the city library.",
    ),
]


def test_paraphrased_texts_are_near_duplicates(lab: Lab, embedded: Settings, work: Path) -> None:
    rng = np.random.default_rng(0)
    vocabulary = [f"w{i}" for i in range(3000)]
    root = work / "texts"
    for split in ("train", "test"):
        (root / split).mkdir(parents=True)
    for i in range(60):
        split = "train" if i < 40 else "test"
        (root / split / f"doc{i}.txt").write_text(" ".join(rng.choice(vocabulary, 30)))
    for i, (a, b) in enumerate(PARAPHRASES):
        (root / "train" / f"para{i}.txt").write_text(a)
        (root / "test" / f"para{i}.txt").write_text(b)
    (root / "test" / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    # the same sentences as cells of a text column in tables, beside short columns
    for split, side in (("train", 0), ("test", 1)):
        noise = [" ".join(rng.choice(vocabulary, 12)) for _ in range(20)]
        texts = [p[side] for p in PARAPHRASES] + noise
        pl.DataFrame({"id": range(len(texts)), "review": texts}).write_csv(
            root / split / "reviews.csv"
        )
    add(root, "texts", settings=embedded)
    report = build_report(lab, "texts", 1, ReviewOptions())
    texts = by_name(report)["leakage.near"]["evidence"]["texts"]
    pairs = {frozenset((p["a"]["path"], p["b"]["path"])) for p in texts["shown"]}
    expected = {frozenset((f"train/para{i}.txt", f"test/para{i}.txt")) for i in range(3)}
    files = {p for p in pairs if all(x.endswith(".txt") for x in p)}
    assert files == expected  # recall and precision 1 on this set
    cells = [p for p in texts["shown"] if all(w["path"].endswith(".csv") for w in (p["a"], p["b"]))]
    assert {(p["a"]["row"], p["b"]["row"], p["a"]["column"]) for p in cells} == {
        (i, i, "review") for i in range(3)
    }
    # each sentence is a file and a cell in train, and in test: 2 x 2 pairs across splits
    assert texts["count"] == 12
    decode = by_name(report)["corruption.decode"]["evidence"]["files"]
    assert decode[0]["path"] == "test/latin1.txt" and "UTF-8" in decode[0]["error"]


def test_truncated_parquet_nonfinite_and_constant_columns(
    lab: Lab, embedded: Settings, work: Path
) -> None:
    root = work / "broken"
    root.mkdir()
    frame = pl.DataFrame(
        {
            "x": [1.0, float("nan"), float("inf"), 4.0] * 25,
            "same": ["on"] * 100,
            "y": list(range(100)),
        }
    )
    frame.write_parquet(root / "good.parquet")
    whole = io.BytesIO()
    frame.write_parquet(whole)
    (root / "cut.parquet").write_bytes(whole.getvalue()[:-30])
    (root / "cut.jsonl").write_text('{"x": 1.0, "y": 1}\n{"x": 2.0, "y": ')
    (root / "notes.json").write_text('{"a": [1, 2')
    add(root, "broken", settings=embedded)
    report = build_report(lab, "broken", 1, ReviewOptions())
    checks = by_name(report)
    broken = {f["path"] for f in checks["corruption.decode"]["evidence"]["files"]}
    assert broken == {"cut.parquet", "cut.jsonl", "notes.json"}
    nonfinite = checks["corruption.nonfinite"]
    assert nonfinite["status"] == "fail"
    assert nonfinite["evidence"]["columns"]["x"] == {"nan": 25, "inf": 25, "share": 0.5}
    constant = checks["corruption.constant"]
    assert constant["evidence"]["columns"] == [{"column": "same", "value": "on"}]
    assert checks["leakage.exact"]["message"].startswith("one split or none")


def test_schema_violations_and_drift_against_the_previous_version(
    lab: Lab, embedded: Settings, work: Path
) -> None:
    Schemas(lab.store).register(
        "events", "fields:\n  - {name: amount, type: number, constraints: {maximum: 100}}\n", "ana"
    )
    root = work / "events"
    (root / "train").mkdir(parents=True)
    rng = np.random.default_rng(3)
    pl.DataFrame({"amount": rng.uniform(0, 50, 2000)}).write_parquet(root / "train" / "a.parquet")
    add(root, "events", settings=embedded)
    first = build_report(lab, "events", 1, ReviewOptions())
    assert by_name(first)["corruption.schema"]["status"] == "pass"
    assert by_name(first)["corruption.drift"]["status"] == "skip"
    shifted = np.append(rng.uniform(40, 90, 1998), [150.0, 170.0])
    pl.DataFrame({"amount": shifted}).write_parquet(root / "train" / "a.parquet")
    add(root, "events", settings=embedded)
    report = build_report(lab, "events", 2, ReviewOptions())
    checks = by_name(report)
    assert checks["corruption.schema"]["status"] == "fail"
    assert checks["corruption.schema"]["evidence"]["failed_rows"] == 2
    drift = checks["corruption.drift"]
    assert drift["status"] == "warn" and drift["evidence"]["against"] == "events@v1"
    assert drift["evidence"]["splits"]["train"]["drifted"] == ["amount"]


def test_cleanlab_flags_flipped_labels(lab: Lab, embedded: Settings, work: Path) -> None:
    pytest.importorskip("cleanlab")
    rng = np.random.default_rng(4)
    n = 400
    truth = rng.integers(0, 2, n)
    probs = np.where(truth[:, None] == np.arange(2), 0.95, 0.05)
    given = truth.copy()
    flipped = [3, 50, 120, 301]
    given[flipped] = 1 - given[flipped]
    root = work / "labelled"
    (root / "train").mkdir(parents=True)
    pl.DataFrame({"x": rng.normal(size=n), "label": [("no", "yes")[g] for g in given]}).write_csv(
        root / "train" / "rows.csv"
    )
    np.save(root / "probs.npy", probs)
    add(root, "labelled", settings=embedded)
    report = build_report(
        lab, "labelled", 1, ReviewOptions(label="label", probabilities="probs.npy")
    )
    found = by_name(report)["labels.cleanlab"]
    assert found["status"] == "warn"  # 4 of 400 rows: under label_issue_fail_share (5%)
    assert sorted(r["row"] for r in found["evidence"]["rows"]) == flipped


def test_bad_input_names_the_problem(lab: Lab, embedded: Settings, work: Path) -> None:
    write_splits(work / "ds", {"train": people(30, 1), "test": people(30, 2)})
    add(work / "ds", "small", settings=embedded)
    with pytest.raises(NotFound, match=r"small@v7 does not exist"):
        build_report(lab, "small", 7, ReviewOptions())
    with pytest.raises(NotFound, match=r"nothing@v1 does not exist"):
        build_report(lab, "nothing", 1, ReviewOptions())
    with pytest.raises(
        InvalidInput, match=r"split 'val': no file of small@v1 is at or under 'valid/'"
    ) as err:
        build_report(lab, "small", 1, ReviewOptions(splits={"train": "train/", "val": "valid/"}))
    assert "train, test" in (err.value.hint or "") or "test, train" in (err.value.hint or "")
    with pytest.raises(InvalidInput, match=r"key column 'patient_id' is not in the tables"):
        build_report(lab, "small", 1, ReviewOptions(key="patient_id"))
    with pytest.raises(InvalidInput, match=r"group column 'sex'"):
        build_report(lab, "small", 1, ReviewOptions(groups=("sex",)))
    with pytest.raises(InvalidInput, match=r"probabilities 'nope.npy'"):
        build_report(lab, "small", 1, ReviewOptions(label="label", probabilities="nope.npy"))
    with pytest.raises(InvalidInput, match=r"unknown review option 'keys'"):
        ReviewOptions.from_dict({"keys": "a"})
    with pytest.raises(InvalidInput, match=r"groups must be a list"):
        ReviewOptions.from_dict({"groups": "sex,site"})
    with pytest.raises(InvalidInput, match=r"\[review\]: unknown key 'imbalance'"):
        ReviewThresholds.from_config({"imbalance": 3})
    with pytest.raises(InvalidInput, match=r"image_distance must be a whole number"):
        ReviewThresholds.from_config({"image_distance": 2.5})
    with pytest.raises(InvalidInput, match=r"text_similarity is a share"):
        ReviewThresholds.from_config({"text_similarity": 3})


def test_options_round_trip_and_split_prefixes(lab: Lab, embedded: Settings, work: Path) -> None:
    options = ReviewOptions({"a": "one/", "b": "two"}, "patient", "label", ("site",), None)
    assert ReviewOptions.from_dict(options.to_dict()) == options
    root = work / "ds"
    write_splits(root, {"one": people(50, 1), "two": people(50, 2)})
    (root / "two" / "part-0.parquet").write_bytes((root / "one" / "part-0.parquet").read_bytes())
    add(root, "prefixed", settings=embedded)
    report = build_report(lab, "prefixed", 1, options)
    assert report["splits"] == {
        "source": "options",
        "names": ["a", "b"],
        "files": {"a": 1, "b": 1},
        "rows": {"a": 50, "b": 50},
    }
    exact = by_name(report)["leakage.exact"]["evidence"]
    assert exact["files"]["count"] == 1 and exact["rows"]["by_split"]["b"]["items"] == 50


def test_a_split_column_in_the_table(lab: Lab, embedded: Settings, work: Path) -> None:
    frame = people(300, 6)
    frame["split"] = np.where(np.arange(300) < 200, "train", "test")
    frame.loc[250, frame.columns != "split"] = frame.loc[10, frame.columns != "split"]
    (work / "one").mkdir()
    frame.to_csv(work / "one" / "all.csv", index=False)
    add(work / "one", "column", settings=embedded)
    report = build_report(lab, "column", 1, ReviewOptions(key="patient"))
    assert report["splits"]["source"] == "column"
    assert report["splits"]["rows"] == {"train": 200, "test": 100}
    exact = by_name(report)["leakage.exact"]["evidence"]["rows"]
    assert exact["by_split"] == {"train": {"items": 1, "of": 200}, "test": {"items": 1, "of": 100}}
    assert exact["shown"][0]["a"] == {"split": "train", "path": "all.csv", "row": 10}
