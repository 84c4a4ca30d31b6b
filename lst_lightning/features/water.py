"""Group ``water``: the window's fraction of water (``water_frac``) and the centre's distance to
the nearest water pixel (``water_km``, km, capped at 50): the sea and lakes damp the day's heating
and the night's cooling nearby. Water is the DEM at exactly 0 m (the sea in these DEMs) or NDVI
below 0 where NDVI is known (data/facts/water.py ``water_mask``)."""
from __future__ import annotations

import numpy as np

from lst_lightning.data.facts.terrain import pixel_spacing
from lst_lightning.data.facts.water import distance_to_water_km, water_fraction, water_mask
from lst_lightning.features.arrays import ArraySpec
from lst_lightning.features.base import FeatureGroup


class Water(FeatureGroup):
    name = "water"
    columns = ("water_frac", "water_km")
    reads = ("water",)
    builds = (ArraySpec("water", "pixels", "float32", "the window's fraction of water, the distance to water (km)"),)
    scaling = "standardize"

    def compute(self, s, state):
        values = s.pixel("water")
        return {"water_frac": values[:, 0], "water_km": values[:, 1]}

    def build(self, inputs):
        water = water_mask(inputs.dem, inputs.ndvi)
        fraction = water_fraction(water, inputs.k, valid=np.isfinite(inputs.dem))
        km = distance_to_water_km(water, *pixel_spacing(inputs.grid, inputs.pixel_size_m))
        return {"water": np.stack([fraction, km], axis=-1).astype(np.float32)}, {}
