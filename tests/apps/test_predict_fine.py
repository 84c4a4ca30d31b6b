"""lst-predict fine_dem=...: a trained run's maps on a nested finer grid, end to end."""
from __future__ import annotations

import numpy as np
import pytest

from lst_lightning.errors import LSTError
from tests.apps.test_predict import predict_cfg

F = 3


@pytest.fixture(scope="module")
def fine_rasters(tiny_runs, tmp_path_factory):
    """A fine DEM (the run's 1 km DEM repeated f x f, plus fine relief, one void) and fine NDVI on
    rows 30..70 x cols 38..78 of the tiny archive's grid, at f = 3."""
    from lst_lightning.apps.runs import locate_run
    from lst_lightning.data.io.grid import Grid
    from lst_lightning.data.io.writers import write_geotiff
    from lst_lightning.data.loading.sources import resolve_cache

    out = tmp_path_factory.mktemp("fine")
    run_dir, results = tiny_runs["mlp"]
    cfg, _, _ = locate_run(str(run_dir), tiny_runs.uri, out)
    from omegaconf import OmegaConf

    cache = resolve_cache(OmegaConf.to_container(cfg.data, resolve=True))
    coarse = cache.grid
    rows, cols = slice(30, 70), slice(38, 78)
    fine = Grid.from_corner(coarse.west + 38 * coarse.dlon, coarse.north - 30 * coarse.dlat,
                            coarse.dlon / F, coarse.dlat / F, (40 * F, 40 * F))
    rng = np.random.default_rng(3)
    dem = np.kron(np.asarray(cache.array("dem"))[rows, cols], np.ones((F, F))) + rng.normal(0, 15, fine.shape)
    dem[60, 60] = -32768  # a void
    ndvi = np.kron(np.asarray(cache.array("ndvi"))[:, rows, cols], np.ones((1, F, F)))
    write_geotiff(out / "dem.tif", fine, dem.astype(np.float32), nodata=-32768)
    write_geotiff(out / "ndvi.tif", fine, ndvi.astype(np.float32))
    bad = Grid.from_corner(coarse.west, coarse.north, coarse.dlon / 2.5, coarse.dlat / 2.5, (50, 50))
    write_geotiff(out / "bad.tif", bad, np.full(bad.shape, 300.0, np.float32))
    return {"dem": out / "dem.tif", "ndvi": out / "ndvi.tif", "bad": out / "bad.tif", "grid": fine,
            "checkpoint": results["best_checkpoint"], "root": tiny_runs.root}


def test_fine_maps_are_conserved_filled_at_voids_and_tiled_like_untiled(fine_rasters, tmp_path, capsys):
    import xarray as xr

    from lst_lightning.apps.predict import predict_maps
    from lst_lightning.data.io.geotiff import read_geotiff

    r = fine_rasters
    # the model's own conserved maps (blend=null): how the residuals are spread, tiles, voids
    args = ("dates=[2020-01-13]", "bands=[day]", f"fine_dem={r['dem']}", f"fine_ndvi={r['ndvi']}", "blend=null")
    files = predict_maps(predict_cfg(r["root"], r["checkpoint"], tmp_path / "a", *args, "tile=30"))
    bar = capsys.readouterr().err  # a bar of tiles, also when stderr is no terminal (here: captured)
    assert "fine tiles:" in bar and "/40 [" in bar  # 20 tiles, two passes
    assert {p.name for p in files} == {"lst_fine.nc", "lst_fine_2020-01-13_day.tif", "panel_fine_2020-01-13_day.png",
                                       "lst_halfwidth_fine_2020-01-13_day.tif"}  # the run has intervals
    with xr.open_dataset(tmp_path / "a" / "lst_fine.nc") as ds:
        assert ds.attrs["Conventions"] == "CF-1.8" and "f=3 conserve=True residual=smooth" in ds.attrs["history"]
        assert ds["lst_pred"].shape == (1, 120, 120) and ds["lst_pred"].attrs["units"] == "K"
        pred, coarse = ds["lst_pred"].values[0], ds["lst_coarse"].values[0]
        width = ds["lst_halfwidth"].values[0]
        assert ds["lst_halfwidth"].attrs["interval_level"] == 0.9
    # the uncertainty layer: finite and positive exactly where the prediction is, varying with the inputs
    np.testing.assert_array_equal(np.isfinite(width), np.isfinite(pred))
    assert (width[np.isfinite(width)] > 0).all() and np.nanstd(width) > 0
    tif, _, _ = read_geotiff(tmp_path / "a" / "lst_halfwidth_fine_2020-01-13_day.tif")
    np.testing.assert_array_equal(tif.reshape(width.shape), width)
    assert np.isfinite(pred).mean() > 0.7 and 250 < np.nanmean(pred) < 330
    # the DEM void alone is fill: its neighbours' windows take it from its own window's mean
    assert np.isnan(pred[60, 60]) and np.isfinite(pred[59:62, 59:62]).sum() == 8
    blocks = pred.reshape(40, F, 40, F)
    has = np.isfinite(blocks).any(axis=(1, 3)) & np.isfinite(coarse[::F, ::F])
    np.testing.assert_allclose(np.nanmean(blocks, axis=(1, 3))[has], coarse[::F, ::F][has], atol=2e-3)
    assert np.nanstd(pred - coarse) > 0.05  # a fine pattern within the coarse pixels
    tif, grid, _ = read_geotiff(tmp_path / "a" / "lst_fine_2020-01-13_day.tif")
    assert grid.matches(r["grid"])
    np.testing.assert_array_equal(tif.reshape(pred.shape), pred)
    def fine_map(name: str, *more: str) -> np.ndarray:
        predict_maps(predict_cfg(r["root"], r["checkpoint"], tmp_path / name, *args, *more))
        with xr.open_dataset(tmp_path / name / "lst_fine.nc") as ds:
            return ds["lst_pred"].values[0]

    # the smooth residual's second pass reads every tile back: one tile or 16 give the same map
    np.testing.assert_allclose(fine_map("whole", "tile=1000"), pred, atol=1e-4, equal_nan=True)
    raw = fine_map("raw", "tile=1000", "conserve=false")
    block = fine_map("block", "tile=30", "residual=block")
    for other in (raw, block):
        np.testing.assert_array_equal(np.isnan(other), np.isnan(pred))
        assert np.nanmax(np.abs(other - pred)) > 0.01
    blocks = block.reshape(40, F, 40, F)
    np.testing.assert_allclose(np.nanmean(blocks, axis=(1, 3))[has], coarse[::F, ::F][has], atol=2e-3)
    # block residual: one shift per coarse pixel, so the raw pattern within it is kept exactly
    shift = (block - raw).reshape(40, F, 40, F)
    np.testing.assert_allclose(np.nanmax(shift, axis=(1, 3))[has], np.nanmin(shift, axis=(1, 3))[has], atol=1e-3)


def test_a_model_input_without_its_fine_raster_and_a_bad_grid_are_one_line_errors(fine_rasters, tmp_path):
    from lst_lightning.apps.predict import predict_maps

    r = fine_rasters
    base = ("dates=[2020-01-13]", "bands=[day]")
    with pytest.raises(LSTError, match=r"^fine_ndvi: the model uses NDVI \(feature group ndvi\); give fine_ndvi="):
        predict_maps(predict_cfg(r["root"], r["checkpoint"], tmp_path, *base, f"fine_dem={r['dem']}"))
    with pytest.raises(LSTError, match=r"bad.tif: the fine pixels are not an integer fraction .*factor 2\.5000"):
        predict_maps(predict_cfg(r["root"], r["checkpoint"], tmp_path, *base, f"fine_dem={r['bad']}",
                                 f"fine_ndvi={r['ndvi']}"))
    assert not list(tmp_path.glob("*.nc"))


@pytest.mark.parametrize("kind", ["int16 tagged", "float NaN", "edge only"])
def test_a_fine_dem_that_gives_no_map_is_an_error(fine_rasters, tmp_path, kind):
    """An empty map is no result: a DEM of voids only (int16 -32768 with its nodata tag, or all NaN),
    or one whose elevations give no fine window (a row at the grid's edge)."""
    from lst_lightning.apps.predict import predict_maps
    from lst_lightning.data.io.writers import write_geotiff

    r = fine_rasters
    if kind == "int16 tagged":
        write_geotiff(tmp_path / "dem.tif", r["grid"], np.full(r["grid"].shape, -32768, np.int16), nodata=-32768)
    else:
        dem = np.full(r["grid"].shape, np.nan, np.float32)
        if kind == "edge only":
            dem[0] = 500.0
        write_geotiff(tmp_path / "dem.tif", r["grid"], dem, nodata=float("nan"))
    message = r"no fine pixel could be predicted" if kind == "edge only" else r"dem.tif: every pixel is a void"
    with pytest.raises(LSTError, match=message):
        predict_maps(predict_cfg(r["root"], r["checkpoint"], tmp_path / "out", "dates=[2020-01-13]", "bands=[day]",
                                 f"fine_dem={tmp_path / 'dem.tif'}", f"fine_ndvi={r['ndvi']}"))
    assert not (tmp_path / "out" / "lst_fine.nc").exists()


@pytest.mark.e2e
def test_a_failed_lst_predict_leaves_no_output_directory(fine_rasters, tmp_path):
    """The one-line error, and nothing of the job: not its logs/predictions/<time>/ (.hydra), not
    its downloads; a directory the user named that holds files of theirs keeps exactly those."""
    import os
    import subprocess
    import sys

    from tests.common import REPO

    r = fine_rasters
    code = "from lst_lightning.apps.run_cli import predict_main; predict_main()"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    base = [sys.executable, "-c", code, f"run={r['checkpoint']}", f"paths.log_dir={tmp_path / 'logs'}",
            "dates=[2020-01-13]", "bands=[day]", f"fine_dem={r['bad']}", f"fine_ndvi={r['ndvi']}"]
    proc = subprocess.run(base, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert proc.returncode == 2 and proc.stderr.strip().splitlines()[-1].startswith("error: fine_dem "), proc.stderr
    assert not (tmp_path / "logs" / "predictions").exists() or not any((tmp_path / "logs" / "predictions").iterdir())
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("mine")
    proc = subprocess.run(base + [f"hydra.run.dir={tmp_path / 'mine'}"], capture_output=True, text=True,
                          cwd=tmp_path, env=env, timeout=300)
    assert proc.returncode == 2
    assert sorted(p.name for p in (tmp_path / "mine").iterdir() if p.name != ".hydra") == ["notes.txt"]


@pytest.mark.e2e
def test_a_model_trained_on_the_aggregated_synthetic_archive_beats_the_coarse_field_at_the_fine_truth(tmp_path):
    """data.synthetic.fine_factor: train where the labels are (the aggregated archive), predict one
    scale down on the fine DEM and score against the fine truth: the 1/f path measured end to end."""
    import json

    from lst_lightning.apps.predict import predict_maps
    from lst_lightning.training.run import run_training
    from tests.common import compose_cfg

    cfg = compose_cfg(["debug=tiny", "data.synthetic.fine_factor=3", "data.k=5", "split.space.block_px=8",
                       "model=lightgbm", "model.train_samples=20000", "model.baseline.n_estimators=60",
                       "model.baseline.log_every=0"], tmp_path)
    run_training(cfg)
    archive = next((tmp_path / "data" / "synthetic").glob("synth-*"))
    fine = archive / "fine"
    files = predict_maps(predict_cfg(tmp_path, cfg.paths.output_dir, tmp_path / "fine_maps", "bands=[day]",
                                     f"fine_dem={fine / 'dem.tif'}", f"fine_ndvi={fine / 'ndvi.tif'}",
                                     f"fine_truth={fine / 'lst'}"))
    assert any(p.name == "fine_metrics.json" for p in files)
    scores = json.loads((tmp_path / "fine_maps" / "fine_metrics.json").read_text())
    rmse = {m: s["all"] for m, s in scores["rmse"].items()}
    assert scores["pixels"] > 500
    assert rmse["model"] < rmse["repeat"] and rmse["model"] < rmse["regression"]
    assert scores["map"] == "model + conserved spline"  # the default blend, named where it is scored


def test_a_run_without_intervals_writes_no_uncertainty_layer(fine_rasters, tmp_path, monkeypatch):
    """A run trained with intervals=null (or before them): the maps as before, no lst_halfwidth anywhere."""
    import netCDF4

    from lst_lightning.apps import runs
    from lst_lightning.apps.predict import predict_maps

    monkeypatch.setattr(runs, "run_intervals", lambda *args: None)
    r = fine_rasters
    files = predict_maps(predict_cfg(r["root"], r["checkpoint"], tmp_path, "dates=[2020-01-13]", "bands=[day]",
                                     f"fine_dem={r['dem']}", f"fine_ndvi={r['ndvi']}"))
    assert {p.name for p in files} == {"lst_fine.nc", "lst_fine_2020-01-13_day.tif", "panel_fine_2020-01-13_day.png"}
    with netCDF4.Dataset(tmp_path / "lst_fine.nc") as ds:
        assert "lst_halfwidth" not in ds.variables and np.ma.count(ds["lst_pred"][0]) > 1000


@pytest.mark.parametrize("blend", ["bicubic", "spline"])
def test_blend_writes_the_mean_of_the_model_and_a_conserved_interpolation(fine_rasters, tmp_path, blend):
    """blend=bicubic|spline: lst_pred = (the model's conserved map + the conserved interpolation of
    the coarse LST) / 2 on the model's pixels, itself conserved; the same tiled or not; spline is the
    default; refused with conserve=false or an unknown name."""
    import xarray as xr

    from lst_lightning.apps.predict import predict_maps
    from lst_lightning.data.io.grid import Grid
    from lst_lightning.data.io.rasters import read_dem
    from lst_lightning.downscale.grids import nest
    from lst_lightning.downscale.truth import bicubic_conserved, spline_conserved

    r = fine_rasters
    args = ("dates=[2020-01-13]", "bands=[day]", f"fine_dem={r['dem']}", f"fine_ndvi={r['ndvi']}")

    def fine_map(name: str, *more: str) -> tuple[np.ndarray, np.ndarray]:
        predict_maps(predict_cfg(r["root"], r["checkpoint"], tmp_path / name, *args, *more))
        with xr.open_dataset(tmp_path / name / "lst_fine.nc") as ds:
            return ds["lst_pred"].values, ds["lst_coarse"].values

    model, coarse_fine = fine_map("model", "tile=1000", "blend=null")
    blended, _ = fine_map("blend", "tile=1000", f"blend={blend}")
    if blend == "spline":  # the default (blend=auto) on maps conserved in the linear mean
        np.testing.assert_array_equal(fine_map("default", "tile=1000")[0], blended)
    np.testing.assert_allclose(fine_map("tiled", "tile=30", f"blend={blend}")[0], blended, atol=1e-4, equal_nan=True)
    coarse = coarse_fine[0, ::F, ::F][None]  # the archive pixels under the fine grid (it starts on an edge)
    _, grid = read_dem(r["dem"])
    sub = Grid.from_corner(grid.west, grid.north, grid.dlon * F, grid.dlat * F, coarse.shape[1:])
    whole = (slice(0, grid.shape[0]), slice(0, grid.shape[1]))
    method = {"bicubic": bicubic_conserved, "spline": spline_conserved}[blend]
    interpolated = method(coarse, nest(grid, sub), *whole, np.isfinite(model))
    np.testing.assert_array_equal(np.isnan(blended), np.isnan(model))
    inner = np.zeros(model.shape, bool)
    m = {"bicubic": 2, "spline": 4}[blend] * F  # away from the crop's edge, where lst-predict sees other pixels
    inner[:, m:-m, m:-m] = True
    ok = inner & np.isfinite(model)
    np.testing.assert_allclose(blended[ok], 0.5 * (model + interpolated)[ok], atol=0.05)
    assert np.nanmax(np.abs(blended - model)) > 0.01
    blocks = blended[0].reshape(40, F, 40, F)
    has = np.isfinite(blocks).any(axis=(1, 3)) & np.isfinite(coarse[0])
    np.testing.assert_allclose(np.nanmean(blocks, axis=(1, 3))[has], coarse[0][has], atol=2e-3)
    with pytest.raises(LSTError, match=f"blend={blend}: the mean is of two conserved maps"):
        predict_maps(predict_cfg(r["root"], r["checkpoint"], tmp_path / "x", *args, f"blend={blend}", "conserve=false"))
    if blend == "spline":  # conserve=false alone: the default blend steps aside (the raw model's maps)
        np.testing.assert_array_equal(np.isnan(fine_map("raw", "tile=1000", "conserve=false")[0]), np.isnan(model))
    with pytest.raises(LSTError, match="blend=kriging: choose bicubic or spline"):
        predict_maps(predict_cfg(r["root"], r["checkpoint"], tmp_path / "y", *args, "blend=kriging"))
