"""GeoTIFF reading: the daily LST form, band layouts, georeference variants, bad files."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
import tifffile

from lst_lightning.data.io.archive import open_archive
from lst_lightning.data.io.grid import Grid
from lst_lightning.data.io.rasters import read_dem
from lst_lightning.data.io.writers import geo_tags, write_geotiff, write_lst_geotiff_day
from tests.data.io.samples import (
    GRID,
    H,
    W,
    assert_same_grid,
    expected_frames,
    lst_error,
    make_year,
    open_and_read,
    write_tif,
)


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
                tw.write(stored[b], photometric="minisblack", extratags=geo_tags(GRID, -32768),
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


def test_truncated_geotiff(archive_dir: Path, rng: np.random.Generator) -> None:
    path = archive_dir / "LST_2020_01_01.tif"
    write_lst_geotiff_day(path, GRID, make_year(rng, 1)[0])
    blob = path.read_bytes()
    path.write_bytes(blob[: len(blob) - 100])
    message = lst_error(open_and_read, archive_dir)
    assert "LST_2020_01_01.tif" in message


def test_duplicate_geotiff_dates(archive_dir: Path, rng: np.random.Generator) -> None:
    write_lst_geotiff_day(archive_dir / "LST_2020_01_01.tif", GRID, make_year(rng, 1)[0])
    write_lst_geotiff_day(archive_dir / "LST_2020_001.tif", GRID, make_year(rng, 1)[0])
    message = lst_error(open_archive, archive_dir)
    assert "duplicate date 2020-01-01" in message and "LST_2020_001.tif" in message


def test_geotiff_without_date_in_name(archive_dir: Path, rng: np.random.Generator) -> None:
    write_lst_geotiff_day(archive_dir / "LST_latest.tif", GRID, make_year(rng, 1)[0])
    message = lst_error(open_archive, archive_dir)
    assert "LST_latest.tif" in message and "date" in message


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
