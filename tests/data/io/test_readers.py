"""Readers and writers of the real input formats: round trips, tolerated variants, bad input.

All fixtures are small grids generated in tmp_path; the real DEM is read from ../shared only.
"""
from __future__ import annotations

import datetime as dt
import os
import signal
import tempfile
from contextlib import contextmanager
from pathlib import Path

import netCDF4
import numpy as np
import pytest
import tifffile
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from lst_lightning.data.io.formats import OVERPASS_HOUR
from lst_lightning.data.io.readers import (
    BLOCK_DAYS, NETCDF_VARIABLE, Frame, LSTArchive, open_archive, read_dem, read_geotiff, read_raster,
)
from lst_lightning.data.io.writers import (
    _geo_tags, atomic_path, write_geotiff, write_lst_geotiff_day, write_lst_netcdf,
)
from lst_lightning.errors import LSTError
from lst_lightning.data.io.grid import Grid

H, W = 20, 15
GRID = Grid.from_corner(west=34.0, north=33.5, dlon=0.01, dlat=0.01, shape=(H, W))


# ---------------------------------------------------------------- helpers

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
    tags = (_geo_tags(grid, nodata) if geo else []) if extratags is None else extratags
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


@pytest.fixture
def archive_dir(tmp_path: Path) -> Path:
    d = tmp_path / "archive"
    d.mkdir()
    return d


# ---------------------------------------------------------------- round trips

def test_netcdf_round_trip_multiple_years_with_gaps(archive_dir: Path, rng: np.random.Generator) -> None:
    doys_2020 = np.array([1, 2, 5, 6, 7, 30, 31, 59, 60, 61, 200, 366])  # > BLOCK_DAYS, gaps, leap day
    doys_2021 = np.array([3, 365])
    assert len(doys_2020) > BLOCK_DAYS
    y2020, y2021 = make_year(rng, len(doys_2020)), make_year(rng, len(doys_2021))
    # names sort 2021 first on purpose only if the reader sorted by name; it must sort by year
    write_lst_netcdf(archive_dir / "LST_2021_NetCDF.nc", GRID, doys_2021, y2021)
    write_lst_netcdf(archive_dir / "LST_2020_NetCDF.nc", GRID, doys_2020, y2020)

    archive, lst, qa = open_and_read(archive_dir)
    assert archive.kind == "netcdf"
    assert [p.name for p in archive.files] == ["LST_2020_NetCDF.nc", "LST_2021_NetCDF.nc"]
    assert_same_grid(archive.grid, GRID)

    dates = [dt.date(2020, 1, 1) + dt.timedelta(days=int(d) - 1) for d in doys_2020]
    dates += [dt.date(2021, 1, 1) + dt.timedelta(days=int(d) - 1) for d in doys_2021]
    assert dates[-3] == dt.date(2020, 12, 31) and dates[8] == dt.date(2020, 2, 29)
    expect = [Frame(d, band, OVERPASS_HOUR[band]) for d in dates for band in ("night", "day")]
    assert archive.frames == expect
    assert [f.doy for f in archive.frames[::2]] == list(doys_2020) + list(doys_2021)

    exp_lst, exp_qa = expected_frames(np.concatenate([y2020, y2021]))
    np.testing.assert_array_equal(lst, exp_lst)
    np.testing.assert_array_equal(qa, exp_qa)
    assert (lst == 0).any()  # missing pixels survive as 0


def test_netcdf_unsorted_time_is_read_in_date_order(archive_dir: Path, rng: np.random.Generator) -> None:
    doys = np.array([40, 3, 17, 1, 300, 12, 9, 8, 100, 2])
    data = make_year(rng, len(doys))
    write_lst_netcdf(archive_dir / "LST_2019_NetCDF.nc", GRID, doys, data)
    archive, lst, qa = open_and_read(archive_dir)
    order = np.argsort(doys)
    assert [f.doy for f in archive.frames[::2]] == sorted(doys.tolist())
    exp_lst, exp_qa = expected_frames(data[order])
    np.testing.assert_array_equal(lst, exp_lst)
    np.testing.assert_array_equal(qa, exp_qa)


def test_hours_override(archive_dir: Path, rng: np.random.Generator) -> None:
    write_lst_netcdf(archive_dir / "LST_2020_NetCDF.nc", GRID, np.array([10]), make_year(rng, 1))
    archive = open_archive(archive_dir, hours={"day": 14.25})
    assert [(f.band, f.hour) for f in archive.frames] == [("night", OVERPASS_HOUR["night"]), ("day", 14.25)]
    assert archive.frames[0].label() == "2020-01-10 night"
    assert Frame.from_json(archive.frames[1].to_json()) == archive.frames[1]


@pytest.mark.parametrize("hours, needle", [({"noon": 12.0}, "noon"), ({"day": 25}, "day"),
                                           ({"night": "late"}, "night"), ([1.5, 13.5], "mapping")])
def test_bad_hours_setting(archive_dir: Path, rng: np.random.Generator, hours, needle: str) -> None:
    write_lst_netcdf(archive_dir / "LST_2020_NetCDF.nc", GRID, np.array([1]), make_year(rng, 1))
    message = lst_error(open_archive, archive_dir, hours=hours)
    assert "hours" in message and needle in message


def test_geotiff_round_trip(archive_dir: Path, rng: np.random.Generator) -> None:
    dates = [dt.date(2020, 12, 30), dt.date(2021, 1, 2), dt.date(2020, 3, 1), dt.date(2021, 2, 10)]
    names = ["LST_2020_12_30.tif", "LST_2021_002.tif", "LST_20200301.tif", "LST_2021-02-10.tiff"]
    data = make_year(rng, len(dates))
    for name, day in zip(names, data):
        write_lst_geotiff_day(archive_dir / name, GRID, day)
    archive, lst, qa = open_and_read(archive_dir)
    assert archive.kind == "geotiff"
    assert_same_grid(archive.grid, GRID)
    order = np.argsort(dates)
    assert [f.date for f in archive.frames[::2]] == sorted(dates)
    assert [f.band for f in archive.frames] == ["night", "day"] * 4
    assert [p.name for p in archive.files] == [names[i] for i in order]
    exp_lst, exp_qa = expected_frames(data[order])
    np.testing.assert_array_equal(lst, exp_lst)
    np.testing.assert_array_equal(qa, exp_qa)


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


# ---------------------------------------------------------------- tolerated variants

def _variant(data: np.ndarray, kind: str):
    """Encode raw (n, 4, H, W) as a variant seen in real files: (values, dtype, fill, attrs)."""
    lst = data[:, :3]
    miss = lst == 0
    if kind == "fillvalue":
        out = data.copy()
        out[:, :3][miss] = 65535
        return out, "u2", 65535, {"missing_value": np.uint16(65535)}
    if kind == "missing_value_only":
        out = data.astype(np.int32)
        out[:, :3][miss] = -9999
        return out, "i4", False, {"missing_value": np.int32(-9999)}
    if kind == "nan_raw":
        out = data.astype(np.float32)
        out[:, :3][miss] = np.nan
        return out, "f4", False, {}
    if kind == "kelvin":
        out = data.astype(np.float64)
        out[:, :3] *= 0.02
        out[:, :3][miss] = np.nan
        return out.astype(np.float32), "f4", np.float32(np.nan), {"units": "K"}
    if kind == "scaled":
        out = data.astype(np.int32)
        out[:, :3][miss] = -1
        return out, "i4", np.int32(-1), {"scale_factor": 0.02, "add_offset": 0.0}
    if kind == "scaled_offset":
        # kelvin = packed * 0.04 + 100; raw made even so the packing is exact
        out = data.astype(np.int32)
        packed = out[:, :3] // 2 - 2500  # raw*0.02 = (raw/2)*0.04
        packed[miss] = -32767
        out[:, :3] = packed
        return out.astype(np.int16), "i2", False, {"scale_factor": 0.04, "add_offset": 100.0,
                                                  "missing_value": np.int16(-32767)}
    if kind == "no_fill_attrs":
        out = data.copy()
        lst_out = out[:, :3]
        half = np.zeros_like(miss)
        half[..., ::2] = True
        lst_out[miss & half] = 65535  # both 0 and 65535 mean missing without fill attributes
        return out, "u2", False, {}
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["fillvalue", "missing_value_only", "nan_raw", "kelvin", "scaled",
                                  "scaled_offset", "no_fill_attrs"])
def test_netcdf_value_variants(archive_dir: Path, rng: np.random.Generator, kind: str) -> None:
    data = make_year(rng, 3, missing=0.2)
    if kind == "scaled_offset":
        data[:, :3] &= np.uint16(0xFFFE)  # even raw values
        data[:, :3][data[:, :3] == 5000] = 5002
    values, dtype, fill, attrs = _variant(data, kind)
    write_nc(archive_dir / "LST_2020_NetCDF.nc", values, dtype=dtype, fill_value=fill, attrs=attrs,
             doys=[1, 50, 51])
    archive, lst, qa = open_and_read(archive_dir)
    exp_lst, exp_qa = expected_frames(data)
    np.testing.assert_array_equal(lst, exp_lst)
    np.testing.assert_array_equal(qa, exp_qa)


def test_netcdf_south_up_is_flipped(archive_dir: Path, rng: np.random.Generator) -> None:
    data = make_year(rng, 2)
    write_nc(archive_dir / "LST_2020_NetCDF.nc", data[:, :, ::-1], lat=GRID.lat[::-1], fill_value=65535,
             dtype="u2")
    archive, lst, qa = open_and_read(archive_dir)
    assert archive.grid.lat[0] > archive.grid.lat[-1]
    assert_same_grid(archive.grid, GRID)
    exp_lst, exp_qa = expected_frames(data)
    np.testing.assert_array_equal(lst, exp_lst)
    np.testing.assert_array_equal(qa, exp_qa)


def test_netcdf_east_to_west_is_flipped(archive_dir: Path, rng: np.random.Generator) -> None:
    data = make_year(rng, 2)
    write_nc(archive_dir / "LST_2020_NetCDF.nc", data[..., ::-1], lon=GRID.lon[::-1], dtype="u2")
    archive, lst, _ = open_and_read(archive_dir)
    assert_same_grid(archive.grid, GRID)
    np.testing.assert_array_equal(lst, expected_frames(data)[0])


def test_netcdf_other_variable_name_and_cf_time(archive_dir: Path, rng: np.random.Generator) -> None:
    # a single 4-D variable under another name; CF time "days since" (0-based, day 1 absent)
    data = make_year(rng, 2)
    write_nc(archive_dir / "lst_israel.nc", data, var_name="LST", doys=[4, 59],
             time_units="days since 2016-01-01 00:00:00")
    archive, lst, _ = open_and_read(archive_dir)
    assert [f.date for f in archive.frames[::2]] == [dt.date(2016, 1, 5), dt.date(2016, 2, 29)]
    np.testing.assert_array_equal(lst, expected_frames(data)[0])


def test_netcdf_zero_based_day_numbers(archive_dir: Path, rng: np.random.Generator) -> None:
    write_nc(archive_dir / "LST_2020_NetCDF.nc", make_year(rng, 2), doys=[0, 9])
    archive = open_archive(archive_dir)
    assert [f.date for f in archive.frames[::2]] == [dt.date(2020, 1, 1), dt.date(2020, 1, 10)]


def test_netcdf_classic_format(archive_dir: Path, rng: np.random.Generator) -> None:
    data = make_year(rng, 2)
    write_nc(archive_dir / "LST_2020_NetCDF.nc", data.astype(np.int32), dtype="i4",
             fmt="NETCDF3_64BIT_OFFSET")
    _, lst, qa = open_and_read(archive_dir)
    np.testing.assert_array_equal(lst, expected_frames(data)[0])
    np.testing.assert_array_equal(qa, expected_frames(data)[1])


@pytest.mark.parametrize("layout", ["planar", "contiguous", "pages"])
def test_geotiff_band_layouts(archive_dir: Path, rng: np.random.Generator, layout: str) -> None:
    day = make_year(rng, 1)[0]
    stored = day.astype(np.int16)
    stored[:3][day[:3] == 0] = -32768
    path = archive_dir / "LST_2020_05_17.tif"
    if layout == "contiguous":
        write_tif(path, np.moveaxis(stored, 0, -1), planar=False, nodata=-32768)  # (H, W, 4)
        assert tifffile.TiffFile(path).pages[0].planarconfig == 1
    elif layout == "planar":
        write_tif(path, stored, planar=True, nodata=-32768)
    else:  # one page per band
        with tifffile.TiffWriter(path) as tw:
            for b in range(4):
                tw.write(stored[b], photometric="minisblack", extratags=_geo_tags(GRID, -32768),
                         metadata=None)
    archive, lst, qa = open_and_read(archive_dir)
    assert archive.frames[0].date == dt.date(2020, 5, 17)
    np.testing.assert_array_equal(lst, expected_frames(day[None])[0])
    np.testing.assert_array_equal(qa, expected_frames(day[None])[1])


def test_geotiff_float_kelvin_and_no_nodata(archive_dir: Path, rng: np.random.Generator) -> None:
    day = make_year(rng, 1)[0]
    kelvin = day.astype(np.float32)
    kelvin[:3] *= np.float32(0.02)
    kelvin[:3][day[:3] == 0] = np.nan
    write_tif(archive_dir / "LST_2020_001.tif", kelvin)
    _, lst, qa = open_and_read(archive_dir)
    np.testing.assert_array_equal(lst, expected_frames(day[None])[0])
    # int16 without a GDAL_NODATA tag: 0 and -32768 mean missing
    (archive_dir / "LST_2020_001.tif").unlink()
    stored = day.astype(np.int16)
    stored[0][day[0] == 0] = -32768
    write_tif(archive_dir / "LST_2020_002.tif", stored)
    _, lst, _ = open_and_read(archive_dir)
    np.testing.assert_array_equal(lst, expected_frames(day[None])[0])


def test_geotiff_pixel_is_point_and_transformation(tmp_path: Path) -> None:
    dem = np.arange(H * W, dtype=np.int16).reshape(H, W)
    # pixel-is-point: the tie point is the upper-left pixel centre
    keys = (1, 1, 0, 3, 1024, 0, 1, 2, 1025, 0, 1, 2, 2048, 0, 1, 4326)
    point = [(33550, "d", 3, (GRID.dlon, GRID.dlat, 0.0), True),
             (33922, "d", 6, (0.0, 0.0, 0.0, GRID.lon[0], GRID.lat[0], 0.0), True),
             (34735, "H", 16, keys, True)]
    _, grid = read_dem(write_tif(tmp_path / "point.tif", dem, extratags=point))
    assert_same_grid(grid, GRID)
    matrix = (GRID.dlon, 0, 0, GRID.west, 0, -GRID.dlat, 0, GRID.north, 0, 0, 0, 0, 0, 0, 0, 1)
    transform = [(34264, "d", 16, matrix, True)]
    values, grid = read_dem(write_tif(tmp_path / "matrix.tif", dem, extratags=transform), GRID)
    assert_same_grid(grid, GRID)
    np.testing.assert_array_equal(values, dem)


def test_read_raster_and_dem_nodata(tmp_path: Path, rng: np.random.Generator) -> None:
    dem = rng.integers(-400, 2500, size=(H, W)).astype(np.int16)
    dem[0, 0] = -32768
    write_geotiff(tmp_path / "dem.tif", GRID, dem, nodata=-32768)
    values, grid = read_dem(tmp_path / "dem.tif", GRID)
    assert values.dtype == np.float32 and np.isnan(values[0, 0])
    np.testing.assert_array_equal(values.ravel()[1:], dem.ravel()[1:])
    monthly = rng.random((12, H, W)).astype(np.float32)
    write_geotiff(tmp_path / "ndvi.tif", GRID, monthly)
    np.testing.assert_array_equal(read_raster(tmp_path / "ndvi.tif", GRID, "NDVI"), monthly)


# ---------------------------------------------------------------- bad input

def test_missing_directory(tmp_path: Path) -> None:
    message = lst_error(open_archive, tmp_path / "nope")
    assert "nope" in message and "does not exist" in message


def test_archive_path_is_a_file(tmp_path: Path) -> None:
    f = tmp_path / "LST_2020_NetCDF.nc"
    f.write_bytes(b"x")
    message = lst_error(open_archive, f)
    assert str(f) in message and "not a directory" in message


def test_directory_without_lst_files(archive_dir: Path) -> None:
    (archive_dir / "readme.txt").write_text("hello")
    (archive_dir / ".LST_2020_NetCDF.nc.tmp123").write_bytes(b"partial")  # a writer's temp file
    message = lst_error(open_archive, archive_dir)
    assert str(archive_dir) in message and "no NetCDF" in message


def test_mixed_forms(archive_dir: Path, rng: np.random.Generator) -> None:
    write_lst_netcdf(archive_dir / "LST_2020_NetCDF.nc", GRID, np.array([1]), make_year(rng, 1))
    write_lst_geotiff_day(archive_dir / "LST_2020_01_01.tif", GRID, make_year(rng, 1)[0])
    assert "mixes" in lst_error(open_archive, archive_dir)


@pytest.mark.parametrize("name", ["LST_2020_NetCDF.nc", "LST_2020_01_01.tif"])
def test_corrupt_file(archive_dir: Path, rng: np.random.Generator, name: str) -> None:
    (archive_dir / name).write_bytes(rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
    message = lst_error(open_and_read, archive_dir)
    assert name in message and "cannot read" in message


def test_empty_file(archive_dir: Path) -> None:
    (archive_dir / "LST_2020_NetCDF.nc").write_bytes(b"")
    assert "LST_2020_NetCDF.nc" in lst_error(open_and_read, archive_dir)


def test_truncated_netcdf4(archive_dir: Path, rng: np.random.Generator) -> None:
    path = archive_dir / "LST_2020_NetCDF.nc"
    write_lst_netcdf(path, GRID, np.arange(1, 11), make_year(rng, 10))
    blob = path.read_bytes()
    path.write_bytes(blob[: len(blob) // 2])
    message = lst_error(open_and_read, archive_dir)
    assert "LST_2020_NetCDF.nc" in message


@pytest.mark.parametrize("fraction", [0.5, 0.9, 0.999])
def test_truncated_classic_netcdf(archive_dir: Path, rng: np.random.Generator, fraction: float) -> None:
    # the NetCDF library opens truncated classic files and reads fill/garbage for the lost tail
    path = write_nc(archive_dir / "LST_2020_NetCDF.nc", make_year(rng, 10).astype(np.int32), dtype="i4",
                    fmt="NETCDF3_CLASSIC")
    blob = path.read_bytes()
    path.write_bytes(blob[: int(len(blob) * fraction)])
    message = lst_error(open_and_read, archive_dir)
    assert "LST_2020_NetCDF.nc" in message and "truncated" in message


def test_netcdf_corrupt_data_fails_in_iter_blocks(archive_dir: Path, rng: np.random.Generator) -> None:
    """Opening succeeds (metadata intact), reading the damaged compressed chunks fails cleanly."""
    path = archive_dir / "LST_2020_NetCDF.nc"
    write_lst_netcdf(path, GRID, np.arange(1, 11), make_year(rng, 10))
    blob = bytearray(path.read_bytes())
    start = len(blob) // 2
    blob[start:start + 4000] = rng.integers(0, 256, 4000, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(blob))
    archive = open_archive(archive_dir)  # metadata still readable
    message = lst_error(read_all, archive)
    assert "LST_2020_NetCDF.nc" in message and "cannot read" in message


def test_file_deleted_after_open(archive_dir: Path, rng: np.random.Generator) -> None:
    write_lst_netcdf(archive_dir / "LST_2020_NetCDF.nc", GRID, np.array([1]), make_year(rng, 1))
    archive = open_archive(archive_dir)
    (archive_dir / "LST_2020_NetCDF.nc").unlink()
    assert "LST_2020_NetCDF.nc" in lst_error(read_all, archive)


def test_truncated_geotiff(archive_dir: Path, rng: np.random.Generator) -> None:
    path = archive_dir / "LST_2020_01_01.tif"
    write_lst_geotiff_day(path, GRID, make_year(rng, 1)[0])
    blob = path.read_bytes()
    path.write_bytes(blob[: len(blob) - 100])
    message = lst_error(open_and_read, archive_dir)
    assert "LST_2020_01_01.tif" in message


def test_netcdf_missing_variable(archive_dir: Path, rng: np.random.Generator) -> None:
    data = make_year(rng, 2)[:, 0]
    write_nc(archive_dir / "LST_2020_NetCDF.nc", data, var_name="LST", dims=("time", "y", "x"))
    message = lst_error(open_archive, archive_dir)
    assert "LST_2020_NetCDF.nc" in message and NETCDF_VARIABLE in message and "LST" in message


def test_netcdf_three_dimensional_variable(archive_dir: Path, rng: np.random.Generator) -> None:
    data = make_year(rng, 2)[:, 0]
    write_nc(archive_dir / "LST_2020_NetCDF.nc", data, dims=("time", "y", "x"))
    message = lst_error(open_archive, archive_dir)
    assert "LST_2020_NetCDF.nc" in message and "(time, band=4, y, x)" in message


def test_netcdf_band_dimension_of_three(archive_dir: Path, rng: np.random.Generator) -> None:
    data = make_year(rng, 2)[:, 1:]
    write_nc(archive_dir / "LST_2020_NetCDF.nc", data)
    message = lst_error(open_archive, archive_dir)
    assert "LST_2020_NetCDF.nc" in message and "band=4" in message and "3" in message


def test_netcdf_band_dimension_in_wrong_place(archive_dir: Path, rng: np.random.Generator) -> None:
    data = np.moveaxis(make_year(rng, 4), 1, 0)  # (band, time, y, x) with 4 dates
    write_nc(archive_dir / "LST_2020_NetCDF.nc", data, dims=("band", "time", "y", "x"))
    message = lst_error(open_archive, archive_dir)
    assert "LST_2020_NetCDF.nc" in message and "order" in message


def test_netcdf_coordinates_do_not_match_data(archive_dir: Path, rng: np.random.Generator) -> None:
    path = archive_dir / "LST_2020_NetCDF.nc"
    with netCDF4.Dataset(path, "w") as ds:
        for name, size in (("time", 1), ("band", 4), ("y", H), ("x", W), ("ny", 7)):
            ds.createDimension(name, size)
        ds.createVariable("time", "i4", ("time",))[:] = [1]
        ds.createVariable("y", "f8", ("ny",))[:] = np.arange(7.0)  # y coordinate on another dimension
        ds.createVariable("x", "f8", ("x",))[:] = GRID.lon
        ds.createVariable(NETCDF_VARIABLE, "u2", ("time", "band", "y", "x"))[:] = make_year(rng, 1)
    message = lst_error(open_archive, archive_dir)
    assert "LST_2020_NetCDF.nc" in message and "coordinate" in message


@pytest.mark.parametrize("lat, needle", [
    (np.r_[GRID.lat[:5], GRID.lat[6:], GRID.lat[5]], "increasing or decreasing"),
    (np.r_[GRID.lat[:10], GRID.lat[10:] - 0.05], "evenly spaced"),
])
def test_netcdf_irregular_coordinates(archive_dir: Path, rng: np.random.Generator, lat, needle) -> None:
    write_nc(archive_dir / "LST_2020_NetCDF.nc", make_year(rng, 1), lat=lat)
    message = lst_error(open_archive, archive_dir)
    assert "LST_2020_NetCDF.nc" in message and needle in message and "latitude" in message


def test_netcdf_years_on_different_grids(archive_dir: Path, rng: np.random.Generator) -> None:
    write_lst_netcdf(archive_dir / "LST_2020_NetCDF.nc", GRID, np.array([1]), make_year(rng, 1))
    shifted = Grid(lat=GRID.lat + 0.1, lon=GRID.lon)
    write_lst_netcdf(archive_dir / "LST_2021_NetCDF.nc", shifted, np.array([1]), make_year(rng, 1))
    message = lst_error(open_archive, archive_dir)
    assert "LST_2021_NetCDF.nc" in message and GRID.describe() in message and shifted.describe() in message


@pytest.mark.parametrize("doys, needle", [([0, 367], "days of year"), ([5, 5], "repeated"),
                                          ([1.5, 3], "whole days")])
def test_netcdf_bad_time(archive_dir: Path, rng: np.random.Generator, doys, needle: str) -> None:
    path = archive_dir / "LST_2021_NetCDF.nc"
    with netCDF4.Dataset(path, "w") as ds:
        for name, size in (("time", 2), ("band", 4), ("y", H), ("x", W)):
            ds.createDimension(name, size)
        ds.createVariable("time", "f8", ("time",))[:] = doys
        ds.createVariable("y", "f8", ("y",))[:] = GRID.lat
        ds.createVariable("x", "f8", ("x",))[:] = GRID.lon
        ds.createVariable(NETCDF_VARIABLE, "u2", ("time", "band", "y", "x"))[:] = make_year(rng, 2)
    message = lst_error(open_archive, archive_dir)
    assert "LST_2021_NetCDF.nc" in message and needle in message


def test_netcdf_year_unknown(archive_dir: Path, rng: np.random.Generator) -> None:
    write_nc(archive_dir / "lst.nc", make_year(rng, 1))
    message = lst_error(open_archive, archive_dir)
    assert "lst.nc" in message and "year" in message


def test_netcdf_cf_time_outside_the_named_year(archive_dir: Path, rng: np.random.Generator) -> None:
    write_nc(archive_dir / "LST_2020_NetCDF.nc", make_year(rng, 1), doys=[400],
             time_units="days since 2020-01-01")
    message = lst_error(open_archive, archive_dir)
    assert "LST_2020_NetCDF.nc" in message and "outside 2020" in message


@pytest.mark.parametrize("variant", ["kelvin_x100", "kelvin_x100_float", "celsius"])
def test_implausible_lst_values(archive_dir: Path, rng: np.random.Generator, variant: str) -> None:
    data = make_year(rng, 2, missing=0.0)
    kelvin = data[:, :3].astype(np.float64) * 0.02
    values = data.astype(np.float32 if variant != "kelvin_x100" else np.uint16)
    if variant.startswith("kelvin_x100"):
        values[:, :3] = np.rint(kelvin * 100)  # ~15000-40000 -> 300-800 K read as 0.02 K units
        values[:, :3][..., 0, 0] = 60000  # surely outside the plausible range
    else:
        values[:, :3] = kelvin - 273.15  # Celsius floats: read as Kelvin, far too cold
    write_nc(archive_dir / "LST_2020_NetCDF.nc", values)
    message = lst_error(open_and_read, archive_dir)
    assert "LST_2020_NetCDF.nc" in message and "plausible" in message and "K" in message


def test_implausible_geotiff_values(archive_dir: Path, rng: np.random.Generator) -> None:
    day = make_year(rng, 1, missing=0.0)[0].astype(np.int16)
    day[0, 3, 3] = 100  # 2 K
    write_tif(archive_dir / "LST_2020_01_01.tif", day, nodata=-32768)
    message = lst_error(open_and_read, archive_dir)
    assert "LST_2020_01_01.tif" in message and "plausible" in message


def test_duplicate_years(archive_dir: Path, rng: np.random.Generator) -> None:
    write_lst_netcdf(archive_dir / "LST_2020_NetCDF.nc", GRID, np.array([1]), make_year(rng, 1))
    write_lst_netcdf(archive_dir / "LST_2020_NetCDF_v2.nc", GRID, np.array([2]), make_year(rng, 1))
    message = lst_error(open_archive, archive_dir)
    assert "duplicate year 2020" in message
    assert "LST_2020_NetCDF.nc" in message and "LST_2020_NetCDF_v2.nc" in message


def test_duplicate_geotiff_dates(archive_dir: Path, rng: np.random.Generator) -> None:
    write_lst_geotiff_day(archive_dir / "LST_2020_01_01.tif", GRID, make_year(rng, 1)[0])
    write_lst_geotiff_day(archive_dir / "LST_2020_001.tif", GRID, make_year(rng, 1)[0])
    message = lst_error(open_archive, archive_dir)
    assert "duplicate date 2020-01-01" in message and "LST_2020_001.tif" in message


def test_geotiff_without_date_in_name(archive_dir: Path, rng: np.random.Generator) -> None:
    write_lst_geotiff_day(archive_dir / "LST_latest.tif", GRID, make_year(rng, 1)[0])
    message = lst_error(open_archive, archive_dir)
    assert "LST_latest.tif" in message and "date" in message


@pytest.mark.parametrize("form", ["netcdf", "geotiff"])
def test_bad_qa_codes(archive_dir: Path, rng: np.random.Generator, form: str) -> None:
    data = make_year(rng, 2)
    data[1, 3, 4, 4] = 7
    if form == "netcdf":
        name = "LST_2020_NetCDF.nc"
        write_lst_netcdf(archive_dir / name, GRID, np.array([1, 2]), data)
    else:
        name = "LST_2020_01_02.tif"
        write_lst_geotiff_day(archive_dir / name, GRID, data[1])
    message = lst_error(open_and_read, archive_dir)
    assert name in message and "QA" in message and "7" in message


def test_geotiff_without_georeference(archive_dir: Path, tmp_path: Path, rng: np.random.Generator) -> None:
    write_tif(archive_dir / "LST_2020_01_01.tif", make_year(rng, 1)[0].astype(np.int16), geo=False)
    message = lst_error(open_archive, archive_dir)
    assert "LST_2020_01_01.tif" in message and "georeference" in message
    dem = write_tif(tmp_path / "dem.tif", np.zeros((H, W), np.int16), geo=False)
    message = lst_error(read_dem, dem)
    assert "dem.tif" in message and "DEM" in message and "georeference" in message


def test_geotiff_invalid_georeference(tmp_path: Path) -> None:
    tags = [(33550, "d", 3, (0.0, 0.01, 0.0), True), (33922, "d", 6, (0, 0, 0, 34.0, 33.5, 0), True)]
    dem = write_tif(tmp_path / "dem.tif", np.zeros((H, W), np.int16), extratags=tags)
    assert "dem.tif" in lst_error(read_dem, dem)
    tags = [(33550, "d", 1, (0.01,), True), (33922, "d", 3, (0, 0, 0), True)]
    dem = write_tif(tmp_path / "dem2.tif", np.zeros((H, W), np.int16), extratags=tags)
    assert "dem2.tif" in lst_error(read_dem, dem)


@pytest.mark.parametrize("bad_index", [0, 1])
def test_geotiff_wrong_band_count(archive_dir: Path, rng: np.random.Generator, bad_index: int) -> None:
    days = make_year(rng, 2)
    names = ["LST_2020_01_01.tif", "LST_2020_01_02.tif"]
    for i, (name, day) in enumerate(zip(names, days)):
        if i == bad_index:
            write_geotiff(archive_dir / name, GRID, day[:3].astype(np.int16), nodata=-32768)
        else:
            write_lst_geotiff_day(archive_dir / name, GRID, day)
    message = lst_error(open_archive, archive_dir)  # found when opening, not halfway through
    assert names[bad_index] in message and "3 band" in message and "expected 4" in message


def test_geotiff_days_on_different_grids(archive_dir: Path, rng: np.random.Generator) -> None:
    days = make_year(rng, 2)
    write_lst_geotiff_day(archive_dir / "LST_2020_01_01.tif", GRID, days[0])
    other = Grid.from_corner(34.0, 33.5, 0.01, 0.01, (H, W + 1))
    write_lst_geotiff_day(archive_dir / "LST_2020_01_02.tif", other, np.concatenate(
        [days[1], days[1][..., :1]], axis=-1))
    message = lst_error(open_archive, archive_dir)
    assert "LST_2020_01_02.tif" in message and GRID.describe() in message and other.describe() in message


def test_dem_other_shape(tmp_path: Path) -> None:
    other = Grid.from_corner(34.0, 33.5, 0.01, 0.01, (H + 3, W))
    write_geotiff(tmp_path / "dem.tif", other, np.zeros(other.shape, np.int16))
    message = lst_error(read_dem, tmp_path / "dem.tif", GRID)
    assert "dem.tif" in message and GRID.describe() in message and other.describe() in message


@pytest.mark.parametrize("shift_px, ok", [(0.6, False), (-0.7, False), (0.4, True), (-0.3, True)])
def test_dem_shifted(tmp_path: Path, shift_px: float, ok: bool) -> None:
    shifted = Grid.from_corner(GRID.west + shift_px * GRID.dlon, GRID.north - shift_px * GRID.dlat,
                               GRID.dlon, GRID.dlat, GRID.shape)
    dem = np.arange(H * W, dtype=np.int16).reshape(H, W)
    write_geotiff(tmp_path / "dem.tif", shifted, dem)
    if ok:
        values, grid = read_dem(tmp_path / "dem.tif", GRID)
        np.testing.assert_array_equal(values, dem)
        assert_same_grid(grid, shifted)
    else:
        message = lst_error(read_dem, tmp_path / "dem.tif", GRID)
        assert "dem.tif" in message and "another grid" in message
        assert GRID.describe() in message and shifted.describe() in message


def test_dem_other_problems(tmp_path: Path, rng: np.random.Generator) -> None:
    assert "does not exist" in lst_error(read_dem, tmp_path / "missing.tif")
    write_geotiff(tmp_path / "two.tif", GRID, np.zeros((2, H, W), np.int16))
    message = lst_error(read_dem, tmp_path / "two.tif")
    assert "two.tif" in message and "2 bands" in message
    (tmp_path / "junk.tif").write_bytes(rng.integers(0, 256, 1000, dtype=np.uint8).tobytes())
    assert "junk.tif" in lst_error(read_dem, tmp_path / "junk.tif")
    write_geotiff(tmp_path / "three.tif", GRID, np.zeros((3, H, W), np.float32))
    message = lst_error(read_raster, tmp_path / "three.tif", GRID, "NDVI climatology")
    assert "three.tif" in message and "NDVI climatology" in message and "3 bands" in message


def test_dem_with_implausible_elevations(tmp_path: Path) -> None:
    dem = np.full((H, W), 300, np.int16)
    dem[0, 0] = -32768  # a nodata value nobody tagged
    write_geotiff(tmp_path / "untagged.tif", GRID, dem)
    message = lst_error(read_dem, tmp_path / "untagged.tif")
    assert "untagged.tif" in message and "1 elevations outside" in message and "-32768" in message
    write_geotiff(tmp_path / "tagged.tif", GRID, dem, nodata=-32768)
    assert np.isnan(read_dem(tmp_path / "tagged.tif")[0][0, 0])
    write_geotiff(tmp_path / "lst.tif", GRID, np.full((H, W), 15000, np.uint16))  # an LST band as the DEM
    assert "elevations outside" in lst_error(read_dem, tmp_path / "lst.tif")


# ---------------------------------------------------------------- writers: nothing half-written

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


# ---------------------------------------------------------------- the real DEM

def test_real_dem(israel_dem: Path) -> None:
    dem, grid = read_dem(israel_dem)
    assert dem.shape == (603, 409) and grid.shape == (603, 409)
    assert np.nanmin(dem) == -415 and np.nanmax(dem) == 2687
    assert grid.west == pytest.approx(33.2003, abs=1e-4)
    assert grid.north == pytest.approx(34.0078, abs=1e-4)
    assert grid.dlon == pytest.approx(0.0083, abs=1e-4) and grid.dlat == pytest.approx(0.0083, abs=1e-4)
    assert grid.lat[0] > grid.lat[-1] and grid.lon[0] < grid.lon[-1]
    # the same DEM validates against its own grid and rejects a shifted one with both grids named
    read_dem(israel_dem, grid)
    shifted = Grid(lat=grid.lat, lon=grid.lon + grid.dlon)
    message = lst_error(read_dem, israel_dem, shifted)
    assert grid.describe() in message and shifted.describe() in message


# ---------------------------------------------------------------- property: damaged files

def _valid_blobs() -> dict[str, bytes]:
    rng = np.random.default_rng(7)
    out = {}
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        write_lst_netcdf(d / "a.nc", GRID, np.array([1, 2, 40]), make_year(rng, 3))
        write_nc(d / "b.nc", make_year(rng, 3).astype(np.int32), dtype="i4", fmt="NETCDF3_CLASSIC")
        write_lst_geotiff_day(d / "c.tif", GRID, make_year(rng, 1)[0])
        stored = make_year(rng, 1)[0].astype(np.int16)
        write_tif(d / "d.tif", np.moveaxis(stored, 0, -1), planar=False)
        for name in ("a.nc", "b.nc", "c.tif", "d.tif"):
            out[name] = (d / name).read_bytes()
    return out


VALID = _valid_blobs()
NAMES = {".nc": "LST_2020_NetCDF.nc", ".tif": "LST_2020_01_01.tif"}


def _feed(blob: bytes, suffix: str) -> str:
    """open_archive + iter_blocks on one file: LSTError or valid output, nothing else, no hang.
    Returns which of the two it was (for hypothesis' statistics)."""
    with tempfile.TemporaryDirectory() as d:
        Path(d, NAMES[suffix]).write_bytes(blob)
        with time_limit(20):
            try:
                archive = open_archive(d)
                lst, qa = read_all(archive)
            except LSTError as err:
                assert "\n" not in str(err) and NAMES[suffix] in str(err)
                return "LSTError"
        assert lst.shape[1:] == archive.grid.shape
        assert qa.max(initial=0) <= 3
        nonzero = lst[lst > 0].astype(np.float64) * 0.02
        assert np.all((nonzero >= 150) & (nonzero <= 400))
        return "valid output"


damage = st.sampled_from(sorted(VALID)).flatmap(lambda name: st.tuples(
    st.just(name),
    st.one_of(
        st.tuples(st.just("truncate"), st.integers(0, len(VALID[name]) - 1)),
        st.tuples(st.just("overwrite"), st.integers(0, len(VALID[name]) - 1), st.binary(min_size=1, max_size=64)),
    ),
))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(blob=st.binary(max_size=2048), suffix=st.sampled_from([".nc", ".tif"]))
def test_random_bytes_end_in_lst_error(blob: bytes, suffix: str) -> None:
    _feed(blob, suffix)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=damage)
def test_damaged_valid_files_end_in_lst_error_or_valid_output(case) -> None:
    name, how = case
    blob = VALID[name]
    if how[0] == "truncate":
        blob = blob[: how[1]]
    else:
        _, at, patch = how
        blob = blob[:at] + patch + blob[at + len(patch):]
    _feed(blob, os.path.splitext(name)[1])


# ---------------------------------------------------------------- property: wrong dtypes and shapes

NC_DTYPES = ["i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8", "f4", "f8"]
TIF_DTYPES = ["uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "float64"]


def _values(rng: np.random.Generator, dtype: str, shape: tuple[int, ...], regime: str) -> np.ndarray:
    """Values of ``dtype``: LST in 0.02 K units, in Kelvin, anything the type holds, or non-finite."""
    dtype = np.dtype(dtype)
    if regime == "raw":
        values = rng.integers(7500, 20001, size=shape)
    elif regime == "kelvin":
        values = rng.uniform(250, 330, size=shape)
    elif regime == "nonfinite" and dtype.kind == "f":
        values = rng.choice(np.array([np.nan, np.inf, -np.inf, 300.0]), size=shape)
    elif dtype.kind == "f":
        values = rng.uniform(-1e30, 1e30, size=shape)
    else:
        info = np.iinfo(dtype)
        values = rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dtype)
    with np.errstate(invalid="ignore", over="ignore"):
        return values.astype(dtype)  # out-of-range values wrap or saturate: garbage, as intended


regimes = st.sampled_from(["raw", "kelvin", "anything", "nonfinite"])
# (time, band, y, x) sizes, some wrong: a band count other than 4, a grid of one row, a dimension
# too few or too many
nc_shapes = st.one_of(
    st.tuples(st.integers(1, 3), st.just(4), st.sampled_from([H, H - 1]), st.sampled_from([W, W + 2])),
    st.tuples(st.integers(1, 3), st.integers(1, 6), st.sampled_from([H, 1]), st.just(W)),
    st.tuples(st.integers(1, 3), st.just(H), st.just(W)),
    st.tuples(st.integers(1, 2), st.just(4), st.just(H), st.just(W), st.integers(1, 2)),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dtype=st.sampled_from(NC_DTYPES), shape=nc_shapes, regime=regimes, seed=st.integers(0, 2**16))
def test_netcdf_of_any_dtype_and_shape_ends_in_lst_error_or_valid_output(dtype, shape, regime, seed) -> None:
    rng = np.random.default_rng(seed)
    values = _values(rng, dtype, shape, regime)
    if len(shape) == 4 and shape[1] >= 4:  # a well-placed QA band sometimes, so that reading gets far
        values[:, 3] = rng.integers(0, 4, size=values[:, 3].shape)
    dims = {3: ("time", "y", "x"), 4: ("time", "band", "y", "x"), 5: ("time", "band", "y", "x", "extra")}
    with tempfile.TemporaryDirectory() as d:
        h, w = shape[2:4] if len(shape) > 3 else shape[1:]
        path = write_nc(Path(d, "a.nc"), values, dims=dims[len(shape)], lat=33.5 - 0.01 * np.arange(h),
                        lon=34.0 + 0.01 * np.arange(w))
        event(_feed(path.read_bytes(), ".nc"))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dtype=st.sampled_from(TIF_DTYPES), bands=st.sampled_from([0, 3, 4, 5]), planar=st.booleans(),
       regime=regimes, seed=st.integers(0, 2**16))
def test_geotiff_of_any_dtype_and_shape_ends_in_lst_error_or_valid_output(dtype, bands, planar, regime,
                                                                          seed) -> None:
    rng = np.random.default_rng(seed)
    # bands=0: a plain 2-D image (tifffile cannot store a 1-sample image with a planar config)
    shape = (H, W) if bands == 0 else ((bands, H, W) if planar else (H, W, bands))
    values = _values(rng, dtype, shape, regime)
    if bands == 4:  # a valid QA band, so that the LST bands' values are what is judged
        qa = rng.integers(0, 4, size=(H, W))
        if planar:
            values[3] = qa
        else:
            values[..., 3] = qa
    with tempfile.TemporaryDirectory() as d:
        path = write_tif(Path(d, "a.tif"), values, planar=planar)
        event(_feed(path.read_bytes(), ".tif"))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dtype=st.sampled_from(TIF_DTYPES), bands=st.sampled_from([0, 2, 3]), regime=regimes,
       nodata=st.sampled_from([None, 0, -9999]), seed=st.integers(0, 2**16))
def test_dem_of_any_dtype_and_shape_ends_in_lst_error_or_plausible_metres(dtype, bands, regime, nodata,
                                                                           seed) -> None:
    rng = np.random.default_rng(seed)
    values = _values(rng, dtype, (H, W) if bands == 0 else (bands, H, W), regime)
    with tempfile.TemporaryDirectory() as d:
        path = write_tif(Path(d, "dem.tif"), values, nodata=nodata)
        with time_limit(20):
            try:
                dem, grid = read_dem(path, GRID)
            except LSTError as err:
                assert "\n" not in str(err) and str(path) in str(err)
                event("LSTError")
                return
    event("valid output")
    assert dem.dtype == np.float32 and dem.shape == GRID.shape
    known = dem[~np.isnan(dem)]
    assert np.all((known >= -1000) & (known <= 9000)), (known.min(), known.max())
