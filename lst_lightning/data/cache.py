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
terrain_extra.npy    float32 [H, W, 4]       slope (deg), sin/cos aspect (0 on flat ground),
                                             TPI (m)
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

Crash safety: every input is checked (grids, k, oracle frames) before anything is written; the
array files are preallocated and written with plain file writes (not writable memory maps), so a
full disk raises "no space left" instead of killing the process with SIGBUS, and the builder's
memory stays at a few blocks of frames; everything is synced before the rename. A build killed
outright (SIGKILL, power loss) leaves only a ``.tmp-*``
directory, which the next run of any cache build in the same root removes.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lst_lightning.data.io.formats import LST_SCALE, raw_to_kelvin
from lst_lightning.data.io.readers import Frame, LSTArchive, open_archive, read_dem, read_raster
from lst_lightning.data.windows import check_k, check_k_fits, window_mean, window_mean_raw, window_patches
from lst_lightning.errors import LSTError
from lst_lightning.data.io.grid import Grid

FORMAT_VERSION = 2  # 2: aspect sin/cos are 0 on flat ground; role-tagged fingerprint
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


# ---------------------------------------------------------------- building

def prepare_cache(lst_dir: str | Path, *, dem: str | Path, ndvi: str | Path | None = None,
                  oracle_dir: str | Path | None = None, k: int = 9, cache_root: str | Path = "data/cache",
                  hours: dict[str, float] | None = None, progress: bool = True, quiet: bool = False) -> Cache:
    """Return the cache for these inputs, building it first unless an identical one exists.

    All input checks happen before anything is written, so bad input leaves no directory behind."""
    k = check_k(k)
    archive = open_archive(lst_dir, hours=hours)
    grid = archive.grid
    check_k_fits(k, grid.shape)
    dem_path, ndvi_path = Path(dem), (Path(ndvi) if ndvi else None)
    dem_array, _ = read_dem(dem_path, grid)  # missing file / other grid: LSTError naming both grids
    ndvi_array = read_raster(ndvi_path, grid, "NDVI") if ndvi_path else None
    oracle = _open_oracle(oracle_dir, archive, hours) if oracle_dir else None
    roles = {"lst": archive.files, "dem": [dem_path], "ndvi": [ndvi_path] if ndvi_path else [],
             "oracle": oracle.files if oracle else []}
    inputs = [p for files in roles.values() for p in files]
    for p in inputs:
        if not Path(p).is_file():
            raise LSTError(f"input file {p} does not exist")
    params = {"k": k, "hours": archive.hours, "roles": {r: len(f) for r, f in roles.items()}}
    try:
        fp = fingerprint(inputs, params)
    except OSError as err:
        raise LSTError(f"cannot read input file {err.filename}: {err.strerror or err}") from None
    root = Path(cache_root)
    final = root / f"lst-k{k}-{fp[:16]}"
    say = (lambda *a: None) if quiet else (lambda *a: print(*a, file=sys.stderr))
    warn = lambda *a: print(*a, file=sys.stderr)  # noqa: E731 - warnings show even when quiet
    if (final / META).is_file():  # complete caches appear atomically: no lock needed (read-only roots)
        say(f"reusing cache {final} ({_size(final)})")
        return open_cache(final)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise LSTError(f"cannot create the cache root {root} (data.cache_root): {err.strerror or err}") from None
    with build_lock(root / f".{final.name}.lock", say):
        if (final / META).is_file():
            say(f"reusing cache {final} ({_size(final)})")
            return open_cache(final)
        _remove_stale_tmp(root, final.name)
        tmp = root / f".tmp-{final.name}-{os.getpid()}"
        try:
            if final.exists():  # no meta.json: never a usable cache (e.g. a hand-deleted file)
                shutil.rmtree(final)
            tmp.mkdir()
            t0 = time.perf_counter()
            meta = _build(tmp, archive, dem_array, ndvi_array, oracle, k, progress)
            _warn_empty_frames(archive.frames, meta, warn)
            meta.update(fingerprint=fp, inputs=[str(p) for p in inputs], build_seconds=time.perf_counter() - t0)
            _write_json(tmp / META, meta)  # written last: a directory without it is never used
            _sync(tmp / META)
            _sync(tmp)
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
        with contextlib.suppress(OSError):  # make the rename itself durable (best effort)
            _sync(root)
    say(f"cache ready: {final} ({_size(final)}, {meta['n_windows_total']:,} samples, "
        f"{meta['build_seconds']:.1f} s)")
    return open_cache(final)


def _open_oracle(oracle_dir: str | Path, archive: LSTArchive, hours) -> LSTArchive:
    oracle = open_archive(oracle_dir, hours=hours)
    archive.grid.require_match(oracle.grid, f"oracle archive {oracle_dir}",
                               reference=f"the LST archive {archive.root}")
    ours, theirs = [f.label() for f in archive.frames], [f.label() for f in oracle.frames]
    if ours != theirs:
        missing = sorted(set(ours) - set(theirs))
        extra = sorted(set(theirs) - set(ours))
        detail = "; ".join(part for part in (
            f"missing {', '.join(missing[:3])}" + (" ..." if len(missing) > 3 else "") if missing else "",
            f"extra {', '.join(extra[:3])}" + (" ..." if len(extra) > 3 else "") if extra else "") if part)
        raise LSTError(f"oracle archive {oracle_dir} does not hold the same frames as {archive.root} "
                       f"({len(theirs)} vs {len(ours)} frames{'; ' + detail if detail else ''})")
    return oracle


@contextlib.contextmanager
def build_lock(path: Path, say):
    """Exclusive advisory lock on ``path`` (created if needed); says so when it has to wait."""
    try:
        fh = open(path, "a+")
    except OSError as err:
        raise LSTError(f"cannot create the lock file {path}: {err.strerror or err}") from None
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say(f"another process is preparing this cache; waiting ({path})")
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


_build_lock = build_lock  # former private name

_TMP_NAME = re.compile(r"^\.tmp-(lst-k\d+-[0-9a-f]{16})-\d+$")


def _remove_stale_tmp(root: Path, name: str) -> None:
    """Remove leftovers of killed builds: all of this cache's (we hold its lock, so nobody else is
    building it), and those of other caches in the root whose lock is free (nobody building)."""
    for stale in root.glob(".tmp-lst-*"):
        match = _TMP_NAME.match(stale.name)
        if not match or not stale.is_dir():
            continue
        if match.group(1) == name:
            shutil.rmtree(stale, ignore_errors=True)
            continue
        lock = root / f".{match.group(1)}.lock"
        try:
            with open(lock, "a+") as fh:
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # being built right now
                try:
                    shutil.rmtree(stale, ignore_errors=True)
                finally:
                    fcntl.flock(fh, fcntl.LOCK_UN)
        except OSError:
            continue


class _NpyWriter:
    """A ``.npy`` file written block by block along its first axis with plain file writes.

    Not a writable memory map: its pages would count as the builder's resident memory (the whole
    cache, for a 20-year archive), and a page written into a sparse file on a full disk kills the
    process with SIGBUS. Here the blocks are reserved up front (ENOSPC at once) and written with
    write(2), whose errors are ordinary OSErrors."""

    def __init__(self, path: Path, dtype, shape: tuple[int, ...]):
        self.path, self.dtype, self.shape = path, np.dtype(dtype), tuple(int(s) for s in shape)
        header = np.lib.format.open_memmap(path, mode="w+", dtype=self.dtype, shape=self.shape)
        self.offset = header.offset
        del header  # only used to write a standard header; the data is written below
        self.row_bytes = self.dtype.itemsize * int(np.prod(self.shape[1:], dtype=np.int64))
        self.fh = open(path, "r+b")
        _preallocate(self.fh.fileno())

    def write(self, start: int, block: np.ndarray) -> None:
        block = np.ascontiguousarray(block, dtype=self.dtype)
        if block.shape[1:] != self.shape[1:] or start + block.shape[0] > self.shape[0]:
            raise ValueError(f"{self.path.name}: block {block.shape} at {start} does not fit {self.shape}")
        self.fh.seek(self.offset + start * self.row_bytes)
        self.fh.write(block.data.cast("B"))

    def close(self) -> None:
        if not self.fh.closed:
            self.fh.flush()
            os.fsync(self.fh.fileno())
            self.fh.close()


def _preallocate(fd: int) -> None:
    """Reserve the disk blocks of a freshly created file, so a full disk fails now (ENOSPC)."""
    size = os.fstat(fd).st_size
    try:
        os.posix_fallocate(fd, 0, size)
    except OSError as err:
        if err.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
            raise


def _sync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _build(out: Path, archive: LSTArchive, dem: np.ndarray, ndvi: np.ndarray | None,
           oracle: LSTArchive | None, k: int, progress: bool) -> dict:
    grid = archive.grid
    frames = archive.frames
    t, (h, w) = len(frames), grid.shape
    arrays: dict[str, dict] = {}
    writers: list[_NpyWriter] = []

    def create(name: str, dtype, shape) -> _NpyWriter:
        writer = _NpyWriter(out / f"{name}.npy", dtype, shape)
        writers.append(writer)
        arrays[name] = {"dtype": np.dtype(dtype).name, "shape": list(shape)}
        return writer

    try:
        terrain = terrain_features(dem, k)
        dem_ok = np.isfinite(terrain[..., 0])
        create("dem", np.float32, dem.shape).write(0, dem)
        create("terrain", np.float32, terrain.shape).write(0, terrain)
        del terrain
        extra = terrain_derivatives(dem, grid, k)
        create("terrain_extra", np.float32, extra.shape).write(0, extra)
        if ndvi is not None:
            create("ndvi", np.float32, ndvi.shape).write(0, ndvi)

        lst = create("lst", np.uint16, (t, h, w))
        qa = create("qa", np.uint8, (t, h, w))
        mean = create("window_mean", np.float32, (t, h, w))
        target = create("oracle_target", np.float32, (t, h, w)) if oracle is not None else None
        n_windows = np.zeros(t, dtype=np.int64)
        bar = _progress(t, "preparing frames", progress)
        done = 0
        for start, raw, qa_block in archive.iter_blocks():
            stop = start + raw.shape[0]
            block_mean = window_mean_raw(raw, k, LST_SCALE)
            block_mean[:, ~dem_ok] = np.nan  # a window over a DEM gap has no terrain features
            lst.write(start, raw)
            qa.write(start, qa_block)
            mean.write(start, block_mean)
            n_windows[start:stop] = np.isfinite(block_mean).sum(axis=(1, 2))
            done = stop
            bar.update(stop - start)
        bar.close()
        if done != t:
            raise LSTError(f"LST archive {archive.root}: read {done} frames, expected {t}")
        if target is not None:
            for start, raw, _ in oracle.iter_blocks():
                kelvin = raw_to_kelvin(raw)
                target.write(start, kelvin - window_mean(kelvin, k))
        for writer in writers:
            writer.close()  # flush + fsync: the data is on disk before meta.json names it
    finally:
        for writer in writers:
            if not writer.fh.closed:
                writer.fh.close()
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


def terrain_features(dem: np.ndarray, k: int, out: np.ndarray | None = None) -> np.ndarray:
    """[H, W, 1+k*k] float32: window-mean elevation, then each window pixel minus that mean
    (row-major). NaN where the window is not fully inside the grid or touches a DEM gap.
    ``out`` (e.g. a memmap) is filled in place when given."""
    h, w = dem.shape
    if out is None:
        out = np.empty((h, w, 1 + k * k), dtype=np.float32)
    elev_mean = window_mean(np.asarray(dem, dtype=np.float64), k)
    out[..., 0] = elev_mean
    diffs = window_patches(dem, k, out=out[..., 1:])
    diffs -= elev_mean[..., None]
    return out


def terrain_derivatives(dem: np.ndarray, grid: Grid, k: int) -> np.ndarray:
    """[H, W, 4]: slope (deg), sin and cos of aspect (downslope direction, clockwise from north;
    both 0 on flat ground, where aspect is undefined), topographic position index (centre minus
    window mean, m)."""
    lat = np.deg2rad(grid.lat)[:, None]
    dy = grid.dlat * 110_574.0  # metres per pixel north-south
    dx = grid.dlon * 111_320.0 * np.cos(lat)  # east-west, shrinking with latitude
    dz_drow, dz_dcol = np.gradient(dem.astype(np.float64))
    dz_dnorth, dz_deast = -dz_drow / dy, dz_dcol / dx
    grad = np.hypot(dz_dnorth, dz_deast)
    slope = np.degrees(np.arctan(grad))
    with np.errstate(invalid="ignore", divide="ignore"):
        # downhill unit vector (east, north) -> sin/cos of the clockwise-from-north angle
        sin_aspect = np.where(grad > 0, -dz_deast / grad, 0.0)
        cos_aspect = np.where(grad > 0, -dz_dnorth / grad, 0.0)
    sin_aspect[np.isnan(grad)] = np.nan
    cos_aspect[np.isnan(grad)] = np.nan
    tpi = dem - window_mean(dem.astype(np.float64), k)
    return np.stack([slope, sin_aspect, cos_aspect, tpi], axis=-1).astype(np.float32)


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
