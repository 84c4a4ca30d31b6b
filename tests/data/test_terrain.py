"""Terrain features against brute force, slope and aspect on planes, the metric pixel spacing,
topographic position at several scales, and the figures of the real Israel DEM."""
from __future__ import annotations

import numpy as np
import pytest

from lst_lightning.data.facts.terrain import (
    M_PER_DEG_LAT,
    M_PER_DEG_LON_EQUATOR,
    pixel_spacing,
    slope_aspect,
    terrain_derivatives,
    terrain_features,
    topographic_position,
)
from lst_lightning.data.facts.windows import box_sum, pad_interior
from lst_lightning.data.io.rasters import read_dem
from lst_lightning.errors import LSTError
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


def test_pixel_spacing_from_degrees_or_metres():
    grid = make_grid(4, 3, dlat=0.5)  # rows at 32.75 .. 31.25 N
    dy, dx = pixel_spacing(grid)
    assert dy == pytest.approx(0.5 * M_PER_DEG_LAT)
    np.testing.assert_allclose(dx[:, 0], 0.01 * M_PER_DEG_LON_EQUATOR * np.cos(np.radians(grid.lat)))
    assert dx.shape == (4, 1) and dx[0, 0] < dx[-1, 0]  # narrower to the north
    assert pixel_spacing(grid, 926.6) == (926.6, 926.6)
    with pytest.raises(LSTError, match="pixel_size_m"):
        pixel_spacing(grid, -1.0)


def test_slope_and_aspect_of_planes():
    rows, cols = np.mgrid[0:7, 0:7].astype(np.float64)
    # rising 30 m per row southwards and 40 m per column eastwards at 100 m pixels: the slope
    # falls to the north-west, gradient 0.5
    slope, aspect = slope_aspect(rows * 30 + cols * 40, 100.0, 100.0)
    np.testing.assert_allclose(slope, np.arctan(0.5))
    np.testing.assert_allclose(aspect, np.arctan2(-0.4, 0.3) + 2 * np.pi)  # downhill: west and north
    # per-row dx: the same rise per column is steeper where pixels are narrower
    dx = np.linspace(50.0, 100.0, 7)[:, None]
    slope, aspect = slope_aspect(cols * 10, 1000.0, dx)
    np.testing.assert_allclose(slope, np.arctan(10 / dx).repeat(7, axis=1))
    np.testing.assert_allclose(aspect, 1.5 * np.pi)  # falls to the west
    slope, aspect = slope_aspect(np.full((5, 5), 3.0), 1.0, 1.0)
    assert np.all(slope == 0) and np.all(aspect == 0)


def brute_position(dem: np.ndarray, s: int) -> np.ndarray:
    h, w = dem.shape
    r = s // 2
    out = np.full((h, w), np.nan)
    for i in range(r, h - r):
        for j in range(r, w - r):
            win = dem[i - r:i + r + 1, j - r:j + r + 1].astype(np.float64)
            if np.isfinite(win).all():
                out[i, j] = dem[i, j] - win.mean()
    return out


def test_topographic_position_matches_brute_force(rng):
    dem = make_dem(rng, 31, 40)
    dem[25, 3] = np.nan  # a DEM gap
    scales = (3, 9, 27)
    got = topographic_position(dem, scales)
    assert got.shape == (31, 40, 3) and got.dtype == np.float32
    for i, s in enumerate(scales):
        assert_nan_equal(got[..., i], brute_position(dem, s), atol=1e-3)
    assert np.isnan(got[:4, :, 1]).all() and np.isnan(got[:, -4:, 1]).all()  # the 9 x 9 window leaves the grid
    assert np.isfinite(got[15, 20]).all() and np.isnan(got[25, 3]).all()
    assert np.isnan(got[15, 16, 2]) and np.isfinite(got[15, 17, 2])  # 27 x 27 windows over the gap
    # a pixel in a bowl lies below all its surroundings, at every scale
    bowl = np.hypot(*np.mgrid[-15:16, -15:16]).astype(np.float32) * 10
    assert np.all(topographic_position(bowl, scales)[15, 15] < 0)
    assert np.isnan(topographic_position(dem[:20, :20], 27)).all()  # the window never fits


@pytest.mark.parametrize("scales", [(4,), (1, 3), (), "9", (3.0,)])
def test_topographic_position_bad_scales(scales):
    with pytest.raises(LSTError, match="scales"):
        topographic_position(np.zeros((9, 9)), scales)


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
