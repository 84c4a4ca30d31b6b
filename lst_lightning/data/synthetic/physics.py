"""The physical parameters of the synthetic archive and the formulas that are functions of them
alone (seasonal curves, the sun's position, the large-scale climate offset).

Parameters that differ by band are ``ByBand`` values read by band name, never by position: the
generator once read (day, night) pairs as (night, day), which turned inland continentality
upside down.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from lst_lightning.data.facts.seasons import SEASON_MONTHS
from lst_lightning.data.io.formats import FRAME_BANDS


@dataclass(frozen=True, kw_only=True)
class ByBand:
    """One parameter's value by day and by night, read as ``value["day"]`` or ``value.day``."""

    day: float
    night: float

    def __getitem__(self, band: str) -> float:
        # only band names: an integer index is exactly the mistake this class exists to stop
        if band not in FRAME_BANDS:
            raise KeyError(f"band must be one of {', '.join(FRAME_BANDS)}, got {band!r}")
        return getattr(self, band)


@dataclass(frozen=True)
class Physics:
    """Model parameters. Seasonal ones are (mean, annual amplitude, day of year of the peak)."""

    base_day_k: tuple = (303.0, 11.0, 196)  # sea-level daytime LST at the northern edge
    base_night_k: tuple = (287.0, 8.0, 205)
    south_k_per_deg: ByBand = ByBand(day=1.5, night=0.8)  # warming per degree of latitude south
    inland_k: ByBand = ByBand(day=3.0, night=-2.0)  # continentality far from the sea
    inland_km: float = 25.0
    lapse_day_k_per_km: tuple = (5.0, 1.0, 196)  # cooling with height: 4 (winter) .. 6 (summer)
    lapse_night_k_per_km: tuple = (3.25, 1.75, 196)  # 1.5 (winter inversions) .. 5
    sun_gain_k: float = 18.0  # K per unit change of cos(incidence) against flat ground
    pool_k_per_100m: tuple = (1.0, -0.5, 196)  # cold-air pooling per 100 m below the surroundings
    belt_ratio: float = 0.3  # warm thermal belt above the surroundings, relative to pooling
    tpi_km: float = 4.0  # scale of the topographic position index
    ndvi_day_k: tuple = (9.0, 1.5, 196)  # daytime cooling per NDVI unit
    ndvi_night_k: float = -1.5  # vegetated/moist ground stays slightly warmer at night
    breeze_day_k: tuple = (3.0, 1.5, 196)  # sea-breeze cooling at the coast
    breeze_night_k: float = -1.0  # the sea keeps the coast warmer at night
    breeze_km: float = 8.0
    weather_k: ByBand = ByBand(day=2.0, night=1.5)  # std of the smooth daily anomaly
    weather_km: float = 120.0
    hidden_night_ratio: float = 0.8
    hidden_season_amp: float = 0.15  # hidden contrasts are stronger in summer
    noise_night_ratio: float = 0.8  # night retrievals are less noisy than day ones
    cloud_km: float = 30.0
    cloud_season_amp: float = 0.9  # cloudy winters, clear summers


def seasonal(p: tuple, doy: float) -> float:
    """A (mean, amplitude, peak day) parameter's value on day of year ``doy``."""
    mean, amp, peak = p
    return float(mean + amp * np.cos(2 * np.pi * (doy - peak) / 365.25))


def climate_offset(p: Physics, band: str, south_deg, coast_km) -> np.ndarray:
    """Large-scale LST offset (K, float32) against the northern edge's sea-level climate: warmer
    to the south, and continentality inland (``coast_km`` from the sea; inf = no sea), hotter
    by day and colder by night."""
    inland = 1 - np.exp(-np.asarray(coast_km) / p.inland_km)  # 0 at the coast .. 1 far inland
    return (p.south_k_per_deg[band] * np.asarray(south_deg) + p.inland_k[band] * inland).astype(np.float32)


def sun_vector(doy: int, hour: float, lat: np.ndarray) -> tuple:
    """(east, north, up) unit vector to the sun per latitude (local solar time)."""
    decl = np.radians(23.44) * np.sin(2 * np.pi * (284 + doy) / 365.0)
    ha = np.radians(15.0 * (hour - 12.0))
    phi = np.radians(lat)[:, None]
    east = -np.cos(decl) * np.sin(ha) * np.ones_like(phi)
    north = np.cos(phi) * np.sin(decl) - np.sin(phi) * np.cos(decl) * np.cos(ha)
    up = np.sin(phi) * np.sin(decl) + np.cos(phi) * np.cos(decl) * np.cos(ha)
    return tuple(c.astype(np.float32) for c in (east, north, up))


def season_parameters(p: Physics) -> dict:
    """Seasonal parameters averaged over each season's months (mid-month days), for truth.json."""
    mid = {m: dt.date(2021, m, 15).timetuple().tm_yday for m in range(1, 13)}
    names = {"lapse_k_per_km": {"day": p.lapse_day_k_per_km, "night": p.lapse_night_k_per_km},
             "ndvi_cooling_k_per_unit": {"day": p.ndvi_day_k}, "sea_breeze_k": {"day": p.breeze_day_k},
             "cold_pool_k_per_100m": {"night": p.pool_k_per_100m},
             "base_sea_level_k": {"day": p.base_day_k, "night": p.base_night_k}}
    out = {}
    for season, months in SEASON_MONTHS.items():
        out[season] = {name: {band: round(float(np.mean([seasonal(par, mid[m]) for m in months])), 3)
                              for band, par in bands.items()} for name, bands in names.items()}
    return out
