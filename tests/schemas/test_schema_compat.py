"""Compatibility modes: the table in docs/schemas.md, checked example by example and by property."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from schema_strategies import mutations, schemas, tables

from lablink.checks.compat import MODES, can_read, check, diff_schemas
from lablink.checks.schema_format import parse_schema
from lablink.checks.schema_model import Field, Schema
from lablink.checks.validate import validate_frame

BASE = parse_schema(
    """
fields:
  - {name: id, type: integer, constraints: {required: true}}
  - {name: x, type: number, unit: m, constraints: {minimum: 0, maximum: 10}}
  - {name: c, type: string, constraints: {enum: [a, b]}}
"""
)


def with_field(schema: Schema, name: str, **changes: object) -> Schema:
    fields = []
    for f in schema.fields:
        fields.append(dataclasses.replace(f, **changes) if f.name == name else f)
    return dataclasses.replace(schema, fields=tuple(fields))


def add(schema: Schema, field: Field) -> Schema:
    return dataclasses.replace(schema, fields=(*schema.fields, field))


def drop(schema: Schema, name: str) -> Schema:
    return dataclasses.replace(schema, fields=tuple(f for f in schema.fields if f.name != name))


def rules(new: Schema, old: Schema, mode: str) -> set[str]:
    return {b.rule for b in check(new, [old], mode)}


# (change from BASE to the new schema, backward breaks?, forward breaks?) — docs/schemas.md
TABLE = [
    ("add nullable field", add(BASE, Field("n", "integer")), False, False),
    (
        "add required field with default",
        add(BASE, Field("n", "integer", required=True, default=0, has_default=True)),
        False,
        False,
    ),
    ("add required field", add(BASE, Field("n", "integer", required=True)), True, False),
    ("remove nullable field", drop(BASE, "x"), False, False),
    ("remove required field", drop(BASE, "id"), False, True),
    ("widen integer to number", with_field(BASE, "id", type="number"), False, True),
    ("narrow number to integer", with_field(BASE, "x", type="integer"), True, False),
    ("change type", with_field(BASE, "c", type="integer", enum=None), True, True),
    ("widen range", with_field(BASE, "x", maximum=20), False, True),
    ("narrow range", with_field(BASE, "x", maximum=5), True, False),
    ("drop a bound", with_field(BASE, "x", minimum=None), False, True),
    ("add enum value", with_field(BASE, "c", enum=("a", "b", "z")), False, True),
    ("remove enum value", with_field(BASE, "c", enum=("a",)), True, False),
    ("make nullable", with_field(BASE, "id", required=False), False, True),
    ("make required", with_field(BASE, "x", required=True), True, False),
    ("add unique", with_field(BASE, "id", unique=True), True, False),
    ("add pattern", with_field(BASE, "c", pattern="[ab]"), True, False),
    ("change unit", with_field(BASE, "x", unit="km"), True, True),
    ("description only", with_field(BASE, "x", description="metres"), False, False),
    ("add primary key", dataclasses.replace(BASE, primary_key=("id",)), True, False),
    ("add no-duplicate-rows", dataclasses.replace(BASE, unique_rows=True), True, False),
    ("add row limit", dataclasses.replace(BASE, max_rows=100), True, False),
]


@pytest.mark.parametrize(("change", "new", "backward", "forward"), TABLE, ids=[t[0] for t in TABLE])
def test_documented_table(change: str, new: Schema, backward: bool, forward: bool) -> None:
    assert bool(check(new, [BASE], "backward")) is backward
    assert bool(check(new, [BASE], "forward")) is forward
    assert bool(check(new, [BASE], "full")) is (backward or forward)
    assert check(new, [BASE], "none") == []


def test_each_break_is_named_with_field_rule_and_version() -> None:
    new = with_field(with_field(BASE, "x", maximum=5), "c", enum=("a",))
    breaks = check(new, [BASE], "backward")
    assert {(b.field, b.rule, b.direction, b.against) for b in breaks} == {
        ("x", "maximum", "backward", 1),
        ("c", "enum", "backward", 1),
    }
    assert "upper bound 5" in breaks[0].message


def test_transitive_modes_check_every_earlier_version() -> None:
    v1 = BASE
    v2 = with_field(BASE, "x", maximum=20)  # backward compatible with v1
    v3 = with_field(BASE, "x", maximum=15)  # narrows v2's range: breaks v2, not v1
    assert check(v2, [v1], "backward") == []
    assert rules(v3, v2, "backward") == {"maximum"}
    v4 = with_field(BASE, "x", maximum=20, minimum=None)
    v5 = with_field(BASE, "x", maximum=20)  # adds back a minimum: breaks v4 but not v1
    assert check(v5, [v1, v2, v4], "backward") != [] and check(v5, [v1], "backward") == []
    found = check(v5, [v1, v2, v4], "backward_transitive")
    assert {b.against for b in found} == {3}


def test_unknown_mode() -> None:
    with pytest.raises(ValueError, match="unknown compatibility mode"):
        check(BASE, [BASE], "sideways")


def test_diff_lists_changes_and_breaks() -> None:
    new = add(with_field(BASE, "x", maximum=20, unit="km"), Field("n", "string"))
    d = diff_schemas(BASE, new)
    assert [f["name"] for f in d["added"]] == ["n"] and d["removed"] == []
    changes = {c["key"]: (c["from"], c["to"]) for c in d["changed"][0]["changes"]}
    assert changes == {"unit": ("m", "km"), "constraints.maximum": (10, 20)}
    assert {b["rule"] for b in d["forward"]} == {"maximum", "unit"}


@settings(max_examples=200)
@given(schemas(), st.sampled_from(MODES))
def test_every_schema_is_compatible_with_itself_in_every_mode(schema: Schema, mode: str) -> None:
    assert can_read(schema, schema) == []
    assert check(schema, [schema], mode) == []
    assert check(schema, [schema, schema, schema], mode) == []


@settings(max_examples=200)
@given(st.data())
def test_full_is_backward_and_forward(data: st.DataObject) -> None:
    old = data.draw(schemas())
    new = data.draw(mutations(old))
    for suffix in ("", "_transitive"):
        full = check(new, [old, old], "full" + suffix)
        both = check(new, [old, old], "backward" + suffix) + check(
            new, [old, old], "forward" + suffix
        )
        assert sorted(map(repr, full)) == sorted(map(repr, both))
    assert bool(check(new, [old], "backward")) == bool(can_read(new, old))
    assert bool(check(new, [old], "forward")) == bool(can_read(old, new))


@settings(max_examples=100)
@given(st.data())
def test_transitive_is_the_union_over_earlier_versions(data: st.DataObject) -> None:
    history = [data.draw(schemas())]
    for _ in range(data.draw(st.integers(1, 3))):
        history.append(data.draw(mutations(history[-1])))
    new = data.draw(mutations(history[-1]))
    for base in ("backward", "forward", "full"):
        transitive = check(new, history, base + "_transitive")
        expected = [
            dataclasses.replace(b, against=i)
            for i, old in enumerate(history, 1)
            for b in check(new, [old], base)
        ]
        assert sorted(map(repr, transitive)) == sorted(map(repr, expected))
        latest = check(new, history, base)
        assert {b.against for b in latest} <= {len(history)}


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
)
@given(st.data())
def test_a_compatible_reader_accepts_every_table_the_writer_accepts(data: st.DataObject) -> None:
    """Soundness of the table: no break reported means no table the writer accepts fails."""
    writer = data.draw(schemas())
    reader = data.draw(mutations(writer))
    assume(can_read(reader, writer) == [])
    table = data.draw(tables(writer))
    assume(validate_frame(table, writer).ok)
    report = validate_frame(table, reader)
    assert report.ok, (report.to_dict(), reader, writer)


def test_docs_table_matches_the_checked_table() -> None:
    docs = Path(__file__).resolve().parents[2] / "docs" / "schemas.md"
    text = docs.read_text(encoding="utf-8")
    block = text.split("<!-- compat-table -->")[1].split("<!-- /compat-table -->")[0]
    rows = [line.strip("| ").split(" | ") for line in block.strip().splitlines()[2:]]
    documented = {row[0]: tuple(cell == "✗" for cell in row[1:]) for row in rows}
    checked = {
        change: (backward, forward, backward or forward) for change, _, backward, forward in TABLE
    }
    assert documented == checked
