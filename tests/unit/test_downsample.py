"""Min/max downsampling keeps the ends and the extremes within its bound."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from lablink.checks.downsample import minmax_indices

values = arrays(
    np.float64,
    st.integers(0, 3000),
    elements=st.floats(allow_nan=True, allow_infinity=True, width=64),
)


@given(values, st.integers(2, 600))
def test_bound_ends_and_extremes(series: np.ndarray, max_points: int) -> None:
    idx = minmax_indices(series, max_points)
    assert len(idx) == min(max_points, len(series))  # never fewer than asked for
    assert list(idx) == sorted(set(idx.tolist()))
    if len(series):
        assert idx[0] == 0 and idx[-1] == len(series) - 1
        kept = series[idx]
        finite = series[~np.isnan(series)]
        if len(finite) and max_points >= 4:  # room for one min/max pair
            assert np.nanmax(kept) == finite.max() and np.nanmin(kept) == finite.min()


@given(st.lists(st.floats(allow_nan=False, width=64), max_size=300), st.integers(2, 400))
def test_against_a_plain_list(points: list[float], max_points: int) -> None:
    """What comes back is the plain list itself when it fits, else an ordered subset."""
    idx = minmax_indices(np.array(points, dtype=np.float64), max_points).tolist()
    if max_points >= len(points):
        assert idx == list(range(len(points)))
    else:
        assert len(idx) == max_points
        kept = [points[i] for i in idx]
        assert kept[0] == points[0] and kept[-1] == points[-1]
        rest = iter(points)  # an ordered subsequence of the list
        assert all(any(v == w for w in rest) for v in kept)


@pytest.mark.parametrize("max_points", [2, 3, 4, 5, 6, 7, 50])
def test_asking_for_n_of_more_gives_n(max_points: int) -> None:
    # a flat series: every bucket's minimum and maximum are the same point
    assert len(minmax_indices(np.zeros(1000), max_points)) == max_points
    assert len(minmax_indices(np.arange(1000.0), max_points)) == max_points


def test_short_series_come_back_whole() -> None:
    assert minmax_indices(np.arange(5.0), 10).tolist() == [0, 1, 2, 3, 4]


def test_an_all_nan_stretch_stays_visible() -> None:
    series = np.ones(10_000)
    series[5000:6000] = np.nan
    assert np.isnan(series[minmax_indices(series, 100)]).any()


def test_max_points_below_two_is_refused() -> None:
    assert minmax_indices(np.arange(5.0), 2).tolist() == [0, 4]
    with pytest.raises(ValueError, match="at least 2"):
        minmax_indices(np.arange(5.0), 1)
