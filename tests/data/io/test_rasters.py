"""The DEM and covariate rasters on the LST grid: nodata, band counts, grid checks, the real DEM
and the real Israel NetCDF/DEM geometry."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from lst_lightning.data.io.archive import LSTArchive, open_archive
from lst_lightning.data.io.grid import Grid
from lst_lightning.data.io.rasters import read_dem, read_raster
from lst_lightning.data.io.writers import write_geotiff
from tests.data.io.samples import GRID, H, W, assert_same_grid, lst_error, write_nc, write_tif


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


# ---------------------------------------------------------------- the real Israel geometry
# The yearly NetCDFs' coordinates are a linspace of the bounds (first and last pixel centres on
# the bounds; ../shared/reference/original_project_description.txt), while the DEM was exported
# by Earth Engine for the same bounds as 409 x 603 pixels of area: its corner tie point is the
# NetCDF's first coordinate and its pixel size is (bounds span) / pixels. Every DEM pixel centre
# thus lies half a DEM pixel = 0.499 NetCDF pixels from the matching LST one at the first and last
# pixel, inside the half-pixel tolerance of Grid.matches by only 0.2 %.

ISRAEL_SHAPE = (603, 409)
ISRAEL_NORTH, ISRAEL_SOUTH = 34.00777509644337, 28.996716325654262
ISRAEL_WEST, ISRAEL_EAST = 33.20034536095077, 36.59654466075468
ISRAEL_LAT = np.linspace(ISRAEL_NORTH, ISRAEL_SOUTH, ISRAEL_SHAPE[0])  # the NetCDF "y", north first
ISRAEL_LON = np.linspace(ISRAEL_WEST, ISRAEL_EAST, ISRAEL_SHAPE[1])  # the NetCDF "x"
ISRAEL_DEM_SCALE = ((ISRAEL_EAST - ISRAEL_WEST) / ISRAEL_SHAPE[1], (ISRAEL_NORTH - ISRAEL_SOUTH) / ISRAEL_SHAPE[0])
ISRAEL_DEM_TIEPOINT = (0.0, 0.0, 0.0, ISRAEL_WEST, ISRAEL_NORTH, 0.0)
GEO_KEYS_PIXEL_IS_AREA = (1, 1, 0, 3, 1024, 0, 1, 2, 1025, 0, 1, 1, 2048, 0, 1, 4326)


@pytest.fixture(scope="module", params=["north_first", "south_first"])
def israel_archive(request, tmp_path_factory) -> LSTArchive:
    """A one-day yearly NetCDF with the real Israel coordinates, stored in either y order."""
    root = tmp_path_factory.mktemp(f"israel_{request.param}")
    data = np.full((1, 4, *ISRAEL_SHAPE), 15000, np.uint16)
    data[:, 3] = 3
    lat = ISRAEL_LAT if request.param == "north_first" else ISRAEL_LAT[::-1]
    write_nc(root / "LST_2020_NetCDF.nc", data, lat=lat, lon=ISRAEL_LON, doys=[1])
    return open_archive(root)


def _israel_dem(path: Path) -> Path:
    """A DEM GeoTIFF with the real DEM's georeference (tie point, pixel scale, pixel-is-area)."""
    dem = np.linspace(-415, 2687, ISRAEL_SHAPE[0] * ISRAEL_SHAPE[1]).astype(np.int16).reshape(ISRAEL_SHAPE)
    tags = [(33550, "d", 3, (*ISRAEL_DEM_SCALE, 0.0), True), (33922, "d", 6, ISRAEL_DEM_TIEPOINT, True),
            (34735, "H", len(GEO_KEYS_PIXEL_IS_AREA), GEO_KEYS_PIXEL_IS_AREA, True)]
    return write_tif(path, dem, extratags=tags)


def _assert_aligned(lst: Grid, dem: Grid) -> None:
    """The grids match both ways, each LST pixel's nearest DEM pixel has the same index, and the
    offsets are the expected ones: 0.499 LST pixels at the first and last pixel, none midway."""
    assert lst.matches(dem) and dem.matches(lst)
    for lst_axis, dem_axis, lst_step, n in ((lst.lat, dem.lat, lst.dlat, ISRAEL_SHAPE[0]),
                                            (lst.lon, dem.lon, lst.dlon, ISRAEL_SHAPE[1])):
        nearest = np.argmin(np.abs(dem_axis[None, :] - lst_axis[:, None]), axis=1)
        np.testing.assert_array_equal(nearest, np.arange(n))
        offset = np.abs(dem_axis - lst_axis) / lst_step  # in LST pixels
        expected = 0.5 * (n - 1) / n  # half a DEM pixel; a DEM pixel is (n - 1) / n LST pixels
        assert offset[0] == pytest.approx(expected, rel=1e-9) and offset[-1] == pytest.approx(expected, rel=1e-9)
        assert 0.498 < offset.max() < 0.5 and offset[n // 2] < 0.01


def test_israel_netcdf_coordinates_and_dem_tie_point_are_aligned(israel_archive: LSTArchive,
                                                                 tmp_path: Path) -> None:
    grid = israel_archive.grid
    assert grid.shape == ISRAEL_SHAPE and grid.lat[0] > grid.lat[-1]
    np.testing.assert_allclose(grid.lat, ISRAEL_LAT, rtol=0, atol=1e-12)
    np.testing.assert_allclose(grid.lon, ISRAEL_LON, rtol=0, atol=1e-12)
    dem, dem_grid = read_dem(_israel_dem(tmp_path / "israel_dem_1km.tif"), grid)  # accepted
    assert dem.shape == ISRAEL_SHAPE and np.nanmin(dem) == -415 and np.nanmax(dem) == 2687
    assert dem_grid.west == pytest.approx(ISRAEL_WEST, abs=1e-12)
    assert dem_grid.north == pytest.approx(ISRAEL_NORTH, abs=1e-12)
    _assert_aligned(grid, dem_grid)


def test_israel_geometry_is_the_real_dem_tags(israel_archive: LSTArchive, israel_dem: Path) -> None:
    """The geometry built above is the real DEM's: same tags, and the real DEM is accepted on the
    real NetCDF coordinates with the same alignment."""
    with tifffile.TiffFile(israel_dem) as tif:
        tags = tif.pages[0].tags
        scale, tie = tags[33550].value, tags[33922].value
        keys = list(tags[34735].value)
    np.testing.assert_allclose(scale[:2], ISRAEL_DEM_SCALE, rtol=1e-12)
    np.testing.assert_allclose(tie, ISRAEL_DEM_TIEPOINT, rtol=1e-12, atol=1e-12)
    assert 33922 in tags and 34264 not in tags
    assert any(keys[k:k + 4] == [1025, 0, 1, 1] for k in range(4, len(keys), 4))  # pixel-is-area
    dem, dem_grid = read_dem(israel_dem, israel_archive.grid)
    assert dem.shape == ISRAEL_SHAPE
    _assert_aligned(israel_archive.grid, dem_grid)
