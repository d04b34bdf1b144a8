"""Formatting helpers of the command line."""

from __future__ import annotations

import math

import pytest

from lablink.cli import output


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        (True, "true"),
        (3, "3"),
        (0.123456, "0.1235"),
        (1e-4, "0.0001"),
        (math.nan, "nan"),
        (-math.inf, "-inf"),
        ({"a": 1}, '{"a": 1}'),
        ("gelu", "gelu"),
    ],
)
def test_fmt_value(value: object, text: str) -> None:
    assert output.fmt_value(value) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, ""),
        (0.42, "0.4s"),
        (42, "42s"),
        (184, "3m 04s"),
        (7500, "2h 05m"),
        (3 * 86400, "3d 00h"),
    ],
)
def test_fmt_duration(seconds: float | None, text: str) -> None:
    assert output.fmt_duration(seconds) == text


def test_fmt_ago() -> None:
    now = 1_000_000.0
    assert output.fmt_ago(now - 5, now) == "5s ago"
    assert output.fmt_ago(now - 600, now) == "10m ago"
    assert output.fmt_ago(now - 7200, now) == "2h ago"
    assert output.fmt_ago(now - 3 * 86400, now) == "3d ago"
    assert output.fmt_ago(now + 5, now) == "just now"


def test_best_direction_follows_the_key() -> None:
    cell = {"final": 0.5, "min": 0.1, "max": 0.9}
    assert output.best_of("train/loss", cell) == 0.1
    assert output.best_of("val/acc", cell) == 0.9
