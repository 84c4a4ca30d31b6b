"""k x k window statistics with cumulative-sum box filters (never a per-window loop).

A window is *valid* when all k*k pixels are valid and it lies entirely inside the grid; its
centre is then a usable sample. Edge pixels (closer than k//2 to the border) are never valid.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from lst_lightning.errors import LSTError


def check_k(k: int) -> int:
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 3 or k % 2 == 0:
        raise LSTError(f"data.k (window size) must be an odd integer >= 3, got {k!r}")
    return int(k)


def box_sum(values: np.ndarray, k: int) -> np.ndarray:
    """Sum over the k x k window centred on each pixel of the last two axes.

    Returns an array of the interior shape (..., H-k+1, W-k+1): entry [i, j] is the window whose
    top-left pixel is (i, j), i.e. centred on (i + k//2, j + k//2). Integer input stays exact.
    """
    acc = np.int64 if values.dtype.kind in "iub" else np.float64
    c = np.zeros(values.shape[:-2] + (values.shape[-2] + 1, values.shape[-1] + 1), dtype=acc)
    np.cumsum(values, axis=-2, dtype=acc, out=c[..., 1:, 1:])
    np.cumsum(c[..., 1:, 1:], axis=-1, out=c[..., 1:, 1:])
    return c[..., k:, k:] - c[..., :-k, k:] - c[..., k:, :-k] + c[..., :-k, :-k]


def pad_interior(interior: np.ndarray, k: int, fill=np.nan) -> np.ndarray:
    """Place an interior-shaped array (see box_sum) back on the full grid, ``fill`` at the edges."""
    r = k // 2
    shape = interior.shape[:-2] + (interior.shape[-2] + 2 * r, interior.shape[-1] + 2 * r)
    out = np.full(shape, fill, dtype=np.result_type(interior.dtype, np.asarray(fill).dtype))
    out[..., r:shape[-2] - r, r:shape[-1] - r] = interior
    return out


def window_mean_raw(raw: np.ndarray, k: int, scale: float) -> np.ndarray:
    """Window mean in physical units of integer-coded frames (..., H, W) where 0 = missing.

    Float32 with NaN where the window is not fully valid. Sums are exact int64 arithmetic.
    """
    valid = raw != 0
    sums = box_sum(raw, k)
    counts = box_sum(valid, k)
    mean = (sums * (scale / (k * k))).astype(np.float32)
    mean[counts != k * k] = np.nan
    return pad_interior(mean, k)


def window_mean(values: np.ndarray, k: int) -> np.ndarray:
    """Window mean of float frames (..., H, W) with NaN = missing; NaN where not fully valid."""
    valid = np.isfinite(values)
    sums = box_sum(np.where(valid, values, 0.0), k)
    counts = box_sum(valid, k)
    mean = (sums / (k * k)).astype(np.float32)
    mean[counts != k * k] = np.nan
    return pad_interior(mean, k)


def window_patches(values: np.ndarray, k: int) -> np.ndarray:
    """(H, W) -> (H, W, k*k) window values around each pixel (row-major), NaN at the edges."""
    r = k // 2
    h, w = values.shape
    out = np.full((h, w, k * k), np.nan, dtype=np.float32)
    view = sliding_window_view(values.astype(np.float32), (k, k))
    out[r:h - r, r:w - r] = view.reshape(h - 2 * r, w - 2 * r, k * k)
    return out
