"""The aggregation one scale up and the sharpening baselines of the scale check."""
from __future__ import annotations

import numpy as np
import pytest

from lst_lightning.data.io.aggregate import block_mean, block_mean_raw, block_mode, block_qa, coarse_grid
from lst_lightning.data.io.grid import Grid
from lst_lightning.downscale.grids import nest
from lst_lightning.downscale.sharpening import interpolate, regression_sharpen, repeat

FINE = Grid.from_corner(5.0, 40.0, 0.001, 0.001, (31, 29))  # 31 x 29: the last row/cols are no whole block


def test_block_statistics_use_complete_blocks_only():
    raw = np.full((31, 29), 15000, np.uint16)
    raw[0, 0] = 0  # one missing pixel: its block is missing
    raw[3:6, 3:6] = np.arange(9).reshape(3, 3) + 14000
    out = block_mean_raw(raw, 3)
    assert out.shape == (10, 9) and out[0, 0] == 0 and out[1, 1] == 14004 and out[0, 1] == 15000
    qa = np.full((31, 29), 3, np.uint8)
    qa[4, 4] = 2  # night not observed in one pixel of block (1, 1)
    codes = block_qa(qa, 3)
    assert codes[1, 1] == 2 and codes[0, 0] == 3
    lc = np.zeros((31, 29), np.int32)
    lc[:2, :3] = 7  # 6 of 9 pixels
    lc[3:6, 0:3] = -1
    modes = block_mode(lc, 3)
    assert modes[0, 0] == 7 and modes[1, 0] == -1 and modes[2, 2] == 0
    dem = np.ones((31, 29))
    dem[10, 10] = np.nan
    assert np.isnan(block_mean(dem, 3)[3, 3]) and block_mean(dem, 3)[3, 4] == 1
    coarse = coarse_grid(FINE, 3)
    assert coarse.shape == (10, 9) and nest(FINE, coarse).f == 3 and nest(FINE, coarse).row0 == 0


def test_regression_recovers_an_aggregated_constant_lapse_rate_field_exactly(rng):
    coarse_g = coarse_grid(FINE, 3)
    n = nest(FINE, coarse_g)
    z = rng.normal(800, 300, FINE.shape)
    fine = 305.0 - 0.0065 * z  # a constant lapse rate, no other structure
    coarse = block_mean(fine, 3)
    pred = regression_sharpen(coarse, [block_mean(z, 3)], [z], n)
    whole = np.s_[:30, :27]
    np.testing.assert_allclose(pred[whole], fine[whole], atol=1e-4)
    assert np.isnan(pred[30]).all()  # outside the coarse grid: fill
    # the trivial answer misses the within-block pattern entirely
    assert np.nanstd(repeat(coarse, n)[whole] - fine[whole]) > 0.5


def test_interpolation_is_exact_on_a_linear_field_and_keeps_gaps(rng):
    coarse_g = coarse_grid(FINE, 3)
    n = nest(FINE, coarse_g)
    yy, xx = np.mgrid[0:10, 0:9]
    coarse = 300 + 0.5 * yy - 0.3 * xx
    fy = (np.arange(31) + 0.5) / 3 - 0.5
    fx = (np.arange(29) + 0.5) / 3 - 0.5
    truth = 300 + 0.5 * fy[:, None] - 0.3 * fx[None, :]
    # bilinear: exact inside the outer coarse pixel centres; bicubic: the spline's end conditions
    # fade within ~3 coarse pixels of the grid's edge
    for order, inner, tol in ((1, np.s_[2:28, 2:25], 1e-4), (3, np.s_[9:21, 9:18], 0.01)):
        out = interpolate(coarse, n, order)
        np.testing.assert_allclose(out[inner], truth[inner], atol=tol)
    gappy = coarse.copy()
    gappy[4, 4] = np.nan
    out = interpolate(gappy, n, 3)
    assert np.isnan(out[12:15, 12:15]).all() and np.isfinite(out[9:12, 12:15]).all()


@pytest.mark.parametrize("f", [2, 3, 9])
def test_the_conservative_spline_averages_to_each_coarse_pixel(f):
    """Sampled at the fine pixels, its mean over each coarse pixel is the coarse value (the
    interpolating spline's is not); a gap stays a gap."""
    from lst_lightning.downscale.sharpening import conservative_spline, sample, spline

    coarse_grid = Grid.from_corner(10.0, 45.0, 0.01, 0.01, (12, 14))
    n = nest(Grid.from_corner(10.0, 45.0, 0.01 / f, 0.01 / f, (12 * f, 14 * f)), coarse_grid)
    values = np.random.default_rng(f).normal(300, 2, (12, 14))
    values[4, 6] = np.nan
    fine = sample(conservative_spline(values, f), n).astype(np.float64)
    means = fine.reshape(12, f, 14, f).mean(axis=(1, 3))
    np.testing.assert_allclose(means[np.isfinite(values)], values[np.isfinite(values)], atol=1e-4)
    assert np.isnan(means[4, 6])
    interpolating = sample(spline(values, 3), n).astype(np.float64).reshape(12, f, 14, f).mean(axis=(1, 3))
    assert np.nanmax(np.abs(interpolating - values)) > 0.1
