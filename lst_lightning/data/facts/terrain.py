"""Terrain features of a DEM: the window's elevation pattern, slope, aspect and TPI."""
from __future__ import annotations

import numpy as np

from lst_lightning.data.facts.windows import window_mean, window_patches
from lst_lightning.data.io.grid import Grid

M_PER_DEG_LAT = 110_574.0  # metres per degree north-south
M_PER_DEG_LON_EQUATOR = 111_320.0  # east-west at the equator, shrinking with cos(latitude)


def elevation_window(dem: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(window-mean elevation [H, W], each window pixel minus that mean [H, W, k*k], row-major),
    float32, NaN where the window is not fully inside the grid or touches a DEM gap."""
    elev_mean = window_mean(np.asarray(dem, dtype=np.float64), k)
    diffs = window_patches(dem, k)
    diffs -= elev_mean[..., None]
    return elev_mean, diffs


def terrain_features(dem: np.ndarray, k: int) -> np.ndarray:
    """[H, W, 1+k*k] float32: ``elevation_window``'s mean, then its k*k differences."""
    elev_mean, diffs = elevation_window(dem, k)
    return np.concatenate([elev_mean[..., None], diffs], axis=-1)


def terrain_derivatives(dem: np.ndarray, grid: Grid, k: int) -> np.ndarray:
    """[H, W, 4]: slope (deg), sin and cos of aspect (downslope direction, clockwise from north;
    both 0 on flat ground, where aspect is undefined), topographic position index (centre minus
    window mean, m)."""
    lat = np.deg2rad(grid.lat)[:, None]
    dy = grid.dlat * M_PER_DEG_LAT  # metres per pixel north-south
    dx = grid.dlon * M_PER_DEG_LON_EQUATOR * np.cos(lat)  # east-west, shrinking with latitude
    dz_drow, dz_dcol = np.gradient(dem.astype(np.float64))
    dz_dnorth, dz_deast = -dz_drow / dy, dz_dcol / dx
    grad = np.hypot(dz_dnorth, dz_deast)
    slope = np.degrees(np.arctan(grad))
    with np.errstate(invalid="ignore", divide="ignore"):
        # downhill unit vector (east, north) -> sin/cos of the clockwise-from-north angle
        sin_aspect = np.where(grad > 0, -dz_deast / grad, 0.0)
        cos_aspect = np.where(grad > 0, -dz_dnorth / grad, 0.0)
    sin_aspect[np.isnan(grad)] = np.nan
    cos_aspect[np.isnan(grad)] = np.nan
    tpi = dem - window_mean(dem.astype(np.float64), k)
    return np.stack([slope, sin_aspect, cos_aspect, tpi], axis=-1).astype(np.float32)
