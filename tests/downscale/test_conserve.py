"""Conservation in temperature and in radiance (T^4), on grids that start mid-block and stick out."""
from __future__ import annotations

import numpy as np
import pytest

from lst_lightning.downscale.blocks import Blocks
from lst_lightning.downscale.conserve import conserve, conserve_radiance
from lst_lightning.downscale.fine import conserve_tile
from lst_lightning.downscale.tiles import tile_ranges
from lst_lightning.errors import LSTError
from tests.downscale.fields import brute_block_means, nested


def case(rng, f=4):
    """A fine grid 2 / 3 fine pixels inside a 6 x 7 coarse grid and sticking out of its south
    edge, a prediction with NaN holes, a coarse LST with one missing pixel."""
    n = nested(f, (6, 7), fine_shape=(6 * f, 6 * f + 1), row0=2, col0=3)
    pred = rng.normal(300, 4, n.fine.shape)
    pred[5, 5] = pred[9, 2:6] = np.nan
    coarse = rng.normal(300, 3, n.coarse.shape)
    coarse[2, 2] = np.nan
    return n, pred, coarse


def test_the_canvas_round_trips_and_its_means_are_the_block_means(rng):
    n, pred, _ = case(rng)
    blocks = Blocks.of(n)
    canvas = blocks.to_canvas(pred)
    np.testing.assert_array_equal(blocks.from_canvas(canvas)[:22], pred[:22])
    assert np.isnan(blocks.from_canvas(canvas)[22:]).all()  # fine rows south of the coarse grid
    means = np.full(n.coarse.shape, np.nan)
    means[blocks.r0:blocks.r1, blocks.c0:blocks.c1] = blocks.means(canvas)
    np.testing.assert_allclose(means, brute_block_means(pred, n), rtol=1e-13)


@pytest.mark.parametrize("mode", ["linear", "radiance"])
def test_fine_maps_conserve_tile_by_tile_as_the_whole_grid(rng, mode):
    """The fine maps' residual correction (``fine.conserve_tile``, tiles cut on coarse pixel edges)
    gives the whole grid's conservation; fine pixels south of the coarse grid stay as predicted."""
    n, pred, coarse = case(rng)
    whole = conserve(pred, coarse, n, mode)
    tiled = np.full_like(pred, np.nan)
    tiles = tile_ranges(n, 8)
    assert len(tiles) > 4
    for rows, cols in tiles:
        tiled[rows, cols] = conserve_tile(pred[rows, cols], coarse, n, rows, cols, mode)
    np.testing.assert_allclose(tiled[:22], whole[:22], rtol=0, atol=1e-9, equal_nan=True)
    np.testing.assert_array_equal(tiled[22:], pred[22:])  # outside the coarse grid: as predicted
    ok = np.isfinite(coarse)
    power = 1 if mode == "linear" else 4  # radiance: the block mean of T^4 is the coarse T^4
    np.testing.assert_allclose(brute_block_means(whole ** power, n)[ok], coarse[ok] ** power, rtol=1e-12)


def test_radiance_conservation_holds_the_block_mean_of_t4(rng):
    n, pred, coarse = case(rng)
    out = conserve_radiance(pred, coarse, n)
    ok = np.isfinite(coarse)
    np.testing.assert_allclose(brute_block_means(out ** 4, n)[ok], coarse[ok] ** 4, rtol=1e-13)
    np.testing.assert_array_equal(np.isnan(out), np.isnan(pred) | (np.arange(n.fine.shape[0]) >= 22)[:, None])
    # the linear mean of a block with contrasts is then below the coarse value (T^4 is convex)
    assert (brute_block_means(out, n)[ok] < coarse[ok]).all()
    # the missing coarse pixel's fine values are left as predicted
    np.testing.assert_array_equal(out[6:10, 5:9][np.isfinite(pred[6:10, 5:9])],
                                  pred[6:10, 5:9][np.isfinite(pred[6:10, 5:9])])


def test_radiance_equals_linear_for_a_block_of_equal_temperatures(rng):
    n = nested(3, (4, 4))
    pred = np.repeat(np.repeat(rng.normal(290, 5, (4, 4)), 3, 0), 3, 1)  # equal inside every block
    coarse = rng.normal(290, 5, (4, 4))
    np.testing.assert_allclose(conserve(pred, coarse, n, "radiance"), conserve(pred, coarse, n, "linear"),
                               atol=1e-10)


def test_a_block_the_shift_would_freeze_falls_back_to_the_factor():
    n = nested(2, (2, 2), fine_shape=(2, 4))
    pred = np.array([[10.0, 400.0, 300.0, 300.0], [10.0, 400.0, 300.0, 300.0]])
    coarse = np.array([[250.0, 300.0], [np.nan, np.nan]])  # block 0: the additive shift would go below 0 K
    out = conserve_radiance(pred, coarse, n)
    assert (out > 0).all()
    np.testing.assert_allclose((out[:, :2] ** 4).mean(), 250.0 ** 4, rtol=1e-13)
    np.testing.assert_allclose(out[0, 1] / out[0, 0], 40.0)  # a common factor keeps the ratios


def test_bad_mode_and_non_kelvin_temperatures_are_one_line_errors(rng):
    n, pred, coarse = case(rng)
    with pytest.raises(LSTError, match="conservation: unknown mode 'mean'"):
        conserve(pred, coarse, n, "mean")
    with pytest.raises(LSTError, match="kelvin"):
        conserve_radiance(pred - 300.0, coarse, n)
