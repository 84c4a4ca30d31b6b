"""lst-predict: maps on the grid, fill where no valid window exists, conservation, CF NetCDF."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from omegaconf import open_dict

from lst_lightning.errors import LSTError
from tests.common import CONF


def test_conservation_makes_every_complete_cell_average_to_the_observation(rng):
    from lst_lightning.apps.predict import conserve

    k, shape = 3, (10, 8)  # 3 x 2 complete cells; the last row and last 2 columns are outside any cell
    mean = rng.normal(300, 2, shape)
    anomaly = rng.normal(0, 1, shape)
    observed = mean + rng.normal(0, 1, shape)
    observed[0, 0] = np.nan  # a gap: the top-left cell stays uncorrected
    fixed = conserve(anomaly, observed, mean, k)
    pred = mean + fixed
    for i in range(3):
        for j in range(2):
            cell = np.s_[i * k:(i + 1) * k, j * k:(j + 1) * k]
            if (i, j) == (0, 0):
                np.testing.assert_array_equal(fixed[cell], anomaly[cell])
            else:
                assert pred[cell].mean() == pytest.approx(observed[cell].mean(), abs=1e-9)
                # a constant shift within the cell: the predicted pattern is kept
                np.testing.assert_allclose(fixed[cell] - anomaly[cell], (fixed - anomaly)[cell][0, 0])
    np.testing.assert_array_equal(fixed[9], anomaly[9])
    np.testing.assert_array_equal(fixed[:, 6:], anomaly[:, 6:])


def test_predict_frame_fills_only_valid_windows(random_cache):
    from lst_lightning.apps.predict import predict_frame
    from lst_lightning.data.loading.gatherer import FeatureGatherer
    from lst_lightning.features import FeatureLayout

    gatherer = FeatureGatherer(random_cache, FeatureLayout(k=random_cache.k))
    frame = int(np.argmax(random_cache.n_windows))
    # a predictor that returns the true target: the map must then equal centre minus window mean
    field, width = predict_frame(lambda batch: batch["target"], gatherer, frame, batch_size=97)
    assert width is None  # no intervals asked for
    mean = random_cache.array("window_mean")[frame]
    assert field.shape == random_cache.grid.shape
    np.testing.assert_array_equal(np.isnan(field), ~np.isfinite(mean))
    lst = random_cache.array("lst")[frame].astype(np.float32) * np.float32(0.02)
    valid = np.isfinite(mean)
    np.testing.assert_allclose(field[valid], (lst - mean)[valid], atol=1e-4)


@pytest.fixture(scope="module")
def tiny_run(tiny_runs):
    return tiny_runs.root, tiny_runs["mlp"][1]


def predict_cfg(root: Path, run: str, out: Path, *overrides: str):
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="predict", overrides=[f"run={run}", f"paths.log_dir={root}/logs", *overrides])
    with open_dict(cfg):
        cfg.output_dir = str(out)
    return cfg


def test_maps_on_the_grid_in_cf_netcdf_geotiff_and_png(tiny_run, tmp_path):
    import xarray as xr

    from lst_lightning.apps.predict import predict_maps
    from lst_lightning.data.io.geotiff import read_geotiff

    root, results = tiny_run
    files = predict_maps(predict_cfg(root, results["best_checkpoint"], tmp_path, "dates=[2020-01-13]",
                                     "bands=[day]", "conserve=true"))
    assert {p.suffix for p in files} == {".nc", ".tif", ".png"} and all(p.is_file() for p in files)
    with xr.open_dataset(tmp_path / "lst_prediction.nc") as ds:
        assert ds.attrs["Conventions"] == "CF-1.8" and "lst-predict" in ds.attrs["history"]
        assert ds["lst_pred"].attrs["units"] == "K" and ds["lat"].attrs["units"] == "degrees_north"
        assert ds["lst_pred"].shape == (1, 96, 80) and list(ds["band"].values) == ["day"]
        pred, mean, obs = (ds[v].values[0] for v in ("lst_pred", "lst_window_mean", "lst_obs"))
        width = ds["lst_halfwidth"].values[0]  # the run's 90 % prediction intervals (intervals=0.9)
        assert ds.attrs["interval_level"] == pytest.approx(0.9) and ds["lst_halfwidth"].attrs["units"] == "K"
    # the uncertainty layer: finite and positive exactly where the prediction is
    np.testing.assert_array_equal(np.isfinite(width), np.isfinite(pred))
    assert (width[np.isfinite(width)] > 0).all()
    tif_width, _, _ = read_geotiff(tmp_path / "lst_halfwidth_2020-01-13_day.tif")
    np.testing.assert_allclose(tif_width.reshape(96, 80), width, rtol=1e-6, equal_nan=True)
    # fill (decoded as NaN) exactly where no valid window exists: nothing invented at the edges/sea
    np.testing.assert_array_equal(np.isnan(pred), np.isnan(mean))
    assert np.isnan(pred[:4]).all() and np.isfinite(pred).sum() > 1000
    assert 250 < np.nanmean(pred) < 330
    # conservation: every complete, gap-free 9 x 9 cell of the prediction averages to the observation
    k = 9
    cells = [(i, j) for i in range(96 // k) for j in range(80 // k)
             if np.isfinite(pred[i * k:(i + 1) * k, j * k:(j + 1) * k]).all()
             and np.isfinite(obs[i * k:(i + 1) * k, j * k:(j + 1) * k]).all()]
    assert cells
    for i, j in cells:
        cell = np.s_[i * k:(i + 1) * k, j * k:(j + 1) * k]
        assert pred[cell].mean() == pytest.approx(obs[cell].mean(), abs=2e-3)
    tif, grid, _ = read_geotiff(tmp_path / "lst_pred_2020-01-13_day.tif")
    assert grid.shape == (96, 80)
    np.testing.assert_allclose(tif.reshape(96, 80), pred, rtol=1e-6, equal_nan=True)


def test_a_tracked_run_brings_its_intervals_by_mlflow_run_id(tiny_runs, tmp_path):
    from lst_lightning.apps.runs import open_run

    _, results = tiny_runs["ridge"]
    run = open_run(results["mlflow_run_id"], tiny_runs.uri, tmp_path / "run")
    assert run.intervals is not None and run.intervals.level == pytest.approx(0.9)
    assert set(run.intervals.quantiles) == {0, 1}  # night and day, each calibrated


def test_unknown_date_is_one_clear_error(tiny_run, tmp_path):
    from lst_lightning.apps.predict import predict_maps

    root, results = tiny_run
    with pytest.raises(LSTError, match=r"dates: no day frame on 1999-01-01 in the data \(it covers 2020-01-01"):
        predict_maps(predict_cfg(root, results["best_checkpoint"], tmp_path, "dates=[1999-01-01]", "bands=[day]"))
    assert not (tmp_path / "lst_prediction.nc").exists()
