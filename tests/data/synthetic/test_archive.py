"""The synthetic archive on disk: real formats and grid, sea and land, both forms, determinism,
date sampling, regeneration, bad settings."""
from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest

from lst_lightning.data.io.formats import LST_SCALE
from lst_lightning.data.io.rasters import read_dem, read_raster
from lst_lightning.data.synthetic import generate_archive, israel_grid
from lst_lightning.errors import LSTError
from tests.data.synthetic.reading import SMALL, read_all

# ---------------------------------------------------------------- formats and grid

def test_files_readable_with_grid_frames_and_dates(small):
    out, truth = small
    assert (out / "lst" / "LST_2020_NetCDF.nc").is_file() and (out / "oracle" / "LST_2020_oracle.nc").is_file()
    archive, lst, qa = read_all(out / "lst")
    dates = [dt.date(2020, 1, 1) + dt.timedelta(days=d) for d in range(0, 366, 61)]
    assert archive.kind == "netcdf" and archive.grid.shape == (40, 36)
    assert [(f.date, f.band) for f in archive.frames] == [(d, b) for d in dates for b in ("night", "day")]
    assert truth["n_frames"] == len(archive.frames) == lst.shape[0] == 12
    # the real grid's corner and pixel size
    assert archive.grid.west == pytest.approx(33.2003, abs=1e-6)
    assert archive.grid.north == pytest.approx(34.0078, abs=1e-6)
    assert archive.grid.dlon == pytest.approx(0.0083037, rel=1e-6)
    assert archive.grid.dlat == pytest.approx(0.0083102, rel=1e-6)
    dem, dem_grid = read_dem(out / "dem.tif", archive.grid)
    assert dem_grid.matches(archive.grid)
    ndvi = read_raster(out / "ndvi.tif", archive.grid, "NDVI")
    land = dem != 0
    assert ndvi.shape == (12, 40, 36)
    assert np.isnan(ndvi[:, ~land]).all() and np.isfinite(ndvi[:, land]).all()
    assert -0.1 <= np.nanmin(ndvi) and np.nanmax(ndvi) <= 0.9
    assert np.nanmean(np.abs(ndvi[0] - ndvi[6])) > 0.05  # a real seasonal cycle
    assert json.loads((out / "truth.json").read_text()) == json.loads(json.dumps(truth))


def test_sea_missing_land_valid_and_plausible(small):
    out, _ = small
    _, lst, qa = read_all(out / "lst")
    dem, _ = read_dem(out / "dem.tif")
    sea = dem == 0
    assert 0.1 < sea.mean() < 0.6
    assert (lst[:, sea] == 0).all() and (lst[:, ~sea] > 0).all()
    assert (qa[:, sea] == 0).all()
    kelvin = lst[:, ~sea] * LST_SCALE
    night, day = kelvin[0::2], kelvin[1::2]
    assert 255 < night.min() and day.max() < 340
    assert 275 < night.mean() < 300 and 290 < day.mean() < 320
    assert (day.mean(axis=1) > night.mean(axis=1) + 5).all()  # every date: day warmer than night
    jan_day, jul_day = day[0].mean(), day[3].mean()  # 1 Jan and 3 Jul
    assert jul_day > jan_day + 10


def test_daily_mean_band_is_mean_of_night_and_day(small):
    import netCDF4

    out, _ = small
    with netCDF4.Dataset(out / "lst" / "LST_2020_NetCDF.nc") as ds:
        var = ds.variables["__xarray_dataarray_variable__"]
        var.set_auto_maskandscale(False)
        data = np.asarray(var[:]).astype(np.int64)
        assert list(ds.variables["time"][:]) == list(range(1, 367, 61))
    land = data[:, 0] != 65535
    mean = (data[:, 0] + data[:, 1]) // 2
    assert (data[:, 2][land] == mean[land]).all() and (data[:, 2][~land] == 65535).all()


def test_netcdf_and_geotiff_forms_hold_identical_arrays(tmp_path, small):
    out, truth = small
    truth_tif = generate_archive(tmp_path, form="geotiff", **SMALL)
    files = sorted(p.name for p in (tmp_path / "lst").iterdir())
    assert files[:2] == ["LST_2020_01_01.tif", "LST_2020_03_02.tif"] and len(files) == 6
    arch_nc, lst_nc, qa_nc = read_all(out / "lst")
    arch_tif, lst_tif, qa_tif = read_all(tmp_path / "lst")
    assert arch_tif.kind == "geotiff" and arch_tif.grid.matches(arch_nc.grid)
    assert [f.label() for f in arch_tif.frames] == [f.label() for f in arch_nc.frames]
    np.testing.assert_array_equal(lst_tif, lst_nc)
    np.testing.assert_array_equal(qa_tif, qa_nc)
    assert truth_tif["calibration"] == truth["calibration"]


# ---------------------------------------------------------------- determinism and sampling

def test_same_seed_same_files_other_seed_differs(tmp_path):
    options = dict(shape=(24, 20), day_step=120, progress=False)
    arrays = []
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        generate_archive(tmp_path / name, seed=seed, **options)
        _, lst, qa = read_all(tmp_path / name / "lst")
        _, oracle, _ = read_all(tmp_path / name / "oracle")
        dem, grid = read_dem(tmp_path / name / "dem.tif")
        ndvi = read_raster(tmp_path / name / "ndvi.tif", grid, "NDVI")
        arrays.append((lst, qa, oracle, dem, np.nan_to_num(ndvi, nan=-9)))
    for x, y in zip(arrays[0], arrays[1]):
        np.testing.assert_array_equal(x, y)
    for x, y in zip(arrays[0], arrays[2]):
        assert not np.array_equal(x, y)


def test_day_step_sampling_and_per_date_determinism(tmp_path):
    options = dict(shape=(24, 20), seed=1, progress=False)
    generate_archive(tmp_path / "a", years=(2019, 2020), day_step=100, **options)
    generate_archive(tmp_path / "b", years=[2020], day_step=50, **options)
    arch_a, lst_a, _ = read_all(tmp_path / "a" / "lst")
    arch_b, lst_b, _ = read_all(tmp_path / "b" / "lst")
    doys = [f.doy for f in arch_a.frames[::2]]
    assert [f.date.year for f in arch_a.frames[::2]] == [2019] * 4 + [2020] * 4
    assert doys == [1, 101, 201, 301] * 2
    assert [f.doy for f in arch_b.frames[::2]] == list(range(1, 367, 50))
    # a date's frames do not depend on which other dates were generated
    np.testing.assert_array_equal(lst_a[10:12], lst_b[4:6])  # 2020 doy 101


# ---------------------------------------------------------------- regeneration and bad settings

@pytest.mark.parametrize("options, name", [
    ({"day_step": 0}, "day_step"),
    ({"day_step": 1.5}, "day_step"),
    ({"form": "zarr"}, "form"),
    ({"shape": (8, 40)}, "shape"),
    ({"shape": (40,)}, "shape"),
    ({"years": (1970,)}, "years"),
    ({"years": (2020, 2020)}, "years"),
    ({"years": ()}, "years"),
    ({"noise_k": -1.0}, "noise_k"),
    ({"hidden_k": -0.1}, "hidden_k"),
    ({"cloud_fraction": 1.5}, "cloud_fraction"),
    ({"dem": "no/such/dem.tif"}, "no/such/dem.tif"),
])
def test_bad_settings_raise_lst_error_naming_the_setting(tmp_path, options, name):
    with pytest.raises(LSTError) as err:
        generate_archive(tmp_path / "out", progress=False, **options)
    assert name in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "out" / "truth.json").exists()


def test_cli_synth_main_writes_an_archive(tmp_path, capsys):
    from lst_lightning.apps.cli import synth_main

    synth_main([str(tmp_path / "a"), "--shape", "24", "20", "--day-step", "120", "--noise-k", "0.3"])
    assert "8 frames" in capsys.readouterr().out
    assert json.loads((tmp_path / "a" / "truth.json").read_text())["noise_k"] == 0.3


def test_regenerating_replaces_an_earlier_archive_but_never_foreign_files(tmp_path):
    options = dict(shape=(24, 20), day_step=120, progress=False)
    generate_archive(tmp_path / "a", **options)
    generate_archive(tmp_path / "a", form="geotiff", **options)  # netcdf -> geotiff: no mixed folder
    archive, _, _ = read_all(tmp_path / "a" / "lst")
    assert archive.kind == "geotiff" and len(archive.frames) == 8
    foreign = tmp_path / "b" / "lst"
    foreign.mkdir(parents=True)
    (foreign / "LST_2020_NetCDF.nc").write_bytes(b"real data")
    with pytest.raises(LSTError, match="not a synthetic archive"):
        generate_archive(tmp_path / "b", **options)
    assert (foreign / "LST_2020_NetCDF.nc").read_bytes() == b"real data"


def test_dem_without_land_is_refused(tmp_path):
    from lst_lightning.data.io.writers import write_geotiff

    write_geotiff(tmp_path / "sea.tif", israel_grid((20, 20)), np.zeros((20, 20), np.int16))
    with pytest.raises(LSTError, match="no land"):
        generate_archive(tmp_path / "out", dem=tmp_path / "sea.tif", progress=False)


def _dem_with_void(path, shape=(40, 36)):
    """A hilly int16 DEM with a tagged void (-32768) in its middle: (path, void mask)."""
    from lst_lightning.data.io.writers import write_geotiff

    rows, cols = np.mgrid[:shape[0], :shape[1]]
    dem = (800 + 300 * np.sin(rows / 6.0) * np.cos(cols / 5.0)).astype(np.int16)
    void = np.zeros(shape, bool)
    void[18:22, 15:20] = True
    dem[void] = -32768
    write_geotiff(path, israel_grid(shape), dem, nodata=-32768)
    return path, void


def test_dem_voids_stay_nodata_no_lst_and_no_sea(tmp_path):
    """A given DEM's voids are nodata in the written dem.tif (not 0 m), hold no LST, and are not
    sea for the physics: no coast (sea breeze) around them, no cliff down to 0 m beside them."""
    from lst_lightning.data.io.archive import open_archive
    from lst_lightning.data.synthetic import build_climate

    path, void = _dem_with_void(tmp_path / "void.tif")
    generate_archive(tmp_path / "a", dem=path, day_step=120, progress=False)
    written, _ = read_dem(tmp_path / "a" / "dem.tif")
    np.testing.assert_array_equal(np.isnan(written), void)
    original, _ = read_dem(path)
    np.testing.assert_array_equal(written[~void], original[~void])
    (_, raw, qa), = list(open_archive(tmp_path / "a" / "lst").iter_blocks())[:1]
    assert (raw[:, void] == 0).all() and (qa[:, void] == 0).all() and (raw[:, ~void] > 0).all()
    terrain = build_climate(dem=path).t
    assert np.isinf(terrain.coast_km).all()  # no sea on this grid: a void is no lake
    assert terrain.normal[2][17:23, 14:21].min() > 0.9  # no cliff down to 0 m into the void


def test_an_interrupted_synthesis_leaves_nothing_behind(tmp_path, monkeypatch):
    from lst_lightning.apps.cli import synth_main
    from lst_lightning.data.synthetic import archive

    def interrupt(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(archive, "_write_year", interrupt)  # after dem.tif and ndvi.tif are written
    with pytest.raises(SystemExit) as stop:
        synth_main([str(tmp_path / "new" / "a"), "--shape", "30", "30", "--day-step", "90", "--fine-factor", "3"])
    assert stop.value.code == 130
    assert not (tmp_path / "new").exists() or not any((tmp_path / "new").rglob("*"))
    (tmp_path / "kept").mkdir()
    (tmp_path / "kept" / "notes.txt").write_text("mine")
    with pytest.raises(SystemExit):
        synth_main([str(tmp_path / "kept"), "--shape", "30", "30", "--day-step", "90"])
    assert sorted(p.name for p in (tmp_path / "kept").rglob("*")) == ["notes.txt"]
