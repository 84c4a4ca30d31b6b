"""Constants of the real LST product (Shiff et al. continuous MODIS Aqua LST, Eastern Mediterranean)."""
from __future__ import annotations

import numpy as np

# LST is stored as integers in units of 0.02 K; 0 marks a missing pixel in our cache.
LST_SCALE = 0.02
LST_FILL = 0
# Physically plausible land surface temperatures; anything else (not a fill) is a broken file.
PLAUSIBLE_K = (150.0, 400.0)

# The data variable of the yearly NetCDF (time, band, y, x), as xarray names an unnamed array.
NETCDF_VARIABLE = "__xarray_dataarray_variable__"

# Both the yearly NetCDF and the daily GeoTIFF store 4 bands: night, day, daily mean, QA.
FRAME_BANDS = ("night", "day")  # the bands that become training frames, in time order
# MODIS Aqua overpasses, local solar time (hours).
OVERPASS_HOUR = {"night": 1.5, "day": 13.5}

# QA codes: 0 no observation day and night, 1 no day observation, 2 no night observation,
# 3 both observed. Gap-filled (cloudy) pixels are model output, not measurements.
QA_OBSERVED = {"night": np.array([0, 1, 0, 1], dtype=bool), "day": np.array([0, 0, 1, 1], dtype=bool)}


def observed(qa: np.ndarray, band: str) -> np.ndarray:
    """True where the frame's band was really observed (not gap-filled) according to QA."""
    return QA_OBSERVED[band][np.clip(qa, 0, 3)]


def qa_code(day_observed: np.ndarray, night_observed: np.ndarray) -> np.ndarray:
    """Inverse of ``observed``: the QA code for per-pixel day/night observation flags."""
    return (day_observed.astype(np.uint8) * 2 + night_observed.astype(np.uint8)).astype(np.uint8)


def kelvin_to_raw(kelvin: np.ndarray) -> np.ndarray:
    """Kelvin (NaN = missing) -> uint16 raw units, 0 where missing."""
    raw = np.zeros(kelvin.shape, dtype=np.uint16)
    ok = np.isfinite(kelvin)
    raw[ok] = np.rint(kelvin[ok] / LST_SCALE).astype(np.uint16)
    return raw


def raw_to_kelvin(raw: np.ndarray) -> np.ndarray:
    """uint16 raw units -> float32 Kelvin with NaN where missing."""
    kelvin = raw.astype(np.float32) * np.float32(LST_SCALE)
    kelvin[raw == LST_FILL] = np.nan
    return kelvin
