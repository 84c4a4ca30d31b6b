"""Building a cache (the format of store.py): ``prepare_cache`` checks every input, then writes
all arrays in one pass over the archive.

Crash safety: every input is checked (grids, k, oracle frames) before anything is written, so
bad input leaves nothing behind; the array files are preallocated and written with plain file
writes (not writable memory maps), so a full disk raises "no space left" instead of killing the
process with SIGBUS, and the builder's memory stays at a few blocks of frames. The directory is
built in a temporary directory, synced and renamed into place under a lock
(``fs.build_in_place``): a second process waits and reuses the result, a killed build leaves only
a ``.tmp-*`` directory that the next build in the same root removes.
"""
from __future__ import annotations

import errno
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lst_lightning.data.cache.fs import build_in_place, preallocate
from lst_lightning.data.cache.store import (
    CACHE_NAME,
    FORMAT_VERSION,
    META,
    Cache,
    cache_name,
    disk_size,
    fingerprint,
    open_cache,
)
from lst_lightning.data.facts.context import frame_lapse
from lst_lightning.data.facts.terrain import pixel_spacing
from lst_lightning.data.facts.windows import check_k, check_k_fits, window_mean, window_mean_raw
from lst_lightning.data.io.archive import Frame, LSTArchive, open_archive
from lst_lightning.data.io.formats import LST_SCALE, observed, raw_to_kelvin
from lst_lightning.data.io.netcdf import check_time_base
from lst_lightning.data.io.rasters import read_dem, read_landcover, read_raster
from lst_lightning.errors import LSTError
from lst_lightning.features import GROUPS, StaticInputs, array_builders
from lst_lightning.progress import progress_bar

log = logging.getLogger(__name__)


def prepare_cache(lst_dir: str | Path, *, dem: str | Path, ndvi: str | Path | None = None,
                  landcover: str | Path | None = None, oracle_dir: str | Path | None = None, k: int = 9,
                  cache_root: str | Path = "data/cache",
                  hours: dict[str, float] | None = None, time_base: str | int = "auto",
                  pixel_size_m: float | None = None, progress: bool = True, quiet: bool = False) -> Cache:
    """Return the cache for these inputs, building it first unless an identical one exists.

    All input checks happen before anything is written, so bad input leaves no directory behind.
    ``time_base``: the day numbering of yearly NetCDFs (auto, 0, 1: io/netcdf.py).
    ``pixel_size_m``: the true pixel side in metres for slopes and distances (None: from the
    grid's degrees; data/facts/terrain.py ``pixel_spacing``).
    ``quiet``: the progress messages go to the debug level; warnings still show."""
    k = check_k(k)
    inputs = _read_inputs(lst_dir, dem, ndvi, landcover, oracle_dir, k, hours, time_base)
    pixel_spacing(inputs.archive.grid, pixel_size_m)  # checked before anything is written
    inputs.pixel_size_m = None if pixel_size_m is None else float(pixel_size_m)
    params = {"k": k, "hours": inputs.archive.hours, "roles": inputs.roles,
              "groups": {name: g.version for name, g in array_builders().items()}}
    if time_base != "auto":  # auto reads as before this setting: existing caches stay valid
        params["time_base"] = check_time_base(time_base)
    if inputs.pixel_size_m is not None:  # likewise: from the grid's degrees, as before
        params["pixel_size_m"] = inputs.pixel_size_m
    try:
        fp = fingerprint(inputs.files, params)
    except OSError as err:
        raise LSTError(f"cannot read input file {err.filename}: {err.strerror or err}") from None
    root = Path(cache_root)
    final = root / cache_name(k, fp)
    say = log.debug if quiet else log.info
    try:  # an existing root is fine, even a read-only one (a complete cache is only read)
        root.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise LSTError(f"cannot create the cache root {root} (data.cache_root): {err.strerror or err}") from None
    try:
        with build_in_place(final, marker=META, what="this cache", say=say, family=CACHE_NAME) as tmp:
            if tmp is None:
                say(f"reusing cache {final} ({disk_size(final)})")
                return open_cache(final)
            meta = _build(tmp, inputs, k, fp, progress)
    except OSError as err:
        if err.errno == errno.ENOSPC:
            raise LSTError(f"no space left on the device while writing the cache under {root}; "
                           "nothing was kept") from None
        raise LSTError(f"cannot write the cache under {root}: {err.strerror or err}") from None
    say(f"cache ready: {final} ({disk_size(final)}, {meta['n_windows_total']:,} samples, "
        f"{meta['build_seconds']:.1f} s)")
    return open_cache(final)


# ---------------------------------------------------------------- inputs

@dataclass
class _Inputs:
    """The checked inputs of one build, read into memory except the frames."""

    archive: LSTArchive
    dem: np.ndarray
    ndvi: np.ndarray | None
    landcover: np.ndarray | None  # int32 class codes, -1 = nodata
    oracle: LSTArchive | None
    roles: dict[str, int]  # files per role, part of the fingerprint
    files: list[Path]  # every input file, role by role (lst, dem, ndvi, landcover, oracle)
    pixel_size_m: float | None = None  # the true pixel side (m); None: from the grid's degrees


def _read_inputs(lst_dir, dem, ndvi, landcover, oracle_dir, k: int, hours, time_base) -> _Inputs:
    # the DEM and covariates may sit in the LST directory: they are inputs, not archive files
    archive = open_archive(lst_dir, hours=hours, exclude=[p for p in (dem, ndvi, landcover) if p],
                           time_base=time_base)
    check_k_fits(k, archive.grid.shape)
    dem_path = Path(dem)
    ndvi_path, lc_path = (Path(ndvi) if ndvi else None), (Path(landcover) if landcover else None)
    dem_array, _ = read_dem(dem_path, archive.grid)  # missing file / other grid: LSTError naming both grids
    ndvi_array = read_raster(ndvi_path, archive.grid, "NDVI") if ndvi_path else None
    lc_array = read_landcover(lc_path, archive.grid) if lc_path else None
    oracle = _open_oracle(oracle_dir, archive, hours, time_base) if oracle_dir else None
    by_role = {"lst": archive.files, "dem": [dem_path], "ndvi": [ndvi_path] if ndvi_path else [],
               "landcover": [lc_path] if lc_path else [], "oracle": oracle.files if oracle else []}
    files = [p for role_files in by_role.values() for p in role_files]
    for p in files:
        if not Path(p).is_file():
            raise LSTError(f"input file {p} does not exist")
    return _Inputs(archive, dem_array, ndvi_array, lc_array, oracle, {r: len(f) for r, f in by_role.items()}, files)


def _open_oracle(oracle_dir: str | Path, archive: LSTArchive, hours, time_base) -> LSTArchive:
    oracle = open_archive(oracle_dir, hours=hours, time_base=time_base)
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


# ---------------------------------------------------------------- writing

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
        preallocate(self.fh.fileno())

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


class _ArrayFiles:
    """The array files of the cache being built, and their table for meta.json."""

    def __init__(self, out: Path):
        self.out = out
        self.table: dict[str, dict] = {}
        self.writers: list[_NpyWriter] = []

    def create(self, name: str, dtype, shape) -> _NpyWriter:
        writer = _NpyWriter(self.out / f"{name}.npy", dtype, shape)
        self.writers.append(writer)
        self.table[name] = {"dtype": np.dtype(dtype).name, "shape": list(shape)}
        return writer

    def write_whole(self, name: str, array: np.ndarray) -> None:
        self.create(name, np.float32, array.shape).write(0, array)

    def close(self) -> None:
        """Flush and fsync every file: the data is on disk before meta.json names it."""
        for writer in self.writers:
            writer.close()

    def abandon(self) -> None:
        for writer in self.writers:
            if not writer.fh.closed:
                writer.fh.close()


def _build(out: Path, inputs: _Inputs, k: int, fp: str, progress: bool) -> dict:
    """Write the whole cache into ``out``, meta.json last; return the metadata."""
    t0 = time.perf_counter()
    meta, contradicted = _write_arrays(out, inputs, k, progress)
    _warn_qa_contradicted(inputs.archive, contradicted)
    _check_not_empty(inputs, meta, k)
    _warn_empty_frames(inputs.archive.frames, meta)
    meta.update(fingerprint=fp, inputs=[str(p) for p in inputs.files], build_seconds=time.perf_counter() - t0)
    _write_json(out / META, meta)  # written last: a directory without it is never used
    return meta


def _write_arrays(out: Path, inputs: _Inputs, k: int, progress: bool) -> tuple[dict, np.ndarray]:
    """Every array file; the metadata, and per frame the pixels whose QA says observed where the
    LST is missing."""
    archive, grid = inputs.archive, inputs.archive.grid
    t, (h, w) = len(archive.frames), grid.shape
    files = _ArrayFiles(out)
    try:
        elev_mean = window_mean(np.asarray(inputs.dem, dtype=np.float64), k)
        files.write_whole("dem", inputs.dem)
        files.write_whole("elev_mean", elev_mean)
        static = StaticInputs(inputs.dem, grid, k, inputs.ndvi, inputs.landcover, pixel_size_m=inputs.pixel_size_m)
        group_meta = _write_group_arrays(files, static)
        dem_ok = np.isfinite(elev_mean)  # windows on known ground
        # every frame-sized file is created (its space reserved) before the first frame is read
        lst = files.create("lst", np.uint16, (t, h, w))
        qa = files.create("qa", np.uint8, (t, h, w))
        mean = files.create("window_mean", np.float32, (t, h, w))
        target = files.create("oracle_target", np.float32, (t, h, w)) if inputs.oracle is not None else None
        n_windows = np.zeros(t, dtype=np.int64)
        sample_frames = np.zeros((h, w), dtype=np.int32)
        contradicted = np.zeros(t, dtype=np.int64)  # QA says observed, the LST is missing
        lapse = np.zeros(t, dtype=np.float32)
        done = 0
        with progress_bar(total=t, desc="preparing frames", unit="frame", enabled=progress) as bar:
            for start, raw, qa_block in archive.iter_blocks():
                block_mean = window_mean_raw(raw, k, LST_SCALE)
                block_mean[:, ~dem_ok] = np.nan  # a window over a DEM gap has no terrain features
                lst.write(start, raw)
                qa.write(start, qa_block)
                mean.write(start, block_mean)
                done = start + raw.shape[0]
                valid = np.isfinite(block_mean)
                n_windows[start:done] = valid.sum(axis=(1, 2))
                sample_frames += valid.sum(axis=0, dtype=np.int32)
                contradicted[start:done] = [np.count_nonzero(observed(qa_block[i], archive.frames[start + i].band)
                                                             & (raw[i] == 0)) for i in range(raw.shape[0])]
                lapse[start:done] = frame_lapse(block_mean, elev_mean)
                bar.update(raw.shape[0])
        if done != t:
            raise LSTError(f"LST archive {archive.root}: read {done} frames, expected {t}")
        files.write_whole("frame_lapse", lapse)
        files.create("sample_frames", np.int32, (h, w)).write(0, sample_frames)
        if target is not None:
            for start, raw, _ in inputs.oracle.iter_blocks():
                kelvin = raw_to_kelvin(raw)
                target.write(start, kelvin - window_mean(kelvin, k))
        files.close()
    finally:
        files.abandon()
    return {
        **group_meta,
        "pixel_size_m": inputs.pixel_size_m,
        "format_version": FORMAT_VERSION,
        "k": k,
        "lst_scale": LST_SCALE,
        "grid": grid.to_json(),
        "frames": [{**f.to_json(), "n_windows": int(n)} for f, n in zip(archive.frames, n_windows)],
        "arrays": files.table,
        "n_windows_total": int(n_windows.sum()),
        "source": {"kind": archive.kind, "root": str(archive.root)},
    }, contradicted


def _write_group_arrays(files: _ArrayFiles, inputs: StaticInputs) -> dict:
    """Every registered feature group's static arrays (those its inputs allow), one group at a time
    (the largest, elev_diff, is freed before the next is computed); the metadata they keep."""
    meta = {}
    for group in GROUPS.values():
        arrays, extra = group.build(inputs)
        dtypes = {spec.name: spec.dtype for spec in group.builds}
        for name, array in arrays.items():
            files.create(name, dtypes[name], array.shape).write(0, array)
        meta.update(extra)
        del arrays
    return meta


def _check_not_empty(inputs: _Inputs, meta: dict, k: int) -> None:
    """A cache without a single sample is an error, not a result (its build is discarded)."""
    if meta["n_windows_total"] > 0:
        return
    raise LSTError(f"LST archive {inputs.archive.root}: no sample in any of its {len(meta['frames'])} frames: none "
                   f"has a {k} x {k} window whose every pixel holds an LST value on known ground (is the LST "
                   "all fill, or 0?); nothing to train on")


def _warn_qa_contradicted(archive: LSTArchive, contradicted: np.ndarray) -> None:
    """QA flags a pixel observed but its LST is missing (fill, 0): counted and named, read as missing."""
    frames = np.flatnonzero(contradicted)
    if frames.size == 0:
        return
    labels = [archive.frames[i].label() for i in frames[:5]]
    shown = ", ".join(labels) + (f" and {frames.size - 5} more" if frames.size > 5 else "")
    log.warning(f"warning: LST archive {archive.root}: QA says observed where the LST is missing in "
                f"{int(contradicted.sum()):,} pixels of {frames.size} frame(s) ({shown}); read as missing")


def _warn_empty_frames(frames: list[Frame], meta: dict) -> None:
    """A frame without any valid window (e.g. all fill) is skipped by the samplers, not an error;
    the warning shows even when quiet."""
    empty = [f.label() for f, m in zip(frames, meta["frames"]) if m["n_windows"] == 0]
    if empty:
        shown = ", ".join(empty[:5]) + (f" and {len(empty) - 5} more" if len(empty) > 5 else "")
        log.warning(f"warning: {len(empty)} frame(s) have no valid window and are skipped: {shown}")


def _write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=1))
