"""Permutation importance within strata (each band): a group that matters in one band only shows
there, and a permutation never moves a sample's values into another stratum."""
from __future__ import annotations

import numpy as np

from lst_lightning.evaluation.importance import _order, permutation_importance
from lst_lightning.features import FeatureLayout


def test_a_group_that_matters_at_night_only_is_important_at_night_only():
    rng = np.random.default_rng(0)
    layout = FeatureLayout(k=3, groups=("lst_mean", "elev_mean"))
    n = 4000
    night = np.arange(n) < n // 2
    scalars = rng.normal(size=(n, 2)).astype(np.float32)
    # night: the target follows elev_mean; day: lst_mean
    target = np.where(night, scalars[:, 1], scalars[:, 0]).astype(np.float32)
    batch = {"scalars": scalars, "patch": np.zeros((n, 0, 3, 3), np.float32), "target": target,
             "oracle": np.full(n, np.nan, np.float32), "observed": np.ones(n, bool), "frame": night.astype(int)}

    def predict(b):  # the true rule of each band (frame 1: night)
        return np.where(b["frame"] == 1, b["scalars"][:, 1], b["scalars"][:, 0])

    imp = permutation_importance(predict, batch, layout, repeats=2, strata={"night": night, "day": ~night})
    assert imp["elev_mean"]["by"]["night"]["rmse_increase_k"] > 1.0
    assert abs(imp["elev_mean"]["by"]["day"]["rmse_increase_k"]) < 1e-6
    assert imp["lst_mean"]["by"]["day"]["rmse_increase_k"] > 1.0
    assert abs(imp["lst_mean"]["by"]["night"]["rmse_increase_k"]) < 1e-6
    assert 0.5 < imp["elev_mean"]["rmse_increase_k"] < imp["elev_mean"]["by"]["night"]["rmse_increase_k"]


def test_permutations_stay_inside_their_stratum():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 3, 500)
    order = _order(rng, 500, {str(i): labels == i for i in range(3)})
    assert sorted(order) == list(range(500)) and (labels[order] == labels).all() and (order != np.arange(500)).any()
