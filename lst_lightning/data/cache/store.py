"""The on-disk format of a prepared cache, and opening one.

A cache is a directory of ``.npy`` arrays, opened with ``np.load(mmap_mode="r")``, and a
``meta.json``. Its arrays are named (lst_lightning/features/arrays.py): the CORE ones every cache
holds (lst, qa, window_mean, dem, elev_mean, frame_lapse; oracle_target for synthetic archives)
and those the registered feature groups build (elev_diff, terrain; ndvi and landcover when the
archive has those inputs), each with its kind (frames [T, H, W], pixels [H, W, ...], layers
[M, H, W], table [T]). ``meta.json`` holds the grid, frames, k, fingerprint, format version, the
table of arrays (dtype, shape) and what the groups keep (e.g. ``landcover_classes``).

A sample is (frame, row, col) with a finite window mean; nothing is materialised per sample.
The directory is named ``lst-k<k>-<first 16 hex digits of the fingerprint>``, a hash of the
input contents and the build parameters (the groups' array versions included), so identical
inputs map to the same cache wherever they live. ``meta.json`` is written last: a directory
without it is never used.

``ArrayStore`` is what every reader of a cache relies on (a gatherer, the coarse baseline, fine
tiles): ``Cache`` on disk, ``downscale.tiles.TileCache`` in memory.
"""
from __future__ import annotations

import hashlib
import json
import re
from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np

from lst_lightning.data.io.archive import Frame
from lst_lightning.data.io.grid import Grid
from lst_lightning.errors import LSTError
from lst_lightning.features import array_builders
from lst_lightning.features.arrays import CORE

# 2: aspect sin/cos are 0 on flat ground; role-tagged fingerprint. 3: frame_lapse, land cover. 4: shrunk lapse.
# 5: one landcover array. 6: arrays named after what they hold (elev_mean, elev_diff, terrain).
# 7: sample_frames (the valid frames per pixel: training draws skip pixels that never hold a sample)
FORMAT_VERSION = 7
META = "meta.json"
CACHE_NAME = re.compile(r"lst-k\d+-[0-9a-f]{16}")  # the directory names of caches


def cache_name(k: int, fingerprint: str) -> str:
    return f"lst-k{k}-{fingerprint[:16]}"


# ---------------------------------------------------------------- fingerprint

def file_digest(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def fingerprint(files: list[Path], params: dict) -> str:
    """Hash of every input file's content and the build parameters."""
    h = hashlib.sha256(json.dumps({"format_version": FORMAT_VERSION, **params}, sort_keys=True).encode())
    for path in files:
        h.update(Path(path).name.encode())
        h.update(file_digest(Path(path)).encode())
    return h.hexdigest()


# ---------------------------------------------------------------- opening

class _Named:
    """A core array as an attribute of its store (features/arrays.py CORE)."""

    def __set_name__(self, owner, name: str) -> None:
        self.name = name

    def __get__(self, store, owner=None):
        return self if store is None else store.array(self.name)


class ArrayStore(ABC):
    """The named arrays of a grid (features/arrays.py) with their metadata: what a gatherer reads."""

    meta: dict

    @abstractmethod
    def array(self, name: str) -> np.ndarray:
        """The named array (read-only)."""

    @abstractmethod
    def has(self, name: str) -> bool:
        """Whether the store holds the named array."""

    @property
    def k(self) -> int:
        return int(self.meta["k"])

    @property
    def grid(self) -> Grid:
        return Grid.from_json(self.meta["grid"])

    @property
    def frame_meta(self) -> list[dict]:
        """Each frame's metadata (date, band, hour, doy), in frame order."""
        return self.meta["frames"]

    # the core arrays by name: ``store.window_mean`` is ``store.array("window_mean")``
    lst = _Named()
    qa = _Named()
    window_mean = _Named()
    elev_mean = _Named()
    dem = _Named()
    sample_frames = _Named()
    frame_lapse = _Named()


def array_kind(name: str) -> str:
    """The kind (frames, pixels, layers, table) of a core or group array."""
    for spec in CORE:
        if spec.name == name:
            return spec.kind
    builders = array_builders()
    if name not in builders:
        raise LSTError(f"cache array {name!r}: neither a core array nor built by a registered feature group")
    return next(s.kind for s in builders[name].builds if s.name == name)


class Cache(ArrayStore):
    """A prepared cache on disk. Holds only its path and metadata, so it pickles cheaply into
    DataLoader workers; each process opens the memmaps lazily on first access."""

    def __init__(self, path: Path, meta: dict):
        self.path, self.meta = Path(path), meta
        self._arrays: dict[str, np.ndarray] = {}

    def __getstate__(self):
        return {"path": self.path, "meta": self.meta}

    def __setstate__(self, state):
        self.path, self.meta = state["path"], state["meta"]
        self._arrays = {}

    def array(self, name: str) -> np.ndarray:
        """The named array as a read-only ``np.memmap`` (opened once per process)."""
        if name not in self._arrays:
            if not self.has(name):
                raise LSTError(f"cache {self.path} has no array {name!r} "
                               f"(it holds {', '.join(sorted(self.meta['arrays']))})")
            self._arrays[name] = np.load(self.path / f"{name}.npy", mmap_mode="r")
        return self._arrays[name]

    def has(self, name: str) -> bool:
        return name in self.meta["arrays"]

    @property
    def frames(self) -> list[Frame]:
        return [Frame.from_json(f) for f in self.meta["frames"]]

    @property
    def n_windows(self) -> np.ndarray:
        """Valid windows per frame (0 for frames that were skipped)."""
        return np.asarray([f["n_windows"] for f in self.meta["frames"]], dtype=np.int64)

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.meta["arrays"]["lst"]["shape"])  # type: ignore[return-value]


def open_cache(path: str | Path) -> Cache:
    path = Path(path)
    meta_path = path / META
    if not meta_path.is_file():
        raise LSTError(f"{path} is not a prepared cache (no {META}); run lst-prepare")
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError) as err:
        raise LSTError(f"cache {path}: cannot read {META} ({err}); delete the directory to rebuild") from None
    if meta.get("format_version") != FORMAT_VERSION:
        raise LSTError(f"cache {path} has format version {meta.get('format_version')}; "
                       f"this code reads version {FORMAT_VERSION}: delete it to rebuild")
    return Cache(path, meta)


def disk_size(path: Path) -> str:
    """The total size of the files in a cache directory, for messages ("12.3 MB")."""
    total = sum(p.stat().st_size for p in path.iterdir() if p.is_file())
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if total < 1024 or unit == "TB":
            return f"{total:.1f} {unit}"
        total /= 1024
    return ""
