"""A feature group defined outside the package, as a researcher would add one: the square of the
window-mean elevation. Importing this module registers it (``features.modules`` names it)."""
from __future__ import annotations

from lst_lightning.features import FeatureGroup, register


class ElevSquared(FeatureGroup):
    name = "elev_sq"
    columns = ("elev_sq",)
    reads = ("elev_mean",)
    scaling = "standardize"

    def compute(self, s, state):
        elev = s.pixel("elev_mean")
        return {"elev_sq": elev * elev}


GROUP = register(ElevSquared())
