"""Putting a DEM on a fine grid nested in the LST grid (``lst-resample-dem``): the explicit step
that fine-scale prediction never does silently.

A source coarser than (or about as fine as) the target is interpolated bilinearly at the target
pixel centres; a source much finer (pixels under 2/3 of the target's) is averaged over the source
pixels whose centres fall in each target pixel. Voids propagate: a bilinear value needs its four
neighbours, an average at least half of its pixels.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from lst_lightning.data.io.geotiff import read_geotiff
from lst_lightning.data.io.grid import Grid
from lst_lightning.data.io.rasters import read_dem
from lst_lightning.data.io.writers import write_geotiff
from lst_lightning.downscale.grids import fine_grid_of
from lst_lightning.errors import LSTError

AVERAGE_BELOW = 2 / 3  # source / target pixel size under which the source is averaged, not interpolated


def resample_dem(dem: np.ndarray, source: Grid, coarse: Grid, f: int) -> tuple[np.ndarray, Grid, str]:
    """(resampled float32 DEM with NaN voids, its fine grid at factor f in ``coarse``, the method)."""
    bounds = (source.west, source.north - source.shape[0] * source.dlat,
              source.west + source.shape[1] * source.dlon, source.north)
    target = fine_grid_of(coarse, f, bounds)
    if source.dlat < AVERAGE_BELOW * target.dlat and source.dlon < AVERAGE_BELOW * target.dlon:
        return _average(dem, source, target), target, "average"
    return _bilinear(dem, source, target), target, "bilinear"


def resample_dem_file(dem_path: Path, like: Path, factor: int, output: Path) -> str:
    """The whole ``lst-resample-dem``: the DEM GeoTIFF ``dem_path`` on the fine grid nested in the grid
    of the GeoTIFF ``like`` at ``factor``, written to ``output``; returns the line that says what was done."""
    if factor < 2:
        raise LSTError(f"--factor {factor}: the fine grid needs at least 2 fine pixels per LST pixel side")
    dem, source = read_dem(dem_path)
    _, coarse, _ = read_geotiff(like, "--like raster")
    fine, grid, method = resample_dem(dem, source, coarse, factor)
    write_geotiff(output, grid, fine, nodata=float("nan"))
    return f"{output}: {grid.describe()} ({method} from {dem_path}; {np.isnan(fine).mean():.1%} void)"


def _bilinear(dem: np.ndarray, source: Grid, target: Grid) -> np.ndarray:
    y = (source.north - target.lat) / source.dlat - 0.5  # fractional source row of each target row
    x = (target.lon - source.west) / source.dlon - 0.5
    y0, x0 = np.floor(y).astype(int), np.floor(x).astype(int)
    wy, wx = (y - y0)[:, None], (x - x0)[None, :]
    h, w = dem.shape

    def at(rows, cols):
        ok = ((rows >= 0) & (rows < h))[:, None] & ((cols >= 0) & (cols < w))[None, :]
        values = dem[np.clip(rows, 0, h - 1)[:, None], np.clip(cols, 0, w - 1)[None, :]].astype(np.float64)
        return np.where(ok, values, np.nan)

    out = ((1 - wy) * (1 - wx) * at(y0, x0) + (1 - wy) * wx * at(y0, x0 + 1)
           + wy * (1 - wx) * at(y0 + 1, x0) + wy * wx * at(y0 + 1, x0 + 1))
    return out.astype(np.float32)


def _average(dem: np.ndarray, source: Grid, target: Grid) -> np.ndarray:
    rows = np.floor((target.north - source.lat) / target.dlat).astype(int)  # target row of each source row
    cols = np.floor((source.lon - target.west) / target.dlon).astype(int)
    th, tw = target.shape
    keep_r, keep_c = (rows >= 0) & (rows < th), (cols >= 0) & (cols < tw)
    values = dem[np.ix_(keep_r, keep_c)].astype(np.float64)
    cell = rows[keep_r][:, None] * tw + cols[keep_c][None, :]
    valid = np.isfinite(values)
    n_all = np.bincount(cell.ravel(), minlength=th * tw)
    n = np.bincount(cell[valid], minlength=th * tw)
    total = np.bincount(cell[valid], weights=values[valid], minlength=th * tw)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where((n > 0) & (2 * n >= n_all), total / n, np.nan)
    return out.reshape(th, tw).astype(np.float32)
