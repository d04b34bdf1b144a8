"""Validation against real Parquet, CSV and JSON Lines files and in-memory tables."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lablink.checks.schema_format import parse_schema
from lablink.checks.schema_model import Schema
from lablink.checks.unique import DuplicateTracker
from lablink.checks.validate import validate_files, validate_frame
from lablink.errors import InvalidInput


def frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "id": [0, 1, 2, 2, -1],
            "amount": [1.0, float("nan"), 150.0, None, 5.0],
            "country": ["DE", "FR", "XX", None, "US"],
            "code": ["ABC", "abc", "ABCD", "XYZ", None],
            "day": [datetime.date(2024, 1, d) for d in (1, 2, 3, 4, 5)],
        }
    )


def by_rule(report: object) -> dict[tuple[str, str | None], object]:
    return {(f.rule, f.column): f for f in report.failures}  # type: ignore[attr-defined]


def test_every_rule_reports_count_share_and_example_rows(events: Schema) -> None:
    report = validate_frame(frame(), events, "events@v1")
    found = by_rule(report)
    assert not report.ok and report.rows == 5 and report.schema == "events@v1"
    assert found[("minimum", "id")].count == 1
    assert found[("minimum", "id")].examples == [{"row": 4, "value": -1}]
    assert found[("unique", "id")].examples == [{"row": 3, "value": 2, "repeats": {"row": 2}}]
    assert found[("maximum", "amount")].examples == [{"row": 2, "value": 150.0}]
    assert found[("enum", "country")].share == pytest.approx(0.2)
    assert [e["row"] for e in found[("pattern", "code")].examples] == [1, 2]
    assert [e["row"] for e in found[("maxLength", "code")].examples] == [2]
    assert ("required", "amount") not in found  # NaN is an empty cell, allowed here
    assert set(found) == {
        ("minimum", "id"),
        ("unique", "id"),
        ("maximum", "amount"),
        ("enum", "country"),
        ("pattern", "code"),
        ("maxLength", "code"),
    }


def test_nan_counts_as_empty_for_required_and_never_as_out_of_range() -> None:
    schema = parse_schema(
        "fields:\n  - {name: x, type: number, constraints: {required: true, maximum: 1}}\n"
    )
    report = validate_frame(pl.DataFrame({"x": [0.5, float("nan"), None]}), schema)
    assert [(f.rule, f.count) for f in report.failures] == [("required", 2)]


@pytest.mark.parametrize("kind", ["polars", "pandas", "arrow"])
def test_pandas_polars_and_arrow_tables_give_the_same_report(events: Schema, kind: str) -> None:
    data: object = frame()
    if kind == "pandas":
        data = frame().to_pandas()
    elif kind == "arrow":
        data = frame().to_arrow()
    report = validate_frame(data, events)
    assert {(f.rule, f.column, f.count) for f in report.failures} == {
        (f.rule, f.column, f.count) for f in validate_frame(frame(), events).failures
    }


def test_pandas_integers_with_gaps_are_accepted_as_integers() -> None:
    schema = parse_schema("fields:\n  - {name: n, type: integer}\n")
    ok = validate_frame(pd.DataFrame({"n": [1.0, np.nan, 3.0]}), schema)
    bad = validate_frame(pd.DataFrame({"n": [1.0, 2.5]}), schema)
    assert ok.ok and [(f.rule, f.examples[0]["row"]) for f in bad.failures] == [("type", 1)]


def test_wrong_column_type_and_missing_columns() -> None:
    schema = parse_schema(
        "fields:\n  - {name: n, type: integer}\n  - {name: r, type: string, constraints: {required: true}}\n"
        "  - {name: o, type: string}\n"
    )
    report = validate_frame(pl.DataFrame({"n": [True, False], "extra": [1, 2]}), schema)
    found = by_rule(report)
    assert "schema says integer" in found[("type", "n")].message
    assert found[("required", "r")].message == "column is missing"
    assert ("required", "o") not in found and report.extra_columns == ["extra"]


def test_table_rules_rows_primary_key_and_duplicate_rows() -> None:
    schema = parse_schema(
        "fields:\n  - {name: a, type: integer}\n  - {name: b, type: string}\n"
        "primaryKey: [a, b]\nuniqueRows: true\nrows: {min: 10}\n"
    )
    data = pl.DataFrame({"a": [1, 1, 1, None], "b": ["x", "y", "x", "z"]})
    found = by_rule(validate_frame(data, schema))
    assert found[("primaryKey", None)].examples[0]["row"] == 2
    assert found[("primaryKey", None)].examples[0]["repeats"] == {"row": 0}
    assert found[("required", "a")].examples[0]["row"] == 3
    assert found[("uniqueRows", None)].count == 1
    assert "at least 10" in found[("rows", None)].message


def write_all(tmp_path: Path, data: pl.DataFrame) -> dict[str, Path]:
    paths = {
        "parquet": tmp_path / "t.parquet",
        "csv": tmp_path / "t.csv",
        "jsonl": tmp_path / "t.jsonl",
    }
    data.write_parquet(paths["parquet"])
    data.write_csv(paths["csv"])
    data.write_ndjson(paths["jsonl"])
    return paths


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_files_of_each_format_give_the_same_counts(
    tmp_path: Path, events: Schema, fmt: str
) -> None:
    clean = frame().with_columns(pl.col("amount").fill_nan(None))  # NaN has no JSON spelling
    path = write_all(tmp_path, clean)[fmt]
    report = validate_files([path], events)
    expected = {(f.rule, f.column, f.count) for f in validate_frame(clean, events).failures}
    assert {(f.rule, f.column, f.count) for f in report.failures} == expected
    assert report.files == [str(path)]
    example = by_rule(report)[("minimum", "id")].examples[0]
    # one number per example: the text line for CSV and JSON Lines, the row for Parquet
    where = {"parquet": {"row": 4}, "csv": {"line": 6}, "jsonl": {"line": 5}}[fmt]
    assert example == {"file": str(path), **where, "value": -1 if fmt != "csv" else "-1"}


def test_csv_cells_that_do_not_parse_are_type_violations_with_their_line(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("n,d,b\n1,2024-01-01,true\nx,2024-13-01,maybe\n3,,0\n")
    schema = parse_schema(
        "fields:\n  - {name: n, type: integer}\n  - {name: d, type: date}\n  - {name: b, type: boolean}\n"
    )
    found = by_rule(validate_files([path], schema))
    assert found[("type", "n")].examples == [{"value": "x", "file": str(path), "line": 3}]
    assert found[("type", "d")].examples[0]["value"] == "2024-13-01"
    assert found[("type", "b")].count == 1


def test_a_file_read_in_many_batches_matches_one_batch(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    n = 10_000
    ids = np.arange(n)
    ids[[4000, 9000]] = [17, 8500]  # two repeats, in later batches than the originals
    data = pl.DataFrame({"id": ids, "x": rng.normal(0, 1, n)})
    path = tmp_path / "big.parquet"
    pq.write_table(data.to_arrow(), path, row_group_size=1000)
    schema = parse_schema(
        "fields:\n  - {name: id, type: integer, constraints: {unique: true}}\n"
        "  - {name: x, type: number, constraints: {maximum: 2}}\n"
    )
    streamed = validate_files([path], schema, batch_rows=999)
    whole = validate_frame(data, schema)
    assert [(f.rule, f.count) for f in streamed.failures] == [
        (f.rule, f.count) for f in whole.failures
    ]
    unique = by_rule(streamed)[("unique", "id")]
    assert [(e["row"], e["repeats"]["row"]) for e in unique.examples] == [
        (4000, 17),
        (9000, 8500),
    ]
    over = by_rule(streamed)[("maximum", "x")]
    assert over.examples == by_rule(whole)[("maximum", "x")].examples[:5] or all(
        e["row"] < n for e in over.examples
    )
    assert [e["row"] for e in over.examples] == [
        e["row"] for e in by_rule(whole)[("maximum", "x")].examples
    ]


def test_uniqueness_spans_files_and_formats(tmp_path: Path) -> None:
    pl.DataFrame({"id": [1, 2, 3]}).write_csv(tmp_path / "a.csv")
    pl.DataFrame({"id": [4, 2]}, schema={"id": pl.Int32}).write_parquet(tmp_path / "b.parquet")
    schema = parse_schema("fields:\n  - {name: id, type: integer, constraints: {unique: true}}\n")
    report = validate_files([tmp_path], schema)
    (failure,) = report.failures
    (example,) = failure.examples
    assert failure.count == 1 and report.failed_rows == 1
    assert example["file"].endswith("b.parquet") and example["row"] == 1
    assert example["repeats"] == {"file": str(tmp_path / "a.csv"), "line": 3}


def test_duplicate_tracker_spills_to_disk_and_agrees() -> None:
    rng = np.random.default_rng(0)
    hashes = rng.integers(0, 2**63, 50_000, dtype=np.uint64)
    hashes[[30_000, 49_999]] = hashes[[10, 20_000]]
    tracker = DuplicateTracker(memory_entries=5_000)
    for start in range(0, len(hashes), 7_000):
        tracker.add(
            hashes[start : start + 7_000], np.arange(start, min(start + 7_000, len(hashes)))
        )
    assert tracker._spill is not None
    assert tracker.finish() == (2, [(30_000, 10), (49_999, 20_000)])
    assert tracker._spill is None  # finish cleans up


def test_files_that_do_not_parse_or_are_not_utf8(tmp_path: Path) -> None:
    schema = parse_schema("fields:\n  - {name: a, type: string}\n")
    latin = tmp_path / "latin.csv"
    latin.write_bytes("a\nK\xf6ln\n".encode("latin-1"))
    with pytest.raises(InvalidInput, match="not valid UTF-8") as info:
        validate_files([latin], schema)
    assert "iconv" in (info.value.hint or "")
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"a": "x"}\n{"a": \n')
    with pytest.raises(InvalidInput, match=r"broken\.jsonl: does not parse as jsonl"):
        validate_files([broken], schema)
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(b"not parquet at all")
    with pytest.raises(InvalidInput, match=r"junk\.parquet: does not parse"):
        validate_files([junk], schema)
    with pytest.raises(InvalidInput, match="no table files"):
        validate_files([tmp_path / "empty"] if (tmp_path / "empty").mkdir() is None else [], schema)
    with pytest.raises(InvalidInput, match="not a table file"):
        validate_files([tmp_path / "x.txt"] if (tmp_path / "x.txt").write_text("x") else [], schema)


def test_report_renders_markdown_and_json(tmp_path: Path, events: Schema) -> None:
    path = write_all(tmp_path, frame().with_columns(pl.col("amount").fill_nan(None)))["csv"]
    report = validate_files([path], events, "events@v2")
    text = report.to_markdown()
    assert (
        text.startswith("# Validation report: events@v2")
        and "| minimum | id | 1 | 20.00% |" in text
    )
    assert f"{path}:6" in text
    body = json.loads(json.dumps(report.to_dict()))
    assert body["ok"] is False and body["rows"] == 5
    assert {"rule", "column", "count", "share", "message", "examples"} <= set(body["failures"][0])


def test_temporal_bounds_and_time_zones() -> None:
    schema = parse_schema(
        "fields:\n  - {name: t, type: datetime, constraints: {minimum: 2024-01-01T00:00:00}}\n"
    )
    utc = pa.array(
        [
            datetime.datetime(2023, 12, 31, tzinfo=datetime.UTC),
            datetime.datetime(2024, 2, 1, tzinfo=datetime.UTC),
        ]
    )
    report = validate_frame(pa.table({"t": utc}), schema)
    assert [(f.rule, f.examples[0]["row"]) for f in report.failures] == [("minimum", 0)]


SIX_ROWS = """id,amount,country
1,5.0,DE
2,abc,FR
3,7.5,US
4,500.0,XX
5,1.0,DE
6,2.0,FR
"""
EVENTS_TEXT = (
    "fields:\n"
    "  - {name: id, type: integer, constraints: {required: true, unique: true}}\n"
    "  - {name: amount, type: number, constraints: {required: true, maximum: 100}}\n"
    "  - {name: country, type: string, constraints: {enum: [DE, FR, US]}}\n"
)


def test_a_cell_that_does_not_parse_is_one_type_violation_and_rows_count_once(
    tmp_path: Path,
) -> None:
    path = tmp_path / "six.csv"
    path.write_text(SIX_ROWS)
    report = validate_files([path], parse_schema(EVENTS_TEXT), "events@v1")
    found = by_rule(report)
    # 'abc' is not a number: a type violation, not also an empty required cell
    assert set(found) == {("type", "amount"), ("maximum", "amount"), ("enum", "country")}
    assert [found[k].count for k in sorted(found)] == [1, 1, 1]
    assert report.violations == 3 and report.failed_rows == 2 and report.rows == 6
    assert report.summary() == (
        "3 violation(s) of 3 rule(s) in 2 rows; 6 rows checked against events@v1"
    )
    assert found[("type", "amount")].examples == [{"file": str(path), "line": 3, "value": "abc"}]
    assert found[("enum", "country")].examples == [{"file": str(path), "line": 5, "value": "XX"}]
    assert report.to_dict()["failed_rows"] == 2 and report.to_dict()["violations"] == 3
    assert f"| {path}:5 | 'XX' |" in report.to_markdown()


def test_empty_cells_and_nan_text_stay_required_violations(tmp_path: Path) -> None:
    path = tmp_path / "gaps.csv"
    path.write_text("id,amount,country\n1,,DE\n2,NaN,FR\n3,x,US\n")
    found = by_rule(validate_files([path], parse_schema(EVENTS_TEXT)))
    assert {k: f.count for k, f in found.items()} == {
        ("required", "amount"): 2,
        ("type", "amount"): 1,
    }


@pytest.mark.parametrize("batch_rows", [7, 50, 1000])
def test_failing_rows_count_once_across_rules_batches_and_duplicates(
    tmp_path: Path, batch_rows: int
) -> None:
    rng = np.random.default_rng(5)
    n = 400
    ids = np.arange(n)
    ids[rng.choice(n, 40, replace=False)] = rng.integers(0, n, 40)  # repeats
    amount = rng.uniform(0, 120, n)  # about a sixth above 100: dense in some batches
    country = rng.choice(np.array(["DE", "FR", "US", "XX"]), n, p=[0.3, 0.3, 0.3, 0.1])
    data = pl.DataFrame({"id": ids, "amount": amount, "country": country})
    data.write_parquet(tmp_path / "t.parquet", row_group_size=batch_rows)
    report = validate_files(
        [tmp_path / "t.parquet"], parse_schema(EVENTS_TEXT), batch_rows=batch_rows
    )
    # independently: a row fails when any rule fails on it
    seen: set[int] = set()
    repeat = np.zeros(n, dtype=bool)
    for i, v in enumerate(ids.tolist()):
        repeat[i] = v in seen
        seen.add(v)
    bad = repeat | (amount > 100) | (country == "XX")
    assert report.failed_rows == int(bad.sum())
    assert report.violations == int(repeat.sum() + (amount > 100).sum() + (country == "XX").sum())
    assert validate_frame(data, parse_schema(EVENTS_TEXT)).failed_rows == int(bad.sum())


def test_a_missing_required_column_fails_every_row_once(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("id,country\n1,DE\n2,XX\n3,FR\n")
    report = validate_files([path], parse_schema(EVENTS_TEXT))
    assert report.violations == 4 and report.failed_rows == 3


def test_a_schema_with_a_list_default_validates_twice() -> None:
    # compiled rules are remembered per schema; an unhashable default is compiled each time
    schema = parse_schema(
        "fields:\n  - {name: n, type: integer, constraints: {minimum: 0}}\n"
        "  - {name: tags, type: array, default: [a, b]}\n"
    )
    for _ in range(2):
        report = validate_frame(pl.DataFrame({"n": [1, -1]}), schema)
        assert [(f.rule, f.count) for f in report.failures] == [("minimum", 1)]
