"""Metrics in Kelvin: hand-computed values, trivial baseline, oracle floor; numpy and torchmetrics agree."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lst_lightning.evaluation.metrics import METRIC_KEYS, LSTMetrics, regression_metrics


@pytest.fixture
def arrays(rng):
    n = 500
    target = rng.normal(0.3, 1.2, n)
    oracle = target + rng.normal(0, 0.4, n)
    oracle[rng.random(n) < 0.3] = np.nan  # oracle unknown for some samples
    pred = 0.6 * target + rng.normal(0.1, 0.5, n)
    return pred, target, oracle


def test_values_against_hand_computed(arrays):
    pred, target, oracle = arrays
    m = regression_metrics(pred, target, oracle)
    assert set(m) == set(METRIC_KEYS)
    err = pred - target
    mse, trivial_mse = np.mean(err ** 2), np.mean(target ** 2)
    assert m["rmse_k"] == pytest.approx(np.sqrt(mse), rel=1e-12)
    assert m["mae_k"] == pytest.approx(np.mean(np.abs(err)), rel=1e-12)
    assert m["bias_k"] == pytest.approx(np.mean(err), rel=1e-12)
    assert m["r2"] == pytest.approx(1 - np.sum(err ** 2) / np.sum((target - target.mean()) ** 2), rel=1e-10)
    assert m["trivial_rmse_k"] == pytest.approx(np.sqrt(trivial_mse), rel=1e-12)
    assert m["rmse_improvement_pct"] == pytest.approx(100 * (1 - np.sqrt(mse / trivial_mse)), rel=1e-10)
    assert m["mse_improvement_pct"] == pytest.approx(100 * (1 - mse / trivial_mse), rel=1e-10)
    has = np.isfinite(oracle)
    floor_mse = np.mean((target[has] - oracle[has]) ** 2)
    assert m["floor_rmse_k"] == pytest.approx(np.sqrt(floor_mse), rel=1e-12)
    sub_trivial, sub_model = np.mean(target[has] ** 2), np.mean(err[has] ** 2)
    assert m["explained_fraction"] == pytest.approx((sub_trivial - sub_model) / (sub_trivial - floor_mse), rel=1e-10)
    assert m["n_samples"] == 500


def test_original_projects_headline_formula():
    # the original's 2-day space split: trivial MSE 3219, model MSE 2428 -> 24.56 %
    target = np.full(4, math.sqrt(3219.0))
    pred = target - math.sqrt(2428.0)
    m = regression_metrics(pred, target)
    assert m["mse_improvement_pct"] == pytest.approx(24.57, abs=0.01)
    assert m["rmse_improvement_pct"] == pytest.approx(100 * (1 - math.sqrt(2428 / 3219)), rel=1e-12)


def test_trivial_model_and_perfect_oracle(arrays):
    pred, target, oracle = arrays
    trivial = regression_metrics(np.zeros_like(target), target, oracle)
    assert trivial["rmse_k"] == trivial["trivial_rmse_k"]
    assert trivial["mse_improvement_pct"] == 0 and trivial["rmse_improvement_pct"] == 0
    assert trivial["explained_fraction"] == pytest.approx(0.0, abs=1e-12)
    perfect = regression_metrics(np.where(np.isfinite(oracle), oracle, 0.0), target, oracle)
    assert perfect["explained_fraction"] == pytest.approx(1.0, rel=1e-12)
    exact = regression_metrics(target, target, oracle)
    assert exact["rmse_k"] == 0 and exact["mse_improvement_pct"] == 100 and exact["r2"] == 1


def test_no_oracle_and_no_samples():
    m = regression_metrics([1.0, 2.0], [1.5, 1.0])
    assert math.isnan(m["floor_rmse_k"]) and math.isnan(m["explained_fraction"])
    assert m["rmse_k"] == pytest.approx(math.sqrt((0.25 + 1.0) / 2))
    empty = regression_metrics([], [], [])
    assert empty["n_samples"] == 0 and all(math.isnan(empty[k]) for k in METRIC_KEYS if k != "n_samples")


def test_torchmetrics_metric_agrees_with_numpy_over_batches(arrays):
    pred, target, oracle = arrays
    metric = LSTMetrics()
    for sl in (slice(0, 123), slice(123, 400), slice(400, 500)):
        metric.update(torch.tensor(pred[sl], dtype=torch.float32), torch.tensor(target[sl], dtype=torch.float32),
                      torch.tensor(oracle[sl], dtype=torch.float32))
    got = metric.compute()
    want = regression_metrics(pred.astype(np.float32), target.astype(np.float32), oracle.astype(np.float32))
    assert set(got) == set(METRIC_KEYS)
    for key in METRIC_KEYS:
        assert got[key] == pytest.approx(want[key], rel=1e-9), key
    metric.reset()
    metric.update(torch.zeros(3), torch.ones(3))  # no oracle given
    after = metric.compute()
    assert after["n_samples"] == 3 and after["rmse_k"] == 1.0 and math.isnan(after["floor_rmse_k"])


def test_metric_states_reduce_by_sum():
    metric = LSTMetrics()
    assert all(fx is not None and getattr(fx, "__name__", "") in ("dim_zero_sum", "sum")
               for fx in metric._reductions.values())
