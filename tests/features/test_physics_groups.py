"""The groups physics says matter (illumination, illum_diff, position, water, local_fit): their values
against the facts functions or a loop, and the same values from the host gather, the device gather and a fine-scale
tile (here at the archive's own scale, f = 1, where a tile must reproduce the cache)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from lst_lightning.data.cache import prepare_cache
from lst_lightning.data.facts.solar import incidence_cosine, surface_geometry
from lst_lightning.data.facts.terrain import pixel_spacing, topographic_position
from lst_lightning.data.facts.water import distance_to_water_km, water_fraction, water_mask
from lst_lightning.data.loading.gatherer import FeatureGatherer, layout_for
from lst_lightning.data.synthetic import generate_archive
from lst_lightning.downscale.grids import nest
from lst_lightning.downscale.tiles import fine_inputs_from, tile_cache

GROUPS = ("lst_mean", "elev_mean", "illumination", "illum_diff", "position", "water")


@pytest.fixture(scope="module")
def coastal(tmp_path_factory):
    """A small synthetic archive whose DEM has sea (0 m) along its west edge, 1 km pixels."""
    from lst_lightning.data.io.rasters import read_dem
    from lst_lightning.data.io.writers import write_geotiff

    root = tmp_path_factory.mktemp("coastal")
    generate_archive(root / "arch", day_step=60, shape=(48, 40), seed=2, progress=False)
    dem, grid = read_dem(root / "arch" / "dem.tif")
    dem[:, :6] = 0.0  # the sea
    write_geotiff(root / "dem.tif", grid, dem.astype(np.float32))
    cache = prepare_cache(root / "arch" / "lst", dem=root / "dem.tif", cache_root=root / "cache", k=5,
                          pixel_size_m=950.0, progress=False, quiet=True)
    return cache, dem, grid


def sample(cache, n=600, seed=0):
    rng = np.random.default_rng(seed)
    t, (h, w) = len(cache.frame_meta), cache.grid.shape
    f, r, c = rng.integers(0, t, 20 * n), rng.integers(0, h, 20 * n), rng.integers(0, w, 20 * n)
    ok = np.isfinite(cache.window_mean[f, r, c])
    return f[ok][:n], r[ok][:n], c[ok][:n]


def test_values_equal_the_facts_functions(coastal):
    cache, dem, grid = coastal
    layout = layout_for(cache, GROUPS)
    f, r, c = sample(cache)
    batch = FeatureGatherer(cache, layout).gather(f, r, c)
    col = {name: batch["scalars"][:, j] for j, name in enumerate(layout.scalar_names)}
    slope, aspect, lat = surface_geometry(dem, grid, 950.0)
    frames = cache.frame_meta
    doy = np.array([frames[i]["doy"] for i in f])
    hour = np.array([frames[i]["hour"] for i in f])
    expect = incidence_cosine(slope[r, c], aspect[r, c], lat[r, c], doy, hour)
    np.testing.assert_allclose(col["cos_i"], expect, atol=2e-6)
    assert (col["cos_i"][hour < 6] == 0).all() and col["cos_i"][hour > 6].max() > 0.5  # night: the sun is down
    position = topographic_position(dem)
    np.testing.assert_allclose(col["tpi_9"], np.nan_to_num(position[r, c, 1]), atol=1e-4)
    water = water_mask(dem)
    np.testing.assert_allclose(col["water_frac"], water_fraction(water, 5, np.isfinite(dem))[r, c], atol=1e-6)
    np.testing.assert_allclose(col["water_km"], distance_to_water_km(water, *pixel_spacing(grid, 950.0))[r, c],
                               atol=1e-4)
    assert col["water_km"].min() < 5 < col["water_km"].max()
    # the illumination differences: each window pixel's cos i minus the window's mean
    ch = layout.patch_channels.index("illum_diff")
    i = int(np.argmax(hour > 6))
    window = incidence_cosine(slope[r[i] - 2:r[i] + 3, c[i] - 2:c[i] + 3], aspect[r[i] - 2:r[i] + 3, c[i] - 2:c[i] + 3],
                              lat[r[i], c[i]], doy[i], hour[i])
    np.testing.assert_allclose(batch["patch"][i, ch], window - window.mean(), atol=1e-5)
    np.testing.assert_allclose(col["cos_i_mean"][i], window.mean(), atol=1e-5)


def gathers_agree(cache, dem, grid, layout, f, r, c, ndvi=None) -> dict:
    """The host gather of samples (f, r, c), checked equal to the device gather and to a fine tile
    at the archive's own scale (f = 1, with the NDVI layers ``ndvi``); returns the host batch."""
    host = FeatureGatherer(cache, layout)
    batch = host.gather(f, r, c)
    device = host.on("cpu").gather(f, r, c)
    for key in batch:
        torch.testing.assert_close(device[key], torch.as_tensor(batch[key]), rtol=0, atol=1e-6, equal_nan=True,
                                   msg=key)
    frames = sorted(set(f.tolist()))
    inputs = fine_inputs_from(cache, frames, nest(grid, grid, "the archive's own grid"), dem, layout, ndvi=ndvi)
    tile = FeatureGatherer(tile_cache(inputs, slice(0, grid.shape[0]), slice(0, grid.shape[1])), layout)
    fine = tile.gather(np.searchsorted(frames, f), r, c)
    np.testing.assert_allclose(fine["scalars"], batch["scalars"], rtol=1e-6, atol=1e-5)
    np.testing.assert_allclose(fine["patch"], batch["patch"], rtol=1e-6, atol=1e-5)
    return batch


def test_host_device_and_fine_tile_give_equal_values(coastal):
    cache, dem, grid = coastal
    gathers_agree(cache, dem, grid, layout_for(cache, GROUPS), *sample(cache, seed=1))


@pytest.fixture(scope="module")
def basque_coast(h18v04, tmp_path_factory):
    """A 48 x 48 px crop of the real year (the Basque coast: 8 % sea, hills to 1230 m), on the five
    dates with the most clear sky there by day and night, written in the archive's own formats."""
    import tifffile
    import xarray as xr

    from lst_lightning.data.io.grid import Grid
    from lst_lightning.data.io.rasters import read_dem
    from lst_lightning.data.io.writers import write_geotiff

    root = tmp_path_factory.mktemp("basque")
    rows, cols = slice(848, 896), slice(224, 272)
    (root / "lst").mkdir()
    with xr.open_dataset(h18v04 / "lst" / "LST_2020_NetCDF.nc") as ds:
        ds.isel(time=[4, 44, 89, 94, 110], y=rows, x=cols).load().to_netcdf(root / "lst" / "LST_2020_NetCDF.nc")
    dem, grid = read_dem(h18v04 / "dem.tif")
    crop = Grid(lat=grid.lat[rows], lon=grid.lon[cols])
    write_geotiff(root / "dem.tif", crop, dem[rows, cols])
    write_geotiff(root / "ndvi.tif", crop, tifffile.imread(h18v04 / "ndvi.tif")[:, rows, cols])
    pixel_m = json.loads((h18v04 / "grid.json").read_text())["pixel_m"]
    cache = prepare_cache(root / "lst", dem=root / "dem.tif", ndvi=root / "ndvi.tif", cache_root=root / "cache",
                          k=9, pixel_size_m=pixel_m, hours={"night": 22.5, "day": 10.5}, progress=False, quiet=True)
    return cache, dem[rows, cols], crop


def test_real_crop_gives_equal_values_on_host_device_and_fine_tile(basque_coast):
    """Every physics group on real terrain: the same values from the three gathers, and the
    physics they encode visible (sea found, sunlit slopes by day, none at night)."""
    cache, dem, grid = basque_coast
    assert 0.05 < (dem == 0).mean() < 0.3 and np.nanmax(dem) > 1000  # the crop has sea and high terrain
    layout = layout_for(cache, GROUPS)
    f, r, c = sample(cache, n=800, seed=3)
    batch = gathers_agree(cache, dem, grid, layout, f, r, c)
    col = {name: batch["scalars"][:, j] for j, name in enumerate(layout.scalar_names)}
    day = np.array([cache.frame_meta[i]["band"] == "day" for i in f])
    assert day.any() and (~day).any()
    assert (col["cos_i"][~day] == 0).all() and 0 < col["cos_i"][day].mean() < 1
    # distance to the sea against brute force over the crop's sea pixels (0 m), 926.6 m square pixels:
    # windows with every LST value lie inland (MODIS LST is fill over the sea), so no window holds sea
    sea_r, sea_c = np.nonzero(dem == 0)
    pixel_km = cache.meta["pixel_size_m"] / 1000
    brute = np.hypot(r[:, None] - sea_r[None], c[:, None] - sea_c[None]).min(axis=1) * pixel_km
    np.testing.assert_allclose(col["water_km"], np.minimum(brute, col["water_km"].max()), rtol=1e-4, atol=1e-3)
    assert col["water_km"].min() < 20 and (col["water_frac"] == 0).all()


def test_ndvi_voids_take_the_nearest_valid_value():
    from lst_lightning.features.ndvi import fill_voids

    layers = np.arange(2 * 4 * 5, dtype=np.float32).reshape(2, 4, 5)
    layers[0, 1, 2] = np.nan  # one void: its nearest valid pixels are at distance 1
    layers[1] = np.nan  # a layer without any value stays empty
    filled = fill_voids(layers)
    assert filled[0, 1, 2] in {layers[0, 0, 2], layers[0, 2, 2], layers[0, 1, 1], layers[0, 1, 3]}
    np.testing.assert_array_equal(np.delete(filled[0].ravel(), 7), np.delete(layers[0].ravel(), 7))
    assert np.isnan(filled[1]).all() and np.isnan(layers[0, 1, 2])  # the input is left alone


def test_local_fit_on_the_real_crop_equals_a_loop_and_the_three_gathers(basque_coast):
    """local_fit on real terrain: each sample's slopes equal a per-sample fit over the 5 x 5 windows
    around it (off-grid or invalid windows left out), its parts equal slope x the centre's departure,
    and the host, device and fine-tile gathers agree (the tile's halo reaches the farthest window)."""
    from lst_lightning.data.facts.context import LOCAL_REACH, local_fit
    from lst_lightning.downscale.tiles import halo

    cache, dem, grid = basque_coast
    layout = layout_for(cache, ("lst_mean", "local_fit"))
    assert halo(layout) == LOCAL_REACH * 9 + 2 * 4 + 1
    f, r, c = sample(cache, n=300, seed=4)
    elev_mean, mean = np.asarray(cache.array("elev_mean")), np.asarray(cache.window_mean)
    h, w = grid.shape
    # a fine tile takes a window reaching into a gap as the mean of what it holds (downscale/tiles.py),
    # the cache leaves it out: the three gathers are compared where every window around is whole or off-grid
    steps = np.arange(-LOCAL_REACH, LOCAL_REACH + 1) * 9
    rr, cc = r[:, None, None] + steps[:, None], c[:, None, None] + steps
    inside = (rr >= 4) & (rr < h - 4) & (cc >= 4) & (cc < w - 4)
    whole = np.isfinite(mean[f[:, None, None], np.clip(rr, 0, h - 1), np.clip(cc, 0, w - 1)]) | ~inside
    keep = whole.all(axis=(1, 2))
    assert keep.sum() > 50
    ndvi = np.asarray(cache.array("ndvi"))  # the cache's, voids filled: the tile fills nothing more
    gathers_agree(cache, dem, grid, layout, f[keep], r[keep], c[keep], ndvi=ndvi)
    batch = FeatureGatherer(cache, layout).gather(f, r, c)
    col = {name: batch["scalars"][:, j] for j, name in enumerate(layout.scalar_names)}
    for i in range(f.size):
        month = int(cache.frame_meta[f[i]]["date"][5:7]) - 1
        lst, elev, veg = [], [], []
        for dr in range(-LOCAL_REACH, LOCAL_REACH + 1):
            for dc in range(-LOCAL_REACH, LOCAL_REACH + 1):
                rr, cc = r[i] + 9 * dr, c[i] + 9 * dc
                if 4 <= rr < h - 4 and 4 <= cc < w - 4 and np.isfinite(mean[f[i], rr, cc]):
                    lst.append(mean[f[i], rr, cc])
                    elev.append(elev_mean[rr, cc] / 1000)
                    veg.append(ndvi[month, rr - 4:rr + 5, cc - 4:cc + 5].astype(np.float64).mean())
        lapse, slope = local_fit(np, np.array([lst]), np.array([elev]), np.array([veg]), np.ones((1, len(lst)), bool))
        np.testing.assert_allclose([col["local_lapse"][i], col["local_ndvi_slope"][i]], [lapse[0], slope[0]],
                                   rtol=1e-4, atol=1e-3)
        ndvi_mean = ndvi[month, r[i] - 4:r[i] + 5, c[i] - 4:c[i] + 5].astype(np.float64).mean()
        np.testing.assert_allclose(col["local_ndvi_part"][i], slope[0] * (ndvi[month, r[i], c[i]] - ndvi_mean),
                                   rtol=1e-4, atol=1e-4)
        dz_km = (dem[r[i], c[i]] - elev_mean[r[i], c[i]]) / 1000
        np.testing.assert_allclose(col["local_elev_part"][i], lapse[0] * dz_km, rtol=1e-4, atol=1e-4)
    assert np.abs(col["local_ndvi_slope"]).max() > 1  # real slopes, not the 0 of too few windows


def test_local_fit_is_marked_as_not_carrying_one_scale_down():
    """lst-scale-check on h18v04 found local_fit worse one scale down: lst-predict fine_dem names it."""
    from lst_lightning.features import scale_bound

    assert scale_bound(("lst_mean", "context", "local_fit", "position", "ndvi")) == ["local_fit"]
    assert scale_bound(("lst_mean", "elev_diff", "illumination")) == []
