"""lst-scale-check end to end on a tiny synthetic archive: aggregate, train at both scales, score."""
from __future__ import annotations

import json

import numpy as np
import pytest
from omegaconf import OmegaConf

pytestmark = pytest.mark.e2e

OVERRIDES = ["debug=tiny", "data.k=5", "model.train_samples=20000", "model.baseline.n_estimators=30",
             "model.baseline.log_every=0"]


def test_scale_check_scores_every_method_on_the_same_held_out_pixels(tmp_path):
    from lst_lightning.apps.study_cli import scale_check_main

    scale_check_main(["--name", "tiny", "--models", "lightgbm", "--factor", "2", "--folds", "3", "--block-px", "12",
          "--out", str(tmp_path / "reports"), *OVERRIDES, f"paths.root_dir={tmp_path}"])
    root = tmp_path / "reports" / "tiny"
    report = (root / "scale_check.md").read_text()
    assert "| model downscaled (smooth residual, conserved) |" in report and "lst-scale-check --name tiny" in report
    # the archive it ran on: the synthetic one of debug=tiny, on its (default) hours
    assert "Data: `Synthetic (generated): data.synthetic={years: [2020], day_step: 12, shape: [96, 80]" in report
    assert "; bands night, day; overpass hours night 01:30, day 13:30 (local solar)`." in report
    assert (root / "scale_check_rmse.png").is_file() and (root / "scale_check_maps_lightgbm.png").is_file()
    result = json.loads((root / "scale_check.json").read_text())
    summary = result["summary"]["lightgbm"]
    assert set(summary["rmse"]) == {"model", "model, block residual", "model, raw", "native-scale model",
                                    "model + conserved bicubic", "model + conserved spline",
                                    "ATPRK", "DMS", "regression", "spline, conserved", "bicubic",
                                    "bicubic, conserved", "bilinear",
                                    "repeat"}
    assert all(n > 100 for n in summary["pixels"])
    rmse = {m: s["all"]["mean"] for m, s in summary["rmse"].items()}
    assert all(0 < v < 5 for v in rmse.values())
    # a terrain-driven synthetic field: the downscaled model recovers structure the coarse pixel hides
    assert rmse["model"] < rmse["repeat"] and rmse["model"] < rmse["model, raw"]
    # the mean of two predictions: never worse than the worse of them (RMSE is convex)
    assert rmse["model + conserved bicubic"] <= max(rmse["model"], rmse["bicubic, conserved"]) + 1e-9
    assert rmse["model + conserved spline"] <= max(rmse["model"], rmse["spline, conserved"]) + 1e-9
    # the sharpeners use the fine elevation: better than repeating the coarse value
    assert rmse["ATPRK"] < rmse["repeat"] and rmse["DMS"] < rmse["repeat"]
    assert "| ATPRK (regression + area-to-point kriging of its residuals) |" in report
    # the model's intervals around its downscaled prediction, scored against the real pixels one scale down
    iv = summary["intervals"]
    assert set(iv["coverage"]) == {"all", "day", "night"}
    coverage = [f["lightgbm"]["coverage"]["all"] for f in result["per_fold"]]
    assert iv["coverage"]["all"]["mean"] == pytest.approx(np.mean(coverage)) and 30 < np.mean(coverage) <= 100
    assert 0 < iv["halfwidth"]["all"]["mean"] < 10 and "| coverage (%) |" in report
    per_fold = [f["lightgbm"]["rmse"]["model"]["all"] for f in result["per_fold"]]
    assert summary["rmse"]["model"]["all"]["mean"] == pytest.approx(np.mean(per_fold))
    # the aggregated archive is in the real formats: it opens like any archive, on the 2x coarser grid
    from lst_lightning.data.io.archive import open_archive

    archive = open_archive(root / "archive" / "lst")
    assert archive.grid.shape == (48, 40)
    # the aggregated archive is read with the original's hours, already checked (or warned about) there
    coarse = OmegaConf.load(root / "runs" / "coarse_lightgbm" / "config.yaml").data
    assert coarse.hours == {"night": 1.5, "day": 13.5} and coarse.hours_checked is True
    # the native runs trained on the coarse folds' parts (split=given), one plan per fold
    assert all((root / "runs" / "native_lightgbm" / f"fold_{i}" / "plan.npz").is_file() for i in range(3))


def test_interval_coverage_counts_the_pixels_inside_per_band():
    from lst_lightning.apps.scale_check import interval_coverage

    truth = np.zeros((2, 2, 3))
    pred = np.array([[[0.5, 1.5, 0.2], [3.0, 0.0, 0.9]], [[0.1, 0.1, 0.1], [0.1, 9.0, 0.1]]])
    width = np.ones_like(pred)
    mask = np.ones(pred.shape, dtype=bool)
    mask[1, 1, 1] = False  # the 9 K miss is not scored
    out = interval_coverage(pred, width, truth, mask, ["day", "night"])
    assert out["coverage"] == pytest.approx({"all": 100 * 9 / 11, "day": 100 * 4 / 6, "night": 100.0})
    assert out["halfwidth"]["all"] == pytest.approx(1.0)
