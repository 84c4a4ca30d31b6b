"""Land cover as model input: the k x k window's fraction of each class, and the centre pixel's class.

A categorical raster (integer class codes) is static; a window's fractions say what it is made of
and the centre's class (one-hot) what the predicted pixel is, without asking the model to learn an
ordering of arbitrary codes: the target, centre minus window mean, depends on both. Classes covering less than
``MIN_SHARE`` of the raster's pixels share one ``other`` column with nodata: a dozen columns for
real biome maps, none of them almost always 0. A class present in the raster but absent from the
training part only ever shows 0 in training (constant columns are left unscaled): harmless, and
with too little data to learn it from anyway.
"""
from __future__ import annotations

import numpy as np

from lst_lightning.data.facts.windows import box_sum, pad_interior

MIN_SHARE = 0.01  # classes rarer than this share of the raster's pixels go to "other"
OTHER = "other"


def landcover_classes(codes: np.ndarray) -> list[int]:
    """The class codes that get their own column (sorted): those covering at least MIN_SHARE of
    the raster's pixels (nodata, -1, excluded)."""
    values, counts = np.unique(codes[codes >= 0], return_counts=True)
    return [int(v) for v, n in zip(values, counts) if n >= MIN_SHARE * codes.size]


def class_labels(classes: list[int]) -> list[str]:
    """Column labels of the fractions: one per class code, then ``other``."""
    return [str(c) for c in classes] + [OTHER]


def union_labels(label_lists) -> tuple[str, ...]:
    """The column labels of several archives pooled (data=multi): every archive's class codes,
    sorted, then ``other``. An archive shows 0 in the columns of classes it lacks; its own rare
    classes stay in its ``other`` column, as in a run over it alone."""
    codes = sorted({int(c) for labels in label_lists for c in labels if c != OTHER})
    return tuple(str(c) for c in codes) + (OTHER,)


def column_map(cache_labels, layout_labels) -> np.ndarray | None:
    """For each landcover column of a layout (fractions, then centre one-hot, per label): the
    cache's column holding it, -1 for a class the cache lacks (always 0 there); None when the
    cache has a class the layout lacks (its samples would have nowhere to go)."""
    cache_labels, layout_labels = list(cache_labels), list(layout_labels)
    if not set(cache_labels) <= set(layout_labels):
        return None
    own = np.array([cache_labels.index(c) if c in cache_labels else -1 for c in layout_labels])
    centre = np.where(own >= 0, own + len(cache_labels), -1)
    return np.concatenate([own, centre])


def class_fractions(codes: np.ndarray, classes: list[int], k: int) -> np.ndarray:
    """[H, W, len(classes) + 1] float32: the fraction of each class in the k x k window around each
    pixel, then the fraction of every other code and nodata; NaN where the window leaves the grid."""
    h, w = codes.shape
    out = np.empty((h, w, len(classes) + 1), dtype=np.float32)
    for j, c in enumerate(classes):
        out[..., j] = pad_interior(box_sum(codes == c, k) / (k * k), k)
    out[..., -1] = pad_interior(box_sum(~np.isin(codes, classes), k) / (k * k), k)
    return out


def landcover_columns(codes: np.ndarray, classes: list[int], k: int) -> np.ndarray:
    """[H, W, 2 * (len(classes) + 1)] float32: the landcover group's columns in their layout order
    (features.FeatureLayout.group_columns): the window fractions, then the centre's one-hot."""
    return np.concatenate([class_fractions(codes, classes, k), class_one_hot(codes, classes)], axis=-1)


def class_one_hot(codes: np.ndarray, classes: list[int]) -> np.ndarray:
    """[H, W, len(classes) + 1] float32: each pixel's own class as one-hot (last: other / nodata)."""
    index = np.full(codes.shape, len(classes), dtype=np.int64)
    for j, c in enumerate(classes):
        index[codes == c] = j
    return np.eye(len(classes) + 1, dtype=np.float32)[index]
