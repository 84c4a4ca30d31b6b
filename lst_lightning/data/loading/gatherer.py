"""Gatherers: (frame, row, col) index arrays in, batches out (features/layout.py), every feature
group computed for the whole batch at once (no per-sample ``__getitem__`` + collate).

``Gatherer`` is the interface every consumer relies on (samplers, data modules, baselines,
metrics, the MLflow Model); ``FeatureGatherer`` reads one archive's cache (or a fine tile's
``TileCache``), ``data/loading/multi.py`` ``MultiGatherer`` several archives. A ``FeatureGatherer``
reads its arrays through an ``ArraySource``: the cache's memmaps on the host (numpy), or
(``on(device)``, ``data.loader.device_resident=true``) copies on a torch device, gathered there with
tensor indexing: no DataLoader workers, no host-to-device copy per batch. Both run the same
group computations (array-api-compat namespaces), so a seed gives the same batches on both.

Device memory: about 7 bytes per pixel and frame (float32 window mean, LST widened to int32, uint8
QA) plus the static layers: the 19-year Israel archive (13,900 frames) needs about 24 GB.
"""
from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
import torch
from array_api_compat import array_namespace

from lst_lightning.data.cache.store import ArrayStore, array_kind
from lst_lightning.data.io.formats import FRAME_BANDS, LST_SCALE, QA_OBSERVED
from lst_lightning.errors import LSTError
from lst_lightning.features import FeatureLayout, Samples, group

# rows: band index in FRAME_BANDS; columns: QA code -> observed?
OBSERVED_TABLE = np.stack([QA_OBSERVED[b] for b in FRAME_BANDS])
CORE_READS = ("window_mean", "lst", "qa")


def layout_for(cache: ArrayStore, groups) -> FeatureLayout:
    """The feature layout of ``groups`` on this cache (its k and data-dependent columns)."""
    return FeatureLayout(k=cache.k, groups=tuple(groups), meta=cache.meta)


def pool_layout(caches: dict, groups) -> FeatureLayout:
    """The feature layout of ``groups`` over a pool of archives (data=multi), e.g. land cover as the
    union of the archives' classes, so archives of different biomes pool."""
    return FeatureLayout.pooled(next(iter(caches.values())).k, groups, [c.meta for c in caches.values()])


def to_torch(batch: dict) -> dict[str, torch.Tensor]:
    """numpy arrays -> tensors without a copy; tensors (device gathers) pass through."""
    return {k: v if isinstance(v, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(v))
            for k, v in batch.items()}


class Gatherer(ABC):
    """Turns index arrays (frame, row, col) into batches following ``layout``."""

    layout: FeatureLayout
    frames: list[dict]       # each frame's metadata (date, band, hour, doy), by frame index
    band_index: np.ndarray   # [T] the frame's band, its index in FRAME_BANDS
    month: np.ndarray        # [T] the frame's month, 0-based

    @abstractmethod
    def valid(self, f, r, c) -> np.ndarray:
        """bool [n]: the sample's window is fully valid (a usable sample)."""

    @abstractmethod
    def observed(self, f, r, c) -> np.ndarray:
        """bool [n]: the centre pixel was really observed (QA), not gap-filled."""

    @abstractmethod
    def gather(self, f, r, c) -> dict:
        """The batch of these samples (features/layout.py)."""


def frame_tables(frames: list[dict]) -> dict[str, np.ndarray]:
    """The per-frame band index and 0-based month every gatherer keeps."""
    return {"band": np.array([FRAME_BANDS.index(f["band"]) for f in frames], dtype=np.int64),
            "month": np.array([int(f["date"][5:7]) - 1 for f in frames], dtype=np.int64)}


class ArraySource:
    """The arrays a gatherer reads, in one array namespace: the store's memmaps (``device`` None,
    opened lazily in each process: pickling a memmap would copy its data into every DataLoader
    worker) or copies on a torch device. ``pixels`` arrays are flattened to [H*W, ...] and
    ``layers`` to [M, H*W], so a sample's pixel is one index."""

    def __init__(self, store: ArrayStore, names, tables: dict[str, np.ndarray], device=None):
        self.store, self.names = store, tuple(dict.fromkeys(names))
        self.device = None if device is None else torch.device(device)
        self.k, (self.height, self.width) = store.k, store.grid.shape
        self._arrays: dict[str, object] = {}
        self.tables = {name: self.put(t) for name, t in tables.items()}
        grid = store.grid
        self.lat, self.lon = self.put(grid.lat.astype(np.float32)), self.put(grid.lon.astype(np.float32))
        r = self.k // 2
        dr, dc = np.meshgrid(np.arange(-r, r + 1), np.arange(-r, r + 1), indexing="ij")
        self.offsets = self.put((dr * self.width + dc).ravel())  # flat offsets of a window, row-major
        self.xp = array_namespace(self.lat)
        self.zero = self.put(np.zeros((), dtype=np.float32))
        self.scale = self.put(np.asarray(LST_SCALE, dtype=np.float32))
        self.observed_table = self.put(OBSERVED_TABLE)
        if self.device is not None:
            self._check_memory()
            for name in self.names:  # copied once, up front
                self.array(name)

    def __getstate__(self):
        state = dict(self.__dict__)
        del state["xp"]  # a module: found again from the arrays
        if self.device is None:
            state["_arrays"] = {}
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.xp = array_namespace(self.lat)

    def array(self, name: str):
        if name in self.tables:
            return self.tables[name]
        if name not in self._arrays:
            raw = self.store.array(name)
            values = raw if self.device is None else self._put_large(raw)
            kind = array_kind(name)
            if kind == "pixels":
                values = values.reshape(self.height * self.width, *raw.shape[2:])
            elif kind == "layers":
                values = values.reshape(raw.shape[0], self.height * self.width)
            self._arrays[name] = values
        return self._arrays[name]

    def put(self, values: np.ndarray):
        """A numpy array in this source's namespace (a copy on the device, if any)."""
        if self.device is None:
            return values
        return torch.from_numpy(np.ascontiguousarray(values)).to(self.device)

    def index(self, values):
        return np.asarray(values, dtype=np.int64) if self.device is None else self.put(np.asarray(values, np.int64))

    def to_numpy(self, values) -> np.ndarray:
        return np.asarray(values) if self.device is None else values.cpu().numpy()

    def _put_large(self, array: np.ndarray, chunk_bytes: int = 2 ** 28) -> torch.Tensor:
        """A copy of ``array`` (a memmap) on the device, moved in chunks of leading rows so that the
        host never holds a second copy of a large array."""
        # torch lacks uint16 arithmetic kernels on some devices: widen LST to int32
        dtype = np.dtype(np.int32) if array.dtype == np.uint16 else array.dtype
        out = torch.empty(array.shape, dtype=torch.from_numpy(np.zeros(0, dtype)).dtype, device=self.device)
        if array.ndim == 0 or array.size == 0:
            return out.copy_(torch.from_numpy(np.array(array, dtype=dtype)))
        rows = max(1, chunk_bytes // max(1, array[:1].nbytes))
        for s in range(0, array.shape[0], rows):
            out[s:s + rows] = torch.from_numpy(np.array(array[s:s + rows], dtype=dtype))
        return out

    def _check_memory(self) -> None:
        if self.device.type != "cuda":
            return
        arrays = [self.store.array(n) for n in self.names]
        need = sum(a.size * max(4 if a.dtype == np.uint16 else a.itemsize, 1) for a in arrays)
        free, _ = torch.cuda.mem_get_info(self.device)
        if need > 0.9 * free:
            raise LSTError(f"data.loader.device_resident: the cache needs {need / 2**30:.1f} GiB on "
                           f"{self.device}, only {free / 2**30:.1f} GiB are free; use the host sampler")


class FeatureGatherer(Gatherer):
    """The gatherer of one archive's cache (or a fine tile's), on the host or (``device``) a torch device."""

    def __init__(self, cache: ArrayStore, layout: FeatureLayout, device=None):
        if layout.k != cache.k:
            raise LSTError(f"features k={layout.k} differs from the cache's k={cache.k}")
        self.cache, self.layout = cache, layout
        self.groups = [group(name) for name in layout.groups]
        for g in self.groups:
            missing = [a for a in g.reads if not cache.has(a)]
            if missing and g.needs:
                key, what = g.needs
                raise LSTError(f"features: group '{g.name}' needs {what} (data.{key}) in the cache")
            if missing:
                raise LSTError(f"features: group '{g.name}' reads the cache array(s) {missing}, which this cache "
                               "lacks: prepare it again with the group registered")
        self.state = {g.name: g.bind(cache.meta, layout.group_columns(g.name)) for g in self.groups}
        self.frames = cache.frame_meta
        tables = frame_tables(self.frames)
        self.band_index, self.month = tables["band"], tables["month"]
        for g in self.groups:
            tables.update(g.frame_tables(self.frames, cache.grid))
        reads = [*CORE_READS, *(["oracle_target"] if cache.has("oracle_target") else []),
                 *(a for g in self.groups for a in g.reads)]
        self.source = ArraySource(cache, reads, tables, device)
        self.height, self.width = self.source.height, self.source.width

    def on(self, device) -> "FeatureGatherer":
        """The same gatherer with its arrays on a torch ``device``: batches of tensors there."""
        return FeatureGatherer(self.cache, self.layout, device)

    def valid(self, f, r, c) -> np.ndarray:
        src = self.source
        window_mean = src.array("window_mean")
        return src.to_numpy(src.xp.isfinite(window_mean[src.index(f), src.index(r), src.index(c)]))

    def observed(self, f, r, c) -> np.ndarray:
        src = self.source
        f, r, c = src.index(f), src.index(r), src.index(c)
        qa = src.xp.astype(src.array("qa")[f, r, c], src.xp.int64)
        return src.to_numpy(src.observed_table[src.array("band")[f], qa])

    def gather(self, f, r, c) -> dict:
        src, layout = self.source, self.layout
        s = Samples(src, src.index(f), src.index(r), src.index(c))
        xp, n, k = s.xp, s.n, s.k
        columns, channels = {}, {}
        for g in self.groups:
            out = g.compute(s, self.state[g.name])
            if g.patch:
                channels[g.name] = s.float32(out)
            else:
                columns.update(out)
        scalars = (xp.stack([s.float32(columns[name]) for name in layout.scalar_names], axis=1) if layout.n_scalars
                   else src.put(np.zeros((n, 0), dtype=np.float32)))
        patch = (xp.stack([channels[name] for name in layout.patch_channels], axis=1) if layout.n_channels
                 else src.put(np.zeros((n, 0, k, k), dtype=np.float32)))
        mean = s.at("window_mean")
        centre = s.float32(src.array("lst")[s.f, s.r, s.c]) * src.scale
        oracle = s.at("oracle_target") if "oracle_target" in src.names else xp.full_like(mean, float("nan"))
        qa = xp.astype(src.array("qa")[s.f, s.r, s.c], xp.int64)
        observed = src.observed_table[src.array("band")[s.f], qa]
        return {"scalars": scalars, "patch": patch, "target": centre - mean, "oracle": oracle,
                "observed": observed, "band": src.array("band")[s.f], "frame": s.f, "row": s.r, "col": s.c}
