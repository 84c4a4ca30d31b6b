"""Calibration figures in truth.json: the target's size, the oracle floor, the lapse-rate part,
on tiny grids, the procedural Israel-sized terrain and the real Israel DEM."""
from __future__ import annotations

import logging

import numpy as np
import pytest

from lst_lightning.data.facts.seasons import SEASONS
from lst_lightning.data.facts.windows import centre_minus_mean
from lst_lightning.data.io.rasters import read_dem
from lst_lightning.data.synthetic import generate_archive
from tests.data.synthetic.reading import read_all

log = logging.getLogger(__name__)


def log_table(title, cal):
    log.info(f"\n{title}: full land windows {cal['n_valid_windows']}, "
             f"elevation centre-minus-mean RMS {cal['elev_centre_minus_mean_rms_m']} m")
    log.info(f"{'season':>6} {'band':>5} {'target K':>9} {'floor K':>8} {'lapse K':>8}")
    for name, bands in cal["season"].items():
        for band, f in bands.items():
            log.info(f"{name:>6} {band:>5} {f['target_rms_k']:9.3f} {f['oracle_floor_rms_k']:8.3f} "
                     f"{f['lapse_rms_k']:8.3f}")


def test_tiny_archive_is_learnable(tmp_path):
    # (its generation time belongs to the benchmark, not to a unit test)
    truth = generate_archive(tmp_path, shape=(48, 40), day_step=30, noise_k=0.1, hidden_k=0.0, progress=False)
    assert truth["n_frames"] == 26 and truth["shape"] == [48, 40]
    dem, _ = read_dem(tmp_path / "dem.tif")
    assert (dem == 0).any() and dem.max() > 500 and dem.min() < -100  # coast, ridge, rift
    day = truth["calibration"]["season"]["JJA"]["day"]
    assert day["target_rms_k"] > 0.8 and day["oracle_floor_rms_k"] < 0.15  # strong, learnable signal


def test_truth_records_parameters_and_calibration(small):
    _, truth = small
    assert truth["shape"] == [40, 36] and truth["n_dates"] == 6 and truth["dem"] == "procedural"
    # band parameters are recorded by band name, not as positional pairs
    assert truth["physics"]["inland_k"] == {"day": 3.0, "night": -2.0}
    for season in SEASONS:
        lapse = truth["by_season"][season]["lapse_k_per_km"]
        assert 4.0 <= lapse["day"] <= 6.0 and 1.5 <= lapse["night"] <= 5.0
    cal = truth["calibration"]
    assert set(cal["season"]) == set(SEASONS)
    for bands in cal["season"].values():
        for f in bands.values():
            assert 0 < f["oracle_floor_rms_k"] < f["target_rms_k"]
            assert f["lapse_rms_k"] > 0 and f["after_lapse_rms_k"] > 0


def test_box_filter_figures_match_a_direct_window_loop():
    rng = np.random.default_rng(0)
    values = rng.normal(size=(13, 11))
    k, r = 5, 2
    fast = centre_minus_mean(values, k)
    slow = np.array([[values[i, j] - values[i - r:i + r + 1, j - r:j + r + 1].mean()
                      for j in range(r, 11 - r)] for i in range(r, 13 - r)])
    np.testing.assert_allclose(fast, slow, atol=1e-12)


def test_real_dem_january_day_target_matches_the_real_product(israel_dem, tmp_path):
    truth = generate_archive(tmp_path, dem=israel_dem, day_step=30, progress=False)
    cal = truth["calibration"]
    log_table("real Israel DEM, day_step 30", cal)
    jan = cal["month"]["01"]
    log.info(f"January: day target {jan['day']['target_rms_k']} K, night {jan['night']['target_rms_k']} K")
    assert 0.9 <= jan["day"]["target_rms_k"] <= 1.4  # the real product: 1.13 K
    assert 0.3 <= jan["night"]["target_rms_k"] <= 1.2
    assert cal["n_valid_windows"] == 165179  # the GUIDE's figures for the real DEM
    assert cal["elev_centre_minus_mean_rms_m"] == pytest.approx(51, abs=1.5)
    assert 0.15 < jan["day"]["lapse_rms_k"] < 0.35  # a lapse rate explains only a small part
    dem_in, grid_in = read_dem(israel_dem)
    dem_out, grid_out = read_dem(tmp_path / "dem.tif")
    assert grid_out.matches(grid_in)
    np.testing.assert_array_equal(dem_out, dem_in)
    _, lst, _ = read_all(tmp_path / "lst")
    assert ((lst[0] == 0) == (dem_in == 0)).all()


def test_procedural_israel_sized_terrain_matches_the_real_balance(tmp_path):
    truth = generate_archive(tmp_path, day_step=91, progress=False)
    cal = truth["calibration"]
    log_table("procedural 603x409, day_step 91", cal)
    assert truth["shape"] == [603, 409]
    assert 35 < cal["elev_centre_minus_mean_rms_m"] < 70  # real DEM: 51 m
    assert 0.8 <= cal["season"]["DJF"]["day"]["target_rms_k"] <= 1.5
