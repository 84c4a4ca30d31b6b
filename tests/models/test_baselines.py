"""Baselines run through run_training on the network's samples; permutation importance.

A hand-made archive with a pure lapse rate (LST = 300 K - 6.5 K/km x elevation + noise) knows
its truth exactly: the target depends on the centre pixel's elevation difference only, so every
other feature group (lat/lon, dates, times, window means) is ignored by the generator.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from omegaconf import open_dict

from tests.common import compose_cfg

LAPSE_K_PER_M = -0.0065
FAST = {  # fewer training samples / trees than the defaults: seconds, not minutes
    "ridge": ["model.train_samples=20000"],
    "lightgbm": ["model.train_samples=20000", "model.baseline.n_estimators=60", "model.baseline.log_every=0"],
    "coarse": [], "trivial": [],
}


@pytest.fixture(scope="module")
def shared_data(tmp_path_factory):
    return tmp_path_factory.mktemp("data")


def run(tmp_path: Path, data_dir: Path, *overrides: str) -> dict:
    from lst_lightning.training.run import run_training

    cfg = compose_cfg(["debug=tiny", *overrides], tmp_path)
    with open_dict(cfg):
        cfg.paths.data_dir = str(data_dir)
    run_training(cfg)
    return json.loads((Path(cfg.paths.output_dir) / "results.json").read_text())


@pytest.fixture(scope="module")
def network(tmp_path_factory, shared_data):
    return run(tmp_path_factory.mktemp("mlp"), shared_data)


@pytest.mark.parametrize("model", ["trivial", "ridge", "lightgbm", "coarse"])
def test_baseline_reports_on_the_networks_samples(model, network, tmp_path, shared_data):
    from lst_lightning.models.baselines import load_baseline

    res = run(tmp_path, shared_data, f"model={model}", *FAST[model])
    # the same samples give the same trivial RMSE; 1e-6: Lightning logs the network's as float32
    for key in ("test/trivial_rmse_k", "val/trivial_rmse_k", "test/all_trivial_rmse_k", "test/floor_rmse_k"):
        assert res[key] == pytest.approx(network[key], rel=1e-6), key
    for key in ("test/n_samples", "val/n_samples", "test/all_n_samples", "split/train_samples"):
        assert res[key] == network[key], key
    if model == "trivial":
        assert res["test/rmse_k"] == pytest.approx(res["test/trivial_rmse_k"], rel=1e-12)
        assert res["test/mse_improvement_pct"] == pytest.approx(0.0, abs=1e-9)
    else:
        assert res["test/rmse_k"] < 0.95 * res["test/trivial_rmse_k"]
        assert 0 < res["test/explained_fraction"] < 1
    saved = load_baseline(Path(res["best_checkpoint"]))
    assert saved["groups"] == ["lst_mean", "elev_mean", "elev_diff", "doy", "tod", "latlon", "context", "ndvi"]


def test_baseline_run_logged_to_mlflow(tmp_path, shared_data):
    import mlflow

    res = run(tmp_path, shared_data, "model=coarse", "logger=mlflow")
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/logs/mlflow.db")
    mrun = client.get_run(res["mlflow_run_id"])
    assert mrun.info.status == "FINISHED"
    assert mrun.data.metrics["test/rmse_k"] == pytest.approx(res["test/rmse_k"])
    assert mrun.data.tags["model"] == "coarse"
    assert {"config.yaml", "baseline.joblib"} <= {a.path for a in client.list_artifacts(mrun.info.run_id)}


def test_bad_baseline_setting_is_one_clear_error(tmp_path, shared_data):
    from lst_lightning.errors import LSTError

    with pytest.raises(LSTError, match=r"model.baseline \(Ridge\).*alpah"):
        run(tmp_path, shared_data, "model=ridge", "+model.baseline.alpah=3")
    with pytest.raises(LSTError, match="model.baseline.by: unknown.*month"):
        run(tmp_path, shared_data, "model=ridge", "model.baseline.by=[month]")


def write_lapse_archive(root: Path, shape=(64, 64), n_days=24, noise_k=0.15, seed=3) -> dict:
    """LST = 300 K + lapse x elevation + noise, every pixel observed; a random (rough) DEM."""
    from lst_lightning.data.io.grid import Grid
    from lst_lightning.data.io.writers import write_geotiff, write_lst_netcdf

    rng = np.random.default_rng(seed)
    grid = Grid.from_corner(34.0, 33.0, 0.0083, 0.0083, shape)
    dem = rng.normal(400, 150, size=shape).clip(0, 1500)
    data = np.zeros((n_days, 4, *shape), dtype=np.uint16)
    for b in range(3):
        lst = 300.0 + LAPSE_K_PER_M * dem + noise_k * rng.standard_normal((n_days, *shape))
        data[:, b] = np.round(lst / 0.02).astype(np.uint16)
    data[:, 3] = 3  # both observed
    write_lst_netcdf(root / "lst" / "LST_2020_NetCDF.nc", grid, np.arange(1, 1 + 15 * n_days, 15), data)
    write_geotiff(root / "dem.tif", grid, dem.astype(np.int16))
    return {"lst_dir": root / "lst", "dem": root / "dem.tif"}


@pytest.fixture(scope="module")
def lapse_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("lapse")
    arch = write_lapse_archive(root)
    res = run(root, root, "model=ridge", "data=custom", f"data.lst_dir={arch['lst_dir']}",
              f"data.dem={arch['dem']}", "model.train_samples=20000")
    return root, res


def test_ridge_beats_trivial_on_a_clear_lapse_rate(lapse_run):
    _, res = lapse_run
    # target RMS ~1 K (150 m of roughness x 6.5 K/km); the noise leaves ~0.15 K
    assert res["test/trivial_rmse_k"] > 0.6
    assert res["test/rmse_k"] < 0.3 * res["test/trivial_rmse_k"]
    assert res["test/mse_improvement_pct"] > 90


def test_permutation_importance_of_ignored_groups_is_about_zero(lapse_run):
    from lst_lightning.data.cache import open_cache
    from lst_lightning.data.loading.gatherer import FeatureGatherer
    from lst_lightning.evaluation.importance import permutation_importance
    from lst_lightning.evaluation.predictions import gather_all
    from lst_lightning.features import FeatureLayout
    from lst_lightning.models.baselines import load_baseline

    _, res = lapse_run
    saved = load_baseline(Path(res["best_checkpoint"]))
    layout = FeatureLayout(k=saved["k"], groups=tuple(saved["groups"]))
    gatherer = FeatureGatherer(open_cache(res["cache"]), layout)
    rng = np.random.default_rng(0)
    n = 3000
    frames = rng.integers(0, len(gatherer.cache.meta["frames"]), n)
    rows, cols = rng.integers(4, 60, n), rng.integers(4, 60, n)
    batch = gather_all(gatherer, (frames, rows, cols))
    model = saved["baseline"]
    imp = permutation_importance(lambda b: model.predict(b, gatherer), batch, layout, repeats=2)
    assert set(imp) == set(layout.groups)
    assert imp["elev_diff"]["rmse_increase_k"] > 0.8  # shuffling the only informative group
    assert imp["elev_diff"]["mse_increase_pct"] > 1000
    for group in ("lst_mean", "elev_mean", "doy", "tod", "latlon"):
        assert abs(imp[group]["rmse_increase_k"]) < 0.02, (group, imp[group])


def test_permute_group_moves_only_that_group():
    from lst_lightning.evaluation.importance import permute_group
    from lst_lightning.features import FeatureLayout

    layout = FeatureLayout(k=3)
    rng = np.random.default_rng(1)
    batch = {"scalars": rng.normal(size=(5, layout.n_scalars)).astype(np.float32),
             "patch": rng.normal(size=(5, 1, 3, 3)).astype(np.float32)}
    order = np.array([4, 3, 2, 1, 0])
    out = permute_group(batch, layout, "doy", order)
    cols = [j for j, g in enumerate(layout.scalar_groups) if g == "doy"]
    others = [j for j in range(layout.n_scalars) if j not in cols]
    np.testing.assert_array_equal(out["scalars"][:, cols], batch["scalars"][order][:, cols])
    np.testing.assert_array_equal(out["scalars"][:, others], batch["scalars"][:, others])
    np.testing.assert_array_equal(out["patch"], batch["patch"])
    out = permute_group(batch, layout, "elev_diff", order)
    np.testing.assert_array_equal(out["patch"], batch["patch"][order])
    np.testing.assert_array_equal(out["scalars"], batch["scalars"])


class TwoFrames:
    """A gatherer's frame table: frame 0 a night in January, frame 1 a day in July."""
    band_index = np.array([0, 1])
    month = np.array([0, 6])


def saturating_batch(rng, n: int, lst_sd: float = 5.0) -> dict:
    """Elevation differences that sum to zero (collinear columns, as the cache's 81) and a
    window-mean LST whose effect on the target saturates outside the usual range (a physical
    relation a linear model sees only the middle of)."""
    elev = rng.normal(0, 100, (n, 9))
    elev -= elev.mean(axis=1, keepdims=True)
    lst = rng.normal(290, lst_sd, n)
    scalars = np.stack([lst, rng.normal(size=n), rng.normal(size=n)], axis=1).astype(np.float32)
    target = -0.0065 * elev[:, 4] + 0.5 * np.tanh((lst - 290) / 10) + rng.normal(0, 0.1, n)
    return {"scalars": scalars, "patch": elev.reshape(n, 1, 3, 3).astype(np.float32), "target": target,
            "frame": rng.integers(0, 2, n)}


def test_ridge_stays_bounded_where_an_input_extrapolates():
    from lst_lightning.models.baselines import Ridge

    rng = np.random.default_rng(0)
    train, val = saturating_batch(rng, 4000), saturating_batch(rng, 1000)
    far = saturating_batch(rng, 1000)
    far["scalars"][:, 0] = 290 + 120  # a date 24 training standard deviations warmer than any seen
    far["target"] = -0.0065 * far["patch"][:, 0, 1, 1] + 0.5 + rng.normal(0, 0.1, 1000)  # the saturated truth
    trivial = np.mean(far["target"] ** 2)
    robust, unclamped = Ridge(), Ridge(clip_inputs=None)
    for model in (robust, unclamped):
        model.fit(train, val, TwoFrames())
    mse = {name: np.mean((m.predict(far, TwoFrames()) - far["target"]) ** 2)
           for name, m in (("robust", robust), ("unclamped", unclamped))}
    assert mse["robust"] < trivial + 0.05, mse  # at worst about as good as predicting 0 (here better)
    assert mse["unclamped"] > 5 * trivial, mse  # the straight line carried 24 sd out
    # inside the training range the clamp (to its min and max) changes next to nothing
    inside = robust.predict(val, TwoFrames()) - unclamped.predict(val, TwoFrames())
    assert np.mean(inside ** 2) < 1e-3 * np.mean(val["target"] ** 2)


def test_ridge_on_collinear_columns_warns_nothing_and_fits():
    import warnings

    from lst_lightning.models.baselines import Ridge

    rng = np.random.default_rng(1)
    train, val = saturating_batch(rng, 3000), saturating_batch(rng, 1000)
    train["patch"][:5, 0, 0, 0] = np.nan  # a missing input (NDVI outside its windows) counts as the mean
    for alpha in ("auto", [0.0, 1e-3, 0.1, 1000.0]):
        model = Ridge(alpha=alpha)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # LinAlgWarning (ill-conditioned) or a RuntimeWarning fails the test
            model.fit(train, val, TwoFrames())
            pred = model.predict(val, TwoFrames())
        assert np.all(np.isfinite(pred))
        # the lapse rate through the centre elevation difference is recovered (target RMS ~0.7 K, noise 0.1 K)
        assert np.mean((pred - val["target"]) ** 2) < 0.1 * np.mean(val["target"] ** 2)
    assert set(model.models) == {None, 0, 6}  # night-DJF (code 0) and day-JJA (1 x 4 + 2): own fits


def test_ridge_settings_are_checked():
    from lst_lightning.errors import LSTError
    from lst_lightning.models.baselines import Ridge

    with pytest.raises(LSTError, match="model.baseline.alpha"):
        Ridge(alpha="big")
    with pytest.raises(LSTError, match="model.baseline.clip_inputs"):
        Ridge(clip_inputs=0.5)
