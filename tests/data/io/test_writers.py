"""Writers of the real formats: the stored layout, and nothing half-written on failure."""
from __future__ import annotations

from pathlib import Path

import netCDF4
import numpy as np
import pytest

from lst_lightning.data.io.formats import NETCDF_VARIABLE
from lst_lightning.data.io.geotiff import read_geotiff
from lst_lightning.data.io.writers import atomic_path, write_lst_geotiff_day, write_lst_netcdf
from tests.data.io.samples import GRID, H, W, assert_same_grid, lst_error, make_year


def test_geotiff_writer_stores_zenodo_form(tmp_path: Path, rng: np.random.Generator) -> None:
    day = make_year(rng, 1)[0]
    path = tmp_path / "LST_2020_01_01.tif"
    write_lst_geotiff_day(path, GRID, day)
    array, grid, nodata = read_geotiff(path)
    assert array.dtype == np.int16 and array.shape == (4, H, W)
    assert nodata == -32768
    assert_same_grid(grid, GRID)
    lst = array[:3].astype(np.int32)
    np.testing.assert_array_equal(lst[day[:3] == 0], -32768)
    np.testing.assert_array_equal(lst[day[:3] != 0], day[:3][day[:3] != 0])
    np.testing.assert_array_equal(array[3], day[3])


def test_netcdf_writer_layout(tmp_path: Path, rng: np.random.Generator) -> None:
    data = make_year(rng, 2)
    path = tmp_path / "LST_2020_NetCDF.nc"
    write_lst_netcdf(path, GRID, np.array([4, 9]), data)
    with netCDF4.Dataset(path) as ds:
        var = ds[NETCDF_VARIABLE]
        assert var.dimensions == ("time", "band", "y", "x") and var.dtype == np.uint16
        assert var._FillValue == 65535
        raw = np.asarray(var[:].filled(0))  # auto-masked fill -> 0
        np.testing.assert_array_equal(raw, data)
        np.testing.assert_array_equal(ds["time"][:], [4, 9])
        np.testing.assert_allclose(ds["y"][:], GRID.lat)
        np.testing.assert_allclose(ds["x"][:], GRID.lon)


def test_atomic_path_failure_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "out" / "map.tif"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half a file")
            raise RuntimeError("boom")
    assert not target.exists()
    assert list(target.parent.iterdir()) == []


def test_atomic_path_failure_keeps_previous_file(tmp_path: Path) -> None:
    target = tmp_path / "map.tif"
    target.write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"new but unfinished")
            raise KeyboardInterrupt
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["map.tif"]
    with atomic_path(target) as tmp:
        tmp.write_bytes(b"new")
    assert target.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["map.tif"]


def test_writer_failure_leaves_nothing(tmp_path: Path, rng: np.random.Generator) -> None:
    day = make_year(rng, 1)[0]
    day[0, 0, 0] = 40000  # does not fit the int16 Zenodo form
    target = tmp_path / "LST_2020_01_01.tif"
    message = lst_error(write_lst_geotiff_day, target, GRID, day)
    assert "LST_2020_01_01.tif" in message
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError):
        write_lst_netcdf(tmp_path / "LST_2020_NetCDF.nc", GRID, np.array([1, 2]), make_year(rng, 1))
    assert list(tmp_path.iterdir()) == []


def test_writer_to_unwritable_place(tmp_path: Path, rng: np.random.Generator) -> None:
    (tmp_path / "afile").write_text("not a directory")
    target = tmp_path / "afile" / "LST_2020_NetCDF.nc"
    message = lst_error(write_lst_netcdf, target, GRID, np.array([1]), make_year(rng, 1))
    assert "LST_2020_NetCDF.nc" in message and "cannot write" in message
