"""Group ``tod``: the time of day (the band's overpass, local solar hours) as sin and cos."""
from __future__ import annotations

import numpy as np

from lst_lightning.features.base import FeatureGroup


class TimeOfDay(FeatureGroup):
    name = "tod"
    columns = ("tod_sin", "tod_cos")
    scaling = "raw"  # already in [-1, 1]

    def frame_tables(self, frames, grid):
        hour = np.array([f["hour"] for f in frames], dtype=np.float64)
        angle = 2 * np.pi * hour / 24
        return {"tod_sin": np.sin(angle).astype(np.float32), "tod_cos": np.cos(angle).astype(np.float32)}

    def compute(self, s, state):
        return {name: s.table(name) for name in self.columns}
