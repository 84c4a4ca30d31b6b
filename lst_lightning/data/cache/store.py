"""The on-disk format of a prepared cache, and opening one.

A cache is a directory of ``.npy`` arrays, opened with ``np.load(mmap_mode="r")``:

===================  ======================  ==============================================
file                 dtype / shape           content
===================  ======================  ==============================================
lst.npy              uint16 [T, H, W]        LST in 0.02 K, 0 = missing
qa.npy               uint8  [T, H, W]        the date's QA code (0-3), see formats.observed
window_mean.npy      float32 [T, H, W]       k x k window-mean LST (K); NaN = window not
                                             fully valid (missing pixel, DEM gap, grid edge)
terrain.npy          float32 [H, W, 1+k*k]   window-mean elevation (m), then the k*k
                                             elevation differences from it (row-major)
terrain_extra.npy    float32 [H, W, 4]       slope (deg), sin/cos aspect (0 on flat ground),
                                             TPI (m)
dem.npy              float32 [H, W]          elevation (m)
ndvi.npy             float32 [M, H, W]       optional: M = 1 static or 12 monthly
landcover.npy        float32 [H, W, 2C]      optional: the window's fraction of each of the C
                                             land-cover classes (meta.json landcover_classes,
                                             the last "other"), then the pixel's own class
                                             one-hot, see landcover.py
frame_lapse.npy      float32 [T]             the frame's coarse LST-elevation slope (K/km),
                                             see context.py
oracle_target.npy    float32 [T, H, W]       optional (synthetic): the input-visible physics'
                                             target, for the exact error floor
meta.json                                    grid, frames, k, fingerprint, format version
===================  ======================  ==============================================

A sample is (frame, row, col) with a finite window mean; nothing is materialised per sample.
The directory is named ``lst-k<k>-<first 16 hex digits of the fingerprint>``, a hash of the
input contents and the build parameters, so identical inputs map to the same cache wherever
they live. ``meta.json`` is written last: a directory without it is never used.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lst_lightning.data.io.archive import Frame
from lst_lightning.data.io.grid import Grid
from lst_lightning.errors import LSTError

# 2: aspect sin/cos are 0 on flat ground; role-tagged fingerprint. 3: frame_lapse, land cover. 4: shrunk lapse.
# 5: one landcover array
FORMAT_VERSION = 5
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

@dataclass
class Cache:
    """A prepared cache. Holds only its path and metadata, so it pickles cheaply into DataLoader
    workers; each process opens the memmaps lazily on first access."""

    path: Path
    meta: dict

    def __post_init__(self):
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
    def k(self) -> int:
        return int(self.meta["k"])

    @property
    def grid(self) -> Grid:
        return Grid.from_json(self.meta["grid"])

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
