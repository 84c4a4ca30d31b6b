"""Group ``local_fit``: the coarse field's own regression around the window, per frame.

Over the (2R+1)^2 windows one window side apart around the sample's window (R = LOCAL_REACH: 5 x 5
coarse pixels, what a coarse sensor sees there), the window-mean LST regressed on window-mean
elevation and NDVI together (data/facts/context.py ``local_fit``): ``local_lapse`` (K/km) and
``local_ndvi_slope`` (K per NDVI unit), and what they say of the centre pixel, the slope times its
departure from its window: ``local_elev_part`` (K, from the centre's elevation minus the window
mean) and ``local_ndvi_part`` (K, from its NDVI minus the window's). The NDVI-LST relation changes
with the day's soil moisture and from place to place; the 1 km NDVI patch alone cannot say how
strongly it acts on a given frame. Label-free: only window means enter the fit.

It does not carry one scale down (``transfers = False``): one scale up on h18v04 (lst-scale-check,
f = 3, 5 folds) lightgbm with it scored 6.2 % worse at 1 km than without it (decided), while it
helps at the scale it was trained at. The 5 x 5 windows span another area at each scale, and below
the archive's scale the window means are the coarse LST's, smooth, so the fitted slopes shrink.
"""
from __future__ import annotations

import numpy as np

from lst_lightning.data.facts.context import LOCAL_REACH, local_fit
from lst_lightning.data.facts.windows import window_mean
from lst_lightning.features.arrays import ArraySpec
from lst_lightning.features.base import FeatureGroup
from lst_lightning.features.ndvi import fill_voids, frame_layer


class LocalFit(FeatureGroup):
    name = "local_fit"
    columns = ("local_lapse", "local_ndvi_slope", "local_elev_part", "local_ndvi_part")
    reads = ("window_mean", "elev_mean", "dem", "ndvi", "ndvi_mean")
    builds = (ArraySpec("ndvi_mean", "layers", "float32", "k x k window-mean NDVI per layer (voids filled as "
                        "the ndvi group's); NaN where the window leaves the grid"),)
    scaling = "standardize"
    needs = ("ndvi", "an NDVI raster")
    reach = LOCAL_REACH
    transfers = False

    def compute(self, s, state):
        xp = s.xp
        steps = np.arange(-self.reach, self.reach + 1)
        dr, dc = (s.put(a.ravel()) for a in np.meshgrid(steps, steps, indexing="ij"))
        rows, cols, inside = s.windows_away(dr, dc)  # [n, m] window centres
        pix = rows * s.width + cols
        ndvi_mean = s.array("ndvi_mean")
        layer = frame_layer(s, ndvi_mean)
        lst = s.array("window_mean")[s.f[:, None], rows, cols]
        elev, ndvi = s.array("elev_mean")[pix], ndvi_mean[layer[:, None], pix]
        ok = inside & xp.isfinite(lst) & xp.isfinite(elev) & xp.isfinite(ndvi)
        lapse, slope = local_fit(xp, lst, elev / 1000.0, ndvi, ok)
        dz = (s.pixel("dem") - s.pixel("elev_mean")) / 1000.0
        dn = s.array("ndvi")[layer, s.pix] - ndvi_mean[layer, s.pix]
        part = lambda a, b: xp.where(xp.isfinite(b), a * b, s.zero)  # noqa: E731
        return {"local_lapse": lapse, "local_ndvi_slope": slope,
                "local_elev_part": s.float32(part(lapse, dz)), "local_ndvi_part": s.float32(part(slope, dn))}

    def build(self, inputs):
        if inputs.ndvi is None:
            return {}, {}
        filled = fill_voids(inputs.ndvi)
        return {"ndvi_mean": window_mean(filled.astype(np.float64), inputs.k)}, {}
