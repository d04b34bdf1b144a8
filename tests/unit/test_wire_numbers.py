"""Integers from the wire: ASCII digits only, bounded, one helper for every route."""

from __future__ import annotations

import pytest

from lablink.checks.wire_numbers import MAX_WIRE_INT, check_wire_int, parse_wire_int
from lablink.errors import InvalidInput


@pytest.mark.parametrize(
    "raw", ["³", "\u0663", "\uff11", "+1", "-1", "1_0", "", " ", "1.0", "0x1", "9" * 30]
)
def test_parse_refuses_anything_but_ascii_digits(raw: str) -> None:
    with pytest.raises(InvalidInput, match="cursor"):
        parse_wire_int(raw, "cursor")


def test_parse_reads_digits_and_checks_the_range() -> None:
    assert parse_wire_int("42", "id") == 42
    assert parse_wire_int(" 7 ", "id") == 7
    assert parse_wire_int(str(MAX_WIRE_INT), "id") == MAX_WIRE_INT
    with pytest.raises(InvalidInput, match="from 0 to"):
        parse_wire_int(str(MAX_WIRE_INT + 1), "id")
    with pytest.raises(InvalidInput, match="from 1 to 9"):
        parse_wire_int("0", "version", low=1, high=9)


@pytest.mark.parametrize("value", [True, 1.0, "1", None, -1, 2**63, MAX_WIRE_INT + 1])
def test_check_refuses_non_integers_and_out_of_range(value: object) -> None:
    with pytest.raises(InvalidInput, match="seq"):
        check_wire_int(value, "seq")


def test_check_passes_integers_in_range() -> None:
    assert check_wire_int(0, "seq") == 0
    assert check_wire_int(MAX_WIRE_INT, "seq") == MAX_WIRE_INT
