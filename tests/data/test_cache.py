"""The memmap cache: box-filter window statistics against brute force, the end-to-end build,
fingerprinting, atomicity (exceptions, full disk, SIGKILL), concurrent builds, bad input, and the
figures of the real Israel DEM."""
from __future__ import annotations

import datetime as dt
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lst_lightning.data import cache as cache_mod
from lst_lightning.data.cache import Cache, open_cache, prepare_cache, terrain_derivatives, terrain_features
from lst_lightning.data.io.formats import LST_SCALE, OVERPASS_HOUR
from lst_lightning.data.io.rasters import read_dem
from lst_lightning.data.windows import box_sum, check_k, pad_interior, window_mean, window_mean_raw
from lst_lightning.data.io.writers import write_geotiff, write_lst_geotiff_day, write_lst_netcdf
from lst_lightning.errors import LSTError
from lst_lightning.data.io.grid import Grid
from tests.common import REPO



# ---------------------------------------------------------------- helpers

def make_grid(h: int, w: int, dlat: float = 0.01) -> Grid:
    return Grid.from_corner(34.0, 33.0, 0.01, dlat, (h, w))


def random_raw(rng, shape, missing: float = 0.02) -> np.ndarray:
    """uint16 LST in 0.02 K (about 260-320 K), 0 = missing."""
    raw = rng.integers(13000, 16000, size=shape).astype(np.uint16)
    raw[rng.random(shape) < missing] = 0
    return raw


def make_dates(rng, n_dates: int, h: int, w: int, missing: float = 0.02) -> np.ndarray:
    """(dates, 4, H, W): night, day, daily mean, QA."""
    data = np.zeros((n_dates, 4, h, w), dtype=np.uint16)
    data[:, :2] = random_raw(rng, (n_dates, 2, h, w), missing)
    data[:, 2] = (data[:, 0].astype(np.int64) + data[:, 1]) // 2
    data[:, 3] = rng.integers(0, 4, size=(n_dates, h, w))
    return data


def make_dem(rng, h: int, w: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return (300 + 200 * np.sin(yy / 7.0) * np.cos(xx / 5.0) + rng.normal(0, 20, (h, w))).astype(np.float32)


def brute_window_mean(frames: np.ndarray, k: int, scale: float = 1.0, missing_zero: bool = True) -> np.ndarray:
    """Per-window Python loop: the obviously correct reference."""
    t, h, w = frames.shape
    r = k // 2
    out = np.full((t, h, w), np.nan)
    for f in range(t):
        for i in range(r, h - r):
            for j in range(r, w - r):
                win = frames[f, i - r:i + r + 1, j - r:j + r + 1].astype(np.float64)
                ok = (win != 0) if missing_zero else np.isfinite(win)
                if ok.all():
                    out[f, i, j] = win.mean() * scale
    return out


def brute_terrain(dem: np.ndarray, k: int) -> np.ndarray:
    h, w = dem.shape
    r = k // 2
    out = np.full((h, w, 1 + k * k), np.nan)
    for i in range(r, h - r):
        for j in range(r, w - r):
            win = dem[i - r:i + r + 1, j - r:j + r + 1].astype(np.float64)
            if np.isfinite(win).all():
                m = win.mean()
                out[i, j, 0] = m
                out[i, j, 1:] = (win - m).ravel()
    return out


def assert_nan_equal(actual, expected, atol):
    actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected))
    ok = ~np.isnan(expected)
    np.testing.assert_allclose(actual[ok], expected[ok], rtol=0, atol=atol)


def write_archive(root: Path, grid: Grid, years: dict[int, tuple[list[int], np.ndarray]],
                  dem: np.ndarray) -> tuple[Path, Path]:
    """lst/LST_<year>_NetCDF.nc for each year + dem.tif; returns (lst_dir, dem_path)."""
    lst_dir = root / "lst"
    for year, (doys, data) in years.items():
        write_lst_netcdf(lst_dir / f"LST_{year}_NetCDF.nc", grid, np.asarray(doys), data)
    dem_path = root / "dem.tif"
    write_geotiff(dem_path, grid, dem, nodata=-9999.0)
    return lst_dir, dem_path


def cache_dirs(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.name.startswith(("lst-", ".tmp-"))) if root.exists() else []


@pytest.fixture
def small(tmp_path, rng):
    """A two-year NetCDF archive on a 30 x 40 grid with a DEM gap; 8 frames."""
    h, w = 30, 40
    grid = make_grid(h, w)
    d2020 = make_dates(rng, 3, h, w)
    d2021 = make_dates(rng, 1, h, w)
    dem = make_dem(rng, h, w)
    dem[20, 30] = -9999.0  # nodata -> NaN gap
    lst_dir, dem_path = write_archive(tmp_path / "in", grid, {2020: ([1, 2, 5], d2020), 2021: ([3], d2021)}, dem)
    raw = np.concatenate([d2020, d2021])  # (dates, 4, H, W) in frame order: night, day per date
    dem_nan = dem.copy()
    dem_nan[dem_nan == -9999.0] = np.nan
    return {"grid": grid, "lst_dir": lst_dir, "dem": dem_path, "raw": raw, "dem_array": dem_nan,
            "dates": [dt.date(2020, 1, 1), dt.date(2020, 1, 2), dt.date(2020, 1, 5), dt.date(2021, 1, 3)],
            "root": tmp_path / "cache", "tmp": tmp_path}


def prep(small, **kw) -> Cache:
    kw.setdefault("cache_root", small["root"])
    kw.setdefault("progress", False)
    return prepare_cache(small["lst_dir"], dem=small["dem"], **kw)


# ---------------------------------------------------------------- 1. window statistics

@pytest.mark.parametrize("k", [3, 5, 9])
def test_window_means_match_brute_force(rng, k):
    h, w = 30, 40
    raw = random_raw(rng, (3, h, w), missing=0.01)
    raw[1, 10:13, 5] = 0  # a small cloud
    raw[2] = 0  # an empty frame
    expected = brute_window_mean(raw, k, LST_SCALE)
    got = window_mean_raw(raw, k, LST_SCALE)
    assert got.dtype == np.float32 and got.shape == raw.shape
    assert_nan_equal(got, expected, atol=1e-3)
    r = k // 2  # grid edges are never valid
    for edge in (got[:, :r], got[:, h - r:], got[:, :, :r], got[:, :, w - r:]):
        assert np.isnan(edge).all()
    assert np.isfinite(got[0]).any() and np.isnan(got[2]).all()
    # the float version on Kelvin with NaN gaps agrees with the integer version
    kelvin = raw.astype(np.float64) * LST_SCALE
    kelvin[raw == 0] = np.nan
    assert_nan_equal(window_mean(kelvin, k), got, atol=1e-3)
    # validity from box_sum counts agrees too
    valid = pad_interior(box_sum(raw != 0, k) == k * k, k, False)
    np.testing.assert_array_equal(valid, np.isfinite(got))


@settings(max_examples=25, deadline=None)
@given(h=st.integers(1, 14), w=st.integers(1, 14), k=st.sampled_from([3, 5, 7]),
       missing=st.floats(0, 0.3), seed=st.integers(0, 2**31))
def test_window_mean_property(h, w, k, missing, seed):
    """Any grid size, including grids smaller than the window (no valid window at all)."""
    raw = random_raw(np.random.default_rng(seed), (2, h, w), missing)
    got = window_mean_raw(raw, k, LST_SCALE)
    assert got.shape == raw.shape
    assert_nan_equal(got, brute_window_mean(raw, k, LST_SCALE), atol=1e-3)


def test_box_sum_is_exact_for_integers(rng):
    raw = rng.integers(0, 65536, size=(50, 60)).astype(np.uint16)
    sums = box_sum(raw, 9)
    assert sums.dtype == np.int64
    assert sums[3, 7] == int(raw[3:12, 7:16].astype(np.int64).sum())
    assert sums.shape == (42, 52)


@pytest.mark.parametrize("k", [3, 5, 9])
def test_terrain_features_match_brute_force(rng, k):
    dem = make_dem(rng, 25, 32)
    dem[12, 16] = np.nan  # a DEM gap
    got = terrain_features(dem, k)
    assert got.shape == (25, 32, 1 + k * k) and got.dtype == np.float32
    assert_nan_equal(got, brute_terrain(dem, k), atol=1e-3)
    r = k // 2
    # every window over the gap is invalid, and windows just beyond it are valid
    assert np.isnan(got[12 - r:12 + r + 1, 16 - r:16 + r + 1, 0]).all()
    assert np.isfinite(got[12 - r - 1, 16, 0]) or 12 - r - 1 < r


def test_terrain_derivatives(rng):
    h, w = 20, 20
    grid = make_grid(h, w)
    flat = np.full((h, w), 100.0, dtype=np.float32)
    d = terrain_derivatives(flat, grid, 5)
    assert d.shape == (h, w, 4)
    assert np.all(d[..., 0] == 0) and np.all(d[..., 1] == 0) and np.all(d[..., 2] == 0)  # no fake aspect
    # a plane rising to the north faces (downhill) south: cos(aspect) = -1
    north_up = np.repeat(np.arange(h, 0, -1, dtype=np.float32)[:, None] * 50, w, axis=1)
    d = terrain_derivatives(north_up, grid, 5)
    np.testing.assert_allclose(d[5:15, 5:15, 2], -1, atol=1e-6)
    np.testing.assert_allclose(d[5:15, 5:15, 1], 0, atol=1e-6)
    assert np.all(d[5:15, 5:15, 0] > 0)


def test_check_k():
    assert check_k(9) == 9 and check_k(np.int64(5)) == 5
    for bad in (4, 1, 2, -3, 9.0, "9", True, None):
        with pytest.raises(LSTError, match="data.k"):
            check_k(bad)


# ---------------------------------------------------------------- 2. end to end

def test_prepare_end_to_end(small, capsys):
    c = prep(small)
    grid, raw, dem = small["grid"], small["raw"], small["dem_array"]
    t, (h, w) = 8, grid.shape
    assert set(c.meta["arrays"]) == {"dem", "terrain", "terrain_extra", "lst", "qa", "window_mean"}
    expect = {"lst": ("uint16", (t, h, w)), "qa": ("uint8", (t, h, w)), "window_mean": ("float32", (t, h, w)),
              "terrain": ("float32", (h, w, 82)), "terrain_extra": ("float32", (h, w, 4)),
              "dem": ("float32", (h, w))}
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
    assert_nan_equal(c.array("terrain"), terrain_features(dem, 9), atol=1e-4)
    assert_nan_equal(c.array("dem"), dem, atol=0)

    meta = json.loads((c.path / "meta.json").read_text())
    assert meta["format_version"] == cache_mod.FORMAT_VERSION and meta["k"] == 9 == c.k
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
    assert meta["n_windows_total"] == int(n.sum()) > 0
    assert c.shape == (t, h, w)
    assert "cache ready" in capsys.readouterr().err
    # Cache pickles as path + meta only and reopens lazily
    import pickle

    c2 = pickle.loads(pickle.dumps(c))
    assert c2.path == c.path and c2._arrays == {}
    np.testing.assert_array_equal(c2.array("lst"), c.array("lst"))
    with pytest.raises(LSTError, match="no array 'ndvi'"):
        c.array("ndvi")


def test_reuse(small, capsys):
    first = prep(small)
    meta_mtime = (first.path / "meta.json").stat().st_mtime_ns
    lst_mtime = (first.path / "lst.npy").stat().st_mtime_ns
    capsys.readouterr()
    again = prep(small)
    assert again.path == first.path
    assert (again.path / "meta.json").stat().st_mtime_ns == meta_mtime
    assert (again.path / "lst.npy").stat().st_mtime_ns == lst_mtime
    err = capsys.readouterr().err
    assert "reusing" in err and "cache ready" not in err


def test_reuse_needs_no_lock(small, monkeypatch):
    """A complete cache is reused without taking the lock (works in a read-only cache root)."""
    first = prep(small, quiet=True)

    def no_lock(*a, **kw):
        raise AssertionError("the lock was taken")

    monkeypatch.setattr(cache_mod, "build_lock", no_lock)
    assert prep(small, quiet=True).path == first.path


def test_fingerprint_changes(small):
    first = prep(small, quiet=True)
    paths = {first.path}
    # identical content elsewhere is the same cache (the fingerprint is content, not location)
    shutil.copytree(small["lst_dir"], small["tmp"] / "copy")
    assert prepare_cache(small["tmp"] / "copy", dem=small["dem"], cache_root=small["root"],
                         progress=False).path == first.path
    # one LST value changed in a copy of the archive
    changed = small["tmp"] / "changed"
    raw = small["raw"].copy()
    raw[0, 1, 15, 15] = 15001 if raw[0, 1, 15, 15] != 15001 else 15002
    grid = small["grid"]
    write_lst_netcdf(changed / "LST_2020_NetCDF.nc", grid, np.array([1, 2, 5]), raw[:3])
    shutil.copy(small["lst_dir"] / "LST_2021_NetCDF.nc", changed / "LST_2021_NetCDF.nc")
    paths.add(prepare_cache(changed, dem=small["dem"], cache_root=small["root"], progress=False).path)
    # the DEM changed
    dem2 = small["tmp"] / "dem2.tif"
    dem = small["dem_array"].copy()
    dem[3, 3] += 1
    write_geotiff(dem2, grid, np.nan_to_num(dem, nan=-9999.0), nodata=-9999.0)
    paths.add(prepare_cache(small["lst_dir"], dem=dem2, cache_root=small["root"], progress=False).path)
    paths.add(prep(small, k=5).path)
    paths.add(prep(small, hours={"day": 14.0}).path)
    assert len(paths) == 5
    assert prep(small, hours={"day": 14.0}).frames[1].hour == 14.0
    assert len([p for p in small["root"].iterdir() if p.name.startswith("lst-")]) == 5


def test_empty_frame_is_kept_with_a_warning(tmp_path, rng, capsys):
    h, w = 20, 24
    grid = make_grid(h, w)
    data = make_dates(rng, 2, h, w, missing=0.0)
    data[1, 1] = 0  # the second date's day frame: no valid pixel at all
    lst_dir, dem = write_archive(tmp_path, grid, {2020: ([10, 11], data)}, make_dem(rng, h, w))
    c = prepare_cache(lst_dir, dem=dem, k=3, cache_root=tmp_path / "cache", progress=False, quiet=True)
    assert c.n_windows.tolist()[3] == 0 and all(n > 0 for n in c.n_windows.tolist()[:3])
    assert len(c.frames) == 4
    err = capsys.readouterr().err
    assert "warning: 1 frame(s) have no valid window" in err and "2020-01-11 day" in err


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


# ---------------------------------------------------------------- 3. atomic build

def test_exception_midway_leaves_nothing(small, monkeypatch):
    calls = []
    real = cache_mod.window_mean_raw

    def fail_second(*a, **kw):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("boom in the middle")
        return real(*a, **kw)

    monkeypatch.setattr(cache_mod, "window_mean_raw", fail_second)
    with pytest.raises(RuntimeError, match="boom"):
        prep(small)
    assert len(calls) == 2  # it really failed midway, after a block was written
    assert cache_dirs(small["root"]) == []
    monkeypatch.setattr(cache_mod, "window_mean_raw", real)
    assert (prep(small).path / "meta.json").is_file()


def test_keyboard_interrupt_leaves_nothing(small, monkeypatch):
    def interrupt(*a, **kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(cache_mod, "terrain_derivatives", interrupt)
    with pytest.raises(KeyboardInterrupt):
        prep(small)
    assert cache_dirs(small["root"]) == []


def test_stale_tmp_is_cleaned_and_rebuilt(small):
    name = prep(small, quiet=True).path.name
    shutil.rmtree(small["root"] / name)
    stale = small["root"] / f".tmp-{name}-999999"
    stale.mkdir()
    (stale / "lst.npy").write_bytes(b"half written")
    other = small["root"] / ".tmp-lst-k7-0123456789abcdef-999999"  # a killed build of another cache
    other.mkdir()
    c = prep(small, quiet=True)
    assert c.path.name == name and (c.path / "meta.json").is_file()
    assert not stale.exists() and not other.exists()
    assert cache_dirs(small["root"]) == [name]
    # a final directory without meta.json (never usable) is replaced too
    (c.path / "meta.json").unlink()
    assert (prep(small, quiet=True).path / "meta.json").is_file()


def test_no_space_left(small, monkeypatch):
    calls = []

    def full_disk(fd, offset, length):
        calls.append(length)
        if len(calls) == 4:
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(cache_mod.os, "posix_fallocate", full_disk)
    with pytest.raises(LSTError, match="^no space left .* nothing was kept"):
        prep(small)
    assert len(calls) == 4
    assert cache_dirs(small["root"]) == []


def test_other_os_error_is_an_lst_error(small, monkeypatch):
    def denied(path, data):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(cache_mod, "_write_json", denied)
    with pytest.raises(LSTError, match="cannot write the cache under .*Permission denied"):
        prep(small)
    assert cache_dirs(small["root"]) == []


def test_array_files_are_preallocated_and_readable(tmp_path):
    """Array files are not sparse (a full disk fails at creation, not with SIGBUS mid-write) and
    are standard .npy files written block by block."""
    path = tmp_path / "a.npy"
    writer = cache_mod._NpyWriter(path, np.float32, (8, 64, 128))
    st_ = os.stat(path)
    assert st_.st_blocks * 512 >= st_.st_size - 4096
    data = np.arange(8 * 64 * 128, dtype=np.float32).reshape(8, 64, 128)
    writer.write(5, data[5:])
    writer.write(0, data[:5])
    with pytest.raises(ValueError):
        writer.write(7, data[:2])
    writer.close()
    np.testing.assert_array_equal(np.load(path, mmap_mode="r"), data)


PREPARE_CODE = ("import sys; from lst_lightning.data.cache import prepare_cache; "
                "c = prepare_cache(sys.argv[1], dem=sys.argv[2], cache_root=sys.argv[3], progress=False); "
                "print(c.path)")


@pytest.fixture(scope="module")
def big_archive(tmp_path_factory):
    """200 frames of 200 x 200 (100 dates): a build that takes a noticeable moment."""
    rng = np.random.default_rng(7)
    root = tmp_path_factory.mktemp("big")
    h = w = 200
    grid = make_grid(h, w)
    data = make_dates(rng, 100, h, w, missing=0.001)
    lst_dir, dem = write_archive(root, grid, {2019: (list(range(1, 101)), data)}, make_dem(rng, h, w))
    return lst_dir, dem


def _start_prepare(lst_dir, dem, root) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", PREPARE_CODE, str(lst_dir), str(dem), str(root)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)


def _wait_for_build(proc: subprocess.Popen, root: Path) -> Path:
    """The temporary directory of ``proc``'s build, once it is writing frames."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        tmps = list(root.glob(".tmp-lst-*")) if root.exists() else []
        if tmps and (tmps[0] / "window_mean.npy").exists():
            return tmps[0]
        time.sleep(0.002)
    raise AssertionError("the build finished before it could be caught midway")


def test_sigkill_midway_then_rebuild(big_archive, tmp_path):
    lst_dir, dem = big_archive
    root = tmp_path / "cache"
    proc = _start_prepare(lst_dir, dem, root)
    tmp_dir = _wait_for_build(proc, root)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not [p for p in root.glob("lst-*") if (p / "meta.json").exists()]  # nothing complete-looking
    assert tmp_dir.exists()  # the killed build's leftover ...
    c = prepare_cache(lst_dir, dem=dem, cache_root=root, progress=False, quiet=True)
    assert not tmp_dir.exists()  # ... is cleaned by the next run, which rebuilds
    assert cache_dirs(root) == [c.path.name]
    assert c.array("lst").shape == (200, 200, 200) and c.n_windows.min() > 0
    assert np.isfinite(c.array("window_mean")[-1, 100, 100])


# ---------------------------------------------------------------- 4. two processes at once

def test_two_processes_build_once(big_archive, tmp_path):
    """The second process arrives while the first is midway (held there with SIGSTOP, so the
    overlap is certain): it waits on the lock, then reuses what the first one built."""
    lst_dir, dem = big_archive
    root = tmp_path / "cache"
    builder = _start_prepare(lst_dir, dem, root)
    _wait_for_build(builder, root)
    os.kill(builder.pid, signal.SIGSTOP)
    try:
        waiter = _start_prepare(lst_dir, dem, root)
        said = ""
        for said in waiter.stderr:  # blocks until the waiter has reached the lock (or ended)
            if "another process is preparing this cache; waiting" in said:
                break
        assert "waiting" in said and waiter.poll() is None, said
    finally:
        os.kill(builder.pid, signal.SIGCONT)
    outs = [p.communicate(timeout=120) for p in (builder, waiter)]
    assert [p.returncode for p in (builder, waiter)] == [0, 0], [o[1] for o in outs]
    assert outs[0][0] == outs[1][0]  # the same cache path
    assert "cache ready" in outs[0][1] and "reusing cache" not in outs[0][1]
    assert "reusing cache" in outs[1][1] and "cache ready" not in outs[1][1]
    c = open_cache(outs[0][0].strip())
    assert cache_dirs(root) == [c.path.name]
    assert c.array("window_mean").shape == (200, 200, 200) and c.meta["n_windows_total"] > 0


# ---------------------------------------------------------------- 5. bad input

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


def test_open_cache_errors(tmp_path):
    with pytest.raises(LSTError, match="not a prepared cache"):
        open_cache(tmp_path)
    (tmp_path / "meta.json").write_text('{"format_version": 0}')
    with pytest.raises(LSTError, match="format version"):
        open_cache(tmp_path)
    (tmp_path / "meta.json").write_text("{broken")
    with pytest.raises(LSTError, match="cannot read meta.json"):
        open_cache(tmp_path)


# ---------------------------------------------------------------- 6. the real DEM

def test_real_dem_figures(israel_dem):
    dem, grid = read_dem(israel_dem)
    assert grid.shape == (603, 409)
    k = 9
    terrain = terrain_features(dem, k)
    land = pad_interior(box_sum(dem != 0, k) == k * k, k, False)  # DEM != 0 over the whole window
    n_land = int(land.sum())
    centre = terrain[..., 1 + (k * k) // 2][land].astype(np.float64)  # centre minus window mean
    rms, median = float(np.sqrt(np.mean(centre ** 2))), float(np.median(np.abs(centre)))
    print(f"real DEM: {n_land:,} full land windows, centre-minus-mean RMS {rms:.1f} m, median |.| {median:.1f} m")
    assert abs(n_land - 165_179) <= 0.02 * 165_179
    assert abs(rms - 51) <= 0.04 * 51
    assert abs(median - 12) <= 1.5
    # TPI in terrain_derivatives is the same quantity
    extra = terrain_derivatives(dem, grid, k)
    np.testing.assert_allclose(extra[..., 3][land], centre, atol=1e-3)
