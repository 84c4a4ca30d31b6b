"""Writers for the real on-disk formats (used by the synthetic archive and by prediction maps).

Every writer goes through a temporary file renamed into place, so an interrupted write never
leaves a file that looks complete.
"""
from __future__ import annotations

import os
import shutil
import threading
from contextlib import contextmanager
from pathlib import Path

import netCDF4
import numpy as np
import tifffile

from lst_lightning.data.io.formats import NETCDF_VARIABLE
from lst_lightning.data.io.grid import Grid
from lst_lightning.errors import LSTError

NETCDF_FILL = 65535
GEOTIFF_LST_NODATA = -32768


@contextmanager
def atomic_path(path: Path):
    """Yield a temporary sibling path; rename it onto ``path`` only if the block succeeds.

    On any failure (or interrupt) neither a temporary file nor a new ``path`` remains; an
    existing ``path`` is left untouched. Operating-system errors (no space, no permission, a
    file where a directory should be) become an LSTError naming ``path``."""
    path = Path(path)
    # unique per process and thread, dot-prefixed so archive scans skip it
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}-{threading.get_ident()}")
    try:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            yield tmp
            os.replace(tmp, path)
        except OSError as err:
            raise LSTError(f"cannot write {path}: {err.strerror or err}") from None
    finally:
        try:
            if tmp.is_dir() and not tmp.is_symlink():
                shutil.rmtree(tmp)
            elif tmp.exists() or tmp.is_symlink():
                tmp.unlink()
        except OSError:
            pass


def write_lst_netcdf(path: Path, grid: Grid, doys: np.ndarray, data: np.ndarray) -> None:
    """One year in the original layout: ``data`` (time, band=4, y, x) uint16 in 0.02 K units,
    QA codes (0-3) in band 3, ``0`` for missing LST (stored as the 65535 fill value)."""
    data = np.asarray(data)
    doys = np.asarray(doys)
    if data.ndim != 4 or data.shape[1] != 4 or data.shape[2:] != grid.shape:
        raise ValueError(f"write_lst_netcdf: data shape {data.shape}; expected (time, 4, {grid.shape[0]}, "
                         f"{grid.shape[1]})")
    if doys.shape != (data.shape[0],):
        raise ValueError(f"write_lst_netcdf: {doys.size} days of year for {data.shape[0]} time steps")
    _check_range(data, 0, 65535, "write_lst_netcdf", path)
    out = data.astype(np.uint16, copy=True)
    lst = out[:, :3]
    lst[lst == 0] = NETCDF_FILL  # QA band keeps its real 0 code
    with atomic_path(path) as tmp:
        with netCDF4.Dataset(tmp, "w", format="NETCDF4") as ds:
            ds.createDimension("time", len(doys))
            ds.createDimension("band", 4)
            ds.createDimension("y", grid.shape[0])
            ds.createDimension("x", grid.shape[1])
            for name, dim, values, attrs in (
                ("time", "time", np.asarray(doys, dtype=np.int32), {"long_name": "day of year"}),
                ("band", "band", np.arange(4, dtype=np.int32), {"long_name": "0 night, 1 day, 2 daily mean, 3 QA"}),
                ("y", "y", grid.lat, {"units": "degrees_north", "standard_name": "latitude"}),
                ("x", "x", grid.lon, {"units": "degrees_east", "standard_name": "longitude"}),
            ):
                var = ds.createVariable(name, values.dtype, (dim,))
                var[:] = values
                var.setncatts(attrs)
            var = ds.createVariable(NETCDF_VARIABLE, "u2", ("time", "band", "y", "x"), zlib=True,
                                    complevel=1, chunksizes=(1, 1, *grid.shape), fill_value=NETCDF_FILL)
            var.set_auto_maskandscale(False)
            var.setncatts({"long_name": "land surface temperature (bands 0-2, 0.02 K) and QA (band 3)"})
            var[:] = out


def _check_range(data: np.ndarray, lo: int, hi: int, what: str, path: Path) -> None:
    """Raw values must be finite integers in lo..hi, else the cast would silently corrupt them."""
    if data.size == 0:
        return
    if data.dtype.kind == "f" and not np.all(np.isfinite(data)):
        raise LSTError(f"{what} {path}: data holds NaN/inf; raw 0.02 K integers expected (0 = missing)")
    if data.dtype.kind not in "iuf" and data.dtype.kind != "b":
        raise ValueError(f"{what} {path}: non-numeric data type {data.dtype}")
    dmin, dmax = data.min(), data.max()
    if dmin < lo or dmax > hi:
        raise LSTError(f"{what} {path}: raw values {dmin}..{dmax} do not fit the {lo}..{hi} range of the format")


def geo_tags(grid: Grid, nodata: float | None) -> list[tuple]:
    """GeoTIFF tags for a WGS84 lat/lon grid, pixel-is-area, as GDAL writes them."""
    tags = [
        (33550, "d", 3, (grid.dlon, grid.dlat, 0.0), True),  # ModelPixelScale
        (33922, "d", 6, (0.0, 0.0, 0.0, grid.west, grid.north, 0.0), True),  # ModelTiepoint
        (34735, "H", 16, (1, 1, 0, 3, 1024, 0, 1, 2, 1025, 0, 1, 1, 2048, 0, 1, 4326), True),  # GeoKeys
    ]
    if nodata is not None:
        tags.append((42113, "s", 0, f"{nodata:g}", True))  # GDAL_NODATA
    return tags


def write_geotiff(path: Path, grid: Grid, array: np.ndarray, nodata: float | None = None) -> None:
    """A georeferenced (bands, y, x) or (y, x) GeoTIFF, LZW-compressed, bands stored planar."""
    array = np.asarray(array)
    if array.ndim not in (2, 3) or array.shape[-2:] != grid.shape:
        raise ValueError(f"write_geotiff {path}: array shape {array.shape} does not end in the grid shape "
                         f"{grid.shape}")
    with atomic_path(path) as tmp:
        tifffile.imwrite(tmp, array, compression="lzw", photometric="minisblack",
                         planarconfig="separate" if array.ndim == 3 else None,
                         extratags=geo_tags(grid, nodata), metadata=None)


def write_lst_geotiff_day(path: Path, grid: Grid, data: np.ndarray) -> None:
    """One day in the public Zenodo form: (4, y, x) int16, LST in 0.02 K, QA in band 4."""
    data = np.asarray(data)
    if data.shape != (4, *grid.shape):
        raise ValueError(f"write_lst_geotiff_day: data shape {data.shape}; expected (4, {grid.shape[0]}, "
                         f"{grid.shape[1]})")
    # int16 holds raw values up to 32767 (655 K); a larger value would wrap to a negative number
    _check_range(data, 0, np.iinfo(np.int16).max, "write_lst_geotiff_day", path)
    out = data.astype(np.int32)
    lst = out[:3]
    lst[lst == 0] = GEOTIFF_LST_NODATA
    write_geotiff(path, grid, out.astype(np.int16), nodata=GEOTIFF_LST_NODATA)
