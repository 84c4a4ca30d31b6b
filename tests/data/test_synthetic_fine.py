"""lst-synth --fine-factor: the physics on a fine grid, and the archive a coarser sensor sees of it."""
from __future__ import annotations

import json

import numpy as np
import pytest

from lst_lightning.errors import LSTError


def test_the_archive_is_the_fine_truth_aggregated_in_the_real_formats(tmp_path):
    from lst_lightning.apps.cli import synth_main
    from lst_lightning.data.io.archive import open_archive
    from lst_lightning.data.io.rasters import read_dem

    synth_main([str(tmp_path / "a"), "--shape", "48", "42", "--day-step", "90", "--fine-factor", "3"])
    truth = json.loads((tmp_path / "a" / "truth.json").read_text())
    assert truth["fine_factor"] == 3 and truth["shape"] == [16, 14] and truth["fine_shape"] == [48, 42]
    fine, coarse = open_archive(tmp_path / "a" / "fine" / "lst"), open_archive(tmp_path / "a" / "lst")
    assert [f.label() for f in fine.frames] == [f.label() for f in coarse.frames]
    (_, fine_raw, fine_qa), = list(fine.iter_blocks())[:1]
    (_, raw, qa), = list(coarse.iter_blocks())[:1]
    blocks = fine_raw.reshape(-1, 16, 3, 14, 3).astype(np.float64)
    full = (blocks > 0).all(axis=(2, 4))
    np.testing.assert_array_equal(raw > 0, full)  # a coarse pixel exists where all its fine pixels do
    np.testing.assert_allclose(raw[full], blocks.mean(axis=(2, 4))[full], atol=0.5)  # rounded to 0.02 K
    assert full.mean() > 0.3 and (qa <= 3).all()
    dem, grid = read_dem(tmp_path / "a" / "dem.tif")
    fine_dem, fine_grid = read_dem(tmp_path / "a" / "fine" / "dem.tif")
    np.testing.assert_allclose(dem, fine_dem.reshape(16, 3, 14, 3).mean(axis=(1, 3)), atol=1e-3)
    assert grid.dlat == pytest.approx(3 * fine_grid.dlat) and grid.north == pytest.approx(fine_grid.north)
    assert open_archive(tmp_path / "a" / "oracle").grid.shape == (16, 14)


def test_a_bad_factor_is_one_line_and_writes_nothing(tmp_path):
    from lst_lightning.data.synthetic import generate_fine_archive

    with pytest.raises(LSTError, match=r"fine_factor must be an integer >= 2, got 1"):
        generate_fine_archive(tmp_path / "b", fine_factor=1, shape=(48, 42), day_step=90)
    assert not (tmp_path / "b").exists()


def test_the_real_90_m_dem_gives_a_nested_archive_whose_voids_stay_fill(fine_dem, tmp_path):
    """lst-synth --fine-factor 9 --dem srtm3_N42E001.tif (the README example, 2 dates): the fine
    truth lies on the real DEM's grid, the archive nests in it at f = 9, and a DEM void is no LST
    at either scale."""
    from lst_lightning.data.io.archive import open_archive
    from lst_lightning.data.io.rasters import read_dem
    from lst_lightning.data.synthetic import generate_fine_archive
    from lst_lightning.downscale.grids import nest

    generate_fine_archive(tmp_path / "p", fine_factor=9, dem=fine_dem, day_step=200, progress=False)
    real, real_grid = read_dem(fine_dem)
    fine, coarse = open_archive(tmp_path / "p" / "fine" / "lst"), open_archive(tmp_path / "p" / "lst")
    assert fine.grid.matches(real_grid) and coarse.grid.shape == (133, 133)
    n = nest(fine.grid, coarse.grid)
    assert (n.f, n.row0, n.col0) == (9, 0, 0)
    (_, fine_raw, _), = list(fine.iter_blocks())[:1]
    (_, raw, _), = list(coarse.iter_blocks())[:1]
    voids = np.isnan(real)
    assert voids.any() and (fine_raw[:, voids] == 0).all()
    r, c = np.argwhere(voids[:1197, :1197])[0] // 9
    assert (raw[:, r, c] == 0).all()
    assert (raw > 0).mean() > 0.5
