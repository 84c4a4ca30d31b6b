"""Group ``doy``: the day of year as sin and cos (one period = 365.25 days)."""
from __future__ import annotations

import numpy as np

from lst_lightning.features.base import FeatureGroup


class DayOfYear(FeatureGroup):
    name = "doy"
    columns = ("doy_sin", "doy_cos")
    scaling = "raw"  # already in [-1, 1]

    def frame_tables(self, frames, grid):
        doy = np.array([f["doy"] for f in frames], dtype=np.float64)
        angle = 2 * np.pi * doy / 365.25
        return {"doy_sin": np.sin(angle).astype(np.float32), "doy_cos": np.cos(angle).astype(np.float32)}

    def compute(self, s, state):
        return {name: s.table(name) for name in self.columns}
