"""Group ``position``: topographic position at several scales, for night-time cold-air pooling:
the pixel's elevation minus the mean of the 3 x 3, 9 x 9 and 27 x 27 pixels around it (m):
``tpi_3`` (a hollow), ``tpi_9`` (a valley), ``tpi_27`` (a basin). Cold air drains into what lies
below its surroundings on clear nights (data/facts/terrain.py ``topographic_position``)."""
from __future__ import annotations

from lst_lightning.data.facts.terrain import TPI_SCALES, topographic_position
from lst_lightning.features.arrays import ArraySpec
from lst_lightning.features.base import FeatureGroup


class Position(FeatureGroup):
    name = "position"
    columns = tuple(f"tpi_{s}" for s in TPI_SCALES)
    reads = ("position",)
    builds = (ArraySpec("position", "pixels", "float32", "topographic position (m) at the scales "
                        f"{TPI_SCALES} px, NaN where a scale's window leaves the grid or touches a void"),)
    scaling = "standardize"

    def compute(self, s, state):
        values = s.pixel("position")
        # a scale's window reaching past the grid or a void: no information, 0 (level with the surroundings)
        values = s.xp.where(s.xp.isnan(values), s.zero, values)
        return {name: values[:, j] for j, name in enumerate(self.columns)}

    def build(self, inputs):
        return {"position": topographic_position(inputs.dem, TPI_SCALES)}, {}
