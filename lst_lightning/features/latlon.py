"""Group ``latlon``: the latitude and longitude of the centre pixel (degrees, the grid's axes)."""
from __future__ import annotations

from lst_lightning.features.base import FeatureGroup


class LatLon(FeatureGroup):
    name = "latlon"
    columns = ("lat", "lon")
    scaling = "normalize"

    def compute(self, s, state):
        return {"lat": s.lat, "lon": s.lon}
