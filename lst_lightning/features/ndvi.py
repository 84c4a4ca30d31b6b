"""Group ``ndvi``: the k x k NDVI window around the centre, of the frame's month (12 monthly
layers) or the one static layer; one patch channel."""
from __future__ import annotations

from lst_lightning.features.arrays import ArraySpec
from lst_lightning.features.base import FeatureGroup


class NDVI(FeatureGroup):
    name = "ndvi"
    patch = True
    reads = ("ndvi",)
    builds = (ArraySpec("ndvi", "layers", "float32", "NDVI, M = 1 static or 12 monthly layers"),)
    scaling = "raw"
    needs = ("ndvi", "an NDVI raster")

    def compute(self, s, state):
        flat = s.array("ndvi")  # [M, H*W]
        layer = s.table("month") if flat.shape[0] == 12 else s.xp.zeros_like(s.f)
        return flat[layer[:, None], s.pix[:, None] + s.source.offsets].reshape(s.n, s.k, s.k)

    def build(self, inputs):
        return ({"ndvi": inputs.ndvi}, {}) if inputs.ndvi is not None else ({}, {})
