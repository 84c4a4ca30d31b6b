"""Group ``tod``: the time of day (the band's overpass, local solar hours) as sin and cos."""
from __future__ import annotations

from lst_lightning.features.base import PeriodicGroup


class TimeOfDay(PeriodicGroup):
    name = "tod"
    columns = ("tod_sin", "tod_cos")
    key, period = "hour", 24.0
