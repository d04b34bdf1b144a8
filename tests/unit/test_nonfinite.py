"""The three policies for NaN and ±inf in JSON, and ``scrub`` over nested values."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lablink.checks.nonfinite import POLICIES, Policy, finite_or_none, json_float, scrub

NONFINITE = st.sampled_from([math.nan, math.inf, -math.inf])
FLOATS = st.floats(allow_nan=True, allow_infinity=True)
NESTED = st.recursive(
    st.none() | st.booleans() | st.integers() | FLOATS | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(st.floats(allow_nan=False, allow_infinity=False), st.sampled_from(POLICIES))
def test_finite_floats_pass_through(value: float, policy: Policy) -> None:
    assert json_float(value, policy) == value


@given(NONFINITE)
def test_null_drops_every_nonfinite(value: float) -> None:
    assert json_float(value, "null") is None


@given(NONFINITE)
def test_text_keeps_which_one_and_reads_back(value: float) -> None:
    text = json_float(value, "text")
    assert isinstance(text, str)
    back = float(text)
    assert (math.isnan(back) and math.isnan(value)) or back == value


@given(NONFINITE)
def test_nan_null_drops_nan_and_names_infinity(value: float) -> None:
    expected = None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    assert json_float(value, "nan_null") == expected


def _floats_in(value: Any) -> list[float]:
    if isinstance(value, float):
        return [value]
    if isinstance(value, dict):
        return [f for v in value.values() for f in _floats_in(v)]
    if isinstance(value, list | tuple):
        return [f for v in value for f in _floats_in(v)]
    return []


@given(NESTED, st.sampled_from(POLICIES))
def test_scrub_makes_strict_json_and_keeps_finite_values(value: Any, policy: Policy) -> None:
    clean = scrub(value, policy)
    text = json.dumps(clean, allow_nan=False)  # raises on any NaN or inf left
    assert json.loads(text) == json.loads(json.dumps(clean))
    finite = [f for f in _floats_in(value) if math.isfinite(f)]
    assert [f for f in _floats_in(clean) if math.isfinite(f)] == finite


@given(NESTED)
def test_scrub_changes_nothing_without_nonfinite(value: Any) -> None:
    if all(math.isfinite(f) for f in _floats_in(value)):
        assert json.dumps(scrub(value), sort_keys=False) == json.dumps(value)


def test_scrub_keys_become_text_as_json_would_write_them() -> None:
    assert scrub({1: math.inf, "a": (math.nan, 2.0)}) == {"1": None, "a": [None, 2.0]}


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1, 1.0), (2.5, 2.5), (True, None), ("3", None), (None, None), (math.nan, None)],
)
def test_finite_or_none(value: Any, expected: float | None) -> None:
    assert finite_or_none(value) == expected
