"""Fine-scale maps on disk, written tile by tile: a CF-1.8 NetCDF (the whole result), then a tiled,
compressed GeoTIFF per map read back from it a strip at a time, and a PNG panel from a decimated
read. Nothing holds a whole fine frame of every map at once."""
from __future__ import annotations

import datetime as dt
from contextlib import contextmanager
from pathlib import Path

import netCDF4
import numpy as np
import tifffile

from lst_lightning.data.io.grid import Grid
from lst_lightning.data.io.writers import atomic_path, geo_tags

FILL = np.float32(-9999.0)
CHUNK = 512  # NetCDF chunk side (fine pixels)
TIFF_TILE = 256
PANEL_PIXELS = 1200  # a panel shows at most this many fine pixels a side (decimated beyond)
VARIABLES = {"lst_pred": "predicted fine-scale land surface temperature",
             "lst_coarse": "the coarse (archive) land surface temperature of each fine pixel: the input"}
HALFWIDTH = "lst_halfwidth"  # written when the run has prediction intervals


@contextmanager
def fine_netcdf(path: Path, grid: Grid, frames: list[dict], elevation: np.ndarray, history: str,
                interval_level: float | None = None):
    """Yield the open netCDF4 Dataset with ``lst_pred`` and ``lst_coarse`` (time, lat, lon) to fill
    tile by tile (and ``lst_halfwidth`` with an ``interval_level``); renamed into place only when
    the block completes."""
    h, w = grid.shape
    with atomic_path(path) as tmp:
        with netCDF4.Dataset(tmp, "w", format="NETCDF4") as ds:
            ds.setncatts({"Conventions": "CF-1.8", "title": "lst-lightning fine-scale LST prediction",
                          "history": history})
            ds.createDimension("time", len(frames))
            ds.createDimension("lat", h)
            ds.createDimension("lon", w)
            epoch = dt.datetime(1970, 1, 1)
            minutes = [(dt.datetime.fromisoformat(f["date"]) - epoch).total_seconds() / 60 + f["hour"] * 60
                       for f in frames]
            _coordinate(ds, "time", "time", np.asarray(minutes, dtype=np.float64),
                        {"standard_name": "time", "units": "minutes since 1970-01-01 00:00:00"})
            _coordinate(ds, "lat", "lat", grid.lat, {"units": "degrees_north", "standard_name": "latitude"})
            _coordinate(ds, "lon", "lon", grid.lon, {"units": "degrees_east", "standard_name": "longitude"})
            band = ds.createVariable("band", str, ("time",))
            band.long_name = "overpass"
            for i, f in enumerate(frames):
                band[i] = f["band"]
            chunks = (1, min(CHUNK, h), min(CHUNK, w))
            for name, long_name in VARIABLES.items():
                var = ds.createVariable(name, "f4", ("time", "lat", "lon"), zlib=True, complevel=1,
                                        chunksizes=chunks, fill_value=FILL)
                var.setncatts({"units": "K", "long_name": long_name, "standard_name": "surface_temperature"})
            if interval_level is not None:
                var = ds.createVariable(HALFWIDTH, "f4", ("time", "lat", "lon"), zlib=True, complevel=1,
                                        chunksizes=chunks, fill_value=FILL)
                var.setncatts({"units": "K", "interval_level": interval_level, "long_name": (
                    "half-width of the model's prediction interval (lst_pred +- it; nominal coverage "
                    "interval_level, calibrated at the archive's scale)")})
            elev = ds.createVariable("elevation", "f4", ("lat", "lon"), zlib=True, complevel=1,
                                     chunksizes=chunks[1:], fill_value=FILL)
            elev.setncatts({"units": "m", "long_name": "fine DEM elevation (model input)"})
            elev[:] = np.ma.masked_invalid(elevation)
            yield ds


def _coordinate(ds, name: str, dim: str, values: np.ndarray, attrs: dict) -> None:
    var = ds.createVariable(name, "f8", (dim,))
    var[:] = values
    var.setncatts(attrs)


def write_tile(ds, name: str, rows: slice, cols: slice, values: np.ndarray) -> None:
    """[T, rows, cols] values (NaN = fill) into variable ``name``."""
    ds[name][:, rows, cols] = np.ma.masked_invalid(values)


def read_tile(ds, name: str, rows: slice, cols: slice) -> np.ndarray:
    """[T, rows, cols] float32 of variable ``name`` (NaN = fill), e.g. for a second pass."""
    return np.ma.filled(ds[name][:, rows, cols].astype(np.float32), np.nan)


def geotiff_from_netcdf(nc: Path, t: int, grid: Grid, path: Path, name: str = "lst_pred") -> Path:
    """Map ``t`` of variable ``name`` as a tiled, zlib-compressed float32 GeoTIFF (NaN = fill)."""
    h, w = grid.shape
    tile = (min(TIFF_TILE, _pow16(h)), min(TIFF_TILE, _pow16(w)))

    def tiles():
        with netCDF4.Dataset(nc) as ds:
            var = ds[name]
            for r in range(0, h, tile[0]):
                strip = np.ma.filled(var[t, r:r + tile[0], :].astype(np.float32), np.nan)
                for c in range(0, w, tile[1]):
                    out = np.full(tile, np.nan, dtype=np.float32)
                    block = strip[:, c:c + tile[1]]
                    out[:block.shape[0], :block.shape[1]] = block
                    yield out

    with atomic_path(path) as tmp:
        tifffile.imwrite(tmp, tiles(), shape=(h, w), dtype=np.float32, tile=tile, compression="zlib",
                         photometric="minisblack", extratags=geo_tags(grid, float("nan")), metadata=None)
    return path


def _pow16(n: int) -> int:
    """TIFF tiles are multiples of 16 pixels."""
    return max(16, (n + 15) // 16 * 16)


def decimated(nc: Path, name: str, t: int | None, step: int) -> np.ndarray:
    """Every ``step``-th fine pixel of a variable (NaN = fill), for plotting."""
    with netCDF4.Dataset(nc) as ds:
        var = ds[name]
        values = var[t, ::step, ::step] if t is not None else var[::step, ::step]
        return np.ma.filled(values.astype(np.float32), np.nan)


def window(nc: Path, name: str, t: int | None, rows: slice, cols: slice) -> np.ndarray:
    """A window of a variable at full resolution (NaN = fill), for plotting."""
    with netCDF4.Dataset(nc) as ds:
        var = ds[name]
        values = var[t, rows, cols] if t is not None else var[rows, cols]
        return np.ma.filled(values.astype(np.float32), np.nan)


def panel_step(grid: Grid) -> int:
    return max(1, int(np.ceil(max(grid.shape) / PANEL_PIXELS)))
