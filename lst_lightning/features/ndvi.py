"""Group ``ndvi``: the k x k NDVI window around the centre at the frame's date (12 monthly layers,
interpolated in time) or the one static layer; one patch channel.

A monthly composite stands for the middle of its month: a date between two middles takes the two
layers weighted by how near it is to each (December and January wrap around the year), so NDVI
follows green-up and senescence through a month instead of jumping at its first day. Measured on
h18v04 against the month's layer (docs/research.md): a small gain inside the folds' noise.

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


MONTH_DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.float64)
# the middle of each month, in days since 1 January 00:00 (a non-leap year; a leap day moves it < 1 day)
MONTH_MIDDLES = np.cumsum(MONTH_DAYS) - MONTH_DAYS / 2
DATE_TABLES = ("ndvi_before", "ndvi_after", "ndvi_weight")


def date_layers(doy) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For days of year ``doy`` (1-based): the monthly layers whose middles enclose the day's middle
    (0-based, the earlier one first) and the later one's weight in [0, 1)."""
    t = np.asarray(doy, dtype=np.float64) - 0.5
    # December of the year before, the twelve middles, January of the year after
    middles = np.concatenate([[MONTH_MIDDLES[-1] - 365.0], MONTH_MIDDLES, [MONTH_MIDDLES[0] + 365.0]])
    i = np.searchsorted(middles, t, side="right") - 1
    weight = (t - middles[i]) / (middles[i + 1] - middles[i])
    return (i - 1) % 12, i % 12, weight


def date_tables(frames: list[dict]) -> dict[str, np.ndarray]:
    """The per-frame tables ``at_date`` reads (a group's ``frame_tables``)."""
    before, after, weight = date_layers([f["doy"] for f in frames])
    return dict(zip(DATE_TABLES, (before.astype(np.int64), after.astype(np.int64), weight.astype(np.float32))))


def at_date(s, flat, pix):
    """NDVI of a [M, H*W] array at the samples' dates and the flat pixel indices ``pix`` [n, ...]:
    the two monthly layers around each date blended (M = 12), or the one static layer."""
    if flat.shape[0] != 12:
        return flat[0][pix]
    shape = (-1,) + (1,) * (pix.ndim - 1)
    before, after, weight = (s.table(name).reshape(shape) for name in DATE_TABLES)
    return flat[before, pix] * (1 - weight) + flat[after, pix] * weight


class NDVI(FeatureGroup):
    name = "ndvi"
    patch = True
    reads = ("ndvi",)
    builds = (ArraySpec("ndvi", "layers", "float32", "NDVI, M = 1 static or 12 monthly layers"),)
    scaling = "raw"
    needs = ("ndvi", "an NDVI raster")
    version = 2  # 2: voids filled from the nearest valid pixel

    def frame_tables(self, frames, grid):
        return date_tables(frames)

    def compute(self, s, state):
        return at_date(s, s.array("ndvi"), s.pix[:, None] + s.source.offsets).reshape(s.n, s.k, s.k)

    def build(self, inputs):
        return ({"ndvi": fill_voids(inputs.ndvi)}, {}) if inputs.ndvi is not None else ({}, {})
