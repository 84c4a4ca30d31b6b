"""Small input files written in code for the io tests (no project reader involved in writing
them), and the checks the tests share.
"""
from __future__ import annotations

import signal
from contextlib import contextmanager
from pathlib import Path

import netCDF4
import numpy as np
import pytest
import tifffile

from lst_lightning.data.io.archive import LSTArchive, open_archive
from lst_lightning.data.io.formats import NETCDF_VARIABLE
from lst_lightning.data.io.grid import Grid
from lst_lightning.data.io.writers import geo_tags
from lst_lightning.errors import LSTError

H, W = 20, 15
GRID = Grid.from_corner(west=34.0, north=33.5, dlon=0.01, dlat=0.01, shape=(H, W))


def make_year(rng: np.random.Generator, n: int, missing: float = 0.1) -> np.ndarray:
    """(n, 4, H, W) raw uint16: LST 7500..20000 (150-400 K) with some 0 = missing, QA 0..3."""
    data = rng.integers(7500, 20001, size=(n, 4, H, W)).astype(np.uint16)
    data[:, :3][rng.random((n, 3, H, W)) < missing] = 0
    data[:, 3] = rng.integers(0, 4, size=(n, H, W))
    return data


def expected_frames(data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What iter_blocks must yield for raw (n, 4, H, W): night/day interleaved, QA per date."""
    n = data.shape[0]
    lst = data[:, :2].reshape(n * 2, H, W)
    qa = np.repeat(data[:, 3], 2, axis=0).astype(np.uint8)
    return lst, qa


def read_all(archive: LSTArchive) -> tuple[np.ndarray, np.ndarray]:
    lst, qa, expect_start = [], [], 0
    for start, block_lst, block_qa in archive.iter_blocks():
        assert start == expect_start
        assert block_lst.dtype == np.uint16 and block_qa.dtype == np.uint8
        assert block_lst.shape == block_qa.shape and block_lst.shape[1:] == archive.grid.shape
        expect_start += block_lst.shape[0]
        lst.append(block_lst)
        qa.append(block_qa)
    assert expect_start == len(archive.frames)
    if not lst:
        return np.zeros((0, H, W), np.uint16), np.zeros((0, H, W), np.uint8)
    return np.concatenate(lst), np.concatenate(qa)


def assert_same_grid(a: Grid, b: Grid) -> None:
    np.testing.assert_allclose(a.lat, b.lat, atol=1e-9)
    np.testing.assert_allclose(a.lon, b.lon, atol=1e-9)


def write_nc(path: Path, values: np.ndarray, *, lat=None, lon=None, doys=None, dtype=None,
             fill_value=False, attrs: dict | None = None, var_name: str = NETCDF_VARIABLE,
             dims=("time", "band", "y", "x"), time_units: str | None = None, fmt: str = "NETCDF4") -> Path:
    """Write a NetCDF variant directly with netCDF4 (no project writer involved)."""
    values = np.asarray(values)
    lat = GRID.lat if lat is None else np.asarray(lat)
    lon = GRID.lon if lon is None else np.asarray(lon)
    n = values.shape[0]
    doys = np.arange(1, n + 1) if doys is None else np.asarray(doys)
    with netCDF4.Dataset(path, "w", format=fmt) as ds:
        sizes = {"time": n, "y": lat.size, "x": lon.size}
        for name, size in zip(dims, values.shape):
            if name not in ds.dimensions:
                ds.createDimension(name, size)
        for name, size in sizes.items():
            if name not in ds.dimensions:
                ds.createDimension(name, size)
        t = ds.createVariable("time", "i4", ("time",))
        t[:] = doys
        if time_units:
            t.units = time_units
        ds.createVariable("y", "f8", ("y",))[:] = lat
        ds.createVariable("x", "f8", ("x",))[:] = lon
        var = ds.createVariable(var_name, dtype or values.dtype, dims, fill_value=fill_value)
        var.set_auto_maskandscale(False)
        for k, v in (attrs or {}).items():
            var.setncattr(k, v)
        var[:] = values
    return path


def write_tif(path: Path, array: np.ndarray, grid: Grid = GRID, *, planar: bool = True,
              geo: bool = True, nodata=None, extratags=None) -> Path:
    """Write a GeoTIFF variant directly with tifffile."""
    kwargs = {}
    if array.ndim == 3:
        kwargs["planarconfig"] = "separate" if planar else "contig"
    tags = (geo_tags(grid, nodata) if geo else []) if extratags is None else extratags
    tifffile.imwrite(path, array, photometric="minisblack", extratags=tags, metadata=None, **kwargs)
    return path


def lst_error(fn, *args, **kwargs) -> str:
    """Run fn; it must raise LSTError (nothing else); return the one-line message."""
    with pytest.raises(LSTError) as info:
        fn(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message and message.strip()
    return message


def open_and_read(path: Path) -> tuple[LSTArchive, np.ndarray, np.ndarray]:
    archive = open_archive(path)
    lst, qa = read_all(archive)
    return archive, lst, qa


@contextmanager
def time_limit(seconds: int):
    """Fail (instead of hanging) when the block runs longer than ``seconds``."""
    def on_alarm(signum, frame):
        raise TimeoutError(f"took longer than {seconds} s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
