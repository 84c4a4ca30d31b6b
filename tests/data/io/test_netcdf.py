"""The yearly NetCDF form: round trips, tolerated variants of layout and time, bad files."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import netCDF4
import numpy as np
import pytest

from lst_lightning.data.io.archive import Frame, open_archive
from lst_lightning.data.io.formats import NETCDF_VARIABLE, OVERPASS_HOUR
from lst_lightning.data.io.grid import Grid
from lst_lightning.data.io.netcdf import BLOCK_DAYS
from lst_lightning.data.io.writers import write_lst_netcdf
from tests.data.io.samples import (
    GRID,
    H,
    W,
    assert_same_grid,
    expected_frames,
    lst_error,
    make_year,
    open_and_read,
    read_all,
    write_nc,
)


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


def test_truncated_netcdf4(archive_dir: Path, rng: np.random.Generator) -> None:
    path = archive_dir / "LST_2020_NetCDF.nc"
    write_lst_netcdf(path, GRID, np.arange(1, 11), make_year(rng, 10))
    blob = path.read_bytes()
    path.write_bytes(blob[: len(blob) // 2])
    message = lst_error(open_and_read, archive_dir)
    assert "LST_2020_NetCDF.nc" in message


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


def test_duplicate_years(archive_dir: Path, rng: np.random.Generator) -> None:
    write_lst_netcdf(archive_dir / "LST_2020_NetCDF.nc", GRID, np.array([1]), make_year(rng, 1))
    write_lst_netcdf(archive_dir / "LST_2020_NetCDF_v2.nc", GRID, np.array([2]), make_year(rng, 1))
    message = lst_error(open_archive, archive_dir)
    assert "duplicate year 2020" in message
    assert "LST_2020_NetCDF.nc" in message and "LST_2020_NetCDF_v2.nc" in message


def dates_of(archive_dir: Path, **kwargs) -> list[dt.date]:
    return [f.date for f in open_archive(archive_dir, **kwargs).frames[::2]]


def test_netcdf_time_base_without_a_day_zero(archive_dir: Path, rng: np.random.Generator) -> None:
    """A 0-based file that lacks 1 January looks 1-based: only the setting can tell."""
    write_nc(archive_dir / "LST_2020_NetCDF.nc", make_year(rng, 3), doys=[5, 6, 9])
    jan = [dt.date(2020, 1, d) for d in (5, 6, 9)]
    assert dates_of(archive_dir, time_base=1) == jan
    assert dates_of(archive_dir, time_base="auto") == jan  # auto: 1-based unless a day 0 is present
    assert dates_of(archive_dir) == jan
    assert dates_of(archive_dir, time_base=0) == [dt.date(2020, 1, d) for d in (6, 7, 10)]
    assert dates_of(archive_dir, time_base="0") == dates_of(archive_dir, time_base=0)  # a command line's string


def test_netcdf_time_base_ends_of_the_year(archive_dir: Path, rng: np.random.Generator) -> None:
    write_nc(archive_dir / "LST_2020_NetCDF.nc", make_year(rng, 2), doys=[0, 365])
    assert dates_of(archive_dir) == dates_of(archive_dir, time_base=0) == [dt.date(2020, 1, 1), dt.date(2020, 12, 31)]
    message = lst_error(open_archive, archive_dir, time_base=1)  # day 0 does not exist 1-based
    assert "LST_2020_NetCDF.nc" in message and "data.time_base=1" in message and "0..365" in message
    write_nc(archive_dir / "LST_2020_NetCDF.nc", make_year(rng, 2), doys=[1, 366])  # leap year, 1-based
    assert dates_of(archive_dir) == [dt.date(2020, 1, 1), dt.date(2020, 12, 31)]
    message = lst_error(open_archive, archive_dir, time_base=0)
    assert "LST_2020_NetCDF.nc" in message and "data.time_base=0" in message and "days of year 0..365" in message


@pytest.mark.parametrize("bad", [2, -1, "zero", True, None, 0.5])
def test_netcdf_bad_time_base(archive_dir: Path, rng: np.random.Generator, bad) -> None:
    write_nc(archive_dir / "LST_2020_NetCDF.nc", make_year(rng, 1))
    assert "data.time_base" in lst_error(open_archive, archive_dir, time_base=bad)


def test_netcdf_auto_warns_when_files_disagree(archive_dir: Path, rng: np.random.Generator, caplog) -> None:
    write_nc(archive_dir / "LST_2020_NetCDF.nc", make_year(rng, 2), doys=[0, 40])
    write_nc(archive_dir / "LST_2021_NetCDF.nc", make_year(rng, 2), doys=[3, 40])
    caplog.set_level("WARNING", logger="lst_lightning")
    assert dates_of(archive_dir)[2] == dt.date(2021, 1, 3)  # auto: the 2021 file is read 1-based...
    assert "LST_2020_NetCDF.nc as 0-based" in caplog.text and "LST_2021_NetCDF.nc as 1-based" in caplog.text
    assert "data.time_base=0" in caplog.text  # ...and the warning says how to read it 0-based
    caplog.clear()
    assert dates_of(archive_dir, time_base=0)[2] == dt.date(2021, 1, 4)
    assert caplog.text == ""


def test_netcdf_cf_units_ignore_time_base(archive_dir: Path, rng: np.random.Generator) -> None:
    write_nc(archive_dir / "LST_2016.nc", make_year(rng, 2), doys=[4, 59], time_units="days since 2016-01-01")
    want = [dt.date(2016, 1, 5), dt.date(2016, 2, 29)]
    assert dates_of(archive_dir, time_base=0) == dates_of(archive_dir, time_base=1) == want
