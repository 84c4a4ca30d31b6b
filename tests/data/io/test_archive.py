"""open_archive: the directory, its one form, the excluded files, overpass hours, the frames."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lst_lightning.data.io.archive import Frame, open_archive
from lst_lightning.data.io.formats import OVERPASS_HOUR
from lst_lightning.data.io.writers import write_geotiff, write_lst_geotiff_day, write_lst_netcdf
from tests.data.io.samples import GRID, lst_error, make_year, open_and_read, read_all


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


def _archive_with_dem(archive_dir: Path, rng: np.random.Generator, form: str) -> Path:
    """An archive directory that also holds the DEM, as with ``data.lst_dir=X data.dem=X/dem.tif``."""
    if form == "netcdf":
        write_lst_netcdf(archive_dir / "LST_2020_NetCDF.nc", GRID, np.array([1, 2]), make_year(rng, 2))
    else:
        for i, day in enumerate(make_year(rng, 2)):
            write_lst_geotiff_day(archive_dir / f"LST_2020_01_0{i + 1}.tif", GRID, day)
    dem = archive_dir / "dem.tif"
    write_geotiff(dem, GRID, rng.integers(-400, 2500, size=GRID.shape).astype(np.int16))
    return dem


@pytest.mark.parametrize("form", ["netcdf", "geotiff"])
def test_excluded_dem_is_not_an_archive_file(archive_dir: Path, rng: np.random.Generator, form: str) -> None:
    dem = _archive_with_dem(archive_dir, rng, form)
    archive = open_archive(archive_dir, exclude=[dem])
    assert archive.kind == form and dem not in archive.files and len(archive.frames) == 4
    lst, _ = read_all(archive)
    assert lst.shape == (4, *GRID.shape)
    # the same file named by another spelling of its path (a str, through "..") is excluded too
    other_spelling = str(archive_dir / ".." / archive_dir.name / "dem.tif")
    assert open_archive(archive_dir, exclude=(other_spelling,)).files == archive.files
    # excluding a file the directory does not hold changes nothing
    assert open_archive(archive_dir, exclude=[dem, archive_dir.parent / "elsewhere.tif"]).files == archive.files


@pytest.mark.parametrize("form", ["netcdf", "geotiff"])
def test_dem_in_the_archive_directory_without_exclude(archive_dir: Path, rng: np.random.Generator,
                                                      form: str) -> None:
    """Not excluded, the DEM is taken for an archive file: the old errors stay (a mixed directory;
    a daily GeoTIFF without a date in its name)."""
    _archive_with_dem(archive_dir, rng, form)
    message = lst_error(open_archive, archive_dir)
    if form == "netcdf":
        assert str(archive_dir) in message and "mixes NetCDF and GeoTIFF files" in message
    else:
        assert "dem.tif" in message and "cannot tell the date" in message


def test_excluding_every_file_leaves_no_archive(archive_dir: Path, rng: np.random.Generator) -> None:
    write_lst_netcdf(archive_dir / "LST_2020_NetCDF.nc", GRID, np.array([1]), make_year(rng, 1))
    message = lst_error(open_archive, archive_dir, exclude=[archive_dir / "LST_2020_NetCDF.nc"])
    assert "no NetCDF" in message


@pytest.mark.parametrize("name", ["LST_2020_NetCDF.nc", "LST_2020_01_01.tif"])
def test_corrupt_file(archive_dir: Path, rng: np.random.Generator, name: str) -> None:
    (archive_dir / name).write_bytes(rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
    message = lst_error(open_and_read, archive_dir)
    assert name in message and "cannot read" in message


def test_empty_file(archive_dir: Path) -> None:
    (archive_dir / "LST_2020_NetCDF.nc").write_bytes(b"")
    assert "LST_2020_NetCDF.nc" in lst_error(open_and_read, archive_dir)


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
