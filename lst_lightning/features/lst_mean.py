"""Group ``lst_mean``: the window's mean LST (K), what a coarser sensor would see."""
from __future__ import annotations

from lst_lightning.features.base import FeatureGroup


class LSTMean(FeatureGroup):
    name = "lst_mean"
    columns = ("lst_mean",)
    reads = ("window_mean",)
    scaling = "standardize"

    def compute(self, s, state):
        return {"lst_mean": s.at("window_mean")}
