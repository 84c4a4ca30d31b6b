"""scripts/probe_bicubic_correction.py: the departure target, the conserving correction, a run."""
from __future__ import annotations

import numpy as np
import pytest

from lst_lightning.data.io.aggregate import block_mean
from tests.common import load_script


@pytest.fixture(scope="module")
def probe():
    return load_script("probe_bicubic_correction")


def test_the_target_is_zero_on_a_conserved_bicubic_surface_and_not_on_relief(probe, rng):
    coarse = 290 + rng.normal(0, 3, (9, 11))
    surface = probe.spline_surface(coarse, 3)
    np.testing.assert_allclose(block_mean(surface, 3), coarse, atol=1e-4)  # it conserves (float32 surface)
    crop, target = probe.departure(surface, 3)
    assert crop.shape == (27, 33)
    np.testing.assert_allclose(target, 0, atol=1e-4)
    bumpy = surface + rng.normal(0, 0.5, surface.shape)
    assert np.abs(probe.departure(bumpy, 3)[1]).mean() > 0.2


def test_the_correction_keeps_every_block_mean(probe, rng):
    rows, cols = np.nonzero(rng.random((12, 15)) < 0.8)
    pred = rng.normal(0, 1, rows.size)
    out = probe.remove_block_mean(pred, rows, cols, 3)
    block = (rows // 3) * 100 + cols // 3
    for b in np.unique(block):
        assert abs(out[block == b].mean()) < 1e-12
    # within a block, the pattern is kept (one shift per block)
    b = block == block[0]
    np.testing.assert_allclose(np.diff(out[b]), np.diff(pred[b]))


def test_the_probe_runs_on_a_small_archive(probe, sites, capsys):
    site = sites["north"]
    assert probe.main([str(site / "lst"), "--dem", str(site / "dem.tif"), "--ndvi", str(site / "ndvi.tif"),
                       "--pixel-size-m", "1000", "--factor", "2", "--folds", "2", "--block-px", "10"]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if ": bicubic " in line]
    assert len(lines) == 2 * 2 * 2  # input sets x trainings x bands
    assert all("nan" not in line for line in lines)
