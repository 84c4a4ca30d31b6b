"""What a feature group is: one idea of the model's input, declared in one module.

A group declares its name, its columns (scalar columns, or one k x k patch channel), the cache
arrays it reads and the ones it builds (``builds``, made by ``build`` from the static inputs of a
grid: the same function makes them for a 1 km cache and for a tile of a finer grid), its
per-frame tables, its default scaling, the optional input it needs (``needs``), and its
computation for a batch of samples (``compute``). The computation is written once for numpy and
torch: ``Samples.xp`` is the array namespace (array-api-compat) of the arrays it indexes, host
memmaps or tensors on a training device, so the host and device gathers cannot drift apart.

``lst_lightning/features/__init__.py`` holds the registry (``register``); the gatherers, the
cache builder, fine-scale tiles, scaling, importance, ablation and the MLflow Model iterate it.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from lst_lightning.data.io.grid import Grid
from lst_lightning.features.arrays import ArraySpec


@dataclass
class StaticInputs:
    """What the static arrays of a grid are built from: the 1 km archive's (cache build) or a fine
    tile's (fine-scale prediction)."""

    dem: np.ndarray                       # [H, W] m, NaN = void
    grid: Grid
    k: int
    ndvi: np.ndarray | None = None        # [M, H, W], M = 1 static or 12 monthly
    landcover: np.ndarray | None = None   # [H, W] int class codes, -1 = nodata
    columns: dict | None = None           # a trained layout's columns per group (fine tiles), else None
    pixel_size_m: float | None = None     # true pixel side (m); None = from the grid's degrees


class FeatureGroup:
    """Base class of the feature groups. Subclasses set the class attributes and ``compute``."""

    name: str = ""
    patch: bool = False                 # one k x k image channel; else scalar columns
    columns: tuple[str, ...] = ()       # the scalar columns (fixed ones; see ``column_names``)
    reads: tuple[str, ...] = ()         # cache arrays read by ``compute``
    builds: tuple[ArraySpec, ...] = ()  # static arrays this group adds to a cache (``build``)
    scaling: str = "standardize"        # default scaling method (data/loading/scaling.py)
    needs: tuple[str, str] | None = None  # (data.<key>, what it is) of the optional input it requires
    version: int = 1                    # bump when ``build`` writes other values: caches are rebuilt
    reach: int = 0                      # how many window sides away from its window it reads (a tile's halo)
    transfers: bool = True              # False: measured not to carry one scale down (lst-predict fine_dem warns)

    def column_names(self, meta: dict) -> tuple[str, ...]:
        """The group's scalar columns on a cache with metadata ``meta`` (none for a patch group)."""
        return () if self.patch else tuple(self.columns)

    def pooled_column_names(self, metas: list[dict]) -> tuple[str, ...]:
        """The columns over several archives pooled (data=multi)."""
        return self.column_names(metas[0])

    def available(self, inputs: set[str]) -> bool:
        """Whether an archive providing the optional ``inputs`` (data.ndvi, ...) can give this group."""
        return self.needs is None or self.needs[0] in inputs

    def frame_tables(self, frames: list[dict], grid: Grid) -> dict[str, np.ndarray]:
        """Tables the computation reads (``Samples.array``), per frame [T] or per frame and row
        [T, H] (``Samples.frame_row``), from the frames' metadata (date, doy, hour, band) and the
        grid (e.g. each row's latitude)."""
        return {}

    def bind(self, meta: dict, columns: tuple[str, ...]):
        """Check that a cache with ``meta`` can give ``columns``; return what ``compute`` needs to know
        of that cache (None by default)."""
        return None

    def compute(self, s: "Samples", state):
        """Scalar group: {column: [n] array}; patch group: [n, k, k] array. ``state``: from ``bind``."""
        raise NotImplementedError

    def build(self, inputs: StaticInputs) -> tuple[dict[str, np.ndarray], dict]:
        """The arrays of ``builds`` on the grid of ``inputs``, and metadata to keep with them."""
        return {}, {}


class PeriodicGroup(FeatureGroup):
    """A frame's periodic quantity (``key`` of its metadata, ``period`` its cycle) as sin and cos:
    the two columns of ``columns``, in that order; already in [-1, 1], so unscaled by default."""

    key: str = ""
    period: float = 1.0
    scaling = "raw"

    def frame_tables(self, frames, grid):
        angle = 2 * np.pi * np.array([f[self.key] for f in frames], dtype=np.float64) / self.period
        return dict(zip(self.columns, (np.sin(angle).astype(np.float32), np.cos(angle).astype(np.float32))))

    def compute(self, s, state):
        return {name: s.table(name) for name in self.columns}


class Samples:
    """A batch of samples (frame, row, col) as a group's computation sees it.

    ``source`` holds the arrays in the form their kind says (data/loading/gatherer.py
    ``ArraySource``: ``pixels`` arrays flattened to [H*W, ...], ``layers`` to [M, H*W]) and the frame
    tables, all in one array namespace ``xp``; ``f``, ``r``, ``c`` are index arrays of that namespace."""

    def __init__(self, source, f, r, c):
        self.source, self.xp = source, source.xp
        self.f, self.r, self.c = f, r, c
        self.k, self.height, self.width = source.k, source.height, source.width
        self.pix = r * self.width + c
        self._at: dict[str, object] = {}

    @property
    def n(self) -> int:
        return int(self.f.shape[0])

    def array(self, name: str):
        """A whole array (or frame table) as the source holds it."""
        return self.source.array(name)

    def once(self, key: str, make):
        """``make()``, computed once per batch (what several groups read)."""
        if key not in self._at:
            self._at[key] = make()
        return self._at[key]

    def at(self, name: str):
        """A ``frames`` array at the samples, float32 [n] (read once per batch)."""
        return self.once(name, lambda: self.float32(self.source.array(name)[self.f, self.r, self.c]))

    def pixel(self, name: str):
        """A ``pixels`` array at the samples' pixels: [n] or [n, C]."""
        return self.source.array(name)[self.pix]

    def table(self, name: str):
        """A per-frame table (``table`` array or a group's frame table) at the samples' frames, [n]."""
        return self.source.array(name)[self.f]

    def frame_row(self, name: str):
        """A per-frame-and-row table [T, H] at the samples' frames and rows, [n]."""
        return self.source.array(name)[self.f, self.r]

    def windows_away(self, dr, dc):
        """The centres of the windows ``dr``, ``dc`` window sides away from each sample's (ints, or
        [m] arrays giving [n, m]): (rows, cols) clipped to the grid, and whether each lies on it."""
        rows, cols = self.r[..., None] + dr * self.k, self.c[..., None] + dc * self.k
        if not hasattr(dr, "shape"):  # one window for every sample: [n]
            rows, cols = rows[..., 0], cols[..., 0]
        h, w, xp = self.height, self.width, self.xp
        inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
        return xp.clip(rows, 0, h - 1), xp.clip(cols, 0, w - 1), inside

    def window(self, flat):
        """The k x k window around each sample of a flattened static layer ``flat`` [H*W], [n, k, k]."""
        return flat[self.pix[:, None] + self.source.offsets].reshape(self.n, self.k, self.k)

    @cached_property
    def lat(self):
        return self.source.lat[self.r]

    @cached_property
    def lon(self):
        return self.source.lon[self.c]

    @cached_property
    def zero(self):
        return self.source.zero

    def float32(self, values):
        return self.xp.astype(values, self.xp.float32, copy=False)

    def put(self, values: np.ndarray):
        """A small numpy array (a group's state) in the source's namespace and device."""
        return self.source.put(values)
