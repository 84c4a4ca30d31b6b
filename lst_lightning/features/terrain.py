"""Group ``terrain``: slope (deg), sin and cos of aspect (0 on flat ground), topographic position (m)."""
from __future__ import annotations

from lst_lightning.data.facts.terrain import terrain_derivatives
from lst_lightning.features.arrays import ArraySpec
from lst_lightning.features.base import FeatureGroup


class Terrain(FeatureGroup):
    name = "terrain"
    columns = ("slope", "aspect_sin", "aspect_cos", "tpi")
    reads = ("terrain",)
    builds = (ArraySpec("terrain", "pixels", "float32", "slope (deg), sin/cos aspect (0 on flat ground), "
                        "TPI (m), see data/facts/terrain.py"),)
    scaling = "standardize"

    def compute(self, s, state):
        values = s.pixel("terrain")
        return {name: values[:, j] for j, name in enumerate(self.columns)}

    def build(self, inputs):
        return {"terrain": terrain_derivatives(inputs.dem, inputs.grid, inputs.k, inputs.pixel_size_m)}, {}
