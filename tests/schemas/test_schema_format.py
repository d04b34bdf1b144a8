"""The schema file format: Frictionless fields and constraints, errors naming line and field."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given, settings
from schema_strategies import schemas

from lablink.checks.schema_format import dump_schema, parse_schema, schema_from_dict, to_json_dict
from lablink.checks.schema_model import Schema
from lablink.errors import InvalidInput


def error(text: str) -> InvalidInput:
    with pytest.raises(InvalidInput, match=r"s\.yaml") as info:
        parse_schema(text, "s.yaml")
    return info.value


def test_parses_frictionless_fields_and_lablink_rules() -> None:
    schema = parse_schema(
        """
fields:
  - {name: id, type: integer, constraints: {required: true, unique: true}}
  - {name: amount, type: number, unit: EUR, description: paid, default: 0,
     constraints: {exclusiveMinimum: 0, maximum: 10}}
  - {name: at, type: datetime, constraints: {minimum: 2024-01-01T00:00:00}}
primaryKey: id
rows: {min: 1, max: 10}
uniqueRows: true
""",
        "s.yaml",
    )
    amount = schema.field("amount")
    assert amount is not None and amount.unit == "EUR" and amount.has_default
    assert amount.exclusive_minimum == 0 and amount.maximum == 10
    assert schema.field("at").minimum == datetime.datetime(2024, 1, 1)  # type: ignore[union-attr]
    assert schema.primary_key == ("id",) and schema.unique_rows
    assert (schema.min_rows, schema.max_rows) == (1, 10)


def test_malformed_yaml_names_the_line() -> None:
    err = error("fields:\n  - name: a\n    type: integer\n   constraints: [\n")
    assert "s.yaml, line" in err.message and err.details["line"] in (4, 5)


def test_unknown_type_names_line_field_and_suggests() -> None:
    err = error("fields:\n  - name: id\n    type: integer\n  - name: amount\n    type: float\n")
    assert err.message.startswith("s.yaml, line 5: field 'amount': unknown type 'float'")
    assert err.details == {"source": "s.yaml", "line": 5, "field": "amount"}
    assert "number" in (err.hint or "")


def test_misspelt_constraint_is_an_error_not_a_silent_no_op() -> None:
    err = error("fields:\n  - name: x\n    type: number\n    constraints:\n      maximun: 3\n")
    assert "line 5" in err.message and "maximun" in err.message
    assert err.hint == "did you mean 'maximum'?"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("fields: []\n", "non-empty list"),
        ("- a\n", "mapping with a 'fields' list"),
        ("fields:\n  - type: integer\n", "no 'name'"),
        ("fields:\n  - {name: a}\n  - {name: a}\n", "used twice"),
        (
            "fields:\n  - {name: a, type: string, constraints: {minimum: 1}}\n",
            "needs an ordered type",
        ),
        (
            "fields:\n  - {name: a, type: integer, constraints: {minimum: 5, maximum: 1}}\n",
            "larger than",
        ),
        ("fields:\n  - {name: a, type: integer, constraints: {minimum: x}}\n", "not a number"),
        (
            "fields:\n  - {name: a, type: string, constraints: {pattern: '('}}\n",
            "not a regular expression",
        ),
        ("fields:\n  - {name: a, type: date, constraints: {minimum: soon}}\n", "ISO 8601"),
        ("fields:\n  - {name: a}\nprimaryKey: [b]\n", "primaryKey"),
        ("fields:\n  - {name: a}\nrows: {min: -1}\n", "rows.min"),
        ("fields:\n  - {name: a}\nuniqueRows: maybe\n", "uniqueRows"),
        ("fields:\n  - {name: a}\ncolour: red\n", "unknown key 'colour'"),
    ],
)
def test_invalid_schemas_are_refused_with_the_problem_named(text: str, problem: str) -> None:
    assert problem in error(text).message


def test_yaml_booleans_in_a_text_enum_get_a_quoting_hint() -> None:
    err = error("fields:\n  - name: country\n    type: string\n    constraints: {enum: [DE, NO]}\n")
    assert "field 'country'" in err.message and "quote" in (err.hint or "")


def test_json_schema_files_parse_too(events: Schema) -> None:
    assert parse_schema(dump_schema(events, "json"), "events.json") == events


def test_yaml_dump_round_trips(events: Schema) -> None:
    text = dump_schema(events)
    assert "unit: EUR" in text and parse_schema(text) == events
    assert schema_from_dict(to_json_dict(events)) == events


def test_fingerprint_ignores_formatting(events: Schema) -> None:
    same = parse_schema(dump_schema(events, "json"))
    assert same.fingerprint() == events.fingerprint()


@settings(max_examples=150)
@given(schemas())
def test_any_schema_round_trips_through_yaml_and_json(schema: Schema) -> None:
    assert parse_schema(dump_schema(schema)) == schema
    assert parse_schema(dump_schema(schema, "json")) == schema
