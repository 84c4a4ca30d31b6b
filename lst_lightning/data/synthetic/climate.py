"""The frames of any date: the input-visible physics (the oracle), the hidden component, sensor
noise and cloud gaps, deterministic for (seed, year, day of year)."""
from __future__ import annotations

import datetime as dt

import numpy as np
from scipy import special

from lst_lightning.data.io.formats import FRAME_BANDS, OVERPASS_HOUR
from lst_lightning.data.synthetic.fields import SmoothNoise, fine_noise
from lst_lightning.data.synthetic.physics import Physics, climate_offset, seasonal, sun_vector
from lst_lightning.data.synthetic.settings import DEFAULT_CLOUD_FRACTION, DEFAULT_HIDDEN_K, DEFAULT_NOISE_K
from lst_lightning.data.synthetic.terrain import (
    ISRAEL_SHAPE,
    Terrain,
    hidden_static,
    load_terrain,
    ndvi_climatology,
    town_mask,
)


class Climate:
    """Everything needed to make the frames of any date, deterministic for (seed, year, doy)."""

    def __init__(self, t: Terrain, ndvi: np.ndarray, hidden: np.ndarray, physics: Physics,
                 seed: int, noise_k: float, hidden_k: float, cloud_fraction: float):
        self.t, self.p, self.seed = t, physics, seed
        self.ndvi_raw, self.ndvi = ndvi, np.nan_to_num(ndvi)
        self.dem_source = "procedural"
        self.hidden_static = hidden
        self.noise_k, self.hidden_k, self.cloud_fraction = noise_k, hidden_k, cloud_fraction
        px_km = min(t.pixel_km)
        self.weather = SmoothNoise(t.shape, physics.weather_km / px_km)
        # clouds: blobs, kept smaller than the grid so small archives still have partial cover
        blob = min(physics.cloud_km / px_km, min(t.shape) / 4)
        self.cloud_big, self.cloud_small = SmoothNoise(t.shape, blob), SmoothNoise(t.shape, max(blob / 4, 1.0))
        south = t.grid.lat[0] - t.grid.lat[:, None]  # degrees south of the northern edge
        self.offset = {band: climate_offset(physics, band, south, t.coast_km) for band in FRAME_BANDS}
        self.coastal = np.exp(-t.coast_km / physics.breeze_km).astype(np.float32)
        self.pool = np.where(t.tpi < 0, t.tpi, physics.belt_ratio * t.tpi).astype(np.float32) / 100.0
        self.year_hidden: dict[int, np.ndarray] = {}

    def hidden(self, year: int) -> np.ndarray:
        """Persistent hidden fields, mostly static with a smaller per-year part."""
        if year not in self.year_hidden:
            rng = np.random.default_rng([self.seed, year, 0])
            extra = np.stack([fine_noise(rng, self.t.shape, 1.5, self.t.land) for _ in FRAME_BANDS])
            self.year_hidden[year] = ((self.hidden_static + 0.4 * extra) / np.sqrt(1.16)).astype(np.float32)
        return self.year_hidden[year]

    def hidden_term(self, date: dt.date, band: str) -> np.ndarray:
        """The component no input reveals (K), stronger by day and in summer."""
        doy = date.timetuple().tm_yday
        season = 1 + self.p.hidden_season_amp * float(np.cos(2 * np.pi * (doy - 196) / 365.25))
        ratio = self.p.hidden_night_ratio if band == "night" else 1.0
        # a Python float keeps the float32 arithmetic (a NumPy float64 scalar would promote)
        return (self.hidden_k * ratio * season) * self.hidden(date.year)[FRAME_BANDS.index(band)]

    def noise_std(self, band: str) -> float:
        return self.noise_k * (self.p.noise_night_ratio if band == "night" else 1.0)

    def visible(self, date: dt.date, band: str, weather: np.ndarray) -> np.ndarray:
        """The oracle: LST (K) from the input-visible physics for one frame."""
        return sum(self.components(date, band, weather).values()).astype(np.float32)

    def components(self, date: dt.date, band: str, weather: np.ndarray) -> dict:
        """The input-visible terms of one frame (K; arrays or scalars), by name."""
        p, t, doy = self.p, self.t, date.timetuple().tm_yday
        ndvi = self.ndvi[date.month - 1]
        if band == "day":
            se, sn, su = sun_vector(doy, OVERPASS_HOUR["day"], t.grid.lat)
            cos_i = np.maximum(t.normal[0] * se + t.normal[1] * sn + t.normal[2] * su, 0)
            return {"climate": seasonal(p.base_day_k, doy) + self.offset["day"],
                    "lapse": -seasonal(p.lapse_day_k_per_km, doy) / 1000.0 * t.elev,
                    "illumination": p.sun_gain_k * (cos_i - su),  # against flat ground
                    "vegetation": -seasonal(p.ndvi_day_k, doy) * ndvi,
                    "coast": -seasonal(p.breeze_day_k, doy) * self.coastal,
                    "weather": p.weather_k["day"] * weather}
        return {"climate": seasonal(p.base_night_k, doy) + self.offset["night"],
                "lapse": -seasonal(p.lapse_night_k_per_km, doy) / 1000.0 * t.elev,
                "pooling": seasonal(p.pool_k_per_100m, doy) * self.pool,
                "vegetation": -p.ndvi_night_k * ndvi,
                "coast": -p.breeze_night_k * self.coastal,
                "weather": p.weather_k["night"] * weather}

    def frames(self, date: dt.date) -> dict:
        """Night and day frames of one date: oracle and archive LST (K; sea pixels hold meaningless
        finite values, masked when written) and the clear-sky (observed) flags, each a list in
        FRAME_BANDS order."""
        rng = np.random.default_rng([self.seed, date.year, date.timetuple().tm_yday])
        w = self.weather.draw(rng, 2)
        weather = {"night": w[0], "day": 0.6 * w[0] + 0.8 * w[1]}  # correlated anomalies
        clear = self._clear_sky(rng, date.timetuple().tm_yday)
        noise = rng.standard_normal((2, *self.t.shape), dtype=np.float32)
        out = {"oracle": [], "lst": [], "observed": clear}
        for i, band in enumerate(FRAME_BANDS):
            oracle = self.visible(date, band, weather[band])
            smooth = oracle + self.hidden_term(date, band)
            # cloudy pixels: the gap-filled (noise-free) value; clear ones: a noisy retrieval
            out["oracle"].append(oracle)
            out["lst"].append(np.where(clear[i], smooth + self.noise_std(band) * noise[i], smooth))
        return out

    def _clear_sky(self, rng, doy: int) -> np.ndarray:
        """(2, H, W) night/day clear-sky flags: thresholded smooth fields (cloud blobs)."""
        p = self.p
        mean = self.cloud_fraction * (1 + p.cloud_season_amp * np.cos(2 * np.pi * (doy - 15) / 365.25))
        frac = np.clip(mean * (0.3 + 1.4 * rng.random(2)), 0.0, 0.95)  # day-to-day variation, same mean
        big, small = self.cloud_big.draw(rng, 3), self.cloud_small.draw(rng, 2)
        field = [0.9 * big[0] + 0.44 * small[0], 0.9 * (0.6 * big[0] + 0.8 * big[1]) + 0.44 * small[1]]
        del big
        thresh = special.ndtri(np.clip(1 - frac, 1e-9, 1 - 1e-9))  # fields have unit variance
        return np.stack([f <= th for f, th in zip(field, thresh)])


def build_climate(*, dem=None, shape=ISRAEL_SHAPE, seed: int = 0, noise_k: float = DEFAULT_NOISE_K,
                  hidden_k: float = DEFAULT_HIDDEN_K, cloud_fraction: float = DEFAULT_CLOUD_FRACTION,
                  physics: Physics | None = None) -> Climate:
    """Terrain, NDVI and hidden fields for a seed: everything ``Climate.frames`` needs."""
    physics = physics or Physics()
    terrain, dem_source = load_terrain(dem, tuple(shape), seed, physics)
    rng = np.random.default_rng([seed, 7_000_001, 1])
    towns = town_mask(terrain, rng)
    ndvi = ndvi_climatology(terrain, towns, rng)
    climate = Climate(terrain, ndvi, hidden_static(terrain, towns, rng), physics, seed,
                      float(noise_k), float(hidden_k), float(cloud_fraction))
    climate.dem_source = dem_source
    return climate
