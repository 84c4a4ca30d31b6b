"""Group ``ndvi``: the k x k NDVI window around the centre, of the frame's month (12 monthly
layers) or the one static layer; one patch channel.

NDVI voids (NaN: a composite without a value, or no NDVI outside the scenes a raster covers) take
the value of the nearest valid pixel of their layer when the cache is built: a window's inputs are
then finite wherever its LST is (a network cannot learn from a NaN; on the real year h18v04 one
observed pixel has no NDVI in any month)."""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from lst_lightning.features.arrays import ArraySpec
from lst_lightning.features.base import FeatureGroup


def fill_voids(layers: np.ndarray) -> np.ndarray:
    """[M, H, W] float32: each layer's NaN pixels set to its nearest valid pixel's value (a layer
    without any value stays NaN)."""
    out = np.array(layers, dtype=np.float32)
    for layer in out:
        missing = np.isnan(layer)
        if missing.any() and not missing.all():
            nearest = ndimage.distance_transform_edt(missing, return_distances=False, return_indices=True)
            layer[...] = layer[tuple(nearest)]
    return out


def frame_layer(s, flat):
    """Each sample's layer of a [M, H*W] NDVI array: its frame's month (M = 12) or the static one."""
    return s.table("month") if flat.shape[0] == 12 else s.xp.zeros_like(s.f)


class NDVI(FeatureGroup):
    name = "ndvi"
    patch = True
    reads = ("ndvi",)
    builds = (ArraySpec("ndvi", "layers", "float32", "NDVI, M = 1 static or 12 monthly layers"),)
    scaling = "raw"
    needs = ("ndvi", "an NDVI raster")
    version = 2  # 2: voids filled from the nearest valid pixel

    def compute(self, s, state):
        flat = s.array("ndvi")  # [M, H*W]
        layer = frame_layer(s, flat)
        return flat[layer[:, None], s.pix[:, None] + s.source.offsets].reshape(s.n, s.k, s.k)

    def build(self, inputs):
        return ({"ndvi": fill_voids(inputs.ndvi)}, {}) if inputs.ndvi is not None else ({}, {})
