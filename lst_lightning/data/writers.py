"""Writers for the real on-disk formats (used by the synthetic archive and by prediction maps).

Every writer goes through a temporary file renamed into place, so an interrupted write never
leaves a file that looks complete.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from lst_lightning.grid import Grid

NETCDF_VARIABLE = "__xarray_dataarray_variable__"
NETCDF_FILL = 65535
GEOTIFF_LST_NODATA = -32768


@contextmanager
def atomic_path(path: Path):
    """Yield a temporary sibling path; rename it onto ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_lst_netcdf(path: Path, grid: Grid, doys: np.ndarray, data: np.ndarray) -> None:
    """One year in the original layout: ``data`` (time, band=4, y, x) uint16 in 0.02 K units,
    QA codes (0-3) in band 3, ``0`` for missing LST (stored as the 65535 fill value)."""
    import netCDF4

    data = np.asarray(data)
    assert data.ndim == 4 and data.shape[1] == 4 and data.shape[2:] == grid.shape, data.shape
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


def _geo_tags(grid: Grid, nodata: float | None) -> list[tuple]:
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
    import tifffile

    array = np.asarray(array)
    assert array.shape[-2:] == grid.shape, (array.shape, grid.shape)
    with atomic_path(path) as tmp:
        tifffile.imwrite(tmp, array, compression="lzw", photometric="minisblack",
                         planarconfig="separate" if array.ndim == 3 else None,
                         extratags=_geo_tags(grid, nodata), metadata=None)


def write_lst_geotiff_day(path: Path, grid: Grid, data: np.ndarray) -> None:
    """One day in the public Zenodo form: (4, y, x) int16, LST in 0.02 K, QA in band 4."""
    data = np.asarray(data)
    out = data.astype(np.int32)
    lst = out[:3]
    lst[lst == 0] = GEOTIFF_LST_NODATA
    write_geotiff(path, grid, out.astype(np.int16), nodata=GEOTIFF_LST_NODATA)
