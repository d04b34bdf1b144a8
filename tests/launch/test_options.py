"""Durations and the ``[launch]`` table."""

from __future__ import annotations

import pytest

from lablink.checks.durations import parse_duration
from lablink.errors import InvalidInput
from lablink.launch.options import LaunchOptions, resolve


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [("90s", 90), ("30m", 1800), ("12h", 43200), ("1h30m", 5400), ("500ms", 0.5), ("2", 2), (3, 3)],
)
def test_durations(raw: str | int, seconds: float) -> None:
    assert parse_duration(raw) == seconds


@pytest.mark.parametrize("raw", ["12x", "h", "1h 30", "-5", ""])
def test_bad_durations_name_the_fix(raw: str) -> None:
    with pytest.raises(InvalidInput, match="timeout") as info:
        parse_duration(raw, "timeout")
    assert info.value.hint


def test_flags_win_over_the_table() -> None:
    table = {"timeout": "1h", "grace": "5s", "restarts": 2, "backoff": "3s", "project": "v"}
    assert resolve(table) == LaunchOptions(timeout=3600, grace=5, restarts=2, backoff=3)
    got = resolve(table, timeout="10s", restarts=0)
    assert (got.timeout, got.restarts, got.grace) == (10, 0, 5)


def test_unknown_keys_and_bad_restarts_are_refused() -> None:
    with pytest.raises(InvalidInput, match="timeot"):
        resolve({"timeot": "1h"})
    with pytest.raises(InvalidInput, match="restarts"):
        resolve({"restarts": -1})


def test_backoff_doubles_up_to_a_cap() -> None:
    opts = LaunchOptions(backoff=1.0)
    assert [opts.backoff_for(n) for n in (1, 2, 3)] == [1.0, 2.0, 4.0]
    assert opts.backoff_for(30) == 300.0
