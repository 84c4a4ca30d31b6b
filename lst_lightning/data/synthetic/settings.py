"""The generator's settings: calibrated defaults and their validation (LSTError naming the first
bad one, before anything is written)."""
from __future__ import annotations

import numpy as np

from lst_lightning.errors import LSTError

# calibrated on the real Israel DEM: see docs/calibration.md
DEFAULT_NOISE_K = 0.65
DEFAULT_HIDDEN_K = 0.7
DEFAULT_CLOUD_FRACTION = 0.25
MIN_SIDE = 16  # smaller grids lose the terrain's features (coast, ridge, rift)
YEAR_RANGE = (1980, 2100)
FORMS = ("netcdf", "geotiff")


def check_settings(years, day_step, shape, form, noise_k, cloud_fraction, hidden_k) -> None:
    """Raise LSTError naming the first bad setting."""
    if not isinstance(day_step, (int, np.integer)) or isinstance(day_step, bool) or day_step < 1:
        raise LSTError(f"day_step must be an integer >= 1, got {day_step!r}")
    if form not in FORMS:
        raise LSTError(f"form must be one of {', '.join(FORMS)}, got {form!r}")
    years = list(years) if isinstance(years, (list, tuple)) else [years]
    if not years or any(not isinstance(y, (int, np.integer)) or not YEAR_RANGE[0] <= y <= YEAR_RANGE[1]
                        for y in years) or len(set(years)) != len(years):
        raise LSTError(f"years must be distinct integers in {YEAR_RANGE[0]}..{YEAR_RANGE[1]}, got {years!r}")
    if len(shape) != 2 or any(not isinstance(s, (int, np.integer)) or s < MIN_SIDE for s in shape):
        raise LSTError(f"shape must be two integers >= {MIN_SIDE} (rows, cols), got {tuple(shape)!r}")
    for name, value, hi in (("noise_k", noise_k, 20.0), ("hidden_k", hidden_k, 20.0),
                            ("cloud_fraction", cloud_fraction, 0.95)):
        if not isinstance(value, (int, float)) or not 0.0 <= value <= hi:
            raise LSTError(f"{name} must be a number in 0..{hi:g}, got {value!r}")
