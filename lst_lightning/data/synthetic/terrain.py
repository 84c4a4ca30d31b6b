"""The synthetic archive's static world: terrain (a procedural mini Israel or a given DEM), the
per-pixel fields derived from it, and the static covariates drawn on it (towns, the monthly NDVI
climatology, the persistent field no input reveals)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage, special

from lst_lightning.data.io.grid import Grid
from lst_lightning.data.io.rasters import read_dem
from lst_lightning.data.synthetic.fields import SmoothNoise, fine_noise, standardize
from lst_lightning.data.synthetic.physics import Physics
from lst_lightning.data.synthetic.settings import MIN_SIDE
from lst_lightning.errors import LSTError

# The real Israel LST grid: upper-left corner and pixel size (degrees).
ISRAEL_CORNER = (33.2003, 34.0078)  # lon west, lat north
ISRAEL_PIXEL = (0.0083037, 0.0083102)  # dlon, dlat
ISRAEL_SHAPE = (603, 409)
KM_PER_DEG = 111.32


def israel_grid(shape=ISRAEL_SHAPE) -> Grid:
    """The real grid's corner and pixel size with ``shape`` pixels."""
    return Grid.from_corner(*ISRAEL_CORNER, *ISRAEL_PIXEL, tuple(shape))


# ---------------------------------------------------------------- terrain

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
    elev: np.ndarray  # metres, 0 on sea; at a DEM void its nearest known ground's (for the physics)
    land: np.ndarray  # ground with LST: neither sea nor a DEM void
    normal: tuple  # (east, north, up) unit surface normal
    tpi: np.ndarray  # metres above the ground-only smoothed surroundings
    coast_km: np.ndarray  # distance to the sea (inf with no sea)
    pixel_km: tuple  # (dy, dx)
    void: np.ndarray | None = None  # DEM voids (nodata): ground of unknown height, written as nodata

    @property
    def shape(self) -> tuple[int, int]:
        return self.elev.shape


def build_terrain(elev: np.ndarray, grid: Grid, physics: Physics) -> Terrain:
    """The static fields of a DEM in metres: 0 = sea, NaN = a void (ground of unknown height: no LST
    there, nodata in the written DEM; for the slopes, surroundings and coast around it, its nearest
    known pixel's height; not sea)."""
    void = ~np.isfinite(elev)
    land = ~void & (elev != 0)
    if not land.any():
        raise LSTError("dem: no land pixels (every value is 0, which means sea, or nodata)")
    elev = np.where(void, 0.0, elev)
    if void.any():
        nearest = ndimage.distance_transform_edt(void, return_distances=False, return_indices=True)
        elev = elev[tuple(nearest)]
    ground = land | void
    elev = np.where(ground, elev, 0.0).astype(np.float32)
    dy = grid.dlat * KM_PER_DEG
    dx = grid.dlon * KM_PER_DEG * np.cos(np.radians(grid.lat.mean()))
    dz_drow, dz_dcol = np.gradient(elev.astype(np.float64))
    gx, gy = dz_dcol / (dx * 1000), -dz_drow / (dy * 1000)  # east, north slopes (rows run south)
    norm = np.sqrt(gx ** 2 + gy ** 2 + 1)
    normal = tuple((c / norm).astype(np.float32) for c in (-gx, -gy, np.ones_like(gx)))
    sigma = (physics.tpi_km / dy, physics.tpi_km / dx)
    # ground-only smoothing: the sea's zeros must not make every coastal pixel look like a hilltop
    weight = ndimage.gaussian_filter(ground.astype(np.float64), sigma)
    around = ndimage.gaussian_filter(elev.astype(np.float64), sigma) / np.maximum(weight, 1e-6)
    tpi = np.where(land, elev - around, 0.0).astype(np.float32)
    if ground.all():
        coast_km = np.full(elev.shape, np.inf, dtype=np.float32)
    else:
        coast_km = ndimage.distance_transform_edt(ground, sampling=(dy, dx)).astype(np.float32)
    return Terrain(grid, elev, land, normal, tpi, coast_km, (dy, dx), void)


def load_terrain(dem, shape, seed: int, physics: Physics) -> tuple[Terrain, str]:
    """The terrain of a DEM GeoTIFF (its grid wins over ``shape``), else procedural terrain on
    the real grid's corner and pixel size; and where it came from, for truth.json."""
    if dem is not None:
        elev, grid = read_dem(dem)
        if min(elev.shape) < MIN_SIDE:
            raise LSTError(f"dem {dem}: grid {elev.shape} is too small (< {MIN_SIDE} per side)")
        return build_terrain(elev, grid, physics), str(dem)
    grid = israel_grid(shape)
    elev = procedural_dem(tuple(shape), np.random.default_rng([seed, 7_000_001, 0]))
    return build_terrain(elev, grid, physics), "procedural"


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
    """(2, H, W) night/day (FRAME_BANDS order) persistent fields no input reveals: soil
    moisture/albedo patches and the towns' heat (strongest at night). Unit std over land."""
    soil, soil_night = fine_noise(rng, t.shape, 1.5, t.land), fine_noise(rng, t.shape, 1.5, t.land)
    night = standardize(0.5 * soil + 0.6 * soil_night + 2.0 * towns, t.land)
    day = standardize(soil + 0.8 * towns, t.land)
    return np.stack([night, day])
