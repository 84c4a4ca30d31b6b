"""Solar illumination at the overpass: cos i against a plain loop over the sun's vector, the
textbook cases (a slope facing the sun, flat ground, a north slope, night), the metric pixel size,
the window differences, and a crop of the real Alps."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from lst_lightning.data.facts.solar import (
    NIGHT_COS_I,
    illumination_samples,
    illumination_window,
    incidence_cosine,
    sun_position,
    surface_geometry,
)
from lst_lightning.data.facts.terrain import slope_aspect
from lst_lightning.data.io.grid import Grid
from lst_lightning.data.io.rasters import read_dem
from lst_lightning.errors import LSTError
from tests.data.inputs import make_dem, make_grid
from tests.data.references import assert_nan_equal, brute_terrain

SUMMER = 172  # 21 June


def plane(h: int, w: int, rise_north: float, rise_east: float) -> np.ndarray:
    """DEM (m) of a plane rising ``rise_north`` m per pixel northwards (up the rows) and
    ``rise_east`` m per pixel eastwards."""
    rows, cols = np.mgrid[0:h, 0:w]
    return ((h - rows) * rise_north + cols * rise_east).astype(np.float64)


def loop_cos_i(grad_north: float, grad_east: float, lat: float, doy: float, hour: float) -> float:
    """The reference: the dot product of the plane's unit normal and the sun's unit vector
    (east, north, up), written out with math (Spencer's declination, hour angle from solar time)."""
    g = 2 * math.pi * (doy - 1) / 365
    decl = (0.006918 - 0.399912 * math.cos(g) + 0.070257 * math.sin(g) - 0.006758 * math.cos(2 * g)
            + 0.000907 * math.sin(2 * g) - 0.002697 * math.cos(3 * g) + 0.00148 * math.sin(3 * g))
    h, phi = math.radians(15 * (hour - 12)), math.radians(lat)
    sun = (-math.cos(decl) * math.sin(h),
           math.cos(phi) * math.sin(decl) - math.sin(phi) * math.cos(decl) * math.cos(h),
           math.sin(phi) * math.sin(decl) + math.cos(phi) * math.cos(decl) * math.cos(h))
    norm = math.sqrt(grad_east ** 2 + grad_north ** 2 + 1)
    normal = (-grad_east / norm, -grad_north / norm, 1 / norm)
    if sun[2] <= 0:
        return 0.0
    return max(0.0, sum(a * b for a, b in zip(normal, sun)))


def test_tilted_plane_matches_a_python_loop():
    size = 500.0
    rise_north, rise_east = -120.0, 80.0  # falls to the north, rises to the east: faces north-west
    slope, aspect = slope_aspect(plane(9, 9, rise_north, rise_east), size, size)
    s, a = slope[4, 4], aspect[4, 4]
    for lat in (-33.0, 0.0, 31.5, 46.0, 68.0):
        for doy in (1, 80, SUMMER, 300):
            for hour in (6.0, 9.25, 10.5, 12.0, 13.5, 17.0, 22.5):
                got = incidence_cosine(s, a, lat, doy, hour)
                want = loop_cos_i(rise_north / size, rise_east / size, lat, doy, hour)
                assert got == pytest.approx(want, abs=1e-6), (lat, doy, hour)


def test_sun_due_south_on_a_slope_tilted_by_its_zenith():
    zenith, azimuth = sun_position(45.0, SUMMER, 12.0)
    assert azimuth == pytest.approx(math.pi)  # due south at solar noon
    slope, aspect = slope_aspect(plane(7, 7, 1000.0 * math.tan(zenith), 0.0), 1000.0, 1000.0)
    assert aspect[3, 3] == pytest.approx(math.pi) and slope[3, 3] == pytest.approx(zenith)
    assert incidence_cosine(slope, aspect, 45.0, SUMMER, 12.0)[3, 3] == pytest.approx(1.0, abs=1e-6)


def test_sun_north_of_the_zenith_at_noon_between_the_tropics():
    zenith, azimuth = sun_position(0.0, SUMMER, 12.0)  # the June sun stands 23.4 deg north of the equator
    assert azimuth == 0.0 and math.degrees(zenith) == pytest.approx(23.45, abs=0.05)
    slope, aspect = slope_aspect(plane(7, 7, -1000.0 * math.tan(zenith), 0.0), 1000.0, 1000.0)
    assert aspect[3, 3] == pytest.approx(0.0)  # faces north
    assert incidence_cosine(slope, aspect, 0.0, SUMMER, 12.0)[3, 3] == pytest.approx(1.0, abs=1e-6)


def test_flat_ground_sees_cos_zenith_per_row():
    grid = make_grid(30, 10, dlat=1.0)  # 1-degree rows: latitude changes down the grid
    slope, aspect, lat = surface_geometry(np.full((30, 10), 250.0), grid)
    assert np.all(slope == 0) and np.all(aspect == 0)
    for doy, hour in ((SUMMER, 10.5), (355, 13.5), (80, 8.0)):
        zenith, _ = sun_position(grid.lat, doy, hour)
        want = np.clip(np.cos(zenith), 0, None)[:, None].repeat(10, axis=1)
        np.testing.assert_allclose(incidence_cosine(slope, aspect, lat, doy, hour), want, atol=1e-6)


def test_north_slope_at_noon_sees_cos_of_zenith_plus_slope():
    s = math.radians(20)
    zenith, _ = sun_position(40.0, SUMMER, 12.0)
    slope, aspect = slope_aspect(plane(5, 5, -100.0 * math.tan(s), 0.0), 100.0, 100.0)
    assert aspect[2, 2] == pytest.approx(0.0) and slope[2, 2] == pytest.approx(s)
    got = incidence_cosine(slope[2, 2], aspect[2, 2], 40.0, SUMMER, 12.0)
    assert got == pytest.approx(math.cos(zenith + s), abs=1e-6)


def test_night_and_self_shadow_give_no_direct_light():
    slope = np.radians([0.0, 10.0, 30.0, 60.0])
    aspect = np.radians([0.0, 90.0, 180.0, 270.0])
    for hour in (0.0, 1.5, 22.5):  # the sun is down at every latitude but the polar day's
        np.testing.assert_array_equal(incidence_cosine(slope, aspect, 31.5, SUMMER, hour), NIGHT_COS_I)
    zenith, _ = sun_position(31.5, SUMMER, 4.0)
    assert zenith > math.pi / 2  # before sunrise: below the horizon, not a negative cosine
    assert np.all(incidence_cosine(slope, aspect, 31.5, SUMMER, 4.0) == NIGHT_COS_I)
    # midwinter noon at 60 N: the sun 6.6 deg high; a 45 deg north slope turns its back on it
    assert incidence_cosine(math.radians(45), 0.0, 60.0, 355, 12.0) == NIGHT_COS_I
    assert 0 < incidence_cosine(math.radians(45), math.pi, 60.0, 355, 12.0) < 1
    assert np.isnan(incidence_cosine(np.nan, 0.0, 45.0, SUMMER, 12.0))  # a DEM gap stays unknown


def test_the_metric_pixel_size_sets_the_slope():
    dem = plane(9, 9, 10.0, 0.0)  # 10 m rise per pixel
    grid = make_grid(9, 9)
    s1000 = surface_geometry(dem, grid, pixel_size_m=1000.0)[0]
    s500 = surface_geometry(dem, grid, pixel_size_m=500.0)[0]
    np.testing.assert_allclose(s1000, math.atan(0.01), rtol=1e-6)
    np.testing.assert_allclose(s500, math.atan(0.02), rtol=1e-6)
    # None: from the grid's degrees (0.01 deg of latitude = 1105.74 m)
    np.testing.assert_allclose(surface_geometry(dem, grid)[0], math.atan(10 / 1105.74), rtol=1e-6)
    # steeper slopes facing the noon sun get more of it
    cos_1000 = incidence_cosine(s1000, math.pi, 45.0, 80, 12.0)
    cos_500 = incidence_cosine(s500, math.pi, 45.0, 80, 12.0)
    assert np.all(cos_500 > cos_1000)


@pytest.mark.parametrize("bad", [0, -926.6, float("nan"), "926", True])
def test_bad_pixel_size_is_one_line(bad):
    with pytest.raises(LSTError, match="pixel_size_m"):
        surface_geometry(np.zeros((5, 5)), make_grid(5, 5), pixel_size_m=bad)


@pytest.mark.parametrize("k", [3, 5])
def test_window_differences_per_frame_and_per_sample(rng, k):
    h, w = 21, 26
    dem = make_dem(rng, h, w) * 5  # steep enough for shade
    dem[10, 12] = np.nan
    slope, aspect, lat = surface_geometry(dem, make_grid(h, w), pixel_size_m=926.6)
    frames = [(SUMMER, 10.5), (355, 13.5), (40, 7.5)]
    grids = [illumination_window(incidence_cosine(slope, aspect, lat, d, t), k) for d, t in frames]
    for (d, t), got in zip(frames, grids):
        assert got.shape == (h, w, 1 + k * k) and got.dtype == np.float32
        assert_nan_equal(got, brute_terrain(incidence_cosine(slope, aspect, lat, d, t), k), atol=1e-6)
    # a batch: each sample's window pixels gathered flat, each with its own frame
    f = rng.integers(0, len(frames), 200)
    r, c = rng.integers(k // 2, h - k // 2, 200), rng.integers(k // 2, w - k // 2, 200)
    dr, dc = np.meshgrid(np.arange(k) - k // 2, np.arange(k) - k // 2, indexing="ij")
    pix = (r * w + c)[:, None] + (dr * w + dc).ravel()
    gather = [a.ravel()[pix] for a in (slope, aspect, lat)]
    doy, hour = np.array([d for d, _ in frames])[f], np.array([t for _, t in frames])[f]
    got = illumination_samples(*gather, doy, hour)
    want = np.stack([grids[fi][ri, ci] for fi, ri, ci in zip(f, r, c)])
    assert got.shape == (200, 1 + k * k) and got.dtype == np.float32
    assert_nan_equal(got, want, atol=1e-6)
    # the centre's latitude for the whole window: the sun computed once per sample, nearly the same
    centre = illumination_samples(gather[0], gather[1], lat[r, c][:, None], doy, hour)
    assert_nan_equal(centre, want, atol=6e-4)


def test_real_alps_at_summer_noon(h18v04):
    """A crop of the real GLOBE DEM of tile h18v04 (the western Alps, Mont Blanc): finite on land,
    in [0, 1] by day, south-facing steep slopes brighter than north-facing ones."""
    pixel_m = json.loads((h18v04 / "grid.json").read_text())["pixel_m"]  # 926.6 m: x is not a longitude
    dem, grid = read_dem(h18v04 / "dem.tif")
    rows, cols = slice(384, 512), slice(512, 704)
    crop, crop_grid = dem[rows, cols], Grid(lat=grid.lat[rows], lon=grid.lon[cols])
    assert np.nanmax(crop) > 4000 and 44 < crop_grid.lat.min() < crop_grid.lat.max() < 48
    slope, aspect, lat = surface_geometry(crop, crop_grid, pixel_size_m=pixel_m)
    cos_i = incidence_cosine(slope, aspect, lat, SUMMER, 12.0)
    land = crop > 0
    assert np.isfinite(cos_i[land]).all() and cos_i.min() >= 0 and cos_i.max() <= 1
    steep = np.degrees(slope) > 15
    south = steep & (np.cos(aspect) < -np.cos(np.radians(45)))
    north = steep & (np.cos(aspect) > np.cos(np.radians(45)))
    assert south.sum() > 200 and north.sum() > 200
    flat = math.cos(sun_position(46.0, SUMMER, 12.0)[0])
    print(f"h18v04 Alps, 21 June noon: cos i south {cos_i[south].mean():.3f} ({south.sum()} px), "
          f"north {cos_i[north].mean():.3f} ({north.sum()} px), flat ground {flat:.3f}")
    assert cos_i[south].mean() > cos_i[north].mean() + 0.1
    assert np.median(cos_i[south]) > np.median(cos_i[north])
    # at night the same terrain has no direct light at all
    assert np.all(incidence_cosine(slope, aspect, lat, SUMMER, 22.5)[land] == NIGHT_COS_I)
