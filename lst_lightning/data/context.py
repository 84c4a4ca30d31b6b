"""Context from the coarse field: what a downscaling user has around a window besides the window.

Two kinds (the ``context`` feature group, see features.py): the 8 neighbouring windows one window
side away (a 3 x 3 block of coarse pixels) as their mean LST and mean elevation minus the window's
own, and the frame's coarse-scale LST-elevation slope (K/km), a least-squares fit of every valid
window mean on its window-mean elevation: the frame's lapse rate, which changes with the weather.
Both use only window means, never the fine (centre) pixels the model predicts.
"""
from __future__ import annotations

import numpy as np

MIN_WINDOWS_FOR_LAPSE = 10  # fewer valid windows in a frame: slope 0 (no information)


def frame_lapse(window_mean: np.ndarray, elev_mean: np.ndarray) -> np.ndarray:
    """[T] float32 K/km: per frame of ``window_mean`` [T, H, W], the least-squares slope of the
    finite window means on ``elev_mean`` [H, W] (0 with too few windows or flat ground)."""
    out = np.zeros(window_mean.shape[0], dtype=np.float32)
    for t, frame in enumerate(window_mean):
        ok = np.isfinite(frame) & np.isfinite(elev_mean)
        if ok.sum() < MIN_WINDOWS_FOR_LAPSE:
            continue
        x, y = elev_mean[ok].astype(np.float64), frame[ok].astype(np.float64)
        x -= x.mean()
        var = float(np.dot(x, x))
        if var > 1e-6 * x.size:
            out[t] = np.dot(x, y - y.mean()) / var * 1000.0
    return out
