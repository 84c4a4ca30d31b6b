"""Static rasters on the LST grid: the DEM (metres), covariates (one band, or twelve monthly) and
categorical land cover (integer class codes).

Each is a GeoTIFF (read by geotiff.py) that must lie on the LST grid: same shape, every pixel
centre within half a pixel (``Grid.require_match``). Nodata becomes NaN.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from lst_lightning.data.io.geotiff import read_geotiff
from lst_lightning.data.io.grid import Grid
from lst_lightning.errors import LSTError

# Earth's surface lies between the Dead Sea shore (-430 m) and Everest (8849 m), with margin: other
# values mean a file that is not a DEM in metres (an LST file, feet, an unmarked nodata of -32768).
PLAUSIBLE_ELEVATION_M = (-1000.0, 9000.0)


def read_dem(path: str | Path, grid: Grid | None = None) -> tuple[np.ndarray, Grid]:
    """DEM in metres as float32 (NaN = nodata) and its grid; must match ``grid`` when given."""
    array, dem_grid, nodata = read_geotiff(path, "DEM")
    if array.shape[0] != 1:
        raise LSTError(f"DEM {path} has {array.shape[0]} bands; expected 1")
    if array.dtype.kind not in "iuf":
        raise LSTError(f"DEM {path} has non-numeric pixels ({array.dtype})")
    dem = nodata_to_nan(array[0], nodata)
    if not np.isfinite(dem).any():
        raise LSTError(f"DEM {path}: every pixel is a void (nodata{'' if nodata is None else f' {nodata:g}'} or NaN): "
                       "no elevation to use")
    _check_elevations(dem, path)
    if grid is not None:
        grid.require_match(dem_grid, f"DEM {path}")
    return dem, dem_grid


def read_raster(path: str | Path, grid: Grid, what: str) -> np.ndarray:
    """A covariate raster on the LST grid as float32 (bands, y, x), NaN = nodata.
    One band = static; 12 bands = monthly climatology (January first)."""
    array, raster_grid, nodata = read_geotiff(path, what)
    grid.require_match(raster_grid, f"{what} {path}")
    if array.shape[0] not in (1, 12):
        raise LSTError(f"{what} {path} has {array.shape[0]} bands; expected 1 (static) or 12 (monthly)")
    if array.dtype.kind not in "iuf":
        raise LSTError(f"{what} {path} has non-numeric pixels ({array.dtype})")
    return nodata_to_nan(array, nodata)


def read_landcover(path: str | Path, grid: Grid) -> np.ndarray:
    """A categorical land-cover raster on the LST grid: int32 class codes (y, x), -1 = nodata.
    Class codes must be integers (a float raster is refused: fractions of it would mean nothing)."""
    array, raster_grid, nodata = read_geotiff(path, "land cover")
    grid.require_match(raster_grid, f"land cover {path}")
    if array.shape[0] != 1:
        raise LSTError(f"land cover {path} has {array.shape[0]} bands; expected 1 (class codes)")
    if array.dtype.kind not in "iu":
        raise LSTError(f"land cover {path} holds {array.dtype} values; expected integer class codes "
                       "(a categorical raster, e.g. uint8)")
    codes = array[0].astype(np.int64)
    missing = codes == nodata if nodata is not None and not math.isnan(nodata) else np.zeros(codes.shape, bool)
    bad = (codes < 0) & ~missing
    if bad.any():
        raise LSTError(f"land cover {path}: negative class codes (e.g. {int(codes[bad].flat[0])}) "
                       "that are not its nodata value")
    return np.where(missing, -1, codes).astype(np.int32)


def nodata_to_nan(array: np.ndarray, nodata: float | None) -> np.ndarray:
    out = array.astype(np.float32)
    if nodata is not None and not math.isnan(nodata):
        out[array == nodata] = np.nan
    return out


def _check_elevations(dem: np.ndarray, path: Path) -> None:
    lo, hi = PLAUSIBLE_ELEVATION_M
    with np.errstate(invalid="ignore"):
        bad = ~np.isnan(dem) & ~((dem >= lo) & (dem <= hi))
    if bad.any():
        example = float(dem[bad].flat[0])
        raise LSTError(f"DEM {path}: {int(bad.sum())} elevations outside the plausible {lo:.0f}..{hi:.0f} m "
                       f"(e.g. {example:g}); is it a DEM in metres with its nodata value tagged?")
