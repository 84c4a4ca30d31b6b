"""Group ``landcover``: the window's fraction of each land-cover class (``lc_<code>``, rare classes
and nodata in ``lc_other``), then the centre pixel's class one-hot (``lc_centre_<code>``); see
data/facts/landcover.py. The classes are the cache's (meta ``landcover_classes``); a pool of
archives (data=multi) takes the union of theirs, each archive showing 0 in the classes it lacks."""
from __future__ import annotations

import numpy as np

from lst_lightning.data.facts.landcover import (
    OTHER,
    class_labels,
    column_map,
    landcover_classes,
    landcover_columns,
    union_labels,
)
from lst_lightning.errors import LSTError
from lst_lightning.features.arrays import ArraySpec
from lst_lightning.features.base import FeatureGroup

PREFIX, CENTRE = "lc_", "lc_centre_"


def columns_of(labels) -> tuple[str, ...]:
    return tuple(f"{PREFIX}{c}" for c in labels) + tuple(f"{CENTRE}{c}" for c in labels)


def labels_of(columns) -> list[str]:
    """The class labels of the group's columns (their fraction columns, in order)."""
    return [c[len(PREFIX):] for c in columns if not c.startswith(CENTRE)]


class LandCover(FeatureGroup):
    name = "landcover"
    reads = ("landcover",)
    builds = (ArraySpec("landcover", "pixels", "float32", "the window's fraction of each of the C land-cover "
                        "classes (meta landcover_classes, the last 'other'), then the pixel's own class one-hot"),)
    scaling = "standardize"
    needs = ("landcover", "a land-cover raster")

    def column_names(self, meta):
        return columns_of(meta.get("landcover_classes", ()))

    def pooled_column_names(self, metas):
        labels = [m.get("landcover_classes", ()) for m in metas]
        return columns_of(union_labels(labels)) if any(labels) else ()

    def bind(self, meta, columns):
        """(the layout's columns, the cache column of each: None when they are the cache's own)."""
        own, wanted = list(meta.get("landcover_classes", ())), labels_of(columns)
        source = column_map(own, wanted)
        if source is None:
            raise LSTError(f"features: the layout's land-cover classes {wanted} differ from the cache's {own} "
                           "(the cache's must be among them)")
        # None: the cache's columns are the layout's (a run over this archive alone), no remap per batch
        return tuple(columns), None if np.array_equal(source, np.arange(source.size)) else source

    def compute(self, s, state):
        columns, source = state
        values = s.pixel("landcover")
        if source is not None:  # a pool's union of classes: 0 where this archive lacks one
            src = s.put(source)
            values = s.xp.where(src >= 0, values[:, s.xp.clip(src, 0, None)], s.zero)
        return {name: values[:, j] for j, name in enumerate(columns)}

    def build(self, inputs):
        if inputs.landcover is None:
            return {}, {}
        if inputs.columns is not None:  # a fine tile: the trained layout's classes
            classes = [int(c) for c in labels_of(inputs.columns.get(self.name, ())) if c != OTHER]
        else:
            classes = landcover_classes(inputs.landcover)
        return ({"landcover": landcover_columns(inputs.landcover, classes, inputs.k)},
                {"landcover_classes": class_labels(classes)})
