"""Per-band figures: each band's metrics are the pooled formulas applied to that band's samples."""
from __future__ import annotations

import numpy as np
import pytest

from lst_lightning.evaluation.predictions import band_metrics, part_metrics, take


class Frames:
    band_index = np.array([0, 1, 1, 0, 1])  # night, day, day, night, day


def test_each_band_is_the_pooled_formula_on_its_samples():
    rng = np.random.default_rng(0)
    n = 400
    frame = rng.integers(0, 5, n)
    batch = {"frame": frame, "target": rng.normal(size=n), "oracle": np.full(n, np.nan),
             "observed": rng.random(n) > 0.2}
    night = Frames.band_index[frame] == 0
    pred = batch["target"] + np.where(night, 0.5, 0.1) * rng.normal(size=n)  # worse by night
    out = band_metrics(pred, batch, Frames())
    for band, keep in (("night", night), ("day", ~night)):
        ref = part_metrics(pred[keep], take(batch, keep))
        for key in ("rmse_k", "trivial_rmse_k", "mse_improvement_pct", "n_samples"):
            assert out[f"band/{band}/{key}"] == pytest.approx(ref[key])
    assert out["band/night/rmse_k"] > out["band/day/rmse_k"]
    assert out["band/night/n_samples"] + out["band/day/n_samples"] == part_metrics(pred, batch)["n_samples"]
    # a band with no samples is absent, not a NaN row
    only_day = ~night
    assert not any(k.startswith("band/night") for k in band_metrics(pred[only_day], take(batch, only_day), Frames()))
