"""The model's inputs on a fine tile, in memory, for the same FeatureGatherer that reads a cache.

A tile of the fine grid (plus a halo) becomes a ``TileCache``: the arrays a prepared cache holds,
computed on the fine pixels, so every feature is defined at the fine scale exactly as at 1 km:
the k x k fine window's elevation mean and differences from the fine DEM, its mean LST as the
area-weighted mean of the LST pixels it overlaps (each fine pixel carries its coarse pixel's value;
nested grids make the weights fine-pixel counts), covariates from fine rasters, the coarse-field
context one fine window side away. Only the frame's lapse rate (a property of the frame's weather,
not of a scale) is the run's own, from its cache.

Gaps: a fine pixel is predicted wherever its own input exists (its LST pixel observed, its DEM no
void). A window that reaches into a gap takes the mean LST of the pixels it overlaps that hold a
value; a DEM (or NDVI) void inside it is filled, for the window's inputs only, with the mean of the
valid pixels of the void pixel's own k x k window (``windows.fill_gaps``, never reaching further
than k // 2). The void pixels themselves and missing LST pixels stay fill. Requiring whole windows
instead made a halo of fill k // 2 fine pixels wide around every gap (12 % of a 90 m Pyrenees map
for 5 % missing input) and left slivers and islands between gaps.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from lst_lightning.data.cache.store import ArrayStore
from lst_lightning.data.facts.windows import fill_gaps, window_mean, window_mean_raw
from lst_lightning.data.io.formats import LST_SCALE, raw_to_kelvin
from lst_lightning.data.io.grid import Grid
from lst_lightning.downscale.grids import Nesting
from lst_lightning.features import FeatureLayout, StaticInputs, array_builders, group


class TileCache(ArrayStore):
    """A cache's arrays (features/arrays.py) computed in memory for one tile of a fine grid."""

    def __init__(self, arrays: dict[str, np.ndarray], meta: dict):
        self.arrays, self.meta = arrays, meta

    def array(self, name: str) -> np.ndarray:
        return self.arrays[name]

    def has(self, name: str) -> bool:
        return name in self.arrays


@dataclass
class FineInputs:
    """Everything fine-scale prediction reads, held once: the fine rasters (whole, the largest is
    the DEM: 80 MB for Israel at f = 9) and the chosen coarse frames (raw 0.02 K and QA)."""

    nesting: Nesting
    dem: np.ndarray                  # [Hf, Wf] m, NaN = void
    lst_raw: np.ndarray              # [T, H, W] uint16 coarse LST of the chosen frames, 0 = missing
    qa: np.ndarray                   # [T, H, W] uint8
    frames: list[dict]               # the chosen frames (cache meta entries)
    lapse: np.ndarray                # [T] the run cache's frame lapse rates (K/km)
    layout: FeatureLayout            # the trained model's: which groups to build, their columns
    ndvi: np.ndarray | None = None   # [M, Hf, Wf]
    landcover: np.ndarray | None = None  # [Hf, Wf] int class codes, -1 = nodata
    pixel_size_m: float | None = None  # the fine pixel's true side (m); None: from the grid's degrees

    @property
    def k(self) -> int:
        return self.layout.k

    @cached_property
    def coarse_lst(self) -> np.ndarray:
        """[T, H, W] float32 K of the chosen frames, NaN = missing."""
        return raw_to_kelvin(self.lst_raw)


def fine_inputs_from(cache, picked: list[int], nesting: Nesting, dem: np.ndarray, layout,
                     ndvi: np.ndarray | None = None, landcover: np.ndarray | None = None) -> FineInputs:
    """FineInputs of a run's cache frames ``picked`` on the fine grid of ``nesting``."""
    return FineInputs(nesting=nesting, dem=dem, lst_raw=np.asarray(cache.lst[picked]),
                      qa=np.asarray(cache.qa[picked]), frames=[cache.meta["frames"][f] for f in picked],
                      lapse=np.asarray(cache.frame_lapse[picked], dtype=np.float32), layout=layout,
                      ndvi=ndvi, landcover=landcover, pixel_size_m=fine_pixel_size(cache, nesting))


def fine_pixel_size(cache, nesting: Nesting) -> float | None:
    """The fine pixel's true side (m): the archive's (``data.pixel_size_m``) over the factor."""
    size = cache.meta.get("pixel_size_m")
    return None if size is None else float(size) / nesting.f


def upsample(coarse: np.ndarray, nesting: Nesting, rows: np.ndarray, cols: np.ndarray, fill) -> np.ndarray:
    """[..., len(rows), len(cols)]: each fine pixel's coarse pixel value (``fill`` outside the coarse grid)."""
    h, w = coarse.shape[-2:]
    cr, cc = nesting.coarse_rows(rows), nesting.coarse_cols(cols)
    out = coarse[..., np.clip(cr, 0, h - 1)[:, None], np.clip(cc, 0, w - 1)[None, :]]
    outside = ~(((cr >= 0) & (cr < h))[:, None] & ((cc >= 0) & (cc < w))[None, :])
    out[..., outside] = fill
    return out


def tile_cache(inputs: FineInputs, rows: slice, cols: slice) -> TileCache:
    """The TileCache of fine rows x cols (halo included by the caller): the core arrays, and those
    of the model's feature groups, each built as a cache builds it (features/base.py ``build``),
    from the DEM and NDVI with their voids filled (module docstring: gaps)."""
    k, nesting = inputs.k, inputs.nesting
    r, c = np.arange(rows.start, rows.stop), np.arange(cols.start, cols.stop)
    grid = Grid(lat=nesting.fine.lat[rows], lon=nesting.fine.lon[cols])
    void = ~np.isfinite(inputs.dem[rows, cols])
    dem = fill_gaps(inputs.dem[rows, cols], k)
    raw = upsample(inputs.lst_raw, nesting, r, c, 0)
    elev_mean = window_mean(np.asarray(dem, dtype=np.float64), k)
    # area-weighted: fine pixels are equal parts of coarse ones; over the pixels holding a value
    mean = window_mean_raw(raw, k, LST_SCALE, complete=False)
    mean[(raw == 0) | ~np.isfinite(elev_mean) | void] = np.nan  # no input of its own: fill
    arrays = {"lst": raw, "qa": upsample(inputs.qa, nesting, r, c, 0), "window_mean": mean, "dem": dem,
              "elev_mean": elev_mean, "frame_lapse": inputs.lapse}
    meta = {"k": k, "frames": inputs.frames, "grid": grid.to_json()}
    ndvi = fill_gaps(inputs.ndvi[:, rows, cols], k) if inputs.ndvi is not None else None
    static = StaticInputs(dem, grid, k, ndvi, inputs.landcover[rows, cols] if inputs.landcover is not None else None,
                          columns=inputs.layout.columns, pixel_size_m=inputs.pixel_size_m)
    builders = array_builders()  # only the arrays the model's groups read
    needed = {a for name in inputs.layout.groups for a in group(name).reads if a in builders}
    for builder in dict.fromkeys(builders[a] for a in sorted(needed)):
        built, extra = builder.build(static)
        arrays.update(built)
        meta.update(extra)
    return TileCache(arrays, meta)


def tile_ranges(nesting: Nesting, size: int) -> list[tuple[slice, slice]]:
    """Fine (rows, cols) of each tile: about ``size`` fine pixels a side, rounded to whole coarse
    pixels and cut on coarse pixel edges, so that every coarse pixel lies in one tile."""
    side = max(1, int(size) // nesting.f) * nesting.f

    def cuts(n: int, offset: int) -> list[slice]:
        first, last = offset // side, (n - 1 + offset) // side
        return [slice(max(0, m * side - offset), min(n, (m + 1) * side - offset)) for m in range(first, last + 1)]

    hf, wf = nesting.fine.shape
    return [(r, c) for r in cuts(hf, nesting.row0) for c in cuts(wf, nesting.col0)]


def halo(layout: FeatureLayout) -> int:
    """Fine pixels a tile needs around it: the farthest window a group reads is ``reach`` window
    sides away (at least one: the context's neighbours) and reaches k // 2 further; one more for the
    slope's finite differences; k // 2 more for filling a void there from its own window."""
    k, reach = layout.k, max([1, *(group(name).reach for name in layout.groups)])
    return reach * k + 2 * (k // 2) + 1
