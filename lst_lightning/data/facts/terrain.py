"""Terrain features of a DEM: the window's elevation pattern, slope, aspect and topographic
position (TPI, at one or several scales).

Distances are metric: ``pixel_spacing`` gives the metres per pixel of a lat/lon grid (or of a
projected grid whose true pixel size is known), ``slope_aspect`` the slope and aspect on it."""
from __future__ import annotations

import numbers

import numpy as np

from lst_lightning.data.facts.windows import window_mean, window_patches
from lst_lightning.data.io.grid import Grid
from lst_lightning.errors import LSTError

M_PER_DEG_LAT = 110_574.0  # metres per degree north-south
M_PER_DEG_LON_EQUATOR = 111_320.0  # east-west at the equator, shrinking with cos(latitude)
TPI_SCALES = (3, 9, 27)  # window sides (px) of topographic_position: hollow, valley, basin


def elevation_window(dem: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(window-mean elevation [H, W], each window pixel minus that mean [H, W, k*k], row-major),
    float32, NaN where the window is not fully inside the grid or touches a DEM gap."""
    elev_mean = window_mean(np.asarray(dem, dtype=np.float64), k)
    diffs = window_patches(dem, k)
    diffs -= elev_mean[..., None]
    return elev_mean, diffs


def terrain_features(dem: np.ndarray, k: int, out: np.ndarray | None = None) -> np.ndarray:
    """[H, W, 1+k*k] float32: ``elevation_window``'s mean, then its k*k differences, in one array
    (``out``, e.g. a memmap, filled in place when given)."""
    h, w = dem.shape
    if out is None:
        out = np.empty((h, w, 1 + k * k), dtype=np.float32)
    out[..., 0] = window_mean(np.asarray(dem, dtype=np.float64), k)
    diffs = window_patches(dem, k, out=out[..., 1:])
    diffs -= out[..., :1]
    return out


def pixel_spacing(grid: Grid, pixel_size_m: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(dy, dx): metres per pixel north-south and east-west, broadcastable to the grid (H, W).

    ``pixel_size_m`` None: from the grid's degrees, dy a scalar and dx (H, 1), shrinking with each
    row's cos(latitude). A number: the true side of a square pixel (e.g. 926.6 m on a MODIS
    sinusoidal grid, whose ``lon`` is only a position proxy), both scalars."""
    if pixel_size_m is not None:
        if (isinstance(pixel_size_m, bool) or not isinstance(pixel_size_m, numbers.Real)
                or not np.isfinite(pixel_size_m) or pixel_size_m <= 0):
            raise LSTError(f"pixel_size_m must be a positive number of metres or null, got {pixel_size_m!r}")
        size = np.float64(pixel_size_m)
        return size, size
    dy = np.float64(grid.dlat * M_PER_DEG_LAT)
    dx = grid.dlon * M_PER_DEG_LON_EQUATOR * np.cos(np.deg2rad(grid.lat))[:, None]
    return dy, dx


def slope_aspect(dem: np.ndarray, dy, dx) -> tuple[np.ndarray, np.ndarray]:
    """Slope and aspect (radians, float64 [H, W]) of a north-up DEM (m) with pixel sizes dy, dx
    in metres (scalars, or dx per row as (H, 1)).

    Slope: 0 (flat) .. pi/2. Aspect: the downslope direction clockwise from north (0 = facing
    north, pi/2 east, pi south), in [0, 2 pi); 0 on flat ground, where it is undefined (harmless
    wherever it is multiplied by sin(slope)). Central differences (one-sided at the border); NaN
    next to a DEM gap."""
    dz_drow, dz_dcol = np.gradient(np.asarray(dem, dtype=np.float64))
    dz_dnorth, dz_deast = -dz_drow / dy, dz_dcol / dx  # rows run north to south
    grad = np.hypot(dz_dnorth, dz_deast)
    slope = np.arctan(grad)
    # the downhill vector (east, north) = -gradient; arctan2(east, north) is clockwise from north
    aspect = np.mod(np.arctan2(-dz_deast, -dz_dnorth), 2 * np.pi)
    aspect[grad == 0] = 0.0
    return slope, aspect


def terrain_derivatives(dem: np.ndarray, grid: Grid, k: int, pixel_size_m: float | None = None) -> np.ndarray:
    """[H, W, 4]: slope (deg), sin and cos of aspect (downslope direction, clockwise from north;
    both 0 on flat ground, where aspect is undefined), topographic position index (centre minus
    window mean, m). ``pixel_size_m``: see ``pixel_spacing`` (None: from the grid's degrees)."""
    slope, aspect = slope_aspect(dem, *pixel_spacing(grid, pixel_size_m))
    flat = slope == 0
    sin_aspect = np.where(flat, 0.0, np.sin(aspect))  # NaN slope (a DEM gap) stays NaN
    cos_aspect = np.where(flat, 0.0, np.cos(aspect))
    sin_aspect[np.isnan(slope)] = np.nan
    cos_aspect[np.isnan(slope)] = np.nan
    tpi = dem - window_mean(dem.astype(np.float64), k)
    return np.stack([np.degrees(slope), sin_aspect, cos_aspect, tpi], axis=-1).astype(np.float32)


def topographic_position(dem: np.ndarray, scales=TPI_SCALES) -> np.ndarray:
    """[H, W, len(scales)] float32 (m): each pixel's elevation minus the mean of the s x s window
    around it, for each scale s (odd, >= 3 px). Negative in hollows and valley floors, where cold
    air pools on clear nights; NaN where the window leaves the grid or touches a DEM gap.

    Cumulative-sum box filters (windows.window_mean): O(H*W) per scale, whatever its size."""
    scales = _check_scales(scales)
    dem64 = np.asarray(dem, dtype=np.float64)
    out = np.empty(dem64.shape + (len(scales),), dtype=np.float32)
    for i, s in enumerate(scales):
        out[..., i] = dem64 - window_mean(dem64, s)
    return out


def _check_scales(scales) -> tuple[int, ...]:
    values = tuple(scales) if isinstance(scales, (list, tuple)) else (scales,)
    if not values or any(isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 3 or s % 2 == 0
                         for s in values):
        raise LSTError(f"topographic position scales must be odd integers >= 3 (pixels), got {scales!r}")
    return tuple(int(s) for s in values)
