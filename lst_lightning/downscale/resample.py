"""Putting a DEM (or a covariate such as monthly NDVI) on a fine grid nested in the LST grid
(``lst-resample-dem``): the explicit step that fine-scale prediction never does silently.

A source coarser than (or about as fine as) the target is interpolated bilinearly at the target
pixel centres; a source much finer (pixels under 2/3 of the target's) is averaged over the source
pixels whose centres fall in each target pixel. Voids propagate: a bilinear value needs its four
neighbours, an average at least half of its pixels.

``x_scaled_at``: the LST grid's x axis is not longitude but the sinusoidal easting in degrees at
that latitude (MODIS tiles kept pixel for pixel on a lat/x grid, e.g. the h18v04 archive: true
longitude = x cos(lat0) / cos(lat)), while the source is on true longitudes. Each target pixel is
then looked up at its true longitude; the fine grid covers the part of the LST grid that lies
inside the source at every latitude of it.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lst_lightning.data.io.geotiff import read_geotiff
from lst_lightning.data.io.grid import Grid
from lst_lightning.data.io.rasters import nodata_to_nan, read_dem
from lst_lightning.data.io.writers import write_geotiff
from lst_lightning.downscale.grids import fine_grid_of
from lst_lightning.errors import LSTError

AVERAGE_BELOW = 2 / 3  # source / target pixel size under which the source is averaged, not interpolated


@dataclass(frozen=True)
class XAxis:
    """How the LST grid's x relates to true longitude: x = lon (``lat0`` None) or x = lon cos(lat) / cos(lat0)."""

    lat0: float | None = None

    def x(self, lat, lon) -> np.ndarray:
        """The LST grid's x of true (lat, lon), broadcast."""
        lat, lon = np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64)
        return lon + 0 * lat if self.lat0 is None else lon * np.cos(np.deg2rad(lat)) / np.cos(np.deg2rad(self.lat0))

    def lon(self, lat, x) -> np.ndarray:
        """True longitude of the LST grid's (lat, x), broadcast."""
        lat, x = np.asarray(lat, dtype=np.float64), np.asarray(x, dtype=np.float64)
        return x + 0 * lat if self.lat0 is None else x * np.cos(np.deg2rad(self.lat0)) / np.cos(np.deg2rad(lat))


def check_lat0(x_scaled_at) -> XAxis:
    if x_scaled_at is None:
        return XAxis()
    if not -80 <= float(x_scaled_at) <= 80:
        raise LSTError(f"--x-scaled-at {x_scaled_at}: the latitude (degrees) the grid's x is scaled at must lie "
                       "in -80..80 (45 for a MODIS sinusoidal tile written as x / (R cos 45))")
    return XAxis(float(x_scaled_at))


def resample_dem(dem: np.ndarray, source: Grid, coarse: Grid, f: int,
                 axis: XAxis = XAxis()) -> tuple[np.ndarray, Grid, str]:
    """(resampled float32 raster [..., h, w] with NaN voids, its fine grid at factor f in ``coarse``,
    the method) of ``dem`` [..., H, W] (a DEM, or bands such as 12 monthly NDVI) on ``source``."""
    south, north = source.north - source.shape[0] * source.dlat, source.north
    east = source.west + source.shape[1] * source.dlon
    edges = np.array([south, north])  # x of the source's west / east edge at its south and north edge
    bounds = (float(axis.x(edges, source.west).max()), south, float(axis.x(edges, east).min()), north)
    target = fine_grid_of(coarse, f, bounds)
    out, method = resample_onto(dem, source, target, axis)
    return out, target, method


def resample_onto(dem: np.ndarray, source: Grid, target: Grid, axis: XAxis = XAxis()) -> tuple[np.ndarray, str]:
    """(``dem`` [..., H, W] on ``source`` resampled onto the grid ``target``, the method)."""
    scale = 1.0 if axis.lat0 is None else float(np.cos(np.deg2rad(axis.lat0)) / np.cos(np.deg2rad(target.lat.mean())))
    if source.dlat < AVERAGE_BELOW * target.dlat and source.dlon < AVERAGE_BELOW * target.dlon * scale:
        return _average(dem, source, target, axis), "average"
    return _bilinear(dem, source, target, axis), "bilinear"


def resample_dem_file(dem_path: Path, like: Path | None, factor: int | None, output: Path, x_scaled_at=None,
                      onto: Path | None = None) -> str:
    """The whole ``lst-resample-dem``: the GeoTIFF ``dem_path`` (one band: a DEM, checked as one;
    several: each band) on the fine grid nested in the grid of the GeoTIFF ``like`` at ``factor``,
    or on the grid of the GeoTIFF ``onto`` (e.g. a fine DEM written before), written to
    ``output``; returns the line that says what was done. Every setting is checked before reading."""
    if (onto is None) == (like is None) or (like is None) != (factor is None):
        raise LSTError("lst-resample-dem: give either --like <LST-grid GeoTIFF> with --factor F, or --onto "
                       "<GeoTIFF whose grid to use>")
    if factor is not None and factor < 2:
        raise LSTError(f"--factor {factor}: the fine grid needs at least 2 fine pixels per LST pixel side")
    axis = check_lat0(x_scaled_at)
    array, source, nodata = read_geotiff(dem_path, "source raster")
    if array.shape[0] == 1:
        values, source = read_dem(dem_path)
    else:
        values = nodata_to_nan(array, nodata)
    if onto is not None:
        grid = read_geotiff(onto, "--onto raster")[1]
        fine, method = resample_onto(values, source, grid, axis)
    else:
        fine, grid, method = resample_dem(values, source, read_geotiff(like, "--like raster")[1], factor, axis)
    if not np.isfinite(fine).any():
        raise LSTError(f"{dem_path}: no pixel of it falls on the target grid ({grid.describe()})")
    write_geotiff(output, grid, fine, nodata=float("nan"))
    bands = "" if fine.ndim == 2 else f", {fine.shape[0]} bands"
    return f"{output}: {grid.describe()}{bands} ({method} from {dem_path}; {np.isnan(fine).mean():.1%} void)"


def _bilinear(dem: np.ndarray, source: Grid, target: Grid, axis: XAxis) -> np.ndarray:
    y = (source.north - target.lat) / source.dlat - 0.5  # fractional source row of each target row
    x = (axis.lon(target.lat[:, None], target.lon[None, :]) - source.west) / source.dlon - 0.5  # [h, w]
    y0, x0 = np.floor(y).astype(int)[:, None], np.floor(x).astype(int)
    wy, wx = y[:, None] - y0, x - x0
    h, w = dem.shape[-2:]

    def at(rows, cols):
        ok = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
        values = dem[..., np.clip(rows, 0, h - 1), np.clip(cols, 0, w - 1)].astype(np.float64)
        return np.where(ok, values, np.nan)

    out = ((1 - wy) * (1 - wx) * at(y0, x0) + (1 - wy) * wx * at(y0, x0 + 1)
           + wy * (1 - wx) * at(y0 + 1, x0) + wy * wx * at(y0 + 1, x0 + 1))
    return out.astype(np.float32)


def _average(dem: np.ndarray, source: Grid, target: Grid, axis: XAxis) -> np.ndarray:
    rows = np.floor((target.north - source.lat) / target.dlat).astype(int)[:, None]  # target row of each source row
    cols = np.floor((axis.x(source.lat[:, None], source.lon[None, :]) - target.west) / target.dlon).astype(int)
    th, tw = target.shape
    keep = (rows >= 0) & (rows < th) & (cols >= 0) & (cols < tw)
    cell = (rows * tw + cols)[keep]
    n_all = np.bincount(cell, minlength=th * tw)
    out = []
    for band in dem.reshape(-1, *dem.shape[-2:]):
        values = band[keep].astype(np.float64)
        valid = np.isfinite(values)
        n = np.bincount(cell[valid], minlength=th * tw)
        total = np.bincount(cell[valid], weights=values[valid], minlength=th * tw)
        with np.errstate(invalid="ignore", divide="ignore"):
            out.append(np.where((n > 0) & (2 * n >= n_all), total / n, np.nan).reshape(th, tw))
    return np.stack(out).reshape(*dem.shape[:-2], th, tw).astype(np.float32)
