"""lst-resample-dem: a DEM onto the fine grid nested in the LST grid, voids kept."""
from __future__ import annotations

import numpy as np
import pytest

from lst_lightning.data.io.grid import Grid
from lst_lightning.downscale.grids import nest
from lst_lightning.downscale.resample import resample_dem

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
