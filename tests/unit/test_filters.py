"""The filter grammar: what parses, what it means, and where errors point."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lablink.checks.filters import And, Compare, Field, Has, Not, Or, parse_filter
from lablink.errors import FilterSyntaxError


def test_the_documented_example_parses() -> None:
    expr = parse_filter(
        'metrics.val/acc > 0.9 and params.lr <= 1e-3 and tags.baseline and status = "finished"'
    )
    assert expr == And(
        (
            Compare(Field("metric", "val/acc"), ">", 0.9),
            Compare(Field("param", "lr"), "<=", 1e-3),
            Has(Field("tag", "baseline")),
            Compare(Field("column", "status"), "=", "finished"),
        )
    )


def test_precedence_not_binds_tighter_than_and_than_or() -> None:
    expr = parse_filter("not tags.a and tags.b or tags.c")
    assert expr == Or(
        (And((Not(Has(Field("tag", "a"))), Has(Field("tag", "b")))), Has(Field("tag", "c")))
    )


def test_aliases_backticks_lists_and_contains() -> None:
    assert parse_filter("summary.`val loss` < 1") == Compare(Field("metric", "val loss"), "<", 1.0)
    assert parse_filter("config.model.depth in (50, 101)") == Compare(
        Field("param", "model.depth"), "in", (50.0, 101.0)
    )
    assert parse_filter("name ~ 'res'") == Compare(Field("column", "name"), "~", "res")
    assert parse_filter("  ") is None


@pytest.mark.parametrize(
    ("text", "position", "message"),
    [
        ("metrics.x >", 11, "unexpected end"),
        ("foo > 1", 0, "unknown field"),
        ("metrics.x > 1 and", 17, "unexpected end"),
        ("metrics.x >> 2", 11, "expected a number"),
        ("(tags.a", 7, "missing"),
        ("status", 6, "needs a comparison"),
        ("tags.a = 1", 7, "presence"),
        ("metrics.x > 1 tags.b", 14, "expected 'and'"),
        ("metrics.x > 1 $", 14, r"unexpected .\$"),
        ("metrics.x > 1 and #", 18, "unknown field"),
        ("metrics.x > 1 and )", 18, "expected a field"),
    ],
)
def test_errors_point_at_the_offending_token(text: str, position: int, message: str) -> None:
    with pytest.raises(FilterSyntaxError, match=message) as info:
        parse_filter(text)
    assert info.value.position == position
    assert info.value.details["pointer"].endswith(" " * position + "^")


@given(st.text(max_size=40))
def test_any_text_parses_or_raises_a_filter_error(text: str) -> None:
    try:
        parse_filter(text)
    except FilterSyntaxError as exc:
        assert 0 <= exc.position <= len(text)
