"""Context from the coarse field: what a downscaling user has around a window besides the window.

Two kinds (the ``context`` feature group, see features.py): the 8 neighbouring windows one window
side away (a 3 x 3 block of coarse pixels) as their mean LST and mean elevation minus the window's
own, and the frame's coarse-scale LST-elevation slope (K/km), a least-squares fit of every valid
window mean on its window-mean elevation: the frame's lapse rate, which changes with the weather.
The fit is shrunk toward 0 where the windows' elevations barely vary (ridge with a prior spread of
``LAPSE_PRIOR_M``): on flat land a slope is noise (hundreds of K/km on St Petersburg's 70 m).
Both use only window means, never the fine (centre) pixels the model predicts.
"""
from __future__ import annotations

import numpy as np

MIN_WINDOWS_FOR_LAPSE = 10  # fewer valid windows in a frame: slope 0 (no information)
LAPSE_PRIOR_M = 50.0  # elevation spread (m) at which the slope is shrunk by half


def frame_lapse(window_mean: np.ndarray, elev_mean: np.ndarray) -> np.ndarray:
    """[T] float32 K/km: per frame of ``window_mean`` [T, H, W], the slope of the finite window
    means on ``elev_mean`` [H, W]: cov / (var + LAPSE_PRIOR_M**2), 0 with too few windows."""
    out = np.zeros(window_mean.shape[0], dtype=np.float32)
    for t, frame in enumerate(window_mean):
        ok = np.isfinite(frame) & np.isfinite(elev_mean)
        if ok.sum() < MIN_WINDOWS_FOR_LAPSE:
            continue
        x, y = elev_mean[ok].astype(np.float64), frame[ok].astype(np.float64)
        x -= x.mean()
        out[t] = np.dot(x, y - y.mean()) / (np.dot(x, x) + x.size * LAPSE_PRIOR_M ** 2) * 1000.0
    return out
