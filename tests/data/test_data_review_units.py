"""The review report's vectorised leakage searches against brute-force references (issue 19)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import make_settings
from lablink.checks.leakage import cross_split, hamming_pairs, normalised, popcount, row_hashes
from lablink.errors import InvalidInput
from lablink.settings import ReviewThresholds, Settings

small_ints = st.lists(st.integers(0, 6), min_size=0, max_size=60)


@given(data=st.data(), hashes=small_ints)
@settings(max_examples=200, deadline=None)
def test_cross_split_matches_a_pandas_reference(data: st.DataObject, hashes: list[int]) -> None:
    splits = data.draw(st.lists(st.integers(0, 2), min_size=len(hashes), max_size=len(hashes)))
    index, group = cross_split(np.array(splits, dtype=np.int64), np.array(hashes, dtype=np.uint64))
    frame = pd.DataFrame({"h": hashes, "s": splits}, dtype="int64")
    shared = frame[frame.groupby("h")["s"].transform("nunique") > 1] if len(frame) else frame
    assert sorted(index.tolist()) == sorted(shared.index.tolist())
    # one group per shared hash value, items of a group have equal hashes
    assert len(set(group.tolist())) == shared["h"].nunique()
    for g in set(group.tolist()):
        assert len({hashes[i] for i in index[group == g]}) == 1


@given(
    hashes=st.lists(st.integers(0, 2**64 - 1), min_size=0, max_size=40),
    flips=st.lists(st.integers(0, 63), max_size=12),
    distance=st.integers(0, 12),
    seed=st.integers(0, 1000),
)
@settings(max_examples=150, deadline=None)
def test_hamming_pairs_match_brute_force(
    hashes: list[int], flips: list[int], distance: int, seed: int
) -> None:
    # near copies of the first hashes, a few bits apart, so close pairs exist
    near = [h ^ sum(1 << b for b in set(flips[: i + 1])) for i, h in enumerate(hashes[:5])]
    values = np.array(hashes + near, dtype=np.uint64)
    splits = np.random.default_rng(seed).integers(0, 3, len(values))
    i, j, d = hamming_pairs(values, splits, distance)
    expected = {
        (a, b)
        for a, b in itertools.combinations(range(len(values)), 2)
        if splits[a] != splits[b] and bin(int(values[a]) ^ int(values[b])).count("1") <= distance
    }
    assert set(zip(i.tolist(), j.tolist(), strict=True)) == expected
    assert all(
        bin(int(values[a]) ^ int(values[b])).count("1") == k
        for a, b, k in zip(i, j, d, strict=True)
    )


def test_popcount_is_the_bit_count() -> None:
    values = np.array([0, 1, 2**64 - 1, 0xF0F0, 2**63], dtype=np.uint64)
    assert popcount(values).tolist() == [0, 1, 64, 8, 1]


def test_row_hashes_ignore_column_order_and_normalising_equates_near_rows() -> None:
    a = pl.DataFrame({"x": [1, 2], "s": [" Berlin ", "lyon"], "f": [0.1234567891, -0.0]})
    b = pl.DataFrame({"f": [0.1234567891, -0.0], "x": [1, 2], "s": [" Berlin ", "lyon"]})
    assert row_hashes(a).tolist() == row_hashes(b).tolist()
    c = pl.DataFrame({"x": [1.0, 2.0], "s": ["berlin", "LYON"], "f": [0.12345679, 0.0]})
    assert row_hashes(a).tolist() != row_hashes(c).tolist()
    assert (
        row_hashes(normalised(a.select("x", "s", "f"), 6)).tolist()
        == row_hashes(normalised(c, 6)).tolist()
    )
    assert len(row_hashes(pl.DataFrame())) == 0


def test_thresholds_come_from_the_review_table_of_lablink_toml(tmp_path: Path) -> None:
    assert ReviewThresholds.from_config(None) == ReviewThresholds()
    (tmp_path / "lablink.toml").write_text("[review]\nimage_distance = 6\nimbalance_fail = 50\n")
    (tmp_path / ".git").mkdir()
    assert make_settings(tmp_path / "elsewhere").review_thresholds().image_distance == 6
    found = Settings.load(overrides={"home": str(tmp_path / "home")}, environ={}, cwd=tmp_path)
    assert found.review_thresholds() == ReviewThresholds(image_distance=6, imbalance_fail=50.0)
    (tmp_path / "lablink.toml").write_text("[review]\nimbalance_warn = 20\nimbalance_fail = 5\n")
    bad = Settings.load(overrides={"home": str(tmp_path / "home")}, environ={}, cwd=tmp_path)
    with pytest.raises(InvalidInput, match=r"imbalance_fail \(5.0\) is below imbalance_warn"):
        bad.review_thresholds()


def test_every_review_threshold_is_documented_with_its_default() -> None:
    import dataclasses

    docs = (Path(__file__).parents[2] / "docs" / "settings.md").read_text()
    table = docs[docs.index("## The `[review]` table") :]
    for field in dataclasses.fields(ReviewThresholds):
        assert f"| `{field.name}` | `{field.default}` |" in table, field.name


@given(
    frames=st.lists(
        st.lists(st.tuples(st.integers(0, 3), st.integers(-1, 1)), min_size=0, max_size=12),
        min_size=2,
        max_size=3,
    )
)
@settings(max_examples=40, deadline=None)
def test_table_scan_exact_and_near_rows_match_pandas(frames: list[list[tuple[int, int]]]) -> None:
    """Split tables of small ints (ties, empty and one-row splits) through the real scan."""
    import tempfile

    from lablink.core.review_leakage import exact, near
    from lablink.core.review_splits import plan_splits
    from lablink.core.review_tables import Columns, TableScan

    names = ["train", "val", "test"][: len(frames)]
    thresholds = ReviewThresholds(max_evidence=1000)
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for name, rows in zip(names, frames, strict=True):
            path = Path(folder) / f"{name}.parquet"
            pl.DataFrame(rows, schema={"a": pl.Int64, "b": pl.Int64}, orient="row").write_parquet(
                path
            )
            paths.append(f"{name}/part.parquet")
        plan = plan_splits({}, sorted(paths), "t@v1")
        scan = TableScan(plan, Columns(), thresholds)
        for name in names:
            scan.scan_file(f"{name}/part.parquet", Path(folder) / f"{name}.parquet", "parquet")
        files = _no_files(plan, Path(folder) / "blobs")
    whole = pd.DataFrame(
        [(a, b, name) for name, rows in zip(names, frames, strict=True) for a, b in rows],
        columns=["a", "b", "split"],
    )
    if len(whole):
        shared = whole[whole.groupby(["a", "b"])["split"].transform("nunique") > 1]
        expected = shared["split"].value_counts().to_dict()
    else:
        expected = {}
    flagged: list[dict[str, object]] = []
    found = exact(plan, [], np.empty(0, dtype=np.int64), scan, thresholds, flagged)
    got = {s: v["items"] for s, v in found["evidence"]["rows"]["by_split"].items()}
    assert got == expected
    assert found["evidence"]["rows"]["count"] == (
        shared.groupby(["a", "b"]).ngroups if len(whole) else 0
    )
    # ints normalise to themselves: no near duplicate beyond the exact ones
    assert near(plan, files, scan, None, thresholds, flagged)["evidence"]["rows"]["count"] == 0


def _no_files(plan: object, blobs: Path) -> object:
    """A file scan that saw no file."""
    from lablink.core.review_files import FileScan
    from lablink.store.blobs import BlobStore

    return FileScan(plan, BlobStore(str(blobs)), None, 0)  # type: ignore[arg-type]
