"""Context from the coarse field: what a downscaling user has around a window besides the window.

Two kinds (the ``context`` feature group, see features.py): the 8 neighbouring windows one window
side away (a 3 x 3 block of coarse pixels) as their mean LST and mean elevation minus the window's
own, and the frame's coarse-scale LST-elevation slope (K/km), a least-squares fit of every valid
window mean on its window-mean elevation: the frame's lapse rate, which changes with the weather.
The fit is shrunk toward 0 where the windows' elevations barely vary (ridge with a prior spread of
``LAPSE_PRIOR_M``): on flat land a slope is noise (hundreds of K/km on St Petersburg's 70 m).
Both use only window means, never the fine (centre) pixels the model predicts.

A third kind, local and per frame (``local_fit``, for the feature group of that name): LST regressed
on elevation and NDVI together over the coarse pixels around a window, the TsHARP / DisTrad
relation of that place on that day (the NDVI slope follows the soil's moisture), which one slope
for the whole frame cannot carry.
"""
from __future__ import annotations

import numpy as np

MIN_WINDOWS_FOR_LAPSE = 10  # fewer valid windows in a frame: slope 0 (no information)
LAPSE_PRIOR_M = 50.0  # elevation spread (m) at which the slope is shrunk by half
LOCAL_REACH = 2  # the local fit's coarse pixels: the (2R+1)^2 windows one window side apart around a window
NDVI_PRIOR = 0.05  # NDVI spread at which the local NDVI slope is shrunk by half
MIN_WINDOWS_FOR_LOCAL = 5  # fewer valid windows around a window: slopes 0


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


def local_fit(xp, lst, elev_km, ndvi, ok):
    """The local slopes of LST on elevation (K/km) and on NDVI (K per NDVI unit), fitted together by
    least squares over each row of ``lst``, ``elev_km``, ``ndvi`` [n, m] (the window means of the
    m coarse pixels around a sample; ``ok`` where all three are valid): each shrunk toward 0 like
    ``frame_lapse`` (ridge on the centred moments with the prior spreads LAPSE_PRIOR_M and
    NDVI_PRIOR); 0 with fewer than MIN_WINDOWS_FOR_LOCAL valid windows. ``xp``: the arrays'
    namespace (numpy or torch); float64 inside, so host and device agree to float32's last bit."""
    f64 = xp.float64
    w = xp.astype(ok, f64)
    n = xp.sum(w, axis=1)
    count = xp.where(n > 0, n, xp.ones_like(n))

    def centred(values):
        values = xp.where(ok, xp.astype(values, f64), xp.zeros_like(w))
        return (values - (xp.sum(values, axis=1) / count)[:, None]) * w

    y, e, v = centred(lst), centred(elev_km), centred(ndvi)
    moment = lambda a, b: xp.sum(a * b, axis=1) / count  # noqa: E731
    vee = moment(e, e) + (LAPSE_PRIOR_M / 1000.0) ** 2
    vvv = moment(v, v) + NDVI_PRIOR ** 2
    cev, cey, cvy = moment(e, v), moment(e, y), moment(v, y)
    det = vee * vvv - cev * cev  # > 0: the priors make the 2 x 2 system positive definite
    enough = n >= MIN_WINDOWS_FOR_LOCAL
    zero = xp.zeros_like(det)
    lapse = xp.where(enough, (cey * vvv - cvy * cev) / det, zero)
    slope = xp.where(enough, (cvy * vee - cey * cev) / det, zero)
    return xp.astype(lapse, xp.float32), xp.astype(slope, xp.float32)
