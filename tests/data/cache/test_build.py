"""Building a cache: the end-to-end build against brute force, reuse, oracle and NDVI, atomicity
(exceptions, full disk, other OS errors), the block writer, bad input, and the progress bar on
an error."""
from __future__ import annotations

import datetime as dt
import errno
import json
import logging
import os
import pickle
import sys

import numpy as np
import pytest

from lst_lightning.data.cache import FORMAT_VERSION, prepare_cache
from lst_lightning.data.cache import build as build_mod
from lst_lightning.data.facts.terrain import terrain_features
from lst_lightning.data.io.archive import LSTArchive
from lst_lightning.data.io.formats import LST_SCALE, OVERPASS_HOUR
from lst_lightning.data.io.writers import write_geotiff, write_lst_geotiff_day, write_lst_netcdf
from lst_lightning.errors import LSTError
from tests.data.cache.common import cache_dirs, lock_files, prep
from tests.data.inputs import make_dates, make_dem, make_grid, random_raw, write_archive, write_random_archive
from tests.data.references import assert_nan_equal, brute_window_mean
from tests.terminal import screen_lines


@pytest.fixture
def messages(caplog):
    """The project's log records at INFO and above (the console shows them once an entry point
    has configured logging)."""
    caplog.set_level(logging.INFO, logger="lst_lightning")
    return caplog


# ---------------------------------------------------------------- end to end

def test_prepare_end_to_end(small, messages):
    c = prep(small)
    grid, raw, dem = small["grid"], small["raw"], small["dem_array"]
    t, (h, w) = 8, grid.shape
    assert set(c.meta["arrays"]) == {"dem", "elev_mean", "elev_diff", "terrain", "surface", "position", "water",
                                     "lst", "qa", "window_mean", "sample_frames", "frame_lapse"}
    expect = {"lst": ("uint16", (t, h, w)), "qa": ("uint8", (t, h, w)), "window_mean": ("float32", (t, h, w)),
              "elev_mean": ("float32", (h, w)), "elev_diff": ("float32", (h, w, 81)),
              "terrain": ("float32", (h, w, 4)), "dem": ("float32", (h, w))}
    for name, (dtype, shape) in expect.items():
        arr = c.array(name)
        assert isinstance(arr, np.memmap) and arr.mode == "r", name
        assert (arr.dtype.name, arr.shape) == (dtype, shape), name
        assert c.meta["arrays"][name] == {"dtype": dtype, "shape": list(shape)}
    assert not c.has("ndvi") and not c.has("oracle_target")
    lst = raw[:, :2].reshape(t, h, w)  # frames: night then day of each date
    np.testing.assert_array_equal(c.array("lst"), lst)
    np.testing.assert_array_equal(c.array("qa"), np.repeat(raw[:, 3], 2, axis=0))
    expected = brute_window_mean(lst, 9, LST_SCALE)
    expected[:, np.isnan(terrain_features(dem, 9)[..., 0])] = np.nan  # DEM gap invalidates windows
    assert_nan_equal(c.array("window_mean"), expected, atol=1e-3)
    assert np.isnan(c.array("window_mean")[:, 20, 30]).all() and np.isfinite(c.array("window_mean")[0, 10, 10])
    assert_nan_equal(c.elev_mean, terrain_features(dem, 9)[..., 0], atol=1e-4)
    assert_nan_equal(c.array("elev_diff"), terrain_features(dem, 9)[..., 1:], atol=1e-4)
    assert_nan_equal(c.array("dem"), dem, atol=0)

    meta = json.loads((c.path / "meta.json").read_text())
    assert meta["format_version"] == FORMAT_VERSION and meta["k"] == 9 == c.k
    assert len(meta["fingerprint"]) == 64 and c.path.name == f"lst-k9-{meta['fingerprint'][:16]}"
    assert c.grid.matches(grid) and c.grid.shape == (h, w)
    frames = meta["frames"]
    assert [(f["date"], f["band"]) for f in frames] == [(d.isoformat(), b) for d in small["dates"]
                                                         for b in ("night", "day")]
    for f, frame in zip(frames, c.frames):
        assert f["hour"] == OVERPASS_HOUR[f["band"]] == frame.hour
        assert f["doy"] == dt.date.fromisoformat(f["date"]).timetuple().tm_yday == frame.doy
    n = np.isfinite(expected).sum(axis=(1, 2))
    np.testing.assert_array_equal(c.n_windows, n)
    np.testing.assert_array_equal(c.sample_frames, np.isfinite(expected).sum(axis=0))  # per pixel
    assert c.sample_frames.dtype == np.int32 and (c.sample_frames[20, 30] == 0)
    assert meta["n_windows_total"] == int(n.sum()) > 0
    assert c.shape == (t, h, w)
    assert "cache ready" in messages.text
    assert lock_files(small["root"]) == []  # a successful build leaves no lock file
    # Cache pickles as path + meta only and reopens lazily
    c2 = pickle.loads(pickle.dumps(c))
    assert c2.path == c.path and c2._arrays == {}
    np.testing.assert_array_equal(c2.array("lst"), c.array("lst"))
    with pytest.raises(LSTError, match="no array 'ndvi'"):
        c.array("ndvi")


def test_reuse(small, messages):
    first = prep(small)
    meta_mtime = (first.path / "meta.json").stat().st_mtime_ns
    lst_mtime = (first.path / "lst.npy").stat().st_mtime_ns
    messages.clear()
    again = prep(small)
    assert again.path == first.path
    assert (again.path / "meta.json").stat().st_mtime_ns == meta_mtime
    assert (again.path / "lst.npy").stat().st_mtime_ns == lst_mtime
    said = messages.text
    assert "reusing" in said and "cache ready" not in said


def test_quiet_says_nothing(small, messages):
    prep(small, quiet=True)
    prep(small, quiet=True)
    assert messages.text == ""


def test_empty_frame_is_kept_with_a_warning(tmp_path, rng, messages):
    h, w = 20, 24
    grid = make_grid(h, w)
    data = make_dates(rng, 2, h, w, missing=0.0)
    data[1, 1] = 0  # the second date's day frame: no valid pixel at all
    lst_dir, dem = write_archive(tmp_path, grid, {2020: ([10, 11], data)}, make_dem(rng, h, w))
    c = prepare_cache(lst_dir, dem=dem, k=3, cache_root=tmp_path / "cache", progress=False, quiet=True)
    assert c.n_windows.tolist()[3] == 0 and all(n > 0 for n in c.n_windows.tolist()[:3])
    assert len(c.frames) == 4
    said = messages.text  # quiet, yet the warning shows
    assert "warning: 1 frame(s) have no valid window" in said and "2020-01-11 day" in said


def test_oracle_and_ndvi(small, rng):
    grid, raw = small["grid"], small["raw"]
    oracle_dir = small["tmp"] / "oracle"
    oracle_raw = raw.copy()
    oracle_raw[:, :2] = random_raw(rng, raw[:, :2].shape, missing=0.0)
    write_lst_netcdf(oracle_dir / "LST_2020_NetCDF.nc", grid, np.array([1, 2, 5]), oracle_raw[:3])
    write_lst_netcdf(oracle_dir / "LST_2021_NetCDF.nc", grid, np.array([3]), oracle_raw[3:])
    ndvi_path = small["tmp"] / "ndvi.tif"
    ndvi = rng.random((12, *grid.shape)).astype(np.float32)
    write_geotiff(ndvi_path, grid, ndvi)
    c = prep(small, oracle_dir=oracle_dir, ndvi=ndvi_path, k=5)
    assert c.has("oracle_target") and c.has("ndvi")
    assert c.array("ndvi").shape == (12, *grid.shape)
    np.testing.assert_allclose(c.array("ndvi"), ndvi)
    kelvin = oracle_raw[:, :2].reshape(8, *grid.shape).astype(np.float64) * LST_SCALE
    expected = kelvin - brute_window_mean(kelvin, 5)
    assert_nan_equal(c.array("oracle_target"), expected, atol=2e-3)
    assert c.path != prep(small, k=5).path  # oracle and NDVI are part of the fingerprint


def test_geotiff_archive(tmp_path, rng):
    h, w = 16, 18
    grid = make_grid(h, w)
    data = make_dates(rng, 2, h, w)
    lst_dir = tmp_path / "lst"
    for i, day in enumerate(data):
        write_lst_geotiff_day(lst_dir / f"LST_2020_03_0{i + 1}.tif", grid, day)
    write_geotiff(tmp_path / "dem.tif", grid, make_dem(rng, h, w))
    c = prepare_cache(lst_dir, dem=tmp_path / "dem.tif", k=3, cache_root=tmp_path / "cache", progress=False)
    np.testing.assert_array_equal(c.array("lst"), data[:, :2].reshape(4, h, w))
    assert_nan_equal(c.array("window_mean"), brute_window_mean(c.array("lst"), 3, LST_SCALE), atol=1e-3)


# ---------------------------------------------------------------- atomic build

def fail_on_second_block(monkeypatch, calls: list):
    real = build_mod.window_mean_raw

    def fail_second(*a, **kw):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("boom in the middle")
        return real(*a, **kw)

    monkeypatch.setattr(build_mod, "window_mean_raw", fail_second)


def test_exception_midway_leaves_nothing(small, monkeypatch):
    calls = []
    fail_on_second_block(monkeypatch, calls)
    with pytest.raises(RuntimeError, match="boom"):
        prep(small)
    assert len(calls) == 2  # it really failed midway, after a block was written
    assert cache_dirs(small["root"]) == []
    assert lock_files(small["root"]) == []
    monkeypatch.undo()
    assert (prep(small).path / "meta.json").is_file()
    assert lock_files(small["root"]) == []


def test_bad_block_found_midway_leaves_no_lock_file(small, monkeypatch):
    """Input that passes the checks but fails while the frames are read (a damaged block)."""
    real = LSTArchive.iter_blocks

    def damaged(self):
        for i, block in enumerate(real(self)):
            if i == 1:
                raise LSTError(f"{self.root}: cannot read block 1 (damaged file)")
            yield block

    monkeypatch.setattr(LSTArchive, "iter_blocks", damaged)
    with pytest.raises(LSTError, match="damaged file"):
        prep(small)
    assert cache_dirs(small["root"]) == [] and lock_files(small["root"]) == []
    assert [p.name for p in small["root"].iterdir()] == []


def test_keyboard_interrupt_leaves_nothing(small, monkeypatch):
    def interrupt(*a, **kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(build_mod, "frame_lapse", interrupt)
    with pytest.raises(KeyboardInterrupt):
        prep(small)
    assert cache_dirs(small["root"]) == []
    assert lock_files(small["root"]) == []


def test_no_space_left(small, monkeypatch):
    calls = []

    def full_disk(fd, offset, length):
        calls.append(length)
        if len(calls) == 4:
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "posix_fallocate", full_disk)
    with pytest.raises(LSTError, match="^no space left .* nothing was kept"):
        prep(small)
    assert len(calls) == 4
    assert cache_dirs(small["root"]) == []
    assert lock_files(small["root"]) == []


def test_other_os_error_is_an_lst_error(small, monkeypatch):
    def denied(path, data):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(build_mod, "_write_json", denied)
    with pytest.raises(LSTError, match="cannot write the cache under .*Permission denied"):
        prep(small)
    assert cache_dirs(small["root"]) == []


def test_array_files_are_preallocated_and_readable(tmp_path):
    """Array files are not sparse (a full disk fails at creation, not with SIGBUS mid-write) and
    are standard .npy files written block by block."""
    path = tmp_path / "a.npy"
    writer = build_mod._NpyWriter(path, np.float32, (8, 64, 128))
    st_ = os.stat(path)
    assert st_.st_blocks * 512 >= st_.st_size - 4096
    data = np.arange(8 * 64 * 128, dtype=np.float32).reshape(8, 64, 128)
    writer.write(5, data[5:])
    writer.write(0, data[:5])
    with pytest.raises(ValueError):
        writer.write(7, data[:2])
    writer.close()
    np.testing.assert_array_equal(np.load(path, mmap_mode="r"), data)


def test_an_error_is_not_printed_onto_the_progress_bar(small, monkeypatch, capsys):
    calls = []
    fail_on_second_block(monkeypatch, calls)
    with pytest.raises(RuntimeError, match="boom") as caught:
        prep(small, progress=True)
    drawn = capsys.readouterr().err
    assert "preparing frames" in drawn  # the bar was drawn ...
    print(f"error: {caught.value}", file=sys.stderr)  # what the entry point prints next
    shown = screen_lines(drawn + capsys.readouterr().err)
    assert [line for line in shown if "boom" in line] == ["error: boom in the middle"]
    assert not any("preparing frames" in line for line in shown)  # ... and cleared before the error


# ---------------------------------------------------------------- bad input

def test_missing_lst_directory(tmp_path, small):
    with pytest.raises(LSTError, match="does not exist") as err:
        prepare_cache(tmp_path / "nope", dem=small["dem"], cache_root=small["root"])
    assert str(tmp_path / "nope") in str(err.value)


def test_no_files(tmp_path, small):
    (tmp_path / "empty").mkdir()
    with pytest.raises(LSTError, match="holds no NetCDF"):
        prepare_cache(tmp_path / "empty", dem=small["dem"], cache_root=small["root"])


@pytest.mark.parametrize("k", [4, 1, 2, 9.5, "9", 41])
def test_bad_k(small, k):
    with pytest.raises(LSTError, match="data.k"):
        prep(small, k=k)
    assert cache_dirs(small["root"]) == []


def test_dem_on_another_grid(small, rng):
    other = make_grid(30, 40, dlat=0.02)
    bad = small["tmp"] / "dem_other.tif"
    write_geotiff(bad, other, make_dem(rng, 30, 40))
    with pytest.raises(LSTError) as err:
        prepare_cache(small["lst_dir"], dem=bad, cache_root=small["root"])
    msg = str(err.value)
    assert str(bad) in msg and other.describe() in msg and small["grid"].describe() in msg
    assert not small["root"].exists()


def test_missing_dem(small):
    with pytest.raises(LSTError, match="DEM file .*nope.tif does not exist"):
        prepare_cache(small["lst_dir"], dem=small["tmp"] / "nope.tif", cache_root=small["root"])
    assert not small["root"].exists()


def test_oracle_with_different_frames(small):
    oracle_dir = small["tmp"] / "oracle"
    write_lst_netcdf(oracle_dir / "LST_2020_NetCDF.nc", small["grid"], np.array([1, 2]), small["raw"][:2])
    with pytest.raises(LSTError, match="oracle archive .* does not hold the same frames.*missing 2020-01-05"):
        prep(small, oracle_dir=oracle_dir)
    assert not small["root"].exists()


def test_unwritable_cache_root(small):
    blocker = small["tmp"] / "file"
    blocker.write_text("not a directory")
    with pytest.raises(LSTError, match="cache root"):
        prepare_cache(small["lst_dir"], dem=small["dem"], cache_root=blocker / "cache")


def test_dem_inside_the_lst_directory_is_not_an_archive_file(tmp_path):
    """data.lst_dir=X data.dem=X/dem.tif: the configured DEM does not count as an archive file."""
    from lst_lightning.data.cache import prepare_cache
    arch = write_random_archive(tmp_path, n_days=6)
    dem_inside = arch["lst_dir"] / "dem.tif"
    arch["dem"].rename(dem_inside)
    cache = prepare_cache(arch["lst_dir"], dem=dem_inside, k=3, cache_root=tmp_path / "cache", progress=False)
    assert len(cache.meta["frames"]) == 12  # 6 dates x day + night: the DEM was not read as a frame


def _qa_observed_archive(root, zero):
    """An archive of 6 dates whose QA says every pixel observed by day and night (3), with LST 0
    (missing) where ``zero`` [date, y, x] is true."""
    grid = make_grid(30, 28)
    rng = np.random.default_rng(5)
    data = rng.integers(14_000, 16_000, size=(6, 4, *grid.shape)).astype(np.uint16)
    data[:, 3] = 3
    for band in range(3):
        data[:, band][zero] = 0
    write_lst_netcdf(root / "lst" / "LST_2020_NetCDF.nc", grid, np.arange(1, 7), data)
    write_geotiff(root / "dem.tif", grid, make_dem(rng, *grid.shape))
    return root / "lst", root / "dem.tif"


def test_an_archive_without_any_sample_is_an_error_and_leaves_no_cache(tmp_path):
    """QA says observed, but the LST is 0 everywhere: no cache of 0 samples, one line instead."""
    lst, dem = _qa_observed_archive(tmp_path, np.ones((6, 30, 28), bool))
    with pytest.raises(LSTError, match=r"lst: no sample in any of its 12 frames: none has a 9 x 9 window"):
        prepare_cache(lst, dem=dem, cache_root=tmp_path / "cache", progress=False)
    assert cache_dirs(tmp_path / "cache") == []


def test_qa_that_contradicts_the_values_is_counted_and_named(tmp_path, messages):
    zero = np.zeros((6, 30, 28), bool)
    zero[1, 3:5, 3:8] = True  # 10 pixels of date 2
    zero[4, 20, 20] = True  # 1 pixel of date 5
    lst, dem = _qa_observed_archive(tmp_path, zero)
    c = prepare_cache(lst, dem=dem, cache_root=tmp_path / "cache", progress=False)
    assert c.meta["n_windows_total"] > 0
    warned = [r.getMessage() for r in messages.records if "QA says observed" in r.getMessage()]
    assert warned == [f"warning: LST archive {lst}: QA says observed where the LST is missing in 22 pixels of "
                      "4 frame(s) (2020-01-02 night, 2020-01-02 day, 2020-01-05 night, 2020-01-05 day); "
                      "read as missing"]
