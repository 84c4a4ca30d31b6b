"""Build and open the memory-mapped training cache.

One pass over the archive writes ``.npy`` arrays opened later with ``np.load(mmap_mode="r")``:

===================  ======================  ==============================================
file                 dtype / shape           content
===================  ======================  ==============================================
lst.npy              uint16 [T, H, W]        LST in 0.02 K, 0 = missing
qa.npy               uint8  [T, H, W]        the date's QA code (0-3), see formats.observed
window_mean.npy      float32 [T, H, W]       k x k window-mean LST (K); NaN = window not
                                             fully valid (missing pixel, DEM gap, grid edge)
terrain.npy          float32 [H, W, 1+k*k]   window-mean elevation (m), then the k*k
                                             elevation differences from it (row-major)
terrain_extra.npy    float32 [H, W, 4]       slope (deg), sin/cos aspect, TPI (m)
dem.npy              float32 [H, W]          elevation (m)
ndvi.npy             float32 [M, H, W]       optional: M = 1 static or 12 monthly
oracle_target.npy    float32 [T, H, W]       optional (synthetic): the input-visible physics'
                                             target, for the exact error floor
meta.json                                    grid, frames, k, fingerprint, format version
===================  ======================  ==============================================

A sample is (frame, row, col) with a finite window mean; nothing is materialised per sample.
The directory name carries a fingerprint of the input contents and parameters, it is built in
a temporary directory and renamed into place, and a lock file makes a second process wait and
reuse the result instead of building it twice.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lst_lightning.data.formats import LST_SCALE, raw_to_kelvin
from lst_lightning.data.readers import Frame, LSTArchive, open_archive, read_dem, read_raster
from lst_lightning.data.windows import check_k, window_mean, window_mean_raw, window_patches
from lst_lightning.errors import LSTError
from lst_lightning.grid import Grid

FORMAT_VERSION = 1
META = "meta.json"


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
        if name not in self._arrays:
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
    meta = json.loads(meta_path.read_text())
    if meta.get("format_version") != FORMAT_VERSION:
        raise LSTError(f"cache {path} has format version {meta.get('format_version')}; "
                       f"this code reads version {FORMAT_VERSION}: delete it to rebuild")
    return Cache(path, meta)


# ---------------------------------------------------------------- building

def prepare_cache(lst_dir: str | Path, *, dem: str | Path, ndvi: str | Path | None = None,
                  oracle_dir: str | Path | None = None, k: int = 9, cache_root: str | Path = "data/cache",
                  hours: dict[str, float] | None = None, progress: bool = True, quiet: bool = False) -> Cache:
    """Return the cache for these inputs, building it first unless an identical one exists."""
    k = check_k(k)
    archive = open_archive(lst_dir, hours=hours)
    oracle = open_archive(oracle_dir, hours=hours) if oracle_dir else None
    if oracle is not None and [f.label() for f in oracle.frames] != [f.label() for f in archive.frames]:
        raise LSTError(f"oracle archive {oracle_dir} does not hold the same frames as {lst_dir}")
    inputs = archive.files + [Path(dem)] + ([Path(ndvi)] if ndvi else []) + (oracle.files if oracle else [])
    for p in inputs:
        if not Path(p).is_file():
            raise LSTError(f"input file {p} does not exist")
    params = {"k": k, "hours": archive.hours}
    fp = fingerprint(inputs, params)
    root = Path(cache_root)
    final = root / f"lst-k{k}-{fp[:16]}"
    say = (lambda *a: None) if quiet else (lambda *a: print(*a, file=sys.stderr))
    root.mkdir(parents=True, exist_ok=True)
    with _build_lock(root / f".{final.name}.lock", say):
        if (final / META).is_file():
            say(f"reusing cache {final} ({_size(final)})")
            return open_cache(final)
        _remove_stale_tmp(root, final.name)
        tmp = root / f".tmp-{final.name}-{os.getpid()}"
        try:
            tmp.mkdir()
            t0 = time.perf_counter()
            meta = _build(tmp, archive, Path(dem), Path(ndvi) if ndvi else None, oracle, k, progress)
            _warn_empty_frames(archive.frames, meta, say)
            meta.update(fingerprint=fp, inputs=[str(p) for p in inputs], build_seconds=time.perf_counter() - t0)
            _write_json(tmp / META, meta)  # written last: a directory without it is never used
            os.rename(tmp, final)
        except OSError as err:
            shutil.rmtree(tmp, ignore_errors=True)
            if err.errno == errno.ENOSPC:
                raise LSTError(f"no space left on the device while writing the cache under {root}; "
                               "nothing was kept") from None
            raise LSTError(f"cannot write the cache under {root}: {err.strerror or err}") from None
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    say(f"cache ready: {final} ({_size(final)}, {meta['n_windows_total']:,} samples, "
        f"{meta['build_seconds']:.1f} s)")
    return open_cache(final)


@contextlib.contextmanager
def _build_lock(path: Path, say):
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say(f"another process is preparing this cache; waiting ({path})")
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _remove_stale_tmp(root: Path, name: str) -> None:
    """Leftovers of a killed build of this cache (we hold its lock, so nobody else is building)."""
    for stale in root.glob(f".tmp-{name}-*"):
        shutil.rmtree(stale, ignore_errors=True)


def _build(out: Path, archive: LSTArchive, dem_path: Path, ndvi_path: Path | None,
           oracle: LSTArchive | None, k: int, progress: bool) -> dict:
    grid = archive.grid
    dem, _ = read_dem(dem_path, grid)
    frames = archive.frames
    t, (h, w) = len(frames), grid.shape
    arrays: dict[str, dict] = {}

    def create(name: str, dtype, shape) -> np.ndarray:
        arrays[name] = {"dtype": np.dtype(dtype).name, "shape": list(shape)}
        return np.lib.format.open_memmap(out / f"{name}.npy", mode="w+", dtype=dtype, shape=shape)

    terrain = terrain_features(dem, k)
    dem_ok = np.isfinite(terrain[..., 0])
    create("dem", np.float32, dem.shape)[:] = dem
    create("terrain", np.float32, terrain.shape)[:] = terrain
    extra = terrain_derivatives(dem, grid, k)
    create("terrain_extra", np.float32, extra.shape)[:] = extra
    if ndvi_path is not None:
        ndvi = read_raster(ndvi_path, grid, "NDVI")
        create("ndvi", np.float32, ndvi.shape)[:] = ndvi

    lst = create("lst", np.uint16, (t, h, w))
    qa = create("qa", np.uint8, (t, h, w))
    mean = create("window_mean", np.float32, (t, h, w))
    n_windows = np.zeros(t, dtype=np.int64)
    bar = _progress(t, "preparing frames", progress)
    for start, raw, qa_block in archive.iter_blocks():
        stop = start + raw.shape[0]
        block_mean = window_mean_raw(raw, k, LST_SCALE)
        block_mean[:, ~dem_ok] = np.nan  # a window over a DEM gap has no terrain features
        lst[start:stop], qa[start:stop], mean[start:stop] = raw, qa_block, block_mean
        n_windows[start:stop] = np.isfinite(block_mean).sum(axis=(1, 2))
        bar.update(stop - start)
    bar.close()
    if oracle is not None:
        target = create("oracle_target", np.float32, (t, h, w))
        for start, raw, _ in oracle.iter_blocks():
            kelvin = raw_to_kelvin(raw)
            target[start:start + raw.shape[0]] = kelvin - window_mean(kelvin, k)
    for arr in (lst, qa, mean):
        arr.flush()
    return {
        "format_version": FORMAT_VERSION,
        "k": k,
        "lst_scale": LST_SCALE,
        "grid": grid.to_json(),
        "frames": [{**f.to_json(), "n_windows": int(n)} for f, n in zip(frames, n_windows)],
        "arrays": arrays,
        "n_windows_total": int(n_windows.sum()),
        "source": {"kind": archive.kind, "root": str(archive.root)},
    }


def _warn_empty_frames(frames: list[Frame], meta: dict, say) -> None:
    """A frame without any valid window (e.g. all fill) is skipped by the samplers, not an error."""
    empty = [f.label() for f, m in zip(frames, meta["frames"]) if m["n_windows"] == 0]
    if empty:
        shown = ", ".join(empty[:5]) + (f" and {len(empty) - 5} more" if len(empty) > 5 else "")
        say(f"warning: {len(empty)} frame(s) have no valid window and are skipped: {shown}")


def terrain_features(dem: np.ndarray, k: int) -> np.ndarray:
    """[H, W, 1+k*k]: window-mean elevation, then each window pixel minus that mean."""
    elev_mean = window_mean(dem.astype(np.float64), k)
    diffs = window_patches(dem, k) - elev_mean[..., None]
    return np.concatenate([elev_mean[..., None], diffs], axis=-1).astype(np.float32)


def terrain_derivatives(dem: np.ndarray, grid: Grid, k: int) -> np.ndarray:
    """[H, W, 4]: slope (deg), sin and cos of aspect (downslope direction, clockwise from north),
    topographic position index (centre minus window mean, m)."""
    lat = np.deg2rad(grid.lat)[:, None]
    dy = grid.dlat * 110_574.0  # metres per pixel north-south
    dx = grid.dlon * 111_320.0 * np.cos(lat)  # east-west, shrinking with latitude
    dz_drow, dz_dcol = np.gradient(dem.astype(np.float64))
    dz_dnorth, dz_deast = -dz_drow / dy, dz_dcol / dx
    slope = np.degrees(np.arctan(np.hypot(dz_dnorth, dz_deast)))
    aspect = np.arctan2(-dz_deast, -dz_dnorth)  # direction the slope faces (downhill)
    tpi = dem - window_mean(dem.astype(np.float64), k)
    return np.stack([slope, np.sin(aspect), np.cos(aspect), tpi], axis=-1).astype(np.float32)


def _progress(total: int, desc: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="frame", disable=not enabled, file=sys.stderr, leave=False)


def _write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=1))


def _size(path: Path) -> str:
    total = sum(p.stat().st_size for p in path.iterdir() if p.is_file())
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if total < 1024 or unit == "TB":
            return f"{total:.1f} {unit}"
        total /= 1024
    return ""
