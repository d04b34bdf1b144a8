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


@given(values, st.integers(4, 600))
def test_bound_ends_and_extremes(series: np.ndarray, max_points: int) -> None:
    idx = minmax_indices(series, max_points)
    assert len(idx) <= max_points
    assert list(idx) == sorted(set(idx.tolist()))
    if len(series):
        assert idx[0] == 0 and idx[-1] == len(series) - 1
        kept = series[idx]
        finite = series[~np.isnan(series)]
        if len(finite):
            assert np.nanmax(kept) == finite.max() and np.nanmin(kept) == finite.min()


def test_short_series_come_back_whole() -> None:
    assert minmax_indices(np.arange(5.0), 10).tolist() == [0, 1, 2, 3, 4]


def test_an_all_nan_stretch_stays_visible() -> None:
    series = np.ones(10_000)
    series[5000:6000] = np.nan
    assert np.isnan(series[minmax_indices(series, 100)]).any()


def test_max_points_below_two_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 4"):
        minmax_indices(np.arange(5.0), 3)
