"""A physically plausible synthetic LST archive, written in the real on-disk formats.

Why: on a fresh machine with no data the whole pipeline (readers -> cache -> training -> report)
runs on this archive, and because we know how it was made we also know the best any model could
do. Each frame is a sum of named components:

* input-visible physics (the *oracle*): seasonal/day-night climatology by latitude and distance
  inland, an elevation lapse rate (by band and season), daytime slope illumination from the sun's
  position at the overpass, night-time cold-air pooling by topographic position, NDVI cooling by
  day, sea-breeze cooling near the coast, and a large-scale smooth daily weather anomaly;
* a spatially correlated, persistent component no input reveals (soil moisture/albedo, towns);
* sensor noise on observed pixels. Cloudy pixels (blobs) hold a smooth gap-filled value
  (the noise-free field) and are flagged in QA, as in the real product.

Magnitudes follow the real Israel DEM (GUIDE.md): the centre-minus-window-mean elevation RMS is
only ~51 m, so a lapse rate explains ~0.26 K of the ~1.1 K daytime target RMS; the defaults give a
January daytime target RMS of ~1.1 K on the real DEM (see ``scripts/calibrate_synthetic.py``).

Outputs under ``out_dir``: ``lst/`` (yearly NetCDF or daily GeoTIFF), ``dem.tif``, ``ndvi.tif``
(12 monthly bands), ``oracle/LST_<year>_oracle.nc`` (the oracle field per frame, same layout and
dates) and ``truth.json`` (parameters and calibration figures).
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage, special

from lst_lightning.data.io import writers
from lst_lightning.data.io.formats import LST_SCALE, OVERPASS_HOUR, qa_code
from lst_lightning.data.windows import box_sum, centre_minus_mean
from lst_lightning.errors import LSTError
from lst_lightning.data.io.grid import Grid

# The real Israel LST grid: upper-left corner and pixel size (degrees).
ISRAEL_CORNER = (33.2003, 34.0078)  # lon west, lat north
ISRAEL_PIXEL = (0.0083037, 0.0083102)  # dlon, dlat
ISRAEL_SHAPE = (603, 409)

DEFAULT_NOISE_K = 0.65
DEFAULT_HIDDEN_K = 0.7
DEFAULT_CLOUD_FRACTION = 0.25
WINDOW_K = 9  # the window of the calibration figures (the project's default k)
MIN_SIDE = 16
YEAR_RANGE = (1980, 2100)
FORMS = ("netcdf", "geotiff")
SEASONS = {"DJF": (12, 1, 2), "MAM": (3, 4, 5), "JJA": (6, 7, 8), "SON": (9, 10, 11)}
BANDS = ("night", "day")
KM_PER_DEG = 111.32


# ---------------------------------------------------------------- parameters

@dataclass(frozen=True)
class Physics:
    """Model parameters. Seasonal ones are (mean, annual amplitude, day of year of the peak)."""

    base_day_k: tuple = (303.0, 11.0, 196)  # sea-level daytime LST at the northern edge
    base_night_k: tuple = (287.0, 8.0, 205)
    south_k_per_deg: tuple = (1.5, 0.8)  # (day, night) warming per degree of latitude south
    inland_k: tuple = (3.0, -2.0)  # (day, night) continentality far from the sea
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
    weather_k: tuple = (2.0, 1.5)  # (day, night) std of the smooth daily anomaly
    weather_km: float = 120.0
    hidden_night_ratio: float = 0.8
    hidden_season_amp: float = 0.15  # hidden contrasts are stronger in summer
    noise_night_ratio: float = 0.8  # night retrievals are less noisy than day ones
    cloud_km: float = 30.0
    cloud_season_amp: float = 0.9  # cloudy winters, clear summers


def seasonal(p: tuple, doy: float) -> float:
    mean, amp, peak = p
    return float(mean + amp * np.cos(2 * np.pi * (doy - peak) / 365.25))


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


# ---------------------------------------------------------------- smooth random fields

class SmoothNoise:
    """Unit-variance smooth random fields as ``A @ Z @ B.T``: Gaussian interpolation of coarse
    white noise. Far cheaper than an FFT per frame (two small matrix products)."""

    def __init__(self, shape: tuple[int, int], spacing_px: float):
        self.a = self._basis(shape[0], spacing_px)
        self.b = self._basis(shape[1], spacing_px)
        var = np.outer((self.a ** 2).sum(1), (self.b ** 2).sum(1))
        self.norm = (1.0 / np.sqrt(var)).astype(np.float32)  # exact unit variance per pixel

    @staticmethod
    def _basis(n: int, spacing: float) -> np.ndarray:
        nodes = np.arange(-2 * spacing, n + 2 * spacing, spacing)
        x = np.arange(n)[:, None]
        return np.exp(-0.5 * ((x - nodes[None]) / spacing) ** 2).astype(np.float32)

    def draw(self, rng: np.random.Generator, count: int = 1) -> np.ndarray:
        z = rng.standard_normal((count, self.a.shape[1], self.b.shape[1]), dtype=np.float32)
        return (self.a @ z @ self.b.T) * self.norm


def fine_noise(rng: np.random.Generator, shape, sigma_px: float, land: np.ndarray) -> np.ndarray:
    """A static fine-scale correlated field with zero mean and unit std over land."""
    f = ndimage.gaussian_filter(rng.standard_normal(shape), sigma_px, mode="reflect")
    return standardize(f, land)


def standardize(f: np.ndarray, land: np.ndarray) -> np.ndarray:
    f = f - f[land].mean()
    return (f / max(float(f[land].std()), 1e-12)).astype(np.float32)


# ---------------------------------------------------------------- terrain

def israel_grid(shape=ISRAEL_SHAPE) -> Grid:
    """The real grid's corner and pixel size with ``shape`` pixels."""
    return Grid.from_corner(*ISRAEL_CORNER, *ISRAEL_PIXEL, tuple(shape))


def procedural_dem(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A mini Israel in grid-fraction coordinates (so tiny grids keep every feature): sea in the
    west behind a NNE-SSW coast that turns west (Sinai) in the south, a N-S ridge, a rift valley
    below sea level in the east with a plateau beyond, a high mountain in the north-east, and
    fractal hills. Metres; 0 = sea."""
    h, w = shape
    v = ((np.arange(h) + 0.5) / h)[:, None]  # 0 north .. 1 south
    u = ((np.arange(w) + 0.5) / w)[None, :]  # 0 west .. 1 east
    wiggle = SmoothNoise(shape, max(h, w) / 8).draw(rng)[0]
    coast = np.interp(v, [0, 0.25, 0.43, 0.55, 0.6, 1], [0.68, 0.53, 0.46, 0.37, -0.05, -0.1]) + 0.012 * wiggle
    ridge_u = np.interp(v, [0, 0.3, 0.5, 0.7, 1], [0.6, 0.59, 0.57, 0.48, 0.42])
    ridge_h = np.interp(v, [0, 0.15, 0.22, 0.4, 0.6, 0.8, 1], [1300, 1000, 450, 950, 600, 900, 700])
    rift_u = np.interp(v, [0, 0.5, 1], [0.72, 0.69, 0.56])
    floor = np.interp(v, [0, 0.12, 0.3, 0.45, 0.6, 0.8, 1], [60, -200, -380, -410, 0, 150, 0])
    inland = u - coast
    elev = 20 + 250 * np.clip(inland / 0.25, 0, 1) + ridge_h * np.exp(-0.5 * ((u - ridge_u) / 0.05) ** 2)
    elev = np.maximum(elev, 950 * special.expit((u - rift_u - 0.05) / 0.015) - 300 * np.clip(u - 0.85, 0, 1))
    in_rift = np.exp(-0.5 * ((u - rift_u) / 0.022) ** 4)  # flat floor, steep walls
    elev = elev * (1 - in_rift) + floor * in_rift
    peak = np.exp(-0.5 * (((u - 0.8) / 0.03) ** 2 + ((v - 0.1) / 0.025) ** 2))
    elev = elev * (1 - peak) + 2500 * peak
    # hills everywhere, rugged escarpments and canyons where the large-scale relief is steep
    # (heavy-tailed like the real DEM: median |centre - window mean| ~12 m, RMS ~50 m), a smooth
    # desert plateau in the far east
    gy, gx = np.gradient(ndimage.gaussian_filter(elev, 1.0))
    steep = np.hypot(gx, gy) * (max(h, w) / 500.0)  # m per pixel at the real grid's scale
    amp = (12 + 0.1 * np.abs(elev) + 6.0 * steep) * (1 - 0.7 * special.expit((u - rift_u - 0.12) / 0.02))
    rough = elev + _roughness(shape, rng) * amp
    rough = np.where(elev > 0, np.maximum(rough, 1), rough)  # below sea level only in the rift
    land = inland > 0
    elev = np.where(land, np.clip(np.rint(rough), -430, 2800), 0.0)
    elev[land & (elev == 0)] = 1.0  # 0 means sea in the DEM convention
    return elev.astype(np.float32)


def _roughness(shape, rng) -> np.ndarray:
    """Fractal hills: octaves of smoothed noise with amplitude growing with scale."""
    total = np.zeros(shape)
    for sigma in (1.0, 2.0, 4.0, 8.0):
        f = ndimage.gaussian_filter(rng.standard_normal(shape), sigma, mode="reflect")
        total += f / f.std() * sigma ** 0.7
    return (total / total.std()).astype(np.float32)


@dataclass
class Terrain:
    """Static per-pixel fields derived once from the DEM."""

    grid: Grid
    elev: np.ndarray  # metres, 0 on sea
    land: np.ndarray
    normal: tuple  # (east, north, up) unit surface normal
    tpi: np.ndarray  # metres above the land-only smoothed surroundings
    coast_km: np.ndarray  # distance to the sea (inf with no sea)
    pixel_km: tuple  # (dy, dx)

    @property
    def shape(self) -> tuple[int, int]:
        return self.elev.shape


def build_terrain(elev: np.ndarray, grid: Grid, physics: Physics) -> Terrain:
    land = np.isfinite(elev) & (elev != 0)
    if not land.any():
        raise LSTError("dem: no land pixels (every value is 0 or nodata, which means sea)")
    elev = np.where(land, elev, 0.0).astype(np.float32)
    dy = grid.dlat * KM_PER_DEG
    dx = grid.dlon * KM_PER_DEG * np.cos(np.radians(grid.lat.mean()))
    dz_drow, dz_dcol = np.gradient(elev.astype(np.float64))
    gx, gy = dz_dcol / (dx * 1000), -dz_drow / (dy * 1000)  # east, north slopes (rows run south)
    norm = np.sqrt(gx ** 2 + gy ** 2 + 1)
    normal = tuple((c / norm).astype(np.float32) for c in (-gx, -gy, np.ones_like(gx)))
    sigma = (physics.tpi_km / dy, physics.tpi_km / dx)
    # land-only smoothing: the sea's zeros must not make every coastal pixel look like a hilltop
    weight = ndimage.gaussian_filter(land.astype(np.float64), sigma)
    around = ndimage.gaussian_filter(elev.astype(np.float64), sigma) / np.maximum(weight, 1e-6)
    tpi = np.where(land, elev - around, 0.0).astype(np.float32)
    if land.all():
        coast_km = np.full(elev.shape, np.inf, dtype=np.float32)
    else:
        coast_km = ndimage.distance_transform_edt(land, sampling=(dy, dx)).astype(np.float32)
    return Terrain(grid, elev, land, normal, tpi, coast_km, (dy, dx))


# ---------------------------------------------------------------- static covariates

def town_mask(t: Terrain, rng) -> np.ndarray:
    """Towns: small blobs, more of them near the coast (~4% of land)."""
    score = fine_noise(rng, t.shape, 1.5, t.land) + 1.5 * np.exp(-t.coast_km / 20.0)
    return t.land & (score > np.quantile(score[t.land], 0.96))


def ndvi_climatology(t: Terrain, towns: np.ndarray, rng) -> np.ndarray:
    """12 monthly NDVI bands (January first), NaN over sea: a wet north and a desert south/east,
    winter-green natural cover, rain-fed fields (green in spring) and irrigated ones (green in
    summer), towns lower. The field patches carry most of the fine-scale contrast."""
    h, w = t.shape
    v = ((np.arange(h) + 0.5) / h)[:, None]
    u = ((np.arange(w) + 0.5) / w)[None, :]
    wet = special.expit(8 * (0.5 - v)) * np.clip(1.25 - u, 0.3, 1) + 0.15 * np.clip(t.elev / 1500, 0, 1)
    texture = fine_noise(rng, t.shape, 1.0, t.land) * (0.02 + 0.04 * wet)
    fields = fine_noise(rng, t.shape, 2.0, t.land) > 1.2 - 1.2 * wet  # more fields where it rains
    irrigated = fields & (fine_noise(rng, t.shape, 3.0, t.land) > 0.6 * wet)
    months = np.arange(1, 13)[:, None, None]
    green = 0.5 * (1 + np.cos(2 * np.pi * (months - 3) / 12))  # natural/rain-fed peak in March
    natural = 0.07 + wet * (0.12 + 0.28 * green)
    rainfed = 0.12 + 0.5 * green
    irrig = 0.45 + 0.2 * np.cos(2 * np.pi * (months - 7) / 12)
    ndvi = np.where(irrigated, irrig, np.where(fields, rainfed, natural)) + texture - 0.12 * towns
    ndvi = np.clip(ndvi, -0.05, 0.9).astype(np.float32)
    ndvi[:, ~t.land] = np.nan
    return ndvi


def hidden_static(t: Terrain, towns: np.ndarray, rng) -> np.ndarray:
    """(2, H, W) night/day persistent fields no input reveals: soil moisture/albedo patches and
    the towns' heat (strongest at night). Unit std over land."""
    soil, soil_night = fine_noise(rng, t.shape, 1.5, t.land), fine_noise(rng, t.shape, 1.5, t.land)
    night = standardize(0.5 * soil + 0.6 * soil_night + 2.0 * towns, t.land)
    day = standardize(soil + 0.8 * towns, t.land)
    return np.stack([night, day])


# ---------------------------------------------------------------- per-frame physics

def sun_vector(doy: int, hour: float, lat: np.ndarray) -> tuple:
    """(east, north, up) unit vector to the sun per latitude (local solar time)."""
    decl = np.radians(23.44) * np.sin(2 * np.pi * (284 + doy) / 365.0)
    ha = np.radians(15.0 * (hour - 12.0))
    phi = np.radians(lat)[:, None]
    east = -np.cos(decl) * np.sin(ha) * np.ones_like(phi)
    north = np.cos(phi) * np.sin(decl) - np.sin(phi) * np.cos(decl) * np.cos(ha)
    up = np.sin(phi) * np.sin(decl) + np.cos(phi) * np.cos(decl) * np.cos(ha)
    return tuple(c.astype(np.float32) for c in (east, north, up))


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
        south = t.grid.lat[0] - t.grid.lat[:, None]
        inland = 1 - np.exp(-t.coast_km / physics.inland_km)
        self.offset = [(physics.south_k_per_deg[i] * south + physics.inland_k[i] * inland).astype(np.float32)
                       for i in range(2)]
        self.coastal = np.exp(-t.coast_km / physics.breeze_km).astype(np.float32)
        self.pool = np.where(t.tpi < 0, t.tpi, physics.belt_ratio * t.tpi).astype(np.float32) / 100.0
        self.year_hidden: dict[int, np.ndarray] = {}

    def hidden(self, year: int) -> np.ndarray:
        """Persistent hidden fields, mostly static with a smaller per-year part."""
        if year not in self.year_hidden:
            rng = np.random.default_rng([self.seed, year, 0])
            extra = np.stack([fine_noise(rng, self.t.shape, 1.5, self.t.land) for _ in BANDS])
            self.year_hidden[year] = ((self.hidden_static + 0.4 * extra) / np.sqrt(1.16)).astype(np.float32)
        return self.year_hidden[year]

    def hidden_term(self, date: dt.date, band: str) -> np.ndarray:
        """The component no input reveals (K), stronger by day and in summer."""
        doy = date.timetuple().tm_yday
        season = 1 + self.p.hidden_season_amp * float(np.cos(2 * np.pi * (doy - 196) / 365.25))
        ratio = self.p.hidden_night_ratio if band == "night" else 1.0
        # a Python float keeps the float32 arithmetic (a NumPy float64 scalar would promote)
        return (self.hidden_k * ratio * season) * self.hidden(date.year)[BANDS.index(band)]

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
            return {"climate": seasonal(p.base_day_k, doy) + self.offset[1],
                    "lapse": -seasonal(p.lapse_day_k_per_km, doy) / 1000.0 * t.elev,
                    "illumination": p.sun_gain_k * (cos_i - su),  # against flat ground
                    "vegetation": -seasonal(p.ndvi_day_k, doy) * ndvi,
                    "coast": -seasonal(p.breeze_day_k, doy) * self.coastal,
                    "weather": p.weather_k[1] * weather}
        return {"climate": seasonal(p.base_night_k, doy) + self.offset[0],
                "lapse": -seasonal(p.lapse_night_k_per_km, doy) / 1000.0 * t.elev,
                "pooling": seasonal(p.pool_k_per_100m, doy) * self.pool,
                "vegetation": -p.ndvi_night_k * ndvi,
                "coast": -p.breeze_night_k * self.coastal,
                "weather": p.weather_k[0] * weather}

    def frames(self, date: dt.date) -> dict:
        """Night and day frames of one date: oracle and archive LST (K; sea pixels hold meaningless
        finite values, masked when written) and the clear-sky (observed) flags."""
        rng = np.random.default_rng([self.seed, date.year, date.timetuple().tm_yday])
        w = self.weather.draw(rng, 2)
        weather = [w[0], 0.6 * w[0] + 0.8 * w[1]]  # night and day anomalies, correlated
        clear = self._clear_sky(rng, date.timetuple().tm_yday)
        noise = rng.standard_normal((2, *self.t.shape), dtype=np.float32)
        out = {"oracle": [], "lst": [], "observed": clear}
        for i, band in enumerate(BANDS):
            oracle = self.visible(date, band, weather[i])
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


# ---------------------------------------------------------------- calibration figures

class Calibration:
    """Per (month, band) sums of squares of the target (centre minus its k x k window mean, over
    windows fully on land), the oracle floor (target minus oracle target), the lapse-rate part
    (-lapse x centre-minus-mean elevation) and the target after removing that part."""

    def __init__(self, t: Terrain, physics: Physics, k: int = WINDOW_K):
        self.k, self.p = k, physics
        if min(t.shape) >= k:
            self.mask = (box_sum(t.land, k) == k * k).astype(np.float64)
            self.dz = centre_minus_mean(t.elev.astype(np.float64), k) * self.mask  # metres, 0 off-mask
        else:
            self.mask = self.dz = np.zeros((0, 0))
        self.valid = np.flatnonzero(self.mask)  # interior indices of the full land windows
        self.n = int(self.valid.size)
        self.dz_sq = float(np.vdot(self.dz, self.dz))
        self.sums = {}  # (month, band) -> [n, target, floor, lapse, after lapse]

    def add(self, date: dt.date, band: str, lst: np.ndarray, oracle: np.ndarray) -> None:
        """One frame; values off the full land windows (e.g. the sea) never enter."""
        if not self.n:
            return
        t = centre_minus_mean(np.stack([lst, lst - oracle]), self.k)
        t *= self.mask
        target, floor = t[0].ravel(), t[1].ravel()
        rate = self.p.lapse_day_k_per_km if band == "day" else self.p.lapse_night_k_per_km
        g = seasonal(rate, date.timetuple().tm_yday) / 1000.0  # lapse part of the target = -g * dz
        tt = float(target @ target)
        after = tt + 2 * g * float(target @ self.dz.ravel()) + g * g * self.dz_sq  # |target + g dz|^2
        acc = self.sums.setdefault((date.month, band), np.zeros(5))
        acc += (self.n, tt, float(floor @ floor), g * g * self.dz_sq, after)

    def table(self) -> dict:
        groups = {"month": {f"{m:02d}": (m,) for m in range(1, 13)}, "season": SEASONS}
        out = {}
        for kind, members in groups.items():
            out[kind] = {}
            for name, months in members.items():
                for band in BANDS:
                    acc = sum((self.sums.get((m, band), np.zeros(5)) for m in months), np.zeros(5))
                    if acc[0]:
                        out[kind].setdefault(name, {})[band] = {
                            "target_rms_k": _rms(acc[1], acc[0]), "oracle_floor_rms_k": _rms(acc[2], acc[0]),
                            "lapse_rms_k": _rms(acc[3], acc[0]), "after_lapse_rms_k": _rms(acc[4], acc[0]),
                            "n_samples": int(acc[0])}
        out["n_valid_windows"] = self.n
        out["elev_centre_minus_mean_rms_m"] = _rms(self.dz_sq, self.n) if self.n else None
        return out


def _rms(sum_sq: float, n: float) -> float:
    return round(float(np.sqrt(sum_sq / n)), 4)


# ---------------------------------------------------------------- writing

def _dates(year: int, day_step: int) -> list[dt.date]:
    ndays = (dt.date(year + 1, 1, 1) - dt.date(year, 1, 1)).days
    return [dt.date(year, 1, 1) + dt.timedelta(days=d) for d in range(0, ndays, day_step)]


def _pack(out: np.ndarray, night: np.ndarray, day: np.ndarray, qa: np.ndarray, land: np.ndarray) -> None:
    """Fill a (4, H, W) uint16 record: night, day, daily mean (0.02 K; 0 = missing, the sea) and QA."""
    for band, kelvin in enumerate((night, day)):
        out[band] = np.rint(np.where(land, kelvin * np.float32(1.0 / LST_SCALE), 0))
    out[2] = (out[0].astype(np.uint32) + out[1]) // 2  # both 0 on the sea
    out[3] = qa


def dem_int16(t: Terrain) -> np.ndarray:
    """The DEM as the real product stores it: int16 metres, 0 = sea. A land pixel that would round
    to 0 becomes +-1 m so readers do not take it for sea."""
    elev = np.clip(np.rint(t.elev), -32767, 32767)
    elev[t.land & (elev == 0)] = np.where(t.elev[t.land & (elev == 0)] < 0, -1, 1)
    elev[~t.land] = 0
    return elev.astype(np.int16)


def _load_terrain(dem, shape, seed: int, physics: Physics) -> tuple[Terrain, str]:
    if dem is not None:
        from lst_lightning.data.io.readers import read_dem

        elev, grid = read_dem(dem)
        if min(elev.shape) < MIN_SIDE:
            raise LSTError(f"dem {dem}: grid {elev.shape} is too small (< {MIN_SIDE} per side)")
        return build_terrain(elev, grid, physics), str(dem)
    grid = israel_grid(shape)
    elev = procedural_dem(tuple(shape), np.random.default_rng([seed, 7_000_001, 0]))
    return build_terrain(elev, grid, physics), "procedural"


def build_climate(*, dem=None, shape=ISRAEL_SHAPE, seed: int = 0, noise_k: float = DEFAULT_NOISE_K,
                  hidden_k: float = DEFAULT_HIDDEN_K, cloud_fraction: float = DEFAULT_CLOUD_FRACTION,
                  physics: Physics | None = None) -> Climate:
    """Terrain, NDVI and hidden fields for a seed: everything ``Climate.frames`` needs."""
    physics = physics or Physics()
    terrain, dem_source = _load_terrain(dem, tuple(shape), seed, physics)
    rng = np.random.default_rng([seed, 7_000_001, 1])
    towns = town_mask(terrain, rng)
    ndvi = ndvi_climatology(terrain, towns, rng)
    climate = Climate(terrain, ndvi, hidden_static(terrain, towns, rng), physics, seed,
                      float(noise_k), float(hidden_k), float(cloud_fraction))
    climate.dem_source = dem_source
    return climate


def generate_archive(out_dir, *, years=(2020,), day_step: int = 1, dem=None, shape=ISRAEL_SHAPE,
                     seed: int = 0, form: str = "netcdf", noise_k: float = DEFAULT_NOISE_K,
                     cloud_fraction: float = DEFAULT_CLOUD_FRACTION, hidden_k: float = DEFAULT_HIDDEN_K,
                     progress: bool = True) -> dict:
    """Write a synthetic archive under ``out_dir`` and return truth.json's dict.

    ``years``: calendar years, each sampled on days 1, 1 + day_step, ... ``dem``: a DEM GeoTIFF to
    use as terrain (its grid replaces ``shape``; 0 or nodata = sea), else procedural terrain on
    the real grid's corner and pixel size with ``shape`` (rows, cols) pixels. ``form``: "netcdf"
    (yearly files) or "geotiff" (daily files). ``noise_k``: daytime sensor noise std (K; night
    x0.8); ``hidden_k``: std of the component no input reveals (K; night x0.8);
    ``cloud_fraction``: mean gap-filled fraction (cloudy winters, clear summers). The result is
    a function of the settings alone: a date's frames do not depend on the other dates.
    Bad settings raise LSTError naming the setting.
    """
    years = tuple(years) if isinstance(years, (list, tuple)) else (years,)
    shape = tuple(shape)
    check_settings(years, day_step, shape, form, noise_k, cloud_fraction, hidden_k)
    out = Path(out_dir)
    _clear_previous(out)
    climate = build_climate(dem=dem, shape=shape, seed=seed, noise_k=noise_k, hidden_k=hidden_k,
                            cloud_fraction=cloud_fraction)
    terrain, physics, ndvi = climate.t, climate.p, climate.ndvi_raw
    grid = terrain.grid
    writers.write_geotiff(out / "dem.tif", grid, dem_int16(terrain))
    writers.write_geotiff(out / "ndvi.tif", grid, ndvi, nodata=float("nan"))
    calib = Calibration(terrain, physics)
    n_frames, cloudy = 0, []
    for year in years:
        n, frac = _write_year(out, climate, calib, year, day_step, form, progress)
        n_frames += n
        cloudy += frac
    truth = {
        "generator": "lst_lightning.data.synthetic", "seed": seed, "years": list(years), "day_step": day_step,
        "form": form, "dem": climate.dem_source, "shape": list(grid.shape),
        "grid": {"west": grid.west, "north": grid.north, "dlon": grid.dlon, "dlat": grid.dlat},
        "n_frames": n_frames, "n_dates": n_frames // 2, "frame_bands": list(BANDS),
        "noise_k": float(noise_k), "hidden_k": float(hidden_k), "cloud_fraction": float(cloud_fraction),
        "noise_std_k": {band: round(climate.noise_std(band), 4) for band in BANDS},
        "hidden_std_k": {band: round(float(hidden_k) * (physics.hidden_night_ratio if band == "night" else 1.0), 4)
                         for band in BANDS},
        "cloudy_fraction_measured": round(float(np.mean(cloudy)), 4) if cloudy else None,
        "land_fraction": round(float(terrain.land.mean()), 4),
        "physics": asdict(physics), "by_season": _season_parameters(physics),
        "oracle": "input-visible physics only: no hidden component, no sensor noise, no gap filling",
        "gap_fill": "cloudy pixels hold the noise-free field (oracle + hidden)",
        "calibration": calib.table(),
    }
    with writers.atomic_path(out / "truth.json") as tmp:
        tmp.write_text(json.dumps(truth, indent=1))
    return truth


def _clear_previous(out: Path) -> None:
    """Regenerating into an earlier synthetic archive replaces it; any other files in lst/ or
    oracle/ (perhaps real data) make us stop rather than mix archives or delete them."""
    old = [p for sub in ("lst", "oracle") if (out / sub).is_dir() for p in (out / sub).iterdir()]
    if not old:
        return
    if not (out / "truth.json").is_file():
        raise LSTError(f"output directory {out} already holds files in lst/ or oracle/ that are not a "
                       "synthetic archive (no truth.json); choose an empty or new directory")
    (out / "truth.json").unlink()  # first, so an interrupted rewrite never looks complete
    for path in old:
        if path.is_file() and path.name.startswith("LST_"):
            path.unlink()


def _write_year(out: Path, climate: Climate, calib: Calibration, year: int, day_step: int,
                form: str, progress: bool) -> tuple[int, list]:
    """Generate and write one year's LST files and oracle file; return (frames, cloudy fractions)."""
    from tqdm import tqdm

    grid, land = climate.t.grid, climate.t.land
    dates = _dates(year, day_step)
    shape = (len(dates), 4, *grid.shape)
    lst_year = np.zeros(shape, np.uint16) if form == "netcdf" else np.zeros((1, *shape[1:]), np.uint16)
    oracle_year = np.zeros(shape, np.uint16)
    oracle_qa = np.where(land, 3, 0).astype(np.uint16)  # the oracle "observes" every land pixel
    n_land = max(int(land.sum()), 1)
    cloudy = []
    for i, date in enumerate(tqdm(dates, desc=f"synthetic {year}", unit="day", disable=not progress)):
        f = climate.frames(date)
        for b, band in enumerate(BANDS):
            calib.add(date, band, f["lst"][b], f["oracle"][b])
        night_obs, day_obs = f["observed"]
        qa = qa_code(day_obs & land, night_obs & land)  # 0 (no observation) on the sea
        cloudy.append(1 - (np.count_nonzero(night_obs & land) + np.count_nonzero(day_obs & land)) / (2 * n_land))
        record = lst_year[i if form == "netcdf" else 0]
        _pack(record, *f["lst"], qa, land)
        _pack(oracle_year[i], *f["oracle"], oracle_qa, land)
        if form == "geotiff":
            writers.write_lst_geotiff_day(out / "lst" / f"LST_{date:%Y_%m_%d}.tif", grid, record)
    doys = np.array([d.timetuple().tm_yday for d in dates])
    if form == "netcdf":
        writers.write_lst_netcdf(out / "lst" / f"LST_{year}_NetCDF.nc", grid, doys, lst_year)
    del lst_year
    writers.write_lst_netcdf(out / "oracle" / f"LST_{year}_oracle.nc", grid, doys, oracle_year)
    return len(dates) * len(BANDS), cloudy


def _season_parameters(p: Physics) -> dict:
    """Seasonal parameters averaged over each season's months (mid-month days)."""
    mid = {m: dt.date(2021, m, 15).timetuple().tm_yday for m in range(1, 13)}
    names = {"lapse_k_per_km": {"day": p.lapse_day_k_per_km, "night": p.lapse_night_k_per_km},
             "ndvi_cooling_k_per_unit": {"day": p.ndvi_day_k}, "sea_breeze_k": {"day": p.breeze_day_k},
             "cold_pool_k_per_100m": {"night": p.pool_k_per_100m},
             "base_sea_level_k": {"day": p.base_day_k, "night": p.base_night_k}}
    out = {}
    for season, months in SEASONS.items():
        out[season] = {name: {band: round(float(np.mean([seasonal(par, mid[m]) for m in months])), 3)
                              for band, par in bands.items()} for name, bands in names.items()}
    return out
