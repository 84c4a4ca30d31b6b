"""Obviously correct per-window loops, the references of the box-filter window statistics."""
from __future__ import annotations

import numpy as np


def brute_window_mean(frames: np.ndarray, k: int, scale: float = 1.0, missing_zero: bool = True) -> np.ndarray:
    """Per-window Python loop: the obviously correct reference."""
    t, h, w = frames.shape
    r = k // 2
    out = np.full((t, h, w), np.nan)
    for f in range(t):
        for i in range(r, h - r):
            for j in range(r, w - r):
                win = frames[f, i - r:i + r + 1, j - r:j + r + 1].astype(np.float64)
                ok = (win != 0) if missing_zero else np.isfinite(win)
                if ok.all():
                    out[f, i, j] = win.mean() * scale
    return out


def brute_terrain(dem: np.ndarray, k: int) -> np.ndarray:
    h, w = dem.shape
    r = k // 2
    out = np.full((h, w, 1 + k * k), np.nan)
    for i in range(r, h - r):
        for j in range(r, w - r):
            win = dem[i - r:i + r + 1, j - r:j + r + 1].astype(np.float64)
            if np.isfinite(win).all():
                m = win.mean()
                out[i, j, 0] = m
                out[i, j, 1:] = (win - m).ravel()
    return out


def assert_nan_equal(actual, expected, atol):
    actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected))
    ok = ~np.isnan(expected)
    np.testing.assert_allclose(actual[ok], expected[ok], rtol=0, atol=atol)
