"""Group ``elev_mean``: the window's mean elevation (m)."""
from __future__ import annotations

from lst_lightning.features.base import FeatureGroup


class ElevMean(FeatureGroup):
    name = "elev_mean"
    columns = ("elev_mean",)
    reads = ("elev_mean",)
    scaling = "normalize"

    def compute(self, s, state):
        return {"elev_mean": s.pixel("elev_mean")}
