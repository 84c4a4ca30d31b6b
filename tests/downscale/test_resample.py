"""lst-resample-dem: a DEM onto the fine grid nested in the LST grid, voids kept."""
from __future__ import annotations

import numpy as np
import pytest

from lst_lightning.data.io.grid import Grid
from lst_lightning.downscale.grids import nest
from lst_lightning.downscale.resample import XAxis, check_lat0, resample_dem
from lst_lightning.errors import LSTError

COARSE = Grid.from_corner(10.0, 45.0, 0.01, 0.01, (20, 20))


def plane(grid: Grid) -> np.ndarray:
    lat, lon = grid.mesh()
    return (500 + 3000 * (lat - 44.9) + 8000 * (lon - 10.1)).astype(np.float32)


@pytest.mark.parametrize("step, method", [(0.0047, "bilinear"), (0.0011, "average")])
def test_a_plane_is_kept_on_a_nested_fine_grid_and_voids_stay_voids(step, method):
    source = Grid.from_corner(10.0231, 44.9817, step, step, (int(0.1 / step), int(0.08 / step)))
    dem = plane(source)
    dem[5, 5] = np.nan
    out, grid, used = resample_dem(dem, source, COARSE, 4)
    assert used == method
    n = nest(grid, COARSE)  # accepted by fine-scale prediction as it is
    assert n.f == 4 and grid.west >= source.west and grid.north <= source.north
    ok = np.isfinite(out)
    assert ok.mean() > 0.9
    # bilinear is exact on a plane; an average of the source pixels whose centres fall in a target
    # pixel is off by at most the plane's change over one source pixel (3000 + 8000 m per degree)
    np.testing.assert_allclose(out[ok], plane(grid)[ok], atol=0.05 if method == "bilinear" else 11000 * step)
    void_lat, void_lon = source.lat[5], source.lon[5]
    r, c = np.argmin(np.abs(grid.lat - void_lat)), np.argmin(np.abs(grid.lon - void_lon))
    assert np.isnan(out[r, c]) or method == "average"  # an average needs only half of its pixels


def test_cli_writes_a_dem_lst_predict_accepts(tmp_path, capsys):
    from lst_lightning.apps.cli import resample_main
    from lst_lightning.data.io.rasters import read_dem
    from lst_lightning.data.io.writers import write_geotiff

    source = Grid.from_corner(10.0231, 44.9817, 0.0047, 0.0047, (20, 17))
    write_geotiff(tmp_path / "src.tif", source, plane(source))
    write_geotiff(tmp_path / "like.tif", COARSE, np.zeros(COARSE.shape, np.float32))
    resample_main([str(tmp_path / "src.tif"), "--like", str(tmp_path / "like.tif"), "--factor", "3",
                   "-o", str(tmp_path / "fine.tif")])
    assert "bilinear from" in capsys.readouterr().out
    dem, grid = read_dem(tmp_path / "fine.tif")
    assert nest(grid, COARSE).f == 3 and np.isfinite(dem).mean() > 0.8
    with pytest.raises(SystemExit) as exit_info:
        resample_main([str(tmp_path / "src.tif"), "--like", str(tmp_path / "like.tif"), "--factor", "1",
                       "-o", str(tmp_path / "x.tif")])
    assert exit_info.value.code == 2 and "--factor 1" in capsys.readouterr().err
    assert not (tmp_path / "x.tif").exists()


def test_a_sinusoidal_lst_grid_looks_each_pixel_up_at_its_true_longitude():
    """The h18v04 layout: the LST grid's x = lon cos(lat) / cos 45. A plane in true lon/lat comes
    back as that plane at each fine pixel's true longitude (not at its x), and the fine grid lies
    inside the source at every latitude."""
    axis = XAxis(45.0)
    coarse = Grid.from_corner(1.0, 43.2, 0.02, 0.02, (40, 40))  # x 1.0 .. 1.8, lat 42.4 .. 43.2
    source = Grid.from_corner(1.0, 43.0, 0.004, 0.004, (150, 150))  # true lon 1.0 .. 1.6, lat 42.4 .. 43.0
    out, grid, used = resample_dem(plane(source), source, coarse, 4, axis)
    assert used == "bilinear" and nest(grid, coarse).f == 4
    lat = grid.lat[:, None] + 0 * grid.lon[None, :]
    lon = axis.lon(lat, grid.lon[None, :])
    assert lon.min() >= source.west - 1e-9 and lon.max() <= source.west + 150 * 0.004 + 1e-9
    expected = 500 + 3000 * (lat - 44.9) + 8000 * (lon - 10.1)
    ok = np.isfinite(out)
    assert ok.mean() > 0.97
    np.testing.assert_allclose(out[ok], expected[ok], atol=0.05)
    # read as if x were longitude, the plane is off by 8000 m/deg x the x - lon difference (> 100 m here)
    assert np.abs(out[ok] - plane(grid)[ok]).max() > 100
    with pytest.raises(LSTError, match="--x-scaled-at 95"):
        check_lat0(95)


@pytest.mark.parametrize("step", [0.0047, 0.0011])
def test_several_bands_are_resampled_band_by_band(step):
    source = Grid.from_corner(10.0231, 44.9817, step, step, (int(0.1 / step), int(0.08 / step)))
    bands = np.stack([plane(source), 0.001 * plane(source) - 1, np.full(source.shape, 0.5, np.float32)])
    out, grid, _ = resample_dem(bands, source, COARSE, 4)
    one, _, _ = resample_dem(bands[1], source, COARSE, 4)
    assert out.shape == (3, *grid.shape)
    np.testing.assert_allclose(out[1], one, rtol=1e-6)
    ok = np.isfinite(out[2])
    assert ok.mean() > 0.9 and np.allclose(out[2][ok], 0.5)


def test_cli_puts_a_multiband_raster_onto_an_existing_fine_grid(tmp_path, capsys):
    """The Pyrenees recipe's second step: 12 monthly NDVI bands on the LST grid -> exactly the grid of
    the fine DEM written before (--onto), readable as fine_ndvi; --like and --onto together refused."""
    from lst_lightning.apps.cli import resample_main
    from lst_lightning.data.io.rasters import read_dem, read_raster
    from lst_lightning.data.io.writers import write_geotiff

    source = Grid.from_corner(10.0231, 44.9817, 0.0047, 0.0047, (20, 17))
    write_geotiff(tmp_path / "src.tif", source, plane(source))
    write_geotiff(tmp_path / "like.tif", COARSE, np.zeros(COARSE.shape, np.float32))
    resample_main([str(tmp_path / "src.tif"), "--like", str(tmp_path / "like.tif"), "--factor", "3",
                   "-o", str(tmp_path / "fine.tif")])
    _, fine = read_dem(tmp_path / "fine.tif")
    months = np.stack([np.full(COARSE.shape, m / 20, np.float32) for m in range(12)])
    write_geotiff(tmp_path / "ndvi.tif", COARSE, months)
    capsys.readouterr()
    resample_main([str(tmp_path / "ndvi.tif"), "--onto", str(tmp_path / "fine.tif"), "-o", str(tmp_path / "n.tif")])
    assert "12 bands (bilinear from" in capsys.readouterr().out
    ndvi = read_raster(tmp_path / "n.tif", fine, "fine_ndvi")
    assert ndvi.shape == (12, *fine.shape)
    np.testing.assert_allclose(ndvi[:, 5, 5], np.arange(12) / 20, atol=1e-6)
    with pytest.raises(SystemExit) as exit_info:
        resample_main([str(tmp_path / "ndvi.tif"), "--onto", str(tmp_path / "fine.tif"), "--like",
                       str(tmp_path / "like.tif"), "--factor", "3", "-o", str(tmp_path / "x.tif")])
    assert exit_info.value.code == 2 and "either --like" in capsys.readouterr().err
    assert not (tmp_path / "x.tif").exists()
