"""Schema inference: infer, then validate the same file, never fails; types and counts."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from lablink.checks.infer import MIN_UNIQUE, infer_files, infer_frame
from lablink.checks.schema_format import dump_schema, parse_schema
from lablink.checks.schema_model import Field, Schema
from lablink.checks.validate import validate_files, validate_frame
from lablink.cli.main import app
from lablink.errors import InvalidInput


def roundtrip(path: Path) -> Schema:
    """Infer, write and read back the schema text, validate the same file: no failures."""
    schema = parse_schema(dump_schema(infer_files([path], "t")))
    report = validate_files([path], schema)
    assert report.ok, (dump_schema(schema), [f.to_dict() for f in report.failures])
    return schema


def field(schema: Schema, name: str) -> Field:
    found = schema.field(name)
    assert found is not None
    return found


def test_zoned_datetimes_infer_as_datetime_and_validate_as_utc(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(
        "at\n2023-05-01T09:12:00Z\n2023-05-01T10:00:00+02:00\n2023-05-01 11:00:00\n2023-05-02\n"
    )
    at = field(roundtrip(path), "at")
    assert (at.type, at.minimum, at.maximum) == (
        "datetime",
        datetime.datetime(2023, 5, 1, 8, 0),
        datetime.datetime(2023, 5, 2, 0, 0),
    )
    # an offset is converted to UTC before comparing: 10:00+02:00 is 08:00
    strict = parse_schema(
        "fields:\n  - {name: at, type: datetime, constraints: {minimum: 2023-05-01T08:30:00}}\n"
    )
    (failure,) = validate_files([path], strict).failures
    assert failure.rule == "minimum" and [e["line"] for e in failure.examples] == [3]


def test_leading_zeros_stay_text_and_yes_no_is_boolean(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("zip,ok,n\n01067,yes,0\n10115,no,1\n80331,Yes,1\n")
    schema = roundtrip(path)
    assert [(f.name, f.type) for f in schema.fields] == [
        ("zip", "string"),
        ("ok", "boolean"),
        ("n", "integer"),  # 0/1 are numbers first
    ]


def test_null_spellings_in_a_number_column_are_empty_cells(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("x,code,y\n1.5,A,1\nNA,B,-\n2,NA,3\n,C,4\n")
    schema = roundtrip(path)
    x = field(schema, "x")
    assert (x.type, x.required, x.minimum, x.maximum) == ("number", False, 1.5, 2.0)
    assert field(schema, "y").type == "integer"
    # "NA" is empty table-wide (as Frictionless missingValues are): so in "code" too
    assert schema.missing_values == ("", "NA", "-")
    assert (field(schema, "code").type, field(schema, "code").required) == ("string", False)


def test_null_spellings_only_in_text_columns_stay_values(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("country,n\nNA,1\nDE,2\nNA,3\n")
    schema = roundtrip(path)
    assert schema.missing_values == ("",)
    assert field(schema, "country").enum == ("DE", "NA") and field(schema, "country").required


def test_day_first_dates_when_unambiguous(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(
        "dmy,mdy,either,iso\n"
        "31/01/2024,01/31/2024,01/02/2024,2024-01-31\n"
        "01/02/2024,02/01/2024,02/03/2024,2024-02-01\n"
    )
    schema = roundtrip(path)
    got = {f.name: (f.type, f.format) for f in schema.fields}
    assert got == {
        "dmy": ("date", "%d/%m/%Y"),
        "mdy": ("date", "%m/%d/%Y"),
        "either": ("string", None),  # no day above 12: nobody can tell
        "iso": ("date", None),
    }
    assert field(schema, "dmy").minimum == datetime.date(2024, 1, 31)


def test_unique_needs_enough_values(tmp_path: Path) -> None:
    few = tmp_path / "few.csv"
    few.write_text("id\n" + "".join(f"u{i}\n" for i in range(MIN_UNIQUE - 1)))
    many = tmp_path / "many.csv"
    many.write_text("id\n" + "".join(f"u{i}\n" for i in range(MIN_UNIQUE)))
    assert not field(roundtrip(few), "id").unique
    assert field(roundtrip(many), "id").unique


def test_inferred_schema_accepts_its_own_parquet_and_frame(tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    n = 20_000
    data = pl.DataFrame(
        {
            "id": [f"u{i}" for i in range(n)],
            "x": rng.normal(0, 1, n),
            "k": rng.integers(0, 10, n),
            "device": rng.choice(["ios", "android"], n),
            "t": [datetime.datetime(2024, 1, 1) + datetime.timedelta(minutes=int(m)) for m in rng.integers(0, 10_000, n)],
            "nan": np.where(rng.random(n) < 0.1, np.nan, 1.0),
        }
    )  # fmt: skip
    path = tmp_path / "t.parquet"
    data.write_parquet(path)
    schema = infer_files([path], "events")
    assert field(schema, "device").enum == ("android", "ios")
    assert field(schema, "id").unique and field(schema, "x").required
    assert field(schema, "t").type == "datetime" and field(schema, "k").type == "integer"
    assert not field(schema, "nan").required  # NaN is an empty cell to the validator
    assert validate_files([path], schema).ok and validate_frame(data, schema).ok
    assert infer_frame(data, "events") == schema


def test_tables_with_columns_but_no_rows(tmp_path: Path) -> None:
    pl.DataFrame({"n": pl.Series([], dtype=pl.Int64)}).write_parquet(tmp_path / "empty.parquet")
    (tmp_path / "header.csv").write_text("x,y\n")
    parquet = infer_files([tmp_path / "empty.parquet"])
    assert [(f.name, f.type, f.required) for f in parquet.fields] == [("n", "integer", False)]
    assert validate_files([tmp_path / "empty.parquet"], parquet).ok
    assert [f.name for f in roundtrip(tmp_path / "header.csv").fields] == ["x", "y"]


@pytest.mark.parametrize("pattern", ["(?<=a)b", "x(?!y)", r"(a)\1"])
def test_patterns_the_validator_cannot_run_are_refused_when_parsed(pattern: str) -> None:
    text = f"fields:\n  - name: c\n    type: string\n    constraints: {{pattern: '{pattern}'}}\n"
    with pytest.raises(InvalidInput, match=r"line 4: field 'c': pattern .* cannot be checked"):
        parse_schema(text)


def test_cli_infer_then_validate_a_csv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABLINK_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    Path("t.csv").write_text("zip,at,ok\n01067,2023-05-01T09:12:00Z,yes\n10115,NA,no\n")
    runner = CliRunner()
    inferred = runner.invoke(app, ["schema", "infer", "t.csv"], catch_exceptions=False)
    assert inferred.exit_code == 0 and "missingValues" in inferred.stdout
    Path("t.yaml").write_text(inferred.stdout)
    checked = runner.invoke(app, ["validate", "t.csv", "-s", "t.yaml", "--json"])
    assert checked.exit_code == 0 and json.loads(checked.stdout)["ok"] is True


# ---- generated tables: every type above, with nulls, in CSV and Parquet ----

_DAY = st.dates(datetime.date(1990, 1, 1), datetime.date(2030, 12, 31))
_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=8)
COLUMN_KINDS: dict[str, st.SearchStrategy[str]] = {
    "integer": st.integers(-(10**12), 10**12).map(str),
    "number": st.floats(-1e9, 1e9, allow_nan=False).map(repr),
    "zip": st.integers(0, 99_999).map(lambda n: f"{n:05d}"),
    "boolean": st.sampled_from(["yes", "no", "true", "false", "Yes", "NO", "1", "0"]),
    "date": _DAY.map(datetime.date.isoformat),
    "day_first": _DAY.map(lambda d: d.strftime("%d/%m/%Y")),
    "datetime": st.datetimes(datetime.datetime(1990, 1, 1), datetime.datetime(2030, 1, 1)).map(
        lambda t: t.replace(microsecond=0).isoformat()
    ),
    "zoned": st.tuples(
        st.datetimes(datetime.datetime(1990, 1, 1), datetime.datetime(2030, 1, 1)),
        st.sampled_from(["Z", "+02:00", "-05:30", "+0100"]),
    ).map(lambda p: p[0].replace(microsecond=0).isoformat() + p[1]),
    "time": st.times().map(lambda t: t.replace(microsecond=0).isoformat()),
    "category": st.sampled_from(["DE", "FR", "US", "NA"]),
    "text": _TEXT,
}
_NULLS = st.sampled_from(["", "NA", "N/A", "null", "None", "-", "NaN"])


@st.composite
def csv_tables(draw: st.DrawFn) -> pl.DataFrame:
    rows = draw(st.integers(1, 40))
    kinds = draw(st.lists(st.sampled_from(sorted(COLUMN_KINDS)), min_size=1, max_size=5))
    columns: dict[str, list[str]] = {}
    for i, kind in enumerate(kinds):
        values = draw(st.lists(COLUMN_KINDS[kind], min_size=rows, max_size=rows))
        holes = draw(st.lists(st.booleans(), min_size=rows, max_size=rows))
        if draw(st.booleans()):
            values = [draw(_NULLS) if hole else v for v, hole in zip(values, holes, strict=True)]
        columns[f"{kind}_{i}"] = values
    return pl.DataFrame(columns, schema=dict.fromkeys(columns, pl.String))


_HYPOTHESIS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@_HYPOTHESIS
@given(data=csv_tables())
def test_generated_csv_tables_pass_the_schema_inferred_from_them(
    tmp_path_factory: pytest.TempPathFactory, data: pl.DataFrame
) -> None:
    folder = tmp_path_factory.mktemp("gen")
    data.write_csv(folder / "t.csv")
    schema = roundtrip(folder / "t.csv")
    for f in schema.fields:
        kind = f.name.rsplit("_", 1)[0]
        if kind == "zip" and data[f.name].str.starts_with("0").any():
            assert f.type == "string"  # the leading zeros are kept
        if kind == "zoned" and f.type != "string":
            assert f.type == "datetime"
    data.write_parquet(folder / "t.parquet")
    roundtrip(folder / "t.parquet")
    data.write_ndjson(folder / "t.jsonl")
    roundtrip(folder / "t.jsonl")


# ---- validation counts against pandera, rule for rule ----


@st.composite
def frames(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(1, 60))
    x = draw(st.lists(st.one_of(st.none(), st.floats(-20, 20)), min_size=n, max_size=n))
    k = draw(st.lists(st.integers(-5, 105), min_size=n, max_size=n))
    c = draw(st.lists(st.sampled_from(["DE", "FR", "US", "XX", None]), min_size=n, max_size=n))
    return pd.DataFrame(
        {"x": pd.Series(x, dtype="float64"), "k": pd.Series(k, dtype="int64"), "c": c}
    )


RULES = (
    "fields:\n"
    "  - {name: x, type: number, constraints: {required: true, minimum: -10, maximum: 10}}\n"
    "  - {name: k, type: integer, constraints: {minimum: 0, maximum: 100}}\n"
    "  - {name: c, type: string, constraints: {enum: [DE, FR, US]}}\n"
)


def pandera_failures(frame: pd.DataFrame) -> pd.DataFrame:
    schema = pa.DataFrameSchema(
        {
            "x": pa.Column(float, [pa.Check.ge(-10), pa.Check.le(10)], nullable=False),
            "k": pa.Column(int, [pa.Check.ge(0), pa.Check.le(100)]),
            "c": pa.Column(None, pa.Check.isin(["DE", "FR", "US"]), nullable=True),
        }
    )
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        return exc.failure_cases
    return pd.DataFrame(columns=["column", "check", "index"])


@settings(max_examples=80, deadline=None)
@given(frame=frames())
def test_validation_counts_agree_with_pandera(frame: pd.DataFrame) -> None:
    report = validate_frame(frame, parse_schema(RULES))
    cases = pandera_failures(frame)
    names = {"greater_than_or_equal_to(-10)": "minimum", "less_than_or_equal_to(10)": "maximum",
             "greater_than_or_equal_to(0)": "minimum", "less_than_or_equal_to(100)": "maximum",
             "isin(['DE', 'FR', 'US'])": "enum", "not_nullable": "required"}  # fmt: skip
    expected: dict[tuple[str, str], int] = {}
    for column, check in zip(cases["column"], cases["check"], strict=True):
        key = (names[str(check)], str(column))
        expected[key] = expected.get(key, 0) + 1
    assert {(f.rule, str(f.column)): f.count for f in report.failures} == expected
    assert report.failed_rows == cases["index"].dropna().nunique()


def test_a_column_of_null_spellings_only_is_text(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("b\nNaN\n")
    assert field(roundtrip(path), "b").type == "string"
