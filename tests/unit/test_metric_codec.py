"""Compressed metric blocks give back every step, time and value bit for bit."""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lablink.errors import LablinkError
from lablink.store.metric_codec import decode, encode

# Any 64-bit pattern is a float64 value: NaNs with payloads and signs, -0.0,
# subnormals, ±inf, the extremes.
BITS = st.integers(0, 2**64 - 1).map(lambda b: struct.unpack("<d", struct.pack("<Q", b))[0])
SPECIAL = st.sampled_from(
    [
        *(math.nan, -math.nan, math.inf, -math.inf, 0.0, -0.0, 5e-324, -5e-324),
        *(1.7976931348623157e308, -1.7976931348623157e308, 2.2250738585072014e-308),
        *(1.0, 0.5, 1e-12, 12345678.0),
    ]
)
FLOATS = st.one_of(BITS, SPECIAL, st.floats(), st.integers(-(2**53), 2**53).map(float))
STEPS = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.integers(0, 5),  # duplicates
    st.sampled_from([0, 2**62, 2**63 - 1, -(2**63), 2**53 + 1]),
)
POINTS = st.lists(st.tuples(STEPS, FLOATS, FLOATS), max_size=60)


def columns(points: list[tuple[int, float, float]]) -> tuple[np.ndarray, ...]:
    return (
        np.array([p[0] for p in points], dtype="<i8"),
        np.array([p[1] for p in points], dtype="<f8"),
        np.array([p[2] for p in points], dtype="<f8"),
    )


def assert_same_bits(got: tuple[np.ndarray, ...], want: tuple[np.ndarray, ...]) -> None:
    for g, w, dtype in zip(got, want, ("<i8", "<f8", "<f8"), strict=True):
        assert g.dtype == np.dtype(dtype)
        assert g.tobytes() == w.tobytes()


@settings(max_examples=300, deadline=None)
@given(points=POINTS)
def test_any_points_round_trip_bit_for_bit(points: list[tuple[int, float, float]]) -> None:
    want = columns(points)
    assert_same_bits(decode(encode(*want)), want)


@settings(max_examples=100, deadline=None)
@given(
    start=st.integers(0, 2**40),
    stride=st.integers(1, 1000),
    n=st.integers(1, 3000),
    t0=st.floats(0, 2e9),
    value=FLOATS,
)
def test_regular_curves_round_trip(
    start: int, stride: int, n: int, t0: float, value: float
) -> None:
    steps = start + stride * np.arange(n, dtype="<i8")
    times = t0 + np.arange(n) * 0.001
    values = np.full(n, value)
    values[::7] = np.nan
    assert_same_bits(decode(encode(steps, times, values)), (steps, times, values))


def test_empty_and_single_point() -> None:
    empty = (np.empty(0, "<i8"), np.empty(0, "<f8"), np.empty(0, "<f8"))
    assert_same_bits(decode(encode(*empty)), empty)
    one = (np.array([7], "<i8"), np.array([1.5], "<f8"), np.array([-0.0], "<f8"))
    assert_same_bits(decode(encode(*one)), one)


def test_unsorted_steps_keep_their_order() -> None:
    steps = np.array([5, 3, 3, 9, -1, 2**62], "<i8")
    times = np.linspace(1.7e9, 1.7e9 + 5, 6)
    values = np.array([1.0, math.nan, -math.inf, math.inf, -0.0, 5e-324])
    assert_same_bits(decode(encode(steps, times, values)), (steps, times, values))


def test_realistic_curves_take_under_ten_bytes_a_point() -> None:
    rng = np.random.default_rng(0)
    n = 10_000
    steps = np.arange(n, dtype="<i8")
    times = 1.765e9 + np.cumsum(rng.uniform(0.0008, 0.0012, n))
    curves = [
        (np.exp(-steps / 3000) + 0.05 * rng.standard_normal(n)).astype(np.float32),
        np.exp(-steps / 3000) + 0.05 * rng.standard_normal(n),  # full float64 noise
        np.round(steps / n * 1000) / 1000,
        3e-4 * np.cos(np.pi * steps / n / 2),
    ]
    for values in curves:
        assert len(encode(steps, times, values.astype("<f8"))) / n < 10


def test_foreign_bytes_are_refused_with_a_hint() -> None:
    block = bytearray(encode(np.arange(3), np.zeros(3), np.ones(3)))
    block[:4] = b"XXXX"
    with pytest.raises(LablinkError, match="not b'LLB1'"):
        decode(bytes(block))
