"""Evaluation metrics in Kelvin, from running sums (so they reduce exactly across batches and ranks).

``err = pred - target`` (positive bias: the model is too warm). The trivial model always predicts 0
(centre pixel = window mean). Where the oracle (the input-visible physics of a synthetic archive)
is finite, the oracle's error gives the floor no model can beat, and ``explained_fraction`` says how
much of the gap between the trivial model and that floor the model closes:

    rmse_k, mae_k, bias_k, r2           the usual, over all evaluated samples
    trivial_rmse_k                      RMSE of always predicting 0 = RMS of the target
    rmse_improvement_pct                100 * (1 - rmse / trivial_rmse)
    mse_improvement_pct                 100 * (1 - mse / trivial_mse)   (the original's headline)
    floor_rmse_k                        RMSE of target - oracle (NaN without oracle)
    explained_fraction                  (trivial_mse - mse) / (trivial_mse - floor_mse), both MSEs
                                        on the oracle subset (NaN without oracle)
    n_samples

``regression_metrics`` (numpy arrays) and the torchmetrics ``LSTMetrics`` share ``batch_sums`` and
``metrics_from_sums``: one implementation of the formulas.
"""
from __future__ import annotations

import math
from typing import Callable, Mapping

import numpy as np
import torch
from torchmetrics import Metric

SUM_KEYS = ("n", "sum_err", "sum_err2", "sum_abs_err", "sum_target", "sum_target2",
            "n_oracle", "sum_floor2", "sum_target2_oracle", "sum_err2_oracle")
METRIC_KEYS = ("rmse_k", "mae_k", "bias_k", "r2", "trivial_rmse_k", "rmse_improvement_pct",
               "mse_improvement_pct", "floor_rmse_k", "explained_fraction", "n_samples")
# reported over every sample, gap-filled centres included, as <part>/all_<key>
ALL_KEYS = ("rmse_k", "trivial_rmse_k", "n_samples")
NAN = float("nan")


def batch_sums(pred, target, oracle, isfinite: Callable) -> dict:
    """The running sums of one batch; works on numpy arrays and torch tensors alike (1-D, float64)."""
    err = pred - target
    has = isfinite(oracle)
    t_o, e_o = target[has], err[has]
    floor = t_o - oracle[has]
    return {"n": err.shape[0], "sum_err": err.sum(), "sum_err2": (err * err).sum(), "sum_abs_err": abs(err).sum(),
            "sum_target": target.sum(), "sum_target2": (target * target).sum(), "n_oracle": has.sum(),
            "sum_floor2": (floor * floor).sum(), "sum_target2_oracle": (t_o * t_o).sum(),
            "sum_err2_oracle": (e_o * e_o).sum()}


def _div(a: float, b: float) -> float:
    return a / b if b > 0 else NAN


def metrics_from_sums(s: Mapping[str, float]) -> dict[str, float]:
    """The metric dict (python floats; NaN where undefined) from accumulated sums."""
    s = {k: float(s[k]) for k in SUM_KEYS}
    n, n_o = s["n"], s["n_oracle"]
    mse, trivial_mse = _div(s["sum_err2"], n), _div(s["sum_target2"], n)
    sst = s["sum_target2"] - _div(s["sum_target"] ** 2, n)
    floor_mse = _div(s["sum_floor2"], n_o)
    gap = _div(s["sum_target2_oracle"], n_o) - floor_mse  # trivial - floor, on the oracle subset
    closed = _div(s["sum_target2_oracle"] - s["sum_err2_oracle"], n_o)  # trivial - model, same subset
    rmse, trivial_rmse = math.sqrt(mse) if n else NAN, math.sqrt(trivial_mse) if n else NAN
    return {
        "rmse_k": rmse,
        "mae_k": _div(s["sum_abs_err"], n),
        "bias_k": _div(s["sum_err"], n),
        "r2": 1.0 - s["sum_err2"] / sst if n and sst > 0 else NAN,
        "trivial_rmse_k": trivial_rmse,
        "rmse_improvement_pct": 100.0 * (1.0 - rmse / trivial_rmse) if n and trivial_rmse > 0 else NAN,
        "mse_improvement_pct": 100.0 * (1.0 - mse / trivial_mse) if n and trivial_mse > 0 else NAN,
        "floor_rmse_k": math.sqrt(floor_mse) if n_o else NAN,
        "explained_fraction": closed / gap if n_o and gap > 0 else NAN,
        "n_samples": n,
    }


def regression_metrics(pred, target, oracle=None) -> dict[str, float]:
    """The metric dict from numpy arrays (Kelvin); ``oracle`` None or NaN where unknown."""
    pred = np.asarray(pred, dtype=np.float64).ravel()
    target = np.asarray(target, dtype=np.float64).ravel()
    oracle = np.full_like(target, np.nan) if oracle is None else np.asarray(oracle, dtype=np.float64).ravel()
    if not pred.shape == target.shape == oracle.shape:
        raise ValueError(f"pred, target, oracle sizes differ: {pred.size}, {target.size}, {oracle.size}")
    return metrics_from_sums(batch_sums(pred, target, oracle, np.isfinite))


class LSTMetrics(Metric):
    """torchmetrics accumulator of ``batch_sums``; ``compute()`` gives ``metrics_from_sums``' dict.

    States are float64 sums with ``dist_reduce_fx="sum"``, so DDP ranks reduce exactly.
    """

    full_state_update = False
    is_differentiable = False
    higher_is_better = False

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        for key in SUM_KEYS:
            self.add_state(key, default=torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, pred: torch.Tensor, target: torch.Tensor, oracle: torch.Tensor | None = None) -> None:
        pred = pred.detach().reshape(-1).to(torch.float64)
        target = target.detach().reshape(-1).to(pred)
        oracle = torch.full_like(target, float("nan")) if oracle is None else oracle.detach().reshape(-1).to(pred)
        for key, value in batch_sums(pred, target, oracle, torch.isfinite).items():
            getattr(self, key).add_(value)

    def compute(self) -> dict[str, float]:
        return metrics_from_sums({key: getattr(self, key) for key in SUM_KEYS})
