"""k x k window statistics with cumulative-sum box filters (never a per-window loop).

A window is *valid* when all k*k pixels are valid and it lies entirely inside the grid; its
centre is then a usable sample. Edge pixels (closer than k//2 to the border) are never valid,
and on a grid smaller than k in either direction no window is valid.
"""
from __future__ import annotations

import numbers

import numpy as np

from lst_lightning.errors import LSTError

DEFAULT_K = 9  # the project's default window side (data.k in the configs)


def centre_index(k: int) -> int:
    """Index of the centre pixel in a row-major k x k window (flattened)."""
    return k * k // 2


def check_k(k: int) -> int:
    """The window size as an int; LSTError naming ``data.k`` unless it is an odd integer >= 3."""
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 3 or k % 2 == 0:
        raise LSTError(f"data.k (window size) must be an odd integer >= 3, got {k!r}")
    return int(k)


def check_k_fits(k: int, shape: tuple[int, int], what: str = "the LST grid") -> None:
    """LSTError naming ``data.k`` when a k x k window does not fit the grid at all."""
    if k > min(shape):
        raise LSTError(f"data.k={k}: a {k}x{k} window does not fit {what} ({shape[0]}x{shape[1]} pixels)")


def _fits(shape: tuple[int, ...], k: int) -> bool:
    return shape[-2] >= k and shape[-1] >= k


def box_sum(values: np.ndarray, k: int) -> np.ndarray:
    """Sum over the k x k window centred on each pixel of the last two axes.

    Returns an array of the interior shape (..., H-k+1, W-k+1): entry [i, j] is the window whose
    top-left pixel is (i, j), i.e. centred on (i + k//2, j + k//2). Integer input stays exact.
    A grid smaller than k in either direction gives an empty interior.
    """
    values = np.asarray(values)
    acc = np.int64 if values.dtype.kind in "iub" else np.float64
    h, w = values.shape[-2:]
    if not _fits(values.shape, k):
        return np.zeros(values.shape[:-2] + (max(h - k + 1, 0), max(w - k + 1, 0)), dtype=acc)
    c = np.zeros(values.shape[:-2] + (h + 1, w + 1), dtype=acc)
    np.cumsum(values, axis=-2, dtype=acc, out=c[..., 1:, 1:])
    np.cumsum(c[..., 1:, 1:], axis=-1, out=c[..., 1:, 1:])
    return c[..., k:, k:] - c[..., :-k, k:] - c[..., k:, :-k] + c[..., :-k, :-k]


def centre_minus_mean(values: np.ndarray, k: int) -> np.ndarray:
    """Each interior pixel minus the mean of its k x k window (the downscaling target), over the
    last two axes; interior shape as box_sum."""
    r = k // 2
    h, w = values.shape[-2:]
    return values[..., r:h - r, r:w - r] - box_sum(values, k) / (k * k)


def pad_interior(interior: np.ndarray, k: int, fill=np.nan) -> np.ndarray:
    """Place an interior-shaped array (see box_sum) back on the full grid, ``fill`` at the edges."""
    r = k // 2
    shape = interior.shape[:-2] + (interior.shape[-2] + 2 * r, interior.shape[-1] + 2 * r)
    out = np.full(shape, fill, dtype=np.result_type(interior.dtype, fill))  # python fill: keeps float32
    out[..., r:shape[-2] - r, r:shape[-1] - r] = interior
    return out


def _all_invalid(shape: tuple[int, ...]) -> np.ndarray:
    return np.full(shape, np.nan, dtype=np.float32)


def window_mean_raw(raw: np.ndarray, k: int, scale: float, complete: bool = True) -> np.ndarray:
    """Window mean in physical units of integer-coded frames (..., H, W) where 0 = missing.

    Float32 with NaN where the window is not fully valid (``complete=False``: the mean of the
    window's valid pixels, NaN where it has none). Sums are exact int64 arithmetic."""
    raw = np.asarray(raw)
    if not _fits(raw.shape, k):
        return _all_invalid(raw.shape)
    sums, counts = box_sum(raw, k), box_sum(raw != 0, k)
    if complete:  # the cache's arithmetic, bit for bit
        mean = (sums * (scale / (k * k))).astype(np.float32)
        mean[counts != k * k] = np.nan
        return pad_interior(mean, k)
    return pad_interior(_partial_mean(sums * scale, counts), k)


def window_mean(values: np.ndarray, k: int, complete: bool = True) -> np.ndarray:
    """Window mean of float frames (..., H, W) with NaN = missing; NaN where not fully valid
    (``complete=False``: the mean of the window's valid pixels, NaN where it has none)."""
    values = np.asarray(values)
    if not _fits(values.shape, k):
        return _all_invalid(values.shape)
    valid = np.isfinite(values)
    sums, counts = box_sum(np.where(valid, values, 0), k), box_sum(valid, k)
    if complete:
        mean = (sums / (k * k)).astype(np.float32)
        mean[counts != k * k] = np.nan
        return pad_interior(mean, k)
    return pad_interior(_partial_mean(sums, counts), k)


def _partial_mean(sums: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Float32 sums / counts, NaN where the count is 0."""
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (sums / counts).astype(np.float32)
    mean[counts == 0] = np.nan
    return mean


def fill_gaps(values: np.ndarray, k: int) -> np.ndarray:
    """``values`` (..., H, W) with each NaN replaced by the mean of the valid pixels of its own k x k
    window (a local estimate, never reaching further than k // 2); NaN where that window holds
    none, or lies off the grid."""
    values = np.asarray(values, dtype=np.float32)
    gaps = ~np.isfinite(values)
    if not gaps.any():
        return values
    return np.where(gaps, window_mean(values, k, complete=False), values)


def window_patches(values: np.ndarray, k: int, out: np.ndarray | None = None) -> np.ndarray:
    """(H, W) -> (H, W, k*k) window values around each pixel (row-major), NaN at the edges.

    ``out`` (float32, (H, W, k*k)) is filled in place when given, to spare a copy."""
    r = k // 2
    h, w = values.shape
    if out is None:
        out = np.empty((h, w, k * k), dtype=np.float32)
    out[:r], out[h - r:], out[:, :r], out[:, w - r:] = np.nan, np.nan, np.nan, np.nan
    if _fits(values.shape, k):
        for i in range(k):  # one shifted copy per window position: no (H, W, k*k) temporary
            for j in range(k):
                out[r:h - r, r:w - r, i * k + j] = values[i:h - 2 * r + i, j:w - 2 * r + j]
    else:
        out[:] = np.nan
    return out
