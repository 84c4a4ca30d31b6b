"""Group ``doy``: the day of year as sin and cos (one period = 365.25 days)."""
from __future__ import annotations

from lst_lightning.features.base import PeriodicGroup


class DayOfYear(PeriodicGroup):
    name = "doy"
    columns = ("doy_sin", "doy_cos")
    key, period = "doy", 365.25
