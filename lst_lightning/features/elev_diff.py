"""Group ``elev_diff``: the k x k elevation differences from the window mean (m), one patch channel."""
from __future__ import annotations

from lst_lightning.data.facts.terrain import elevation_window
from lst_lightning.features.arrays import ArraySpec
from lst_lightning.features.base import FeatureGroup


class ElevDiff(FeatureGroup):
    name = "elev_diff"
    patch = True
    reads = ("elev_diff",)
    builds = (ArraySpec("elev_diff", "pixels", "float32", "the k*k elevation differences from the window "
                        "mean (m), row-major; NaN where the window leaves the grid or touches a DEM void"),)
    scaling = "normalize"

    def compute(self, s, state):
        return s.pixel("elev_diff").reshape(s.n, s.k, s.k)

    def build(self, inputs):
        return {"elev_diff": elevation_window(inputs.dem, inputs.k)[1]}, {}
