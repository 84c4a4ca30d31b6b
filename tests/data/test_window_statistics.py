"""The box-filter window statistics the cache is built from, against brute force."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lst_lightning.data.facts.windows import box_sum, check_k, pad_interior, window_mean, window_mean_raw
from lst_lightning.data.io.formats import LST_SCALE
from lst_lightning.errors import LSTError
from tests.data.inputs import random_raw
from tests.data.references import assert_nan_equal, brute_window_mean


@pytest.mark.parametrize("k", [3, 5, 9])
def test_window_means_match_brute_force(rng, k):
    h, w = 30, 40
    raw = random_raw(rng, (3, h, w), missing=0.01)
    raw[1, 10:13, 5] = 0  # a small cloud
    raw[2] = 0  # an empty frame
    expected = brute_window_mean(raw, k, LST_SCALE)
    got = window_mean_raw(raw, k, LST_SCALE)
    assert got.dtype == np.float32 and got.shape == raw.shape
    assert_nan_equal(got, expected, atol=1e-3)
    r = k // 2  # grid edges are never valid
    for edge in (got[:, :r], got[:, h - r:], got[:, :, :r], got[:, :, w - r:]):
        assert np.isnan(edge).all()
    assert np.isfinite(got[0]).any() and np.isnan(got[2]).all()
    # the float version on Kelvin with NaN gaps agrees with the integer version
    kelvin = raw.astype(np.float64) * LST_SCALE
    kelvin[raw == 0] = np.nan
    assert_nan_equal(window_mean(kelvin, k), got, atol=1e-3)
    # validity from box_sum counts agrees too
    valid = pad_interior(box_sum(raw != 0, k) == k * k, k, False)
    np.testing.assert_array_equal(valid, np.isfinite(got))


@settings(max_examples=25, deadline=None)
@given(h=st.integers(1, 14), w=st.integers(1, 14), k=st.sampled_from([3, 5, 7]),
       missing=st.floats(0, 0.3), seed=st.integers(0, 2**31))
def test_window_mean_property(h, w, k, missing, seed):
    """Any grid size, including grids smaller than the window (no valid window at all)."""
    raw = random_raw(np.random.default_rng(seed), (2, h, w), missing)
    got = window_mean_raw(raw, k, LST_SCALE)
    assert got.shape == raw.shape
    assert_nan_equal(got, brute_window_mean(raw, k, LST_SCALE), atol=1e-3)


def test_box_sum_is_exact_for_integers(rng):
    raw = rng.integers(0, 65536, size=(50, 60)).astype(np.uint16)
    sums = box_sum(raw, 9)
    assert sums.dtype == np.int64
    assert sums[3, 7] == int(raw[3:12, 7:16].astype(np.int64).sum())
    assert sums.shape == (42, 52)


def test_check_k():
    assert check_k(9) == 9 and check_k(np.int64(5)) == 5
    for bad in (4, 1, 2, -3, 9.0, "9", True, None):
        with pytest.raises(LSTError, match="data.k"):
            check_k(bad)
