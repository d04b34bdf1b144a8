"""The data review report (issue 19): its time beside a plain read, and its leakage recall.

    .venv/bin/python benchmarks/review.py [--rows 1000000] [--images 50000] [--skip-images]
        [--image-size 64] [--image-format png|jpg]

Table: ROWS rows x 10 columns (patient key, 4 floats, 2 ints, city, site, label) in
three Parquet files under train/ (70 %), val/ (15 %) and test/ (15 %). Planted: 0.2 % of
the rows copied exactly from train into val and test, 0.2 % copied into val with their
text upper-cased and padded and a float changed in its 9th digit (near duplicates),
and 100 patients of train given rows in test (group leakage). The reference is polars
reading the three files whole.

Images: IMAGES small PNGs (64x64 unless --image-size; JPEGs with --image-format jpg; a
blurred colour field with three discs, each its own picture) in train/ val/ test/ with class folders. Planted: 0.5 % exact copies of train
images into test, 0.5 % JPEG re-encodings (quality 70) and 0.5 % one-pixel crops into
val and test (near duplicates). The references: reading every file's bytes, and
decoding every image with Pillow.

Recall and precision of the leakage checks are computed from the report's evidence
against the planted pairs (the evidence cap is raised so that every finding is listed).
Targets: 1 M rows <= 10 s; 50,000 images <= 60 s. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from lablink.core.lab import Lab
from lablink.core.review_report import ReviewOptions, build_report
from lablink.sdk.data import add
from lablink.settings import ReviewThresholds, Settings

SPLITS = (("train", 0.70), ("val", 0.15), ("test", 0.15))


def table(rows: int, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame(
        {
            "patient": [f"p{i}" for i in rng.integers(0, rows // 4, rows)],
            "f1": rng.normal(0, 1, rows),
            "f2": rng.normal(5, 2, rows),
            "f3": rng.random(rows),
            "f4": rng.exponential(3, rows),
            "i1": rng.integers(0, 100, rows),
            "i2": rng.integers(0, 1_000_000, rows),
            "city": rng.choice(["Berlin", "Lyon", "Osaka", "Lima", "Pune"], rows),
            "site": rng.choice(["a", "b", "c", "d"], rows),
            "label": rng.choice(["neg", "pos"], rows, p=[0.8, 0.2]),
        }
    )


def make_tables(root: Path, rows: int) -> dict[str, Any]:
    """Write the split tables; return the planted (train row, split, row) triples."""
    whole = table(rows)
    bounds = np.cumsum([0] + [int(rows * share) for _, share in SPLITS])
    bounds[-1] = rows
    parts = {name: whole[int(bounds[i]) : int(bounds[i + 1])] for i, (name, _) in enumerate(SPLITS)}
    # patients are drawn per split, so group leakage is only what is planted
    for name in parts:
        parts[name] = parts[name].with_columns(
            (pl.lit(name + "-") + pl.col("patient")).alias("patient")
        )
    train = parts["train"]
    n = max(1, int(rows * 0.001))
    picks = np.random.default_rng(1).choice(train.height, 4 * n, replace=False)
    exact_val, exact_test, near_val, keys = np.split(picks, 4)
    planted: dict[str, set[Any]] = {"exact": set(), "near": set(), "group": set()}
    for split, rows_from in (("val", exact_val), ("test", exact_test)):
        start = parts[split].height
        parts[split] = pl.concat([parts[split], train[rows_from.tolist()]])
        planted["exact"] |= {(int(r), split, start + k) for k, r in enumerate(rows_from)}
    near = train[near_val.tolist()].with_columns(
        pl.col("city").str.to_uppercase() + "  ", pl.col("f1") * (1 + 1e-9)
    )
    start = parts["val"].height
    parts["val"] = pl.concat([parts["val"], near])
    planted["near"] = {(int(r), "val", start + k) for k, r in enumerate(near_val)}
    shared = train[keys[:100].tolist()]["patient"]
    test = parts["test"]
    parts["test"] = test.with_columns(
        pl.when(pl.int_range(test.height) < len(shared))
        .then(pl.Series(list(shared) + [None] * (test.height - len(shared))))
        .otherwise(pl.col("patient"))
        .alias("patient")
    )
    copied = np.concatenate([exact_val, exact_test, near_val]).tolist()
    planted["group"] = set(shared) | set(train[copied]["patient"])
    for name, frame in parts.items():
        (root / name).mkdir(parents=True)
        frame.write_parquet(root / name / "part-0.parquet")
    return planted


def picture(seed: int, size: int = 64) -> Any:
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    base = Image.fromarray((rng.random((6, 6, 3)) * 255).astype(np.uint8))
    image = base.resize((size, size), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(image)
    for _ in range(3):
        x, y = (int(v) for v in rng.integers(0, size, 2))
        w = int(rng.integers(8, 24))
        draw.ellipse([x, y, x + w, y + w], fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
    return image


def make_images(
    root: Path, count: int, size: int = 64, suffix: str = "png"
) -> dict[str, set[frozenset[str]]]:
    """Write the image tree; return the planted exact and near pairs of paths."""
    rng = np.random.default_rng(2)
    splits = rng.choice([s for s, _ in SPLITS], count, p=[p for _, p in SPLITS])
    paths = []
    for i, split in enumerate(splits):
        folder = root / split / ("cat", "dog", "bird")[i % 3]
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{i:06d}.{suffix}"
        picture(i, size).save(path)
        paths.append(path)
    train = [i for i, s in enumerate(splits) if s == "train"]
    n = max(1, count // 200)
    picks = rng.choice(train, 3 * n, replace=False)
    planted: dict[str, set[frozenset[str]]] = {"exact": set(), "near": set()}
    for kind, chosen in zip(("exact", "jpeg", "crop"), np.split(picks, 3), strict=True):
        for k, i in enumerate(chosen.tolist()):
            target = ("val", "test")[k % 2] if kind != "exact" else "test"
            source = paths[i]
            name = f"{kind}-{i:06d}" + (".jpg" if kind == "jpeg" else f".{suffix}")
            dest = root / target / source.parent.name / name
            if kind == "exact":
                dest.write_bytes(source.read_bytes())
            elif kind == "jpeg":
                picture(i, size).save(dest, quality=70)
            else:
                cut = max(1, size // 64)  # one pixel of a 64-pixel picture
                picture(i, size).crop((cut, cut, size, size)).resize((size, size)).save(dest)
            pair = frozenset((str(source.relative_to(root)), str(dest.relative_to(root))))
            planted["exact" if kind == "exact" else "near"].add(pair)
    return planted


def _cpu() -> float:
    """CPU seconds of this process and of its children that have ended."""
    import resource

    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def scores(found: set[Any], planted: set[Any]) -> str:
    hits = len(found & planted)
    recall = hits / len(planted) if planted else 1.0
    precision = hits / len(found) if found else 1.0
    return f"recall {recall:.3f} ({hits}/{len(planted)}), precision {precision:.3f} ({hits}/{len(found)})"


def checks_of(report: dict[str, Any]) -> dict[str, Any]:
    return {c["name"]: c for c in report["checks"]}


def bench_tables(work: Path, settings: Settings, rows: int) -> None:
    root = work / "tables"
    t0 = time.perf_counter()
    planted = make_tables(root, rows)
    print(f"tables: {rows:,} rows x 10 columns written in {time.perf_counter() - t0:.1f}s")
    add(root, "tables", settings=settings)
    files = sorted(root.rglob("*.parquet"))
    t0 = time.perf_counter()
    read = sum(pl.read_parquet(f).height for f in files)
    reference = time.perf_counter() - t0
    wide = ReviewThresholds(max_evidence=10**7)
    with Lab(settings) as lab:
        t0, cpu = time.perf_counter(), time.process_time()
        report = build_report(
            lab,
            "tables",
            1,
            ReviewOptions(key="patient", label="label", groups=("site",)),
            thresholds=wide,
        )
        took, cpu = time.perf_counter() - t0, time.process_time() - cpu
    print(f"  plain read (polars, {read:,} rows): {reference:.2f}s")
    print(
        f"  review report: {took:.2f}s wall, {cpu:.2f}s CPU "
        f"({took / reference:.1f}x the read; target <= 10 s for 1 M rows)"
    )
    print(f"  status {report['status']}: {report['summary'][:160]}")
    checks = checks_of(report)
    for name, kind, key in (("leakage.exact", "exact", "rows"), ("leakage.near", "near", "rows")):
        found = set()
        for pair in checks[name]["evidence"][key]["shown"]:
            a, b = sorted((pair["a"], pair["b"]), key=lambda w: w["split"] != "train")
            if a["split"] == "train":
                found.add((a["row"], b["split"], b["row"]))
            else:
                found.add((None, b["split"], b["row"]))
        print(f"  {name} (rows): {scores(found, planted[kind])}")
    group = {k["key"] for k in checks["leakage.group"]["evidence"]["shown"]}
    print(f"  leakage.group (keys): {scores(group, planted['group'])}")


def bench_images(
    work: Path, settings: Settings, count: int, size: int = 64, suffix: str = "png"
) -> None:
    from PIL import Image

    root = work / "images"
    t0 = time.perf_counter()
    planted = make_images(root, count, size, suffix)
    files = sorted(p for p in root.rglob("*") if p.is_file())
    print(
        f"images: {len(files):,} {size}x{size} {suffix} files written in "
        f"{time.perf_counter() - t0:.1f}s"
    )
    t0 = time.perf_counter()
    add(root, "images", settings=settings)
    print(f"  lablink data add: {time.perf_counter() - t0:.1f}s")
    os.sync()
    t0 = time.perf_counter()
    total = sum(len(f.read_bytes()) for f in files)  # the page cache holds them: a warm read
    read_bytes = time.perf_counter() - t0
    t0 = time.perf_counter()
    for f in files:
        with Image.open(f) as image:
            image.load()
    decode = time.perf_counter() - t0
    # distance 10 rather than the default 8: the scores are then printed for 10, 8, 6, 4
    wide = ReviewThresholds(max_evidence=10**7, image_distance=10)
    with Lab(settings) as lab:
        t0, cpu = time.perf_counter(), _cpu()
        report = build_report(lab, "images", 1, ReviewOptions(label="folder"), thresholds=wide)
        took, cpu = time.perf_counter() - t0, _cpu() - cpu
    print(f"  plain read of the bytes ({total / 1e6:.0f} MB): {read_bytes:.2f}s")
    print(f"  plain decode with Pillow: {decode:.2f}s")
    print(
        f"  review report: {took:.2f}s wall, {cpu:.2f}s CPU (its worker processes included) "
        f"({took / decode:.1f}x the decode; target <= 60 s for 50,000)"
    )
    print(f"  status {report['status']}: {report['summary'][:160]}")
    checks = checks_of(report)
    exact = {
        frozenset((p["a"]["path"], p["b"]["path"]))
        for p in checks["leakage.exact"]["evidence"]["files"]["shown"]
    }
    print(f"  leakage.exact (files): {scores(exact, planted['exact'])}")
    shown = checks["leakage.near"]["evidence"]["images"]["shown"]
    limit = checks["leakage.near"]["evidence"]["image_distance"]
    for distance in sorted({limit, 8, 6, 4} - {d for d in (8, 6, 4) if d > limit}, reverse=True):
        near = {
            frozenset((p["a"]["path"], p["b"]["path"])) for p in shown if p["distance"] <= distance
        }
        # an exact copy is also a near duplicate at distance 0: not counted either way
        found = scores(near - planted["exact"], planted["near"])
        print(f"  leakage.near (images, distance <= {distance}): {found}")


def main() -> None:
    print(
        f"load average before: {', '.join(f'{x:.1f}' for x in os.getloadavg())} ({os.cpu_count()} CPUs)"
    )
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=200_000, help="table rows (issue: 1000000)")
    parser.add_argument("--images", type=int, default=5_000, help="images (issue: 50000)")
    parser.add_argument("--image-size", type=int, default=64, help="image side in pixels")
    parser.add_argument("--image-format", choices=("png", "jpg"), default="png")
    parser.add_argument("--skip-images", action="store_true")
    parser.add_argument("--skip-tables", action="store_true")
    parser.add_argument("--workdir", help="where to write the data (default: a temporary folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.workdir) as folder:
        work = Path(folder)
        settings = Settings.load(
            overrides={"home": str(work / "home"), "user": "bench@example.org"},
            environ={},
            cwd=work,
        )
        if not args.skip_tables:
            bench_tables(work, settings, args.rows)
        if not args.skip_images:
            bench_images(work, settings, args.images, args.image_size, args.image_format)


if __name__ == "__main__":
    main()
