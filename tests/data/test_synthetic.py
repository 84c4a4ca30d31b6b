"""The synthetic archive: real on-disk formats, determinism, clouds/QA, oracle, calibration."""
from __future__ import annotations

import datetime as dt
import json
import time

import numpy as np
import pytest
from scipy import ndimage

from lst_lightning.data import synthetic
from lst_lightning.data.io.formats import LST_SCALE, observed
from lst_lightning.data.io.readers import open_archive, read_dem, read_raster
from lst_lightning.data.synthetic import generate_archive
from lst_lightning.errors import LSTError

SMALL = dict(shape=(40, 36), day_step=61, seed=3, progress=False)  # 6 dates of 2020 (leap year)


def read_all(directory):
    """(archive, lst uint16 [T,H,W], qa uint8 [T,H,W]) through the normal reader."""
    archive = open_archive(directory)
    blocks = list(archive.iter_blocks())
    return archive, np.concatenate([b[1] for b in blocks]), np.concatenate([b[2] for b in blocks])


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    out = tmp_path_factory.mktemp("small")
    return out, generate_archive(out, **SMALL)


def print_table(title, cal):
    print(f"\n{title}: full land windows {cal['n_valid_windows']}, "
          f"elevation centre-minus-mean RMS {cal['elev_centre_minus_mean_rms_m']} m")
    print(f"{'season':>6} {'band':>5} {'target K':>9} {'floor K':>8} {'lapse K':>8}")
    for name, bands in cal["season"].items():
        for band, f in bands.items():
            print(f"{name:>6} {band:>5} {f['target_rms_k']:9.3f} {f['oracle_floor_rms_k']:8.3f} "
                  f"{f['lapse_rms_k']:8.3f}")


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


def test_procedural_terrain_has_coast_ridge_rift_and_mountain():
    elev = synthetic.procedural_dem((120, 90), np.random.default_rng(0))
    sea = elev == 0
    assert sea[:10, :20].all() and not sea[:, -10:].any()  # sea in the north-west, land in the east
    assert -430 <= elev.min() < -250  # the rift below sea level
    assert 1800 < elev.max() <= 2800  # the north-eastern mountain
    row = elev[50]  # mid-latitude west-east profile: coast, ridge, rift, plateau
    ridge, rift = int(np.argmax(row[:60])), int(np.argmin(row))
    assert row[ridge] > 500 and ridge < rift and row[rift] < -100 and row[rift + 10:].mean() > 500


def test_tiny_archive_is_fast_and_learnable(tmp_path):
    start = time.perf_counter()
    truth = generate_archive(tmp_path, shape=(48, 40), day_step=30, noise_k=0.1, hidden_k=0.0, progress=False)
    assert time.perf_counter() - start < 5.0  # about a second on a busy 2-core machine
    assert truth["n_frames"] == 26
    dem, _ = read_dem(tmp_path / "dem.tif")
    assert (dem == 0).any() and dem.max() > 500 and dem.min() < -100  # coast, ridge, rift
    day = truth["calibration"]["season"]["JJA"]["day"]
    assert day["target_rms_k"] > 0.8 and day["oracle_floor_rms_k"] < 0.15  # strong, learnable signal


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


# ---------------------------------------------------------------- clouds, QA, oracle

def test_clouds_are_flagged_blobs_holding_the_noise_free_field(tmp_path):
    truth = generate_archive(tmp_path, shape=(64, 56), day_step=31, noise_k=1.0, hidden_k=0.0,
                             cloud_fraction=0.4, seed=2, progress=False)
    _, lst, qa = read_all(tmp_path / "lst")
    _, oracle, oracle_qa = read_all(tmp_path / "oracle")
    land = lst[0] > 0
    bands = ["night", "day"] * (lst.shape[0] // 2)
    obs = np.stack([observed(q, b) for q, b in zip(qa, bands)]) & land
    cloudy = ~obs & land
    assert 0.15 < cloudy[:, land].mean() < 0.7
    assert truth["cloudy_fraction_measured"] == pytest.approx(cloudy[:, land].mean(), abs=1e-4)
    # blobs, not salt and pepper: few connected components for many cloudy pixels
    n_blobs = sum(ndimage.label(c)[1] for c in cloudy)
    assert cloudy.sum() / n_blobs > 20
    diff = (lst.astype(np.int64) - oracle) * LST_SCALE
    # with no hidden component a gap-filled pixel is exactly the noise-free (oracle) field ...
    assert (diff[cloudy] == 0).all()
    # ... and an observed one carries the sensor noise (night retrievals less noisy than day)
    day_obs, night_obs = obs[1::2], obs[0::2]
    assert diff[1::2][day_obs].std() == pytest.approx(1.0, rel=0.1)
    assert diff[0::2][night_obs].std() == pytest.approx(truth["noise_std_k"]["night"], rel=0.1)
    assert (oracle_qa[:, land] == 3).all() and (oracle_qa[:, ~land] == 0).all()


def test_gap_filled_values_are_smoother_than_observed_ones(small):
    out, _ = small  # default noise and hidden component
    _, lst, qa = read_all(out / "lst")
    kelvin = lst * LST_SCALE
    lap = np.abs(4 * kelvin[:, 1:-1, 1:-1] - kelvin[:, :-2, 1:-1] - kelvin[:, 2:, 1:-1]
                 - kelvin[:, 1:-1, :-2] - kelvin[:, 1:-1, 2:])
    bands = ["night", "day"] * (lst.shape[0] // 2)
    obs = np.stack([observed(q, b) for q, b in zip(qa, bands)])
    land = lst[0] > 0
    ones = np.ones((1, 3, 3))  # pixels whose whole 3x3 neighbourhood is cloudy / clear land
    all_cloudy = ndimage.minimum_filter((~obs & land).astype(int), footprint=ones)[:, 1:-1, 1:-1] == 1
    all_clear = ndimage.minimum_filter((obs & land).astype(int), footprint=ones)[:, 1:-1, 1:-1] == 1
    assert all_cloudy.sum() > 100 and all_clear.sum() > 100
    assert lap[all_cloudy].mean() < 0.75 * lap[all_clear].mean()


def test_oracle_archive_has_identical_frames(small):
    out, _ = small
    lst_archive, lst, _ = read_all(out / "lst")
    oracle_archive, oracle, _ = read_all(out / "oracle")
    assert [f.label() for f in oracle_archive.frames] == [f.label() for f in lst_archive.frames]
    assert oracle_archive.grid.matches(lst_archive.grid)
    assert ((oracle == 0) == (lst == 0)).all()
    diff = (lst.astype(np.int64) - oracle)[lst > 0] * LST_SCALE
    assert 0.3 < diff.std() < 1.5 and abs(diff.mean()) < 0.3  # hidden + noise, no bias


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


# ---------------------------------------------------------------- calibration

def test_truth_records_parameters_and_calibration(small):
    _, truth = small
    assert truth["shape"] == [40, 36] and truth["n_dates"] == 6 and truth["dem"] == "procedural"
    for season in synthetic.SEASONS:
        lapse = truth["by_season"][season]["lapse_k_per_km"]
        assert 4.0 <= lapse["day"] <= 6.0 and 1.5 <= lapse["night"] <= 5.0
    cal = truth["calibration"]
    assert set(cal["season"]) == set(synthetic.SEASONS)
    for bands in cal["season"].values():
        for f in bands.values():
            assert 0 < f["oracle_floor_rms_k"] < f["target_rms_k"]
            assert f["lapse_rms_k"] > 0 and f["after_lapse_rms_k"] > 0


def test_box_filter_figures_match_a_direct_window_loop():
    rng = np.random.default_rng(0)
    values = rng.normal(size=(13, 11))
    k, r = 5, 2
    fast = synthetic.centre_minus_mean(values, k)
    slow = np.array([[values[i, j] - values[i - r:i + r + 1, j - r:j + r + 1].mean()
                      for j in range(r, 11 - r)] for i in range(r, 13 - r)])
    np.testing.assert_allclose(fast, slow, atol=1e-12)


def test_real_dem_january_day_target_matches_the_real_product(israel_dem, tmp_path):
    truth = generate_archive(tmp_path, dem=israel_dem, day_step=30, progress=False)
    cal = truth["calibration"]
    print_table("real Israel DEM, day_step 30", cal)
    jan = cal["month"]["01"]
    print(f"January: day target {jan['day']['target_rms_k']} K, night {jan['night']['target_rms_k']} K")
    assert 0.9 <= jan["day"]["target_rms_k"] <= 1.4  # the real product: 1.13 K
    assert 0.3 <= jan["night"]["target_rms_k"] <= 1.2
    assert cal["n_valid_windows"] == 165179  # the GUIDE's figures for the real DEM
    assert cal["elev_centre_minus_mean_rms_m"] == pytest.approx(51, abs=1.5)
    assert 0.15 < jan["day"]["lapse_rms_k"] < 0.35  # a lapse rate explains only a small part
    dem_in, grid_in = read_dem(israel_dem)
    dem_out, grid_out = read_dem(tmp_path / "dem.tif")
    assert grid_out.matches(grid_in)
    np.testing.assert_array_equal(dem_out, dem_in)
    _, lst, _ = read_all(tmp_path / "lst")
    assert ((lst[0] == 0) == (dem_in == 0)).all()


def test_procedural_israel_sized_terrain_matches_the_real_balance(tmp_path):
    truth = generate_archive(tmp_path, day_step=91, progress=False)
    cal = truth["calibration"]
    print_table("procedural 603x409, day_step 91", cal)
    assert truth["shape"] == [603, 409]
    assert 35 < cal["elev_centre_minus_mean_rms_m"] < 70  # real DEM: 51 m
    assert 0.8 <= cal["season"]["DJF"]["day"]["target_rms_k"] <= 1.5


# ---------------------------------------------------------------- bad settings

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

    write_geotiff(tmp_path / "sea.tif", synthetic.israel_grid((20, 20)), np.zeros((20, 20), np.int16))
    with pytest.raises(LSTError, match="no land"):
        generate_archive(tmp_path / "out", dem=tmp_path / "sea.tif", progress=False)
