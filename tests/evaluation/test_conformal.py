"""Prediction intervals by split conformal prediction (evaluation/conformal.py): coverage on a case
with known noise, the adaptive width following the noise, the exact conformal rank, and a run that
writes its intervals."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from lst_lightning.errors import LSTError
from lst_lightning.evaluation.conformal import (
    INTERVALS_FILE,
    check_level,
    conformal_quantile,
    coverage_metrics,
    fit_intervals,
    load_intervals,
)


def noisy_case(rng, n_frames=40, per_frame=300, k=3):
    """Samples whose error (the model is the truth's mean) has a standard deviation set by the
    window's first patch channel spread: 0.2 K on flat windows, up to 2.2 K on rough ones; bands alternate."""
    n = n_frames * per_frame
    rough = rng.uniform(0, 1, n)
    patch = rng.normal(0, 1, (n, 2, k, k)).astype(np.float32) * rough[:, None, None, None]
    sigma = 0.2 + 2.0 * rough
    frame = np.repeat(np.arange(n_frames), per_frame)
    batch = {"scalars": rng.normal(0, 1, (n, 3)).astype(np.float32), "patch": patch,
             "target": rng.normal(0, sigma), "observed": np.ones(n, dtype=bool), "frame": frame}
    return batch, np.zeros(n), frame % 2, sigma


def binomial_range(n: int, p: float) -> tuple[float, float]:
    lo, hi = stats.binom.interval(0.999, n, p)
    return 100 * lo / n, 100 * hi / n


def test_coverage_on_known_noise_is_the_nominal_level_and_the_width_follows_the_noise(rng):
    val, val_pred, val_band, _ = noisy_case(rng)
    test, test_pred, test_band, sigma = noisy_case(rng)
    intervals = fit_intervals(val_pred, val, val_band, 0.9, seed=0)
    assert intervals.scale_model is not None  # enough samples for the adaptive scale
    figures = coverage_metrics(intervals, test_pred, test, test_band)
    n = test_band.size
    lo, hi = binomial_range(n, 0.9)
    assert lo <= figures["coverage_pct"] <= hi, figures
    for band in ("night", "day"):
        lo, hi = binomial_range(n // 2, 0.9)
        assert lo <= figures[f"band/{band}/coverage_pct"] <= hi, figures
    width = intervals.halfwidth(test, test_band)
    assert np.corrcoef(width, sigma)[0, 1] > 0.8  # wide where the noise is large
    # the oracle width of a 90 % interval is 1.645 sigma: the mean width is near its mean
    assert figures["halfwidth_k"] == pytest.approx(np.mean(1.645 * sigma), rel=0.15)


def test_few_samples_give_a_constant_width_per_band(rng):
    val, val_pred, val_band, _ = noisy_case(rng, n_frames=6, per_frame=50)
    intervals = fit_intervals(val_pred, val, val_band, 0.8)
    assert intervals.scale_model is None
    for b in (0, 1):
        rows = val_band == b
        errors = np.abs(val["target"][rows])
        assert intervals.quantiles[b] == conformal_quantile(errors, 0.8)
        assert intervals.n_calibration[b] == rows.sum()
    widths = intervals.halfwidth(val, val_band)
    assert len(np.unique(widths[val_band == 0])) == 1


def test_conformal_quantile_is_the_ceil_n_plus_one_rank():
    scores = np.arange(1.0, 20.0)  # n = 19: ceil(20 * 0.9) = 18th smallest
    assert conformal_quantile(scores[::-1], 0.9) == 18.0
    assert conformal_quantile(np.arange(1.0, 5.0), 0.9) == float("inf")  # 4 samples cannot give 90 %


def test_unobserved_samples_neither_calibrate_nor_count(rng):
    val, val_pred, val_band, _ = noisy_case(rng, n_frames=6, per_frame=50)
    val["target"][::2] = 1e6  # gap-filled targets: must not widen the interval
    val["observed"][::2] = False
    intervals = fit_intervals(val_pred, val, val_band, 0.9)
    assert max(intervals.quantiles.values()) < 10
    figures = coverage_metrics(intervals, val_pred, val, val_band)
    assert figures["coverage_pct"] >= 85


@pytest.mark.parametrize("bad", [0, 1, 1.5, -0.1, "0.9", True])
def test_bad_level_is_one_line(bad):
    with pytest.raises(LSTError, match=r"intervals: the nominal coverage must be a number in \(0, 1\)"):
        check_level(bad)


def test_a_run_saves_its_intervals_and_reports_their_test_coverage(tmp_path):
    from lst_lightning.training.run import run_training
    from tests.training.test_experiment import cv_cfg

    cfg = cv_cfg(tmp_path, "model=ridge", "model.train_samples=5000", "logger=none", "split.folds=null",
                 "intervals=0.8")
    run_training(cfg)
    out = Path(cfg.paths.output_dir)
    results = json.loads((out / "results.json").read_text())
    assert results["intervals/level_pct"] == pytest.approx(80.0)
    assert 50 < results["intervals/coverage_pct"] <= 100 and results["intervals/halfwidth_k"] > 0
    assert {"intervals/band/day/coverage_pct", "intervals/band/night/coverage_pct"} <= set(results)
    intervals = load_intervals(out)
    assert intervals is not None and intervals.level == 0.8 and (out / INTERVALS_FILE).is_file()
    assert "intervals: coverage (%)" in (out / "summary.txt").read_text()
