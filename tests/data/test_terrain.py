"""Terrain features against brute force, slope and aspect on planes, and the figures of the
real Israel DEM."""
from __future__ import annotations

import numpy as np
import pytest

from lst_lightning.data.facts.terrain import terrain_derivatives, terrain_features
from lst_lightning.data.facts.windows import box_sum, pad_interior
from lst_lightning.data.io.rasters import read_dem
from tests.data.inputs import make_dem, make_grid
from tests.data.references import assert_nan_equal, brute_terrain


@pytest.mark.parametrize("k", [3, 5, 9])
def test_terrain_features_match_brute_force(rng, k):
    dem = make_dem(rng, 25, 32)
    dem[12, 16] = np.nan  # a DEM gap
    got = terrain_features(dem, k)
    assert got.shape == (25, 32, 1 + k * k) and got.dtype == np.float32
    assert_nan_equal(got, brute_terrain(dem, k), atol=1e-3)
    r = k // 2
    # every window over the gap is invalid, and windows just beyond it are valid
    assert np.isnan(got[12 - r:12 + r + 1, 16 - r:16 + r + 1, 0]).all()
    assert np.isfinite(got[12 - r - 1, 16, 0]) or 12 - r - 1 < r


def test_terrain_derivatives(rng):
    h, w = 20, 20
    grid = make_grid(h, w)
    flat = np.full((h, w), 100.0, dtype=np.float32)
    d = terrain_derivatives(flat, grid, 5)
    assert d.shape == (h, w, 4)
    assert np.all(d[..., 0] == 0) and np.all(d[..., 1] == 0) and np.all(d[..., 2] == 0)  # no fake aspect
    # a plane rising to the north faces (downhill) south: cos(aspect) = -1
    north_up = np.repeat(np.arange(h, 0, -1, dtype=np.float32)[:, None] * 50, w, axis=1)
    d = terrain_derivatives(north_up, grid, 5)
    np.testing.assert_allclose(d[5:15, 5:15, 2], -1, atol=1e-6)
    np.testing.assert_allclose(d[5:15, 5:15, 1], 0, atol=1e-6)
    assert np.all(d[5:15, 5:15, 0] > 0)


def test_real_dem_figures(israel_dem):
    dem, grid = read_dem(israel_dem)
    assert grid.shape == (603, 409)
    k = 9
    terrain = terrain_features(dem, k)
    land = pad_interior(box_sum(dem != 0, k) == k * k, k, False)  # DEM != 0 over the whole window
    n_land = int(land.sum())
    centre = terrain[..., 1 + (k * k) // 2][land].astype(np.float64)  # centre minus window mean
    rms, median = float(np.sqrt(np.mean(centre ** 2))), float(np.median(np.abs(centre)))
    print(f"real DEM: {n_land:,} full land windows, centre-minus-mean RMS {rms:.1f} m, median |.| {median:.1f} m")
    assert abs(n_land - 165_179) <= 0.02 * 165_179
    assert abs(rms - 51) <= 0.04 * 51
    assert abs(median - 12) <= 1.5
    # TPI in terrain_derivatives is the same quantity
    extra = terrain_derivatives(dem, grid, k)
    np.testing.assert_allclose(extra[..., 3][land], centre, atol=1e-3)
