"""Water and coast: the water rule, the window's water fraction and the distance to water against
brute force, the cap, and the DEM gaps."""
from __future__ import annotations

import numpy as np
import pytest

from lst_lightning.data.facts.terrain import pixel_spacing
from lst_lightning.data.facts.water import (
    MAX_WATER_KM,
    distance_to_water_km,
    water_features,
    water_fraction,
    water_mask,
)
from lst_lightning.errors import LSTError
from tests.data.inputs import make_grid
from tests.data.references import assert_nan_equal


def random_coast(rng, h: int, w: int) -> np.ndarray:
    """A DEM (m) with sea (exactly 0) on the west, a lake below sea level, land and a gap."""
    dem = rng.uniform(1, 800, (h, w)).astype(np.float32)
    dem[:, : w // 4] = 0.0
    dem[h // 2 - 2:h // 2 + 2, w - 6:w - 3] = -415.0  # the Dead Sea shore: land below sea level
    dem[rng.random((h, w)) < 0.05] = 0.0  # scattered ponds
    dem[3, w // 2] = np.nan
    return dem


def brute_fraction(water: np.ndarray, valid: np.ndarray, k: int) -> np.ndarray:
    h, w = water.shape
    r = k // 2
    out = np.full((h, w), np.nan)
    for i in range(r, h - r):
        for j in range(r, w - r):
            if valid[i - r:i + r + 1, j - r:j + r + 1].all():
                out[i, j] = water[i - r:i + r + 1, j - r:j + r + 1].mean()
    return out


def brute_distance_km(water: np.ndarray, dy: float, dx_rows: np.ndarray) -> np.ndarray:
    """Every pixel against every water pixel, east-west measured at the pair's mean spacing."""
    h, w = water.shape
    wr, wc = np.nonzero(water)
    out = np.empty((h, w))
    for i in range(h):
        for j in range(w):
            east = (wc - j) * 0.5 * (dx_rows[i] + dx_rows[wr])
            out[i, j] = np.sqrt(((wr - i) * dy) ** 2 + east ** 2).min() / 1000
    return out


def test_water_rule_dem_and_ndvi():
    dem = np.array([[0.0, -415.0, 12.0, np.nan],
                    [0.0, 0.0, 300.0, np.nan]], dtype=np.float32)
    np.testing.assert_array_equal(water_mask(dem), [[1, 0, 0, 0], [1, 1, 0, 0]])
    # where NDVI is known it decides: the Dead Sea's water, a vegetated 0 m polder, a gap's lake
    ndvi = np.array([[np.nan, -0.2, 0.4, -0.1],
                     [0.3, np.nan, np.nan, np.nan]])
    np.testing.assert_array_equal(water_mask(dem, ndvi), [[1, 1, 0, 1], [0, 1, 0, 0]])
    # monthly NDVI: the median, so one snowy (negative) month keeps land land
    monthly = np.stack([np.full((2, 4), 0.3)] * 11 + [np.full((2, 4), -0.3)])
    monthly[:, 0, 0] = np.nan  # unknown every month: the DEM decides
    np.testing.assert_array_equal(water_mask(dem, monthly), [[1, 0, 0, 0], [0, 0, 0, 0]])
    with pytest.raises(LSTError, match="NDVI"):
        water_mask(dem, np.zeros((3, 4)))


@pytest.mark.parametrize("k", [3, 5])
def test_water_fraction_matches_brute_force(rng, k):
    dem = random_coast(rng, 17, 23)
    water, valid = water_mask(dem), np.isfinite(dem)
    got = water_fraction(water, k, valid)
    assert got.shape == dem.shape and got.dtype == np.float32
    assert_nan_equal(got, brute_fraction(water, valid, k), atol=1e-6)
    assert np.nanmax(got) == 1 and np.nanmin(got) == 0
    assert np.isnan(got[3, 23 // 2]) and np.isnan(got[0]).all()  # the gap, the grid's edge


def test_distance_to_water_matches_brute_force(rng):
    dem = random_coast(rng, 19, 27)
    water = water_mask(dem)
    got = distance_to_water_km(water, 926.6, 926.6)
    assert got.dtype == np.float32 and np.all(got[water] == 0)
    np.testing.assert_allclose(got, brute_distance_km(water, 926.6, np.full(19, 926.6)), rtol=1e-6)
    # a lat/lon grid: dx shrinks to the north; the nearest water at the mean dx, its distance
    # measured at the pair's own spacing
    grid = make_grid(19, 27, dlat=0.05)  # rows 32.98 .. 32.05 N with 0.01 deg columns
    dy, dx = pixel_spacing(grid)
    got = distance_to_water_km(water, dy, dx)
    np.testing.assert_allclose(got, brute_distance_km(water, dy, dx[:, 0]), rtol=0.01)


def test_distance_is_capped_and_far_without_water():
    water = np.zeros((5, 400), dtype=bool)
    water[:, 0] = True
    got = distance_to_water_km(water, 1000.0, 1000.0, max_km=50.0)
    np.testing.assert_allclose(got[0, :51], np.arange(51.0))
    assert np.all(got[:, 50:] == 50.0)
    assert np.all(distance_to_water_km(np.zeros((4, 4), bool), 1000.0, 1000.0) == MAX_WATER_KM)
    with pytest.raises(LSTError, match="dx"):
        distance_to_water_km(water, 1000.0, np.ones(7))


def test_water_features_mark_dem_gaps(rng):
    dem = random_coast(rng, 15, 20)
    got = water_features(dem, 3, 1000.0, 1000.0)
    assert got.shape == (15, 20, 2) and got.dtype == np.float32
    assert np.isnan(got[3, 10]).all() and np.isfinite(got[7, 7]).all()
    np.testing.assert_array_equal(got[1:-1, 1:4, 0], 1.0)  # out at sea
    np.testing.assert_array_equal(got[:, :5, 1], 0.0)
