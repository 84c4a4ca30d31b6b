"""Feature importance per feature group (research question 3).

Permutation importance: on a fixed evaluation set (the test set), shuffle one feature group's
columns across samples (all columns of the group with the same permutation, so a group such as
the k*k elevation differences moves as one), predict again, and report how much the RMSE grows.
A model that ignores a group scores ~0 for it; the importance of a group the model leans on is
the error it would make without that information (at the same marginal distribution).

Ablation is the other view: retrain without the group (``features=no_<group>``) and compare the
test RMSE with the full model's; the report (``report.py``) runs it and ``ablation_table`` turns
the runs' results into the same shape as the permutation table.
"""
from __future__ import annotations

import numpy as np
from tqdm import tqdm

from lst_lightning.evaluation.predictions import Predictor, part_metrics, predict_batched, take
from lst_lightning.features import FeatureLayout


def permute_group(batch: dict, layout: FeatureLayout, group: str, order: np.ndarray) -> dict:
    """A copy of ``batch`` whose columns of ``group`` are reordered by ``order`` (same for all)."""
    out = dict(batch)
    if group in layout.patch_channels:
        ch = layout.patch_channels.index(group)
        patch = batch["patch"].copy()
        patch[:, ch] = batch["patch"][order, ch]
        out["patch"] = patch
    else:
        cols = [j for j, g in enumerate(layout.scalar_groups) if g == group]
        if not cols:
            raise ValueError(f"group {group!r} is not among the layout's groups {layout.groups}")
        scalars = batch["scalars"].copy()
        scalars[:, cols] = batch["scalars"][order][:, cols]
        out["scalars"] = scalars
    return out


def permutation_importance(predict: Predictor, batch: dict, layout: FeatureLayout, observed_only: bool = True,
                           repeats: int = 3, seed: int = 0, batch_size: int = 8192,
                           strata: dict[str, np.ndarray] | None = None) -> dict[str, dict]:
    """Per group: ``rmse_increase_k`` (mean over repeats), its ``std``, and ``mse_increase_pct``
    (relative to the unpermuted model's MSE), plus the reference ``rmse_k``.

    ``strata`` (name -> boolean mask over the samples, e.g. each band): permutations stay within a
    stratum (a night sample never takes a day sample's values: a group's importance is then what it
    tells within the band), and each stratum's figures are reported under ``by[name]`` too."""
    rng = np.random.default_rng(seed)
    n = batch["target"].shape[0]
    strata = strata or {}
    masks = {"": np.ones(n, dtype=bool), **strata}
    reference = {name: _rmse(predict_batched(predict, take(batch, m), batch_size), take(batch, m), observed_only)
                 for name, m in masks.items()}
    out = {}
    for group in tqdm(layout.groups, desc="permutation importance", leave=False):
        rmse = {name: [] for name in masks}
        for _ in range(repeats):
            shuffled = permute_group(batch, layout, group, _order(rng, n, strata))
            pred = predict_batched(predict, shuffled, batch_size)
            for name, m in masks.items():
                rmse[name].append(_rmse(pred[m], take(batch, m), observed_only))
        figures = {name: _figures(np.asarray(values), reference[name]) for name, values in rmse.items()}
        out[group] = {**figures[""], "by": {name: figures[name] for name in strata}}
    return out


def _order(rng: np.random.Generator, n: int, strata: dict[str, np.ndarray]) -> np.ndarray:
    """A random permutation of 0..n-1 that keeps every sample inside its stratum."""
    order = np.arange(n) if strata else rng.permutation(n)
    for mask in strata.values():
        index = np.flatnonzero(mask)
        order[index] = index[rng.permutation(index.size)]
    return order


def _rmse(pred: np.ndarray, batch: dict, observed_only: bool) -> float:
    return part_metrics(pred, batch, observed_only)["rmse_k"]


def _figures(rmse: np.ndarray, reference: float) -> dict[str, float]:
    return {"rmse_k": float(rmse.mean()), "rmse_increase_k": float(rmse.mean() - reference),
            "std_k": float(rmse.std()), "reference_rmse_k": float(reference),
            # undefined for a perfect reference (a band the model fits exactly): NaN, not a warning
            "mse_increase_pct": float(100 * (np.mean(rmse ** 2) / reference ** 2 - 1)) if reference else float("nan")}


def ablation_table(full: dict, without: dict[str, dict], key: str = "test/rmse_k") -> dict[str, dict]:
    """From the full run's results and ``{group: results of the run without it}``: per group the
    RMSE increase (K) and MSE increase (%) of retraining without it."""
    ref = float(full[key])
    out = {}
    for group, res in without.items():
        rmse = float(res[key])
        out[group] = {"rmse_k": rmse, "rmse_increase_k": rmse - ref, "reference_rmse_k": ref,
                      "mse_increase_pct": 100 * (rmse ** 2 / ref ** 2 - 1)}
    return out
