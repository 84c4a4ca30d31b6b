"""Predictions of any model (network or baseline) over a fixed evaluation set, and their metrics.

One path for every model so they are compared the same way: the evaluation indices of the data
module are gathered in batches (``data/sampling.py``), a *predictor* (a function from a gathered
numpy batch to centre-minus-window-mean LST in K) predicts them, and ``part_metrics`` gives the
same keys the network's ``LSTRegressor`` logs (``metrics.METRIC_KEYS`` on really observed centre
pixels when ``observed_only``, plus ``all_rmse_k``, ``all_trivial_rmse_k``, ``all_n_samples`` over
every sample), computed by the same formulas (``metrics.regression_metrics``).
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from lst_lightning.data.io.formats import FRAME_BANDS
from lst_lightning.evaluation.metrics import ALL_KEYS, regression_metrics

Predictor = Callable[[dict], np.ndarray]


def gather_all(gatherer, index: tuple[np.ndarray, np.ndarray, np.ndarray], batch_size: int = 8192) -> dict:
    """The whole evaluation set as one batch dict (features and context), gathered in chunks."""
    f, r, c = index
    chunks = [gatherer.gather(f[s:s + batch_size], r[s:s + batch_size], c[s:s + batch_size])
              for s in range(0, f.size, batch_size)]
    return {k: np.concatenate([ch[k] for ch in chunks]) for k in chunks[0]}


def take(batch: dict, rows) -> dict:
    """A subset (slice or index array) of every array of a batch dict."""
    return {k: v[rows] for k, v in batch.items()}


def predict_batched(predict: Predictor, batch: dict, batch_size: int = 8192) -> np.ndarray:
    """``predict`` over a large batch dict in chunks (bounded memory), as float64 K."""
    n = batch["target"].shape[0]
    out = [np.asarray(predict(take(batch, slice(s, s + batch_size))), dtype=np.float64).reshape(-1)
           for s in range(0, n, batch_size)]
    return np.concatenate(out) if out else np.zeros(0)


def part_metrics(pred: np.ndarray, batch: dict, observed_only: bool = True) -> dict[str, float]:
    """The metric dict of a part, with the keys the network logs (see the module docstring)."""
    target, oracle = batch["target"], batch["oracle"]
    everything = regression_metrics(pred, target, oracle)
    keep = np.asarray(batch["observed"], dtype=bool) if observed_only else np.ones(target.shape, dtype=bool)
    values = regression_metrics(pred[keep], target[keep], oracle[keep])
    values.update({f"all_{k}": everything[k] for k in ALL_KEYS})
    return values


BAND_KEYS = ("rmse_k", "trivial_rmse_k", "rmse_improvement_pct", "mse_improvement_pct", "n_samples")


def band_metrics(pred: np.ndarray, batch: dict, gatherer, observed_only: bool = True) -> dict[str, float]:
    """The headline metrics of each band present, as ``band/<day|night>/<key>``: day and night
    behave differently (night: inversions, cold-air pooling) and a pooled figure hides it."""
    band = gatherer.band_index[batch["frame"]]
    out = {}
    for i in np.unique(band):
        keep = band == i
        values = part_metrics(pred[keep], take(batch, keep), observed_only)
        out.update({f"band/{FRAME_BANDS[i]}/{k}": values[k] for k in BAND_KEYS})
    return out


def predicted_part(predict: Predictor, dm, part: str) -> tuple[dict, np.ndarray]:
    """(batch, prediction) of a data module's fixed evaluation set of ``part``."""
    batch = gather_all(dm.gatherer, dm.eval_index(part), dm.eval_batch_size)
    return batch, predict_batched(predict, batch, dm.eval_batch_size)


def network_predictor(module, device: str = "cpu") -> Predictor:
    """A predictor from an ``LSTRegressor`` (raw features in, K out; scaling is inside)."""
    module = module.to(device).eval()

    def predict(batch: dict) -> np.ndarray:
        with torch.no_grad():
            scalars = torch.from_numpy(np.ascontiguousarray(batch["scalars"])).to(device)
            patch = torch.from_numpy(np.ascontiguousarray(batch["patch"])).to(device)
            return module(scalars, patch).double().cpu().numpy()

    return predict


def site_metrics(predict: Predictor, dm, observed_only: bool = True) -> dict[str, float]:
    """data=multi: ``part_metrics`` of the test set per archive with test samples, keyed
    ``site/<name>/<metric>`` (under split=sites only the held-out site has them)."""
    if not dm.sites:
        return {}
    batch = gather_all(dm.gatherer, dm.eval_index("test"), dm.eval_batch_size)
    pred = predict_batched(predict, batch, dm.eval_batch_size)
    which = dm.gatherer.archive_of(batch["frame"])
    out = {}
    for a, name in enumerate(dm.gatherer.names):
        rows = np.flatnonzero(which == a)
        if rows.size:
            metrics = part_metrics(pred[rows], take(batch, rows), observed_only)
            out.update({f"site/{name}/{k}": v for k, v in metrics.items()})
    return out
